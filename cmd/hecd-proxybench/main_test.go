package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hecd/test/hecdproc"
)

// The testdata files are real wrk 4.1 reports: wrk-ok.txt from a run
// straight at a backend, wrk-errors.txt from a server that answered 503
// or reset the connection.
func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		file string
		want wrkResult
	}{
		{"wrk-ok.txt", wrkResult{Requests: 17778, Seconds: 2.06, ReqPerSec: 8642.28, P50Ms: 4.42, P99Ms: 86.51}},
		{"wrk-errors.txt", wrkResult{Requests: 79, Seconds: 3.01, ReqPerSec: 26.22, P50Ms: 2.71, P99Ms: 7.04,
			Non2xx: 79, Read: 54}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseWrk(string(b))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !near(got.Seconds, tc.want.Seconds) || !near(got.ReqPerSec, tc.want.ReqPerSec) ||
			!near(got.P50Ms, tc.want.P50Ms) || !near(got.P99Ms, tc.want.P99Ms) {
			t.Errorf("%s: got %+v, want %+v", tc.file, got, tc.want)
		}
		got.Seconds, got.ReqPerSec, got.P50Ms, got.P99Ms = tc.want.Seconds, tc.want.ReqPerSec, tc.want.P50Ms, tc.want.P99Ms
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.file, got, tc.want)
		}
	}
}

func TestParseWrkUnits(t *testing.T) {
	out := `  Latency Distribution
     50%  812.00us
     99%    1.20s
  1234 requests in 1.00m, 1.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
Requests/sec:     20.56
`
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 1234, Seconds: 60, ReqPerSec: 20.56, P50Ms: 0.812, P99Ms: 1200,
		Connect: 1, Read: 2, Write: 3, Timeout: 4}
	if !near(got.P50Ms, want.P50Ms) {
		t.Errorf("p50 %v, want %v", got.P50Ms, want.P50Ms)
	}
	got.P50Ms = want.P50Ms
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got.SocketErrors() != 10 || got.Errors() != 10 {
		t.Errorf("socket errors %d, errors %d; want 10, 10", got.SocketErrors(), got.Errors())
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "wrk-ok.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, drop := range []string{"Requests/sec:", "99%", "requests in"} {
		var kept []string
		for l := range strings.Lines(string(b)) {
			if !strings.Contains(l, drop) {
				kept = append(kept, l)
			}
		}
		if _, err := parseWrk(strings.Join(kept, "")); err == nil {
			t.Errorf("without the %q line: no error", drop)
		}
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("wrk's connection error: no error")
	}
}

func testBackends() []*backend {
	return []*backend{
		{name: "app1", addr: "127.0.0.1:10001"},
		{name: "app2", addr: "127.0.0.1:10002"},
		{name: "app3", addr: "127.0.0.1:10003"},
	}
}

func TestHAProxyConfig(t *testing.T) {
	for _, httpclose := range []bool{true, false} {
		text := haproxyConfig("127.0.0.1:18000", testBackends(), 2, httpclose)
		for _, want := range []string{
			"\n    maxconn 5000\n    nbthread 2\n",
			"\n    retries 3\n    option redispatch\n    maxconn 2000\n",
			"\n    timeout connect 5s\n    timeout client 50s\n    timeout server 50s\n",
			"\n    bind 127.0.0.1:18000\n",
			"\n    option forwardfor\n",
			"\n    acl header_app2 hdr(APPID) -i app2\n",
			"\n    use_backend app2 if header_app2\n",
			"\n    default_backend default_backend\n",
			"\nbackend app3\n    server app3 127.0.0.1:10003 check inter 5000 fall 1 rise 2\n",
			"\nbackend default_backend\n    balance roundrobin\n",
			"\n    server app1 127.0.0.1:10001 check inter 5000 fall 1 rise 2\n    server app2",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("httpclose %v: no %q in\n%s", httpclose, want, text)
			}
		}
		if got := strings.Contains(text, "option httpclose"); got != httpclose {
			t.Errorf("httpclose %v: option httpclose present: %v", httpclose, got)
		}
		if strings.Contains(text, "\n    log ") || strings.Contains(text, " eq ") {
			t.Errorf("a log line or the seed's eq pattern in\n%s", text)
		}

		hap := hecdproc.FindHAProxy()
		if hap == "" {
			t.Log("haproxy is not installed: the configuration is not checked by haproxy -c")
			continue
		}
		path := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(hap, "-c", "-f", path).CombinedOutput()
		if err != nil {
			t.Errorf("haproxy -c: %v\n%s\n%s", err, out, text)
		}
		// A warning would mean the configuration is not what HAProxy
		// runs as written.
		if strings.Contains(string(out), "WARNING") || strings.Contains(string(out), "ALERT") {
			t.Errorf("haproxy -c warns:\n%s", out)
		}
	}
}

func TestMedianAndPercentile(t *testing.T) {
	if got := medianOf([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 1 2 = %v", got)
	}
	if got := medianOf([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 1 3 2 = %v", got)
	}
	if !math.IsNaN(medianOf(nil)) {
		t.Error("median of nothing is not NaN")
	}
	in := []float64{5, 1, 4}
	medianOf(in)
	if !slices.Equal(in, []float64{5, 1, 4}) {
		t.Errorf("medianOf reordered its input: %v", in)
	}
	var v []float64
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i))
	}
	if p50, p99, p100 := percentile(v, 0.5), percentile(v, 0.99), percentile(v, 1); p50 != 50 || p99 != 99 || p100 != 100 {
		t.Errorf("percentiles of 1..100: p50 %v, p99 %v, p100 %v", p50, p99, p100)
	}
	if got := percentile([]float64{7}, 0.99); got != 7 {
		t.Errorf("p99 of one value = %v", got)
	}
}

func cpu(v float64) *float64 { return &v }

func TestMedianMeasurement(t *testing.T) {
	rounds := []measurement{
		{Target: "hecd", wrkResult: wrkResult{Requests: 100, ReqPerSec: 1000, P99Ms: 9, Non2xx: 1}, CPUSeconds: cpu(1), CPUPerReqUs: cpu(30)},
		{Target: "hecd", wrkResult: wrkResult{Requests: 300, ReqPerSec: 3000, P99Ms: 1, Read: 2}, CPUSeconds: cpu(3), CPUPerReqUs: cpu(10)},
		{Target: "hecd", wrkResult: wrkResult{Requests: 200, ReqPerSec: 2000, P99Ms: 5}, CPUSeconds: cpu(2), CPUPerReqUs: cpu(20)},
	}
	m := median(rounds)
	if m.Requests != 200 || m.ReqPerSec != 2000 || m.P99Ms != 5 || *m.CPUSeconds != 2 || *m.CPUPerReqUs != 20 {
		t.Errorf("median %+v (CPU %v µs/req)", m, *m.CPUPerReqUs)
	}
	// Errors are summed, not medianed: one bad round shows.
	if m.Non2xx != 1 || m.Read != 2 || m.Errors() != 3 {
		t.Errorf("errors: non-2xx %d, read %d", m.Non2xx, m.Read)
	}
	rounds[1].CPUPerReqUs = nil
	if m := median(rounds); m.CPUPerReqUs != nil {
		t.Error("a median CPU over rounds of which one has none")
	}
}

func TestRatios(t *testing.T) {
	h := measurement{wrkResult: wrkResult{ReqPerSec: 8000, P99Ms: 6}, CPUPerReqUs: cpu(45)}
	x := measurement{wrkResult: wrkResult{ReqPerSec: 10000, P99Ms: 4}, CPUPerReqUs: cpu(30)}
	rs := hecdRatios(h, x)
	want := []struct {
		metric string
		value  float64
		pass   bool
	}{{"req/s", 0.8, true}, {"p99", 1.5, true}, {"CPU/req", 1.5, true}}
	for i, w := range want {
		if rs[i].Metric != w.metric || !near(rs[i].Value, w.value) || rs[i].Pass != w.pass {
			t.Errorf("ratio %d: %+v, want %+v", i, rs[i], w)
		}
	}
	h.ReqPerSec, h.P99Ms, h.CPUPerReqUs = 7900, 6.1, nil
	for i, r := range hecdRatios(h, x) {
		if r.Pass {
			t.Errorf("ratio %d passes: %+v", i, r)
		}
	}
	if got := rs[0].String(); got != "req/s 0.80x (target ≥ 0.8x: ok)" {
		t.Errorf("ratio text %q", got)
	}

	// Time to route: p99 strictly under 50 ms.
	if ttrTarget.Met(50) || !ttrTarget.Met(49.9) || ttrTarget.String() != "< 50ms" {
		t.Errorf("ttr target %s: met(50) %v, met(49.9) %v", ttrTarget, ttrTarget.Met(50), ttrTarget.Met(49.9))
	}
	if reqPerSecTarget.Met(math.NaN()) || cpuTarget.Met(math.Inf(1)) {
		t.Error("NaN or Inf meets a target")
	}
}

func TestTTRSummary(t *testing.T) {
	r := &ttrResult{Registrations: 100}
	for i := range 100 {
		r.DelaysMs = append(r.DelaysMs, float64(i+1))
	}
	r.summarize()
	if r.Routed != 100 || r.P50Ms != 50 || r.P99Ms != 99 || r.MaxMs != 100 || r.Pass {
		t.Errorf("%+v", *r)
	}
	r.DelaysMs = r.DelaysMs[:40] // 1..40 ms
	r.summarize()
	if !r.Pass {
		t.Errorf("p99 %v fails", r.P99Ms)
	}
	r.TimedOut = 1
	r.summarize()
	if r.Pass {
		t.Error("passes with a registration never routed")
	}
}

func TestOrderRotates(t *testing.T) {
	names := []string{"hecd", "haproxy", "direct"}
	first := map[string]bool{}
	for r := range 3 {
		o := order(names, r)
		first[o[0]] = true
		if len(o) != 3 || !slices.Contains(o, "hecd") || !slices.Contains(o, "haproxy") || !slices.Contains(o, "direct") {
			t.Fatalf("round %d: %v", r, o)
		}
	}
	if len(first) != 3 {
		t.Errorf("not every target runs first once in 3 rounds: %v", first)
	}
}

func TestParseStatTicks(t *testing.T) {
	// A command name with a space and a parenthesis, as a process may set.
	st := "4242 (hecd (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 125 0 0 20 0 9 0 100 0 0\n"
	n, err := hecdproc.ParseStatTicks(st)
	if err != nil || n != 375 {
		t.Errorf("got %d, %v; want 375", n, err)
	}
	if _, err := hecdproc.ParseStatTicks("4242 (hecd) S 1"); err == nil {
		t.Error("short stat: no error")
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

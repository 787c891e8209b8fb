package frontend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hecd/internal/proxy"
	"hecd/internal/proxy/proxytest"
)

// D.10 scenario 1: routing by the APPID header.
func TestRouting(t *testing.T) {
	a, b, d := named(t, "A"), named(t, "B"), named(t, "D")
	down := route("down", proxytest.ClosedAddr(t))
	down.Servers[0].SetAdmin(proxy.Maint)
	routes := []*proxy.Backend{route("a", addrOf(a)), route("b", addrOf(b)), down}
	def := proxy.NewBackend("default_backend", proxy.NewServer("d1", addrOf(d)))

	get := func(addr string, h http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Header = h
		resp, body := fetch(t, &http.Client{Timeout: testTimeout}, req)
		return resp.StatusCode, body
	}

	addr, _ := startFrontend(t, Config{}, router(routes, def))
	cases := []struct {
		name   string
		h      http.Header
		status int
		body   string
	}{
		{"exact", http.Header{"Appid": {"a"}}, 200, "A"},
		{"case of name and value", http.Header{"appid": {"B"}}, 200, "B"},
		{"list picks first id in order", http.Header{"Appid": {"b, a"}}, 200, "A"},
		{"two lines", http.Header{"Appid": {"zzz", " b "}}, 200, "B"},
		{"empty items", http.Header{"Appid": {" , ,b,"}}, 200, "B"},
		{"missing", http.Header{}, 200, "D"},
		{"unknown", http.Header{"Appid": {"nope"}}, 200, "D"},
		{"eq is not a catch-all", http.Header{"Appid": {"eq"}}, 200, "D"},
		{"matched but down", http.Header{"Appid": {"down"}}, 503, "No server is available"},
		{"matched but down wins over a later id", http.Header{"Appid": {"down, zzz"}}, 503, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := get(addr, tc.h)
			if st != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("got %d %q, want %d %q", st, body, tc.status, tc.body)
			}
		})
	}

	t.Run("fallback to default", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{FallbackToDefault: true}, router(routes, def))
		if st, body := get(addr, http.Header{"Appid": {"down"}}); st != 200 || body != "D" {
			t.Fatalf("got %d %q", st, body)
		}
	})
	t.Run("no default backend", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{}, router(routes, nil))
		st, body := get(addr, http.Header{"Appid": {"nope"}})
		if st != 503 || body != "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n" {
			t.Fatalf("got %d %q", st, body)
		}
	})
	t.Run("custom route header", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{RouteHeader: "x-app"}, router(routes, def))
		if st, body := get(addr, http.Header{"X-App": {"a"}}); st != 200 || body != "A" {
			t.Fatalf("got %d %q", st, body)
		}
		if st, body := get(addr, http.Header{"Appid": {"a"}}); st != 200 || body != "D" {
			t.Fatalf("APPID with another route header: got %d %q", st, body)
		}
	})
	t.Run("route header passed through", func(t *testing.T) {
		e := newHeadEcho(t)
		addr, _ := startFrontend(t, Config{}, router([]*proxy.Backend{route("e", e.addr())}, nil))
		_, body := do(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: e, other\r\n\r\n")
		if got := values(headerLines(body), "Appid"); len(got) != 1 || got[0] != "e, other" {
			t.Fatalf("backend saw APPID %q", got)
		}
	})
}

// D.10 scenarios 2 and 6: each request on a kept-alive connection is
// routed on its own; httpclose closes after every response.
func TestKeepAliveAndHTTPClose(t *testing.T) {
	a, b := named(t, "A"), named(t, "B")
	r := router([]*proxy.Backend{route("a", addrOf(a)), route("b", addrOf(b))}, nil)

	t.Run("keep-alive carries two ids", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{KeepAlive: true}, r)
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		for i, id := range []string{"a", "b", "a"} {
			resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: "+id+"\r\n\r\n")
			if want := strings.ToUpper(id); body != want {
				t.Fatalf("request %d: got %q, want %q", i, body, want)
			}
			if resp.Close {
				t.Fatalf("request %d: Connection: close with keep-alive on", i)
			}
		}
	})
	t.Run("httpclose", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{}, r)
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: a\r\n\r\n")
		if body != "A" || !resp.Close {
			t.Fatalf("got %q, no Connection: close", body)
		}
		if n, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("connection still open after httpclose response: %v %v", n, err)
		}
	})
	t.Run("client close", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{KeepAlive: true}, r)
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		resp, _ := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: a\r\nConnection: close\r\n\r\n")
		if !resp.Close {
			t.Fatal("no Connection: close for a client that asked for it")
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("connection still open: %v", err)
		}
	})
	t.Run("HTTP/1.0 keep-alive", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{KeepAlive: true}, r)
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		resp, body := roundTrip(t, c, br, "GET / HTTP/1.0\r\nAPPID: a\r\nConnection: keep-alive\r\n\r\n")
		if body != "A" || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("got %q, Connection %q", body, resp.Header.Get("Connection"))
		}
		_, body = roundTrip(t, c, br, "GET / HTTP/1.0\r\nAPPID: b\r\n\r\n")
		if body != "B" {
			t.Fatalf("second request: %q", body)
		}
	})
	t.Run("keep-alive timeout", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{KeepAlive: true, Timeouts: Timeouts{KeepAlive: 100 * time.Millisecond}}, r)
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: a\r\n\r\n")
		start := time.Now()
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF after keep-alive timeout, got %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("idle connection closed after %v", d)
		}
	})
}

// countingDial dials for real and records every attempt.
type countingDial struct {
	mu    sync.Mutex
	times []time.Time
	addrs []string
	d     net.Dialer
}

func (cd *countingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	cd.mu.Lock()
	cd.times = append(cd.times, time.Now())
	cd.addrs = append(cd.addrs, addr)
	cd.mu.Unlock()
	return cd.d.DialContext(ctx, network, addr)
}

func (cd *countingDial) attempts() ([]time.Time, []string) {
	cd.mu.Lock()
	defer cd.mu.Unlock()
	return append([]time.Time(nil), cd.times...), append([]string(nil), cd.addrs...)
}

// D.10 scenario 4: retries and redispatch.
func TestRetries(t *testing.T) {
	t.Run("refusing server: 4 attempts 1s apart, then 503", func(t *testing.T) {
		dead := proxytest.ClosedAddr(t)
		rt := route("r", dead)
		cd := &countingDial{}
		log := &syncBuf{}
		addr, _ := startFrontend(t, Config{Dial: cd.dial, AccessLog: log}, router([]*proxy.Backend{rt}, nil))
		start := time.Now()
		resp, body := do(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: r\r\n\r\n")
		took := time.Since(start)
		if resp.StatusCode != 503 || !strings.Contains(body, "503 Service Unavailable") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		line := log.lines(t, 1)[0]
		times, _ := cd.attempts()
		if len(times) != 4 {
			t.Fatalf("%d connection attempts, want 4", len(times))
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 900*time.Millisecond || gap > 2*time.Second {
				t.Errorf("gap before attempt %d: %v, want about 1s", i+1, gap)
			}
		}
		if took > 6*time.Second {
			t.Errorf("503 after %v", took)
		}
		s := rt.Servers[0]
		if s.Counters.ErrConn.Load() != 4 || s.Counters.Retries.Load() != 3 || s.Counters.Hrsp[4].Load() != 1 {
			t.Errorf("server counters econ=%d wretr=%d 5xx=%d", s.Counters.ErrConn.Load(), s.Counters.Retries.Load(), s.Counters.Hrsp[4].Load())
		}
		if rt.Counters.ErrConn.Load() != 4 || rt.Counters.Retries.Load() != 3 {
			t.Errorf("backend counters econ=%d wretr=%d", rt.Counters.ErrConn.Load(), rt.Counters.Retries.Load())
		}
		if !strings.Contains(line, " r/r ") || !strings.Contains(line, " 503 ") || !strings.Contains(line, " SC-- ") || !strings.Contains(line, "/3 0/0 ") {
			t.Errorf("log line %q", line)
		}
	})

	t.Run("default backend: last retry redispatched", func(t *testing.T) {
		good := named(t, "good")
		s1 := proxy.NewServer("s1", proxytest.ClosedAddr(t))
		s2 := proxy.NewServer("s2", addrOf(good))
		def := proxy.NewBackend("default_backend", s1, s2)
		cd := &countingDial{}
		log := &syncBuf{}
		cfg := Config{Dial: cd.dial, AccessLog: log, Timeouts: Timeouts{Connect: 100 * time.Millisecond}}
		addr, _ := startFrontend(t, cfg, router(nil, def))
		resp, body := do(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || body != "good" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		_, addrs := cd.attempts()
		want := []string{s1.Addr, s1.Addr, s1.Addr, s2.Addr}
		if fmt.Sprint(addrs) != fmt.Sprint(want) {
			t.Fatalf("attempts %v, want %v", addrs, want)
		}
		if def.Counters.Redisp.Load() != 1 || def.Counters.Retries.Load() != 3 || s1.Counters.Redisp.Load() != 1 {
			t.Errorf("wredis=%d wretr=%d", def.Counters.Redisp.Load(), def.Counters.Retries.Load())
		}
		if line := log.lines(t, 1)[0]; !strings.Contains(line, "default_backend/s2 ") || !strings.Contains(line, "/+3 0/0") {
			t.Errorf("log line %q", line)
		}
	})

	t.Run("no redispatch", func(t *testing.T) {
		good := named(t, "good")
		s1 := proxy.NewServer("s1", proxytest.ClosedAddr(t))
		s2 := proxy.NewServer("s2", addrOf(good))
		cfg := Config{NoRedispatch: true, Retries: 1, Timeouts: Timeouts{Connect: 50 * time.Millisecond}}
		addr, _ := startFrontend(t, cfg, router(nil, proxy.NewBackend("d", s1, s2)))
		if resp, _ := do(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 503 {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})

	t.Run("POST reset after sending is not retried", func(t *testing.T) {
		var accepts atomic.Int64
		reset := proxytest.ServeLoopback(t, func(c net.Conn) {
			accepts.Add(1)
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err == nil {
				io.Copy(io.Discard, req.Body)
			}
			// Reset: the request was received, the answer never comes.
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		})
		rt := route("p", reset)
		log := &syncBuf{}
		addr, _ := startFrontend(t, Config{AccessLog: log}, router([]*proxy.Backend{rt}, nil))
		resp, body := do(t, addr, "POST /x HTTP/1.1\r\nHost: x\r\nAPPID: p\r\nContent-Length: 5\r\n\r\nhello")
		if resp.StatusCode != 502 || !strings.Contains(body, "502 Bad Gateway") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if n := accepts.Load(); n != 1 {
			t.Fatalf("backend saw %d connections, want 1", n)
		}
		if rt.Counters.Retries.Load() != 0 || rt.Counters.ErrResp.Load() != 1 {
			t.Errorf("wretr=%d eresp=%d", rt.Counters.Retries.Load(), rt.Counters.ErrResp.Load())
		}
		if line := log.lines(t, 1)[0]; !strings.Contains(line, " 502 ") || !strings.Contains(line, " SH-- ") {
			t.Errorf("log line %q", line)
		}
	})
}

// D.10 scenario 5: X-Forwarded-For and friends.
func TestForwardedHeaders(t *testing.T) {
	e := newHeadEcho(t)
	r := router([]*proxy.Backend{route("e", e.addr())}, nil)
	spoofed := "GET / HTTP/1.1\r\nHost: site.example\r\nAPPID: e\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\nForwarded: for=6.6.6.6\r\nX-Other: kept\r\n\r\n"
	loop := netip.MustParsePrefix("127.0.0.0/8")

	lines := func(cfg Config, raw string) []string {
		t.Helper()
		addr, _ := startFrontend(t, cfg, r)
		resp, body := do(t, addr, raw)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return headerLines(body)
	}
	expect := func(t *testing.T, ls []string, k string, want ...string) {
		t.Helper()
		if got := values(ls, k); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %q, want %q (head %q)", k, got, want, ls)
		}
	}

	t.Run("secure, untrusted peer: spoofed headers dropped", func(t *testing.T) {
		ls := lines(Config{}, spoofed)
		expect(t, ls, "X-Forwarded-For", "127.0.0.1")
		expect(t, ls, "X-Forwarded-Proto", "http")
		expect(t, ls, "X-Forwarded-Host", "site.example")
		expect(t, ls, "X-Forwarded-Port")
		expect(t, ls, "Forwarded")
		expect(t, ls, "X-Other", "kept")
	})
	t.Run("secure, trusted peer: kept and appended", func(t *testing.T) {
		ls := lines(Config{ForwardFor: ForwardFor{TrustedProxies: []netip.Prefix{loop}}}, spoofed)
		expect(t, ls, "X-Forwarded-For", "6.6.6.6, 127.0.0.1")
		expect(t, ls, "X-Forwarded-Proto", "https")
		expect(t, ls, "X-Forwarded-Host", "evil.example")
		expect(t, ls, "Forwarded", "for=6.6.6.6")
	})
	t.Run("secure, custom header", func(t *testing.T) {
		ls := lines(Config{ForwardFor: ForwardFor{Header: "x-client-ip"}}, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: e\r\nX-Client-IP: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\n\r\n")
		expect(t, ls, "X-Client-Ip", "127.0.0.1")
		expect(t, ls, "X-Forwarded-For")
	})
	t.Run("haproxy mode: kept, one line appended at the end", func(t *testing.T) {
		ls := lines(Config{ForwardFor: ForwardFor{Mode: ForwardHAProxy}}, spoofed)
		expect(t, ls, "X-Forwarded-For", "6.6.6.6", "127.0.0.1")
		expect(t, ls, "X-Forwarded-Proto", "https")
		expect(t, ls, "Forwarded", "for=6.6.6.6")
		if last := ls[len(ls)-1]; last != "X-Forwarded-For: 127.0.0.1" {
			t.Errorf("last header line %q", last)
		}
	})
	t.Run("haproxy mode: except", func(t *testing.T) {
		ls := lines(Config{ForwardFor: ForwardFor{Mode: ForwardHAProxy, Except: []netip.Prefix{loop}}}, spoofed)
		expect(t, ls, "X-Forwarded-For", "6.6.6.6")
	})
	t.Run("haproxy mode: if-none", func(t *testing.T) {
		cfg := Config{ForwardFor: ForwardFor{Mode: ForwardHAProxy, IfNone: true}}
		expect(t, lines(cfg, spoofed), "X-Forwarded-For", "6.6.6.6")
		expect(t, lines(cfg, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: e\r\n\r\n"), "X-Forwarded-For", "127.0.0.1")
	})
	t.Run("haproxy mode: header name", func(t *testing.T) {
		ls := lines(Config{ForwardFor: ForwardFor{Mode: ForwardHAProxy, Header: "X-Real-IP"}}, spoofed)
		expect(t, ls, "X-Real-Ip", "127.0.0.1")
		expect(t, ls, "X-Forwarded-For", "6.6.6.6")
	})
}

// 7.6.3: only the normalised request goes upstream.
func TestNormalisedForwarding(t *testing.T) {
	e := newHeadEcho(t)
	r := router([]*proxy.Backend{route("e", e.addr())}, nil)
	addr, _ := startFrontend(t, Config{}, r)

	t.Run("hop-by-hop headers removed", func(t *testing.T) {
		_, body := do(t, addr, "GET /p HTTP/1.1\r\nHost: h\r\nAPPID: e\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nProxy-Authorization: Basic x\r\nTE: trailers, gzip\r\nUpgrade: foo\r\n\r\n")
		ls := headerLines(body)
		for _, k := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Upgrade"} {
			if v := values(ls, k); len(v) > 0 {
				t.Errorf("%s forwarded: %q", k, v)
			}
		}
		if v := values(ls, "Te"); fmt.Sprint(v) != "[trailers]" {
			t.Errorf("TE = %q", v)
		}
	})
	t.Run("chunked wins over Content-Length", func(t *testing.T) {
		_, body := do(t, addr, "POST /p HTTP/1.1\r\nHost: h\r\nAPPID: e\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		ls := headerLines(body)
		if v := values(ls, "Content-Length"); len(v) > 0 {
			t.Errorf("Content-Length forwarded with chunked: %q", v)
		}
		if v := values(ls, "Transfer-Encoding"); fmt.Sprint(v) != "[chunked]" {
			t.Errorf("Transfer-Encoding %q", v)
		}
		if !strings.HasSuffix(body, "\r\n\r\nhello") {
			t.Errorf("body %q", body)
		}
	})
	t.Run("Content-Length body", func(t *testing.T) {
		_, body := do(t, addr, "POST /p HTTP/1.1\r\nHost: h\r\nAPPID: e\r\nContent-Length: 5\r\n\r\nhello")
		if v := values(headerLines(body), "Content-Length"); fmt.Sprint(v) != "[5]" || !strings.HasSuffix(body, "hello") {
			t.Errorf("Content-Length %q body %q", v, body)
		}
	})
	t.Run("absolute form and bad query", func(t *testing.T) {
		_, body := do(t, addr, "GET http://h/a%2Fb?x=1;y=2&z=%zz&ok=1 HTTP/1.1\r\nHost: h\r\nAPPID: e\r\n\r\n")
		if first, _, _ := strings.Cut(body, "\r\n"); first != "GET /a%2Fb?ok=1 HTTP/1.1" {
			t.Errorf("request line %q", first)
		}
	})
	for _, tc := range []struct{ name, raw string }{
		{"conflicting Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nAPPID: e\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: h\r\nAPPID: e\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"missing Host", "GET / HTTP/1.1\r\nAPPID: e\r\n\r\n"},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a/b\r\nAPPID: e\r\n\r\n"},
		{"bad header line", "GET / HTTP/1.1\r\nHost: h\r\nAP PID: e\r\n\r\n"},
		{"garbage", "HELLO\r\n\r\n"},
	} {
		t.Run(tc.name+" → 400", func(t *testing.T) {
			before := e.requests.Load()
			resp, body := do(t, addr, tc.raw)
			if resp.StatusCode != 400 || !strings.Contains(body, "400 Bad request") {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			if e.requests.Load() != before {
				t.Fatal("a refused request reached the backend")
			}
		})
	}
	t.Run("header block too large → 400", func(t *testing.T) {
		addr, _ := startFrontend(t, Config{MaxHeaderBytes: 1024}, r)
		resp, _ := do(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: "+strings.Repeat("a", 8192)+"\r\n\r\n")
		if resp.StatusCode != 400 {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
	t.Run("HTTP/2 preface → 505", func(t *testing.T) {
		if resp := doOpen(t, addr, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); resp.StatusCode != 505 {
			t.Fatalf("got %v", resp)
		}
	})
}

// D.10 scenario 7: timeouts.
func TestTimeouts(t *testing.T) {
	t.Run("slow server → 504", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		var hits atomic.Int64
		slow := named(t, "unused")
		slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-release:
			case <-time.After(testTimeout):
			}
		})
		log := &syncBuf{}
		cfg := Config{AccessLog: log, Timeouts: Timeouts{Server: 200 * time.Millisecond}}
		addr, _ := startFrontend(t, cfg, router([]*proxy.Backend{route("s", addrOf(slow))}, nil))
		start := time.Now()
		resp, body := do(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: s\r\n\r\n")
		if resp.StatusCode != 504 || !strings.Contains(body, "504 Gateway Time-out") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("504 after %v", d)
		}
		if hits.Load() != 1 {
			t.Errorf("backend hit %d times", hits.Load())
		}
		if line := log.lines(t, 1)[0]; !strings.Contains(line, " sH-- ") {
			t.Errorf("log line %q", line)
		}
	})
	t.Run("blackholed server → connect timeouts, retries, 503", func(t *testing.T) {
		var attempts atomic.Int64
		// A SYN that is never answered, without touching the network:
		// the dialer waits for the connect timeout.
		blackhole := func(ctx context.Context, network, addr string) (net.Conn, error) {
			attempts.Add(1)
			<-ctx.Done()
			return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
		}
		log := &syncBuf{}
		cfg := Config{Dial: blackhole, AccessLog: log, Timeouts: Timeouts{Connect: 100 * time.Millisecond}}
		addr, _ := startFrontend(t, cfg, router([]*proxy.Backend{route("bh", "192.0.2.1:80")}, nil))
		start := time.Now()
		resp, _ := do(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: bh\r\n\r\n")
		if resp.StatusCode != 503 {
			t.Fatalf("got %d", resp.StatusCode)
		}
		// 4 attempts of 100ms with 100ms between them.
		if d := time.Since(start); d < 600*time.Millisecond || d > 5*time.Second {
			t.Errorf("503 after %v", d)
		}
		if attempts.Load() != 4 {
			t.Errorf("%d attempts", attempts.Load())
		}
		if line := log.lines(t, 1)[0]; !strings.Contains(line, " sC-- ") {
			t.Errorf("log line %q", line)
		}
	})
	t.Run("slow client headers → 408", func(t *testing.T) {
		a := named(t, "A")
		log := &syncBuf{}
		cfg := Config{AccessLog: log, Timeouts: Timeouts{HTTPRequest: 200 * time.Millisecond}}
		addr, fe := startFrontend(t, cfg, router([]*proxy.Backend{route("a", addrOf(a))}, nil))
		start := time.Now()
		resp := doOpen(t, addr, "GET / HTTP/1.1\r\nHost: h\r\n")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 408 || !strings.Contains(string(body), "408 Request Time-out") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("408 after %v", d)
		}
		if fe.Counters().ErrReq.Load() != 1 {
			t.Errorf("ereq = %d", fe.Counters().ErrReq.Load())
		}
		if line := log.lines(t, 1)[0]; !strings.Contains(line, " 408 ") || !strings.Contains(line, " cR-- ") || !strings.Contains(line, "<BADREQ>") {
			t.Errorf("log line %q", line)
		}
	})
	t.Run("silent connection closed without an answer", func(t *testing.T) {
		cfg := Config{Timeouts: Timeouts{HTTPRequest: 100 * time.Millisecond}}
		addr, _ := startFrontend(t, cfg, router(nil, nil))
		c := rawConn(t, addr)
		b, err := io.ReadAll(c)
		if err != nil || len(b) != 0 {
			t.Fatalf("got %q %v", b, err)
		}
	})
}

// A websocket-style tunnel survives the removal of its route; an
// in-flight request on a removed route completes.
func TestTunnelAndTableSwap(t *testing.T) {
	wsAddr := proxytest.ServeLoopback(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
		io.Copy(c, br) // echo
	})

	ws := route("ws", wsAddr)
	r := router([]*proxy.Backend{ws}, nil)
	addr, _ := startFrontend(t, Config{Timeouts: Timeouts{Tunnel: 2 * time.Second}}, r)
	c := rawConn(t, addr)
	br := bufio.NewReader(c)
	resp := sendOn(t, c, br, "GET /chat HTTP/1.1\r\nHost: h\r\nAPPID: ws\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\nearly")
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" || resp.Header.Get("Sec-Websocket-Accept") != "x" {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
	}
	echo := func(msg string) {
		t.Helper()
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q: got %q %v", msg, got, err)
		}
	}
	// Bytes sent right behind the upgrade request arrive too.
	got := make([]byte, 5)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "early" {
		t.Fatalf("early bytes: %q %v", got, err)
	}
	echo("ping1")

	// The route goes away: new table, the server leaves every table.
	r.Swap(proxy.NewTable(2, nil, nil, nil))
	ws.Servers[0].Stop()
	echo("ping2")
	if resp, _ := do(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: ws\r\n\r\n"); resp.StatusCode != 503 {
		t.Fatalf("removed route answered %d", resp.StatusCode)
	}
	echo("ping3")

	t.Run("in-flight request on a removed route completes", func(t *testing.T) {
		release := make(chan struct{})
		entered := make(chan struct{})
		slow := named(t, "unused")
		slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			select {
			case <-release:
			case <-time.After(testTimeout):
			}
			io.WriteString(w, "done")
		})
		rt := route("slow", addrOf(slow))
		r := router([]*proxy.Backend{rt}, nil)
		addr, _ := startFrontend(t, Config{}, r)
		type result struct {
			status int
			body   string
		}
		res := make(chan result, 1)
		go func() {
			c, err := net.DialTimeout("tcp", addr, testTimeout)
			if err != nil {
				res <- result{}
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(testTimeout))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: slow\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				res <- result{}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			res <- result{resp.StatusCode, string(b)}
		}()
		select {
		case <-entered:
		case <-time.After(testTimeout):
			t.Fatal("request never reached the backend")
		}
		r.Swap(proxy.NewTable(2, nil, nil, nil))
		rt.Servers[0].Stop()
		close(release)
		if got := <-res; got.status != 200 || got.body != "done" {
			t.Fatalf("in-flight request got %d %q", got.status, got.body)
		}
	})
}

// Bodies both ways, 100-continue, chunked and streamed responses.
func TestBodies(t *testing.T) {
	hold := make(chan struct{})
	be := named(t, "unused")
	be.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Len", fmt.Sprint(len(b)))
			w.Write(b)
		case "/stream":
			fl := w.(http.Flusher)
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "tick%d\n", i)
				fl.Flush()
				time.Sleep(20 * time.Millisecond)
			}
		case "/head":
			w.Header().Set("Content-Length", "1234")
		case "/hold":
			io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			select {
			case <-hold:
			case <-time.After(testTimeout):
			}
			io.WriteString(w, "second\n")
		case "/204":
			w.WriteHeader(204)
		case "/early":
			// Answer without reading the upload.
			w.Header().Set("Connection", "close")
			w.WriteHeader(413)
		}
	})
	r := router([]*proxy.Backend{route("b", addrOf(be))}, nil)
	addr, _ := startFrontend(t, Config{KeepAlive: true}, r)
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: testTimeout}
	send := func(method, path string, body io.Reader, n int64, h http.Header) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, body)
		req.ContentLength = n
		for k, v := range h {
			req.Header[k] = v
		}
		req.Header.Set("APPID", "b")
		return fetch(t, cl, req)
	}

	big := strings.Repeat("0123456789", 100_000)
	if resp, body := send("POST", "/echo", strings.NewReader(big), int64(len(big)), nil); body != big || resp.Header.Get("X-Len") != "1000000" {
		t.Fatalf("1 MB echo: %d bytes back", len(body))
	}
	// Unknown length: chunked upstream and back.
	if _, body := send("POST", "/echo", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")), -1, nil); body != "abcdef" {
		t.Fatalf("chunked echo %q", body)
	}
	if _, body := send("PUT", "/echo", strings.NewReader(big), int64(len(big)), http.Header{"Expect": {"100-continue"}}); body != big {
		t.Fatalf("100-continue echo: %d bytes back", len(body))
	}
	resp, body := send("GET", "/stream", nil, 0, nil)
	if body != "tick0\ntick1\ntick2\n" || resp.TransferEncoding == nil {
		t.Fatalf("stream %q %v", body, resp.TransferEncoding)
	}
	if resp, _ := send("HEAD", "/head", nil, 0, nil); resp.ContentLength != 1234 {
		t.Fatalf("HEAD Content-Length %d", resp.ContentLength)
	}
	if resp, _ := send("GET", "/204", nil, 0, nil); resp.StatusCode != 204 {
		t.Fatalf("204: %d", resp.StatusCode)
	}
	// Streamed data reaches the client as it comes, not at the end.
	sresp := doOpen(t, addr, "GET /hold HTTP/1.1\r\nHost: h\r\nAPPID: b\r\n\r\n")
	first := make([]byte, 6)
	if _, err := io.ReadFull(sresp.Body, first); err != nil || string(first) != "first\n" {
		t.Fatalf("first part %q %v", first, err)
	}
	close(hold)
	if rest, _ := io.ReadAll(sresp.Body); string(rest) != "second\n" {
		t.Fatalf("rest %q", rest)
	}
	t.Run("early answer to an upload", func(t *testing.T) {
		if resp := doOpen(t, addr, "POST /early HTTP/1.1\r\nHost: h\r\nAPPID: b\r\nContent-Length: 100000000\r\n\r\nabc"); resp.StatusCode != 413 {
			t.Fatalf("got %v", resp)
		}
	})
}

// At the listener's limit, new connections wait in the backlog.
func TestMaxConn(t *testing.T) {
	a := named(t, "A")
	r := router([]*proxy.Backend{route("a", addrOf(a))}, nil)
	for _, cfg := range []Config{{ListenerMaxConn: 1}, {MaxConn: 1}} {
		addr, fe := startFrontend(t, cfg, r)
		hold := rawConn(t, addr)
		io.WriteString(hold, "GET / HTTP/1.1\r\n") // incomplete: keeps its slot
		// Wait until the first connection is really being served.
		if !proxytest.Poll(testTimeout, func() bool { return fe.Counters().Cur.Load() == 1 }) {
			t.Fatal("first connection not accepted")
		}
		c := rawConn(t, addr) // completes in the kernel's backlog
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: a\r\n\r\n")
		got := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(c)
			got <- string(b)
		}()
		select {
		case b := <-got:
			t.Fatalf("answered beyond maxconn: %q", b)
		case <-time.After(300 * time.Millisecond):
		}
		hold.Close()
		select {
		case b := <-got:
			if !strings.HasSuffix(b, "A") {
				t.Fatalf("got %q", b)
			}
		case <-time.After(testTimeout):
			t.Fatal("waiting connection never served")
		}
	}
}

func TestAccessLogAndCounters(t *testing.T) {
	a := named(t, "A")
	rt := route("a", addrOf(a))
	log := &syncBuf{}
	addr, fe := startFrontend(t, Config{AccessLog: log, Name: "fe1"}, router([]*proxy.Backend{rt}, nil))
	do(t, addr, "GET /x?\"q\" HTTP/1.1\r\nHost: h\r\nAPPID: a\r\n\r\n")
	line := log.lines(t, 1)[0]
	// 127.0.0.1:port [date] fe1 a/a Tq/Tw/Tc/Tr/Tt 200 bytes - - ---- ac/fc/bc/sc/rc 0/0 "GET ..."
	f := strings.Fields(line)
	if len(f) != 15 {
		t.Fatalf("%d fields in %q", len(f), line)
	}
	if !strings.HasPrefix(f[0], "127.0.0.1:") || f[2] != "fe1" || f[3] != "a/a" || f[5] != "200" || f[9] != "----" || !strings.HasSuffix(f[10], "/1/1/0") {
		t.Errorf("log line %q", line)
	}
	if timers := strings.Split(f[4], "/"); len(timers) != 5 || timers[1] != "0" {
		t.Errorf("timers %q", f[4])
	}
	if f[13] != "/x?#22q#22" {
		t.Errorf("uri %q not escaped", f[13])
	}
	s := rt.Servers[0]
	if s.Counters.Total.Load() != 1 || s.Counters.Hrsp[1].Load() != 1 || s.Counters.BytesOut.Load() == 0 || s.Counters.Cur.Load() != 0 {
		t.Errorf("server counters total=%d 2xx=%d bout=%d cur=%d", s.Counters.Total.Load(), s.Counters.Hrsp[1].Load(), s.Counters.BytesOut.Load(), s.Counters.Cur.Load())
	}
	if rt.Counters.Total.Load() != 1 || fe.Counters().Hrsp[1].Load() != 1 {
		t.Errorf("backend total=%d frontend 2xx=%d", rt.Counters.Total.Load(), fe.Counters().Hrsp[1].Load())
	}
}

// Upstream connections are pooled across client connections, and a pooled
// connection the server closed is replaced without an error.
func TestUpstreamPool(t *testing.T) {
	e := newHeadEcho(t)
	rt := route("e", e.addr())
	addr, _ := startFrontend(t, Config{}, router([]*proxy.Backend{rt}, nil))
	for i := 0; i < 5; i++ {
		if resp, _ := do(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: e\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := e.conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 5 sequential requests", n)
	}

	// A server that closes every connection after one answer but says
	// nothing about it: the pooled connection is dead when reused.
	oneShot := proxytest.ServeLoopback(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	addr2, _ := startFrontend(t, Config{}, router([]*proxy.Backend{route("c", oneShot)}, nil))
	// A GET is replayed on a fresh connection when the reused one fails
	// before answering; a POST, which cannot be replayed, is only sent on
	// a pooled connection checked alive first. Both must succeed.
	for i := 0; i < 6; i++ {
		req := "GET / HTTP/1.1\r\nHost: h\r\nAPPID: c\r\n\r\n"
		if i%2 == 1 {
			req = "POST / HTTP/1.1\r\nHost: h\r\nAPPID: c\r\nContent-Length: 1\r\n\r\nx"
		}
		if resp, body := do(t, addr2, req); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	slow := named(t, "unused")
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	})
	fe, err := New(Config{KeepAlive: true}, router([]*proxy.Backend{route("s", addrOf(slow))}, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fe.Serve(ln) }()
	c := rawConn(t, ln.Addr().String())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nAPPID: s\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		shut <- fe.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("in-flight request during shutdown: %v %v", resp, err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}

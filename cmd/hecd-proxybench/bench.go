package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"hecd/cmd/internal/benchkit"
	"hecd/test/hecdproc"
)

// targetNames are the targets in the order tables list them.
var targetNames = []string{"hecd", "haproxy", "direct"}

// parts are what -only selects.
var partNames = []string{"appid", "default", "ttr", "churn"}

// workload is one wrk load, run on every target.
type workload struct {
	name, title string
	appid       string   // the APPID header sent; "" for none
	direct      *backend // where the direct target points
}

func workloads(backends []*backend) []*workload {
	return []*workload{
		{name: "appid", title: "GET / with APPID: app2, one route", appid: "app2", direct: backends[1]},
		{name: "default", title: "GET / without APPID, default backend round robin over 3 (direct: app1 only)", direct: backends[0]},
	}
}

// bench holds what the runs share.
type bench struct {
	cfg         *config
	fleet       *fleet
	hz          int // clock ticks per second of /proc/PID/stat
	backends    []*backend
	store       *store
	storeClient *storeClient
	targets     map[string]*target
	results     []*workloadResult
}

// setup starts the backends, the store with the three routes and the
// proxies the selected targets need.
func (b *bench) setup(ctx context.Context) error {
	for _, name := range []string{"app1", "app2", "app3"} {
		be, err := b.fleet.startBackend(ctx, name)
		if err != nil {
			return err
		}
		b.backends = append(b.backends, be)
	}
	progress("backends app1, app2, app3 on %s, %s, %s", b.backends[0].addr, b.backends[1].addr, b.backends[2].addr)
	b.targets = map[string]*target{}
	if b.cfg.targets["hecd"] {
		progress("starting hecd store")
		s, err := b.fleet.startStore(ctx, b.cfg.hecd, b.fleet.dir)
		if err != nil {
			return err
		}
		b.store, b.storeClient = s, newStoreClient(s.url)
		for _, be := range b.backends {
			if err := b.storeClient.put(ctx, be.name, be.addr); err != nil {
				return err
			}
		}
		t, err := b.fleet.startHecdProxy(ctx, b.cfg, "hecd proxy", s.url, "all", b.backends)
		if err != nil {
			return err
		}
		b.targets["hecd"] = t
		progress("hecd proxy (pid %d) on %s routes app1..3", t.proc.pid(), t.url)
	}
	if b.cfg.targets["haproxy"] {
		t, err := b.fleet.startHAProxy(ctx, b.cfg, b.fleet.dir, b.backends)
		if err != nil {
			return err
		}
		b.targets["haproxy"] = t
		progress("haproxy (pid %d) on %s routes app1..3", t.proc.pid(), t.url)
	}
	if b.cfg.targets["direct"] {
		// The URL depends on the workload; see directTarget.
		b.targets["direct"] = &target{name: "direct"}
	}
	return nil
}

// order is the targets of round r (0-based): the list rotated by r, so
// that each target runs first, second and third in turn.
func order(names []string, r int) []string {
	n := len(names)
	out := make([]string, n)
	for i := range names {
		out[i] = names[(i+r)%n]
	}
	return out
}

// headers are wrk's extra headers for w on target t.
func (b *bench) headers(w *workload, t *target) []string {
	var h []string
	if w.appid != "" {
		h = append(h, "APPID: "+w.appid)
	}
	// Through the proxies every client connection carries one request
	// (option httpclose); wrk straight to a backend does the same, so that
	// direct shows the cost of the connections without the proxy.
	if t.name == "direct" && b.cfg.httpclose {
		h = append(h, "Connection: close")
	}
	return h
}

func (b *bench) urlFor(w *workload, t *target) string {
	if t.name == "direct" {
		return "http://" + w.direct.addr + "/"
	}
	return t.url
}

// warmUp runs each workload once briefly on each target, unrecorded:
// connections, caches and the Go runtime of hecd and the backends are
// then past their start.
func (b *bench) warmUp(ctx context.Context, sel []*workload) error {
	if b.cfg.warmup <= 0 {
		return nil
	}
	for _, w := range sel {
		for _, name := range b.activeTargets() {
			t := b.targets[name]
			res, _, err := runWrk(ctx, b.cfg, wrkSpec{url: b.urlFor(w, t), headers: b.headers(w, t), duration: b.cfg.warmup})
			if err != nil {
				return fmt.Errorf("warm-up of %s on %s: %w", w.name, name, err)
			}
			progress("warm-up %-7s %-7s %.0f req/s", w.name, name, res.ReqPerSec)
		}
	}
	return nil
}

func (b *bench) activeTargets() []string {
	var out []string
	for _, n := range targetNames {
		if b.targets[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

// run does the rounds: in every round each selected workload runs on each
// target, in an order rotated every round.
func (b *bench) run(ctx context.Context, sel []*workload) error {
	if len(sel) == 0 {
		return nil
	}
	for _, w := range sel {
		b.results = append(b.results, &workloadResult{Name: w.name, Title: w.title})
	}
	if err := b.warmUp(ctx, sel); err != nil {
		return err
	}
	names := b.activeTargets()
	for r := range b.cfg.rounds {
		for i, w := range sel {
			for _, name := range order(names, r+i) {
				m, raw, err := b.measure(ctx, w, b.targets[name])
				if err != nil {
					return fmt.Errorf("round %d, %s on %s: %w", r+1, w.name, name, err)
				}
				m.Round = r + 1
				b.results[i].Rounds = append(b.results[i].Rounds, m)
				progress("round %d/%d %-7s %-7s %s", r+1, b.cfg.rounds, w.name, name, oneLine(m))
				if b.cfg.verbose {
					fmt.Fprint(os.Stderr, indent(raw))
				}
			}
		}
	}
	return nil
}

// measure runs w once on t with the proxy's CPU time read before and
// after.
func (b *bench) measure(ctx context.Context, w *workload, t *target) (measurement, string, error) {
	m := measurement{Workload: w.name, Target: t.name}
	var before int64
	if t.proc != nil {
		var err error
		if before, err = hecdproc.CPUTicks(t.proc.pid()); err != nil {
			return m, "", err
		}
	}
	res, raw, err := runWrk(ctx, b.cfg, wrkSpec{url: b.urlFor(w, t), headers: b.headers(w, t), duration: b.cfg.duration})
	if err != nil {
		return m, raw, err
	}
	m.wrkResult = res
	if t.proc != nil {
		after, err := hecdproc.CPUTicks(t.proc.pid())
		if err != nil {
			return m, raw, fmt.Errorf("%s exited? %w\n%s", t.name, err, benchkit.Tail(t.proc.log, 15))
		}
		m.setCPU(after-before, b.hz)
	}
	// Let the sockets of the run close and the processes settle before the
	// next run.
	return m, raw, sleepCtx(ctx, 500*time.Millisecond)
}

func oneLine(m measurement) string {
	s := fmt.Sprintf("%.0f req/s  p50 %s  p99 %s", m.ReqPerSec, benchkit.FmtMs(m.P50Ms), benchkit.FmtMs(m.P99Ms))
	if m.CPUPerReqUs != nil {
		s += fmt.Sprintf("  CPU %.1f µs/req", *m.CPUPerReqUs)
	}
	if m.Errors() > 0 {
		s += "  errors " + fmtErrors(m.wrkResult)
	}
	return s
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    | " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hecd-proxybench: "+format+"\n", args...)
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"hecd/cmd/internal/benchkit"
)

type kind int

const (
	kindLoop  kind = iota // closed-loop requests for a duration
	kindWatch             // watch fan-out
	kindLoad              // fill a fresh server
)

// workload is one benchmark; run measures it once on one server.
type workload struct {
	name  string
	title string
	kind  kind
	run   func(ctx context.Context, b *bench, s *server) (measurement, error)
	// targets: the hecd/etcd goals; other ratios are printed without one.
	throughputTarget, cpuTarget, p99Target, rssTarget *benchkit.Limit
}

func (w *workload) ratios() []ratio {
	switch w.kind {
	case kindWatch:
		return []ratio{
			{Metric: "p99", get: getP99, Target: w.p99Target},
			{Metric: "p50", get: func(m measurement) float64 { return m.P50Ms }},
			{Metric: "CPU/delivery", get: getCPU},
		}
	case kindLoad:
		return []ratio{
			{Metric: "time", get: getTime},
			{Metric: "RSS", get: getRSS, Target: w.rssTarget},
			{Metric: "CPU/op", get: getCPU},
		}
	default:
		return []ratio{
			{Metric: "throughput", get: getThroughput, Target: w.throughputTarget},
			{Metric: "CPU/op", get: getCPU, Target: w.cpuTarget},
			{Metric: "p99", get: getP99},
		}
	}
}

func (w *workload) header() string {
	switch w.kind {
	case kindWatch:
		return "server\tdeliveries/s\tp50\tp99\tCPU µs/delivery\twrites\tmissed\terrors"
	case kindLoad:
		return "server\ttime\tkeys/s\tp50\tp99\tCPU µs/op\tRSS fresh\tRSS after\terrors"
	default:
		return "server\tops/s\tp50\tp99\tCPU µs/op\terrors"
	}
}

func (w *workload) row(m measurement) string {
	switch w.kind {
	case kindWatch:
		return fmt.Sprintf("%s\t%.0f\t%s\t%s\t%.1f\t%d\t%d\t%d", m.Server, m.OpsPerSec,
			benchkit.FmtMs(m.P50Ms), benchkit.FmtMs(m.P99Ms), m.CPUPerOpUs, m.Writes, m.Missed, m.Errors)
	case kindLoad:
		return fmt.Sprintf("%s\t%.2fs\t%.0f\t%s\t%s\t%.1f\t%s\t%s\t%d", m.Server, m.Seconds, m.OpsPerSec,
			benchkit.FmtMs(m.P50Ms), benchkit.FmtMs(m.P99Ms), m.CPUPerOpUs, fmtMB(m.RSSBefore), fmtMB(m.RSSAfter), m.Errors)
	default:
		return fmt.Sprintf("%s\t%.0f\t%s\t%s\t%.1f\t%d", m.Server, m.OpsPerSec,
			benchkit.FmtMs(m.P50Ms), benchkit.FmtMs(m.P99Ms), m.CPUPerOpUs, m.Errors)
	}
}

// Key layout: put and get use benchPrefix/k0 … k<keys-1>, watch one key,
// load its own prefix on fresh servers.
const (
	benchPrefix = "bench"
	watchKey    = "bench/watch"
	loadPrefix  = "load"
)

func workloads(cfg *config) []*workload {
	put := func(clients int, tput, cpu *benchkit.Limit) *workload {
		return &workload{
			name: fmt.Sprintf("put%d", clients),
			title: fmt.Sprintf("PUT %d B values over %d keys, %d client%s, %s each",
				cfg.valueSize, cfg.keys, clients, benchkit.Plural(clients), cfg.duration),
			kind: kindLoop,
			run: func(ctx context.Context, b *bench, s *server) (measurement, error) {
				return runRandom(ctx, s, http.MethodPut, clients, cfg.keys, benchPrefix, b.body, cfg.duration)
			},
			throughputTarget: tput, cpuTarget: cpu,
		}
	}
	return []*workload{
		put(1, nil, nil),
		put(16, nil, nil),
		put(64, benchkit.AtLeast(2.0), benchkit.AtMost(0.5)),
		{
			name:  "get64",
			title: fmt.Sprintf("GET of %d existing keys, 64 clients, %s each", cfg.keys, cfg.duration),
			kind:  kindLoop,
			run: func(ctx context.Context, b *bench, s *server) (measurement, error) {
				return runRandom(ctx, s, http.MethodGet, 64, cfg.keys, benchPrefix, nil, cfg.duration)
			},
			throughputTarget: benchkit.AtLeast(1.2), cpuTarget: benchkit.AtMost(0.8),
		},
		{
			name: "watch",
			title: fmt.Sprintf("%d watchers on one key, a PUT every %s for %s; latency PUT sent → event received",
				cfg.watchers, cfg.watchInterval, cfg.duration),
			kind: kindWatch,
			run: func(ctx context.Context, b *bench, s *server) (measurement, error) {
				return runWatch(ctx, s, watchSpec{
					watchers: cfg.watchers, interval: cfg.watchInterval, duration: cfg.duration,
					key: watchKey, body: b.body,
				})
			},
			p99Target: benchkit.AtMost(1.0),
		},
		{
			name: "load",
			title: fmt.Sprintf("%d keys of %d B from %d clients into a fresh server; RSS afterwards",
				cfg.loadKeys, cfg.valueSize, cfg.loadClients),
			kind: kindLoad,
			run: func(ctx context.Context, b *bench, s *server) (measurement, error) {
				before, err := rssBytes(s.pid)
				if err != nil {
					return measurement{}, err
				}
				m, err := runFill(ctx, s, cfg.loadClients, cfg.loadKeys, loadPrefix, b.body)
				if err != nil {
					return m, err
				}
				m.RSSBefore = before
				m.RSSAfter, err = rssBytes(s.pid)
				return m, err
			},
			rssTarget: benchkit.AtMost(0.5),
		},
	}
}

// selectWorkloads keeps the workloads named in the comma-separated list
// (all when empty); "put" and "get" name their whole group.
func selectWorkloads(all []*workload, only string) ([]*workload, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, w := range all {
			if w.name == n || (n == "put" || n == "get") && strings.HasPrefix(w.name, n) {
				want[w.name], found = true, true
			}
		}
		if !found {
			names := make([]string, len(all))
			for i, w := range all {
				names[i] = w.name
			}
			return nil, fmt.Errorf("-only: unknown workload %q (have %s, put, get)", n, strings.Join(names, ", "))
		}
	}
	var sel []*workload
	for _, w := range all {
		if want[w.name] {
			sel = append(sel, w)
		}
	}
	return sel, nil
}

// bench runs the selected workloads in interleaved rounds.
type bench struct {
	cfg     *config
	launch  *launcher
	body    []byte             // the pre-encoded PUT body
	servers map[string]*server // the long-lived etcd and hecd
	results []*workloadResult
}

// setup starts the long-lived servers, if a selected workload needs them, and
// preloads the keys that get reads.
func (b *bench) setup(ctx context.Context, sel []*workload) error {
	need := false
	for _, w := range sel {
		need = need || w.kind != kindLoad
	}
	if !need {
		return nil
	}
	b.servers = map[string]*server{}
	for _, name := range []string{"etcd", "hecd"} {
		s, err := b.launch.start(ctx, name)
		if err != nil {
			return err
		}
		b.servers[name] = s
		m, err := runFill(ctx, s, 16, b.cfg.keys, benchPrefix, b.body)
		if err != nil {
			return fmt.Errorf("preloading %s: %w", name, err)
		}
		if m.Errors > 0 {
			return fmt.Errorf("preloading %s: %d of %d PUTs failed", name, m.Errors, b.cfg.keys)
		}
		progress("preloaded %d keys into %s in %.2fs", b.cfg.keys, name, m.Seconds)
	}
	return nil
}

// run does the rounds: in round r every workload runs on both servers, etcd
// first in even rounds and hecd first in odd ones.
func (b *bench) run(ctx context.Context, sel []*workload) error {
	for _, w := range sel {
		b.results = append(b.results, &workloadResult{Name: w.name, Title: w.title, w: w})
	}
	for r := range b.cfg.rounds {
		order := []string{"etcd", "hecd"}
		if r%2 == 1 {
			order = []string{"hecd", "etcd"}
		}
		for i, w := range sel {
			for _, name := range order {
				m, err := b.measure(ctx, w, name)
				if err != nil {
					return fmt.Errorf("round %d, %s on %s: %w", r+1, w.name, name, err)
				}
				m.Workload, m.Round = w.name, r+1
				b.results[i].Rounds = append(b.results[i].Rounds, m)
				progress("round %d/%d %-6s %s  %s", r+1, b.cfg.rounds, w.name, name, oneLine(w, m))
			}
		}
	}
	return nil
}

// measure runs w once on the named server: the long-lived one, or a fresh
// instance stopped right after for the load workload.
func (b *bench) measure(ctx context.Context, w *workload, name string) (measurement, error) {
	s := b.servers[name]
	if w.kind == kindLoad {
		var err error
		if s, err = b.launch.start(ctx, name); err != nil {
			return measurement{}, err
		}
		defer s.stop()
	}
	m, err := w.run(ctx, b, s)
	if err == nil && !s.alive() {
		err = fmt.Errorf("%s (pid %d) exited; log: %s", name, s.pid, s.log)
	}
	if err != nil {
		return m, err
	}
	// Let the server settle (GC, fsync of the tail) before the next run.
	select {
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
		return m, ctx.Err()
	}
	return m, nil
}

func oneLine(w *workload, m measurement) string {
	s := fmt.Sprintf("%.0f ops/s  p50 %s  p99 %s  CPU %.1f µs/op", m.OpsPerSec, benchkit.FmtMs(m.P50Ms), benchkit.FmtMs(m.P99Ms), m.CPUPerOpUs)
	switch w.kind {
	case kindLoad:
		s = fmt.Sprintf("%.2fs  ", m.Seconds) + s + "  RSS " + fmtMB(m.RSSAfter)
	case kindWatch:
		s += fmt.Sprintf("  missed %d", m.Missed)
	}
	if m.Errors > 0 {
		s += fmt.Sprintf("  errors %d", m.Errors)
	}
	return s
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hecd-bench: "+format+"\n", args...)
}

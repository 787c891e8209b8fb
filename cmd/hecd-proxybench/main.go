// Command hecd-proxybench compares hecd proxy with HAProxy.
//
// It starts three small Go HTTP backends (this binary re-executed in a
// hidden mode, each answering 200 with its name), a hecd store holding
// the routes /app/servers/app1..3, a hecd proxy and HAProxy 2.6 with the
// seed's configuration in current syntax, all on loopback, and points wrk
// at each of them and straight at a backend, in interleaved rounds whose
// order rotates. It reports the medians of requests/s, p99 latency and
// the proxy's CPU time per request, and hecd/HAProxy ratios against the
// targets (on a 2-core machine: at least 0.8x HAProxy's requests/s, p99
// and CPU per request at most 1.5x HAProxy's). Then it measures how long a
// new route takes to be routed after the store acknowledged it (time to
// route, p99 under 50 ms), and that adding and removing routes does not
// disturb traffic on an unchanged one (churn).
//
//	go run ./cmd/hecd-proxybench [-rounds 5] [-duration 5s] [-only appid,default,ttr,churn] [-v] [-json FILE]
//
// Needs wrk and haproxy (Debian packages wrk and haproxy; haproxy is
// looked for on the PATH and in /usr/sbin). -targets haproxy,direct runs
// without hecd; -proxy-arg passes extra flags to the hecd proxies, e.g.
// -proxy-arg -settle=20ms.
//
// Fairness: both proxies get the same backends, the same health checks
// (TCP every 5 s, fall 1, rise 2), option httpclose (every client
// connection carries one request; -httpclose=false compares keep-alive)
// and no logging (HAProxy's configuration has no log line, hecd runs with
// -access-log off). HAProxy runs in the foreground as one process
// (-db, no master) with nbthread = the number of CPUs, hecd with its
// default GOMAXPROCS, so both may use every CPU. The CPU time is the
// proxy process's utime+stime from /proc/PID/stat over the run, divided
// by wrk's request count. wrk, the backends and the proxy share the
// machine, so on 2 cores the figures are those of a saturated machine.
//
// One difference stays, by design: with option httpclose HAProxy also
// closes its server connection after each response, so it opens one
// upstream connection per request, while hecd pools its upstream
// connections whatever -httpclose says (spec proxy.md D). The
// -httpclose=false run, where both keep every connection alive, is the
// like-for-like comparison of the forwarding itself.
//
// The churn part runs the same wrk load twice, first without changes as
// the baseline, then during the changes, and shows the CPU the proxy and
// the store used in each.
//
// Example output (defaults; progress lines, on stderr, left out). The
// figures of one run on a shared 2-core machine vary by some 20 %:
// compare ratios, not absolute numbers.
//
//	hecd-proxybench: 2 CPUs, go1.26.8, 2026-11-23 22:32 UTC
//	  haproxy: HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/, nbthread 2, one process (-db)
//	  wrk: wrk debian/4.1.0-3+b2 [epoll]; -t2 -c64 -d5s --latency
//	  option httpclose on both proxies (hecd -httpclose=true): one request per client connection; direct sends Connection: close
//	  logging off on both: HAProxy's configuration has no log line, hecd runs with -access-log off
//	  CPU µs/req: the proxy process's utime+stime from /proc/PID/stat (CLK_TCK 100 from getconf) / wrk's requests
//
//	== appid: GET / with APPID: app2, one route (median of 5 rounds; errors summed)
//	   target  req/s     p50      p99  CPU µs/req  errors
//	     hecd  13037  3.49ms  12.69ms        51.5       0
//	  haproxy  11028  5.11ms  10.73ms        77.9       0
//	   direct  18797  2.14ms   7.61ms           -       0
//	  hecd/HAProxy: req/s 1.18x (target ≥ 0.8x: ok), p99 1.18x (target ≤ 1.5x: ok), CPU/req 0.66x (target ≤ 1.5x: ok)
//
//	== default: GET / without APPID, default backend round robin over 3 (direct: app1 only) (median of 5 rounds; errors summed)
//	   target  req/s     p50      p99  CPU µs/req  errors
//	     hecd  13965  3.39ms   8.74ms        52.3       0
//	  haproxy   9453  6.20ms  14.47ms        83.1       0
//	   direct  19191  2.04ms   6.99ms           -       0
//	  hecd/HAProxy: req/s 1.48x (target ≥ 0.8x: ok), p99 0.60x (target ≤ 1.5x: ok), CPU/req 0.63x (target ≤ 1.5x: ok)
//
//	== ttr: time to route, from a PUT's answer to the first 200 through a second hecd proxy (-default-backend none)
//	  1000 registrations, 1000 routed, 0 timed out, 23.7s in all; polled every 1ms
//	  (hecd publishes a new table once the store has been quiet for 20ms, or -settle after the first change)
//	  p50 21.70ms  p99 25.74ms  max 37.48ms  (target p99 < 50ms: ok)
//
//	== churn: 1000 routes added and removed in 10.0s under wrk on the unchanged route APPID: app1
//	  store: 1000 PUTs, 1000 DELETEs acknowledged, 0 failed; a route was removed 16 additions after its own
//	         wrk  requests  req/s     p99  proxy CPU µs/req  store CPU s  errors
//	  no changes    173759  14357  9.04ms              52.4         0.01       0
//	       churn    157790  13043  9.26ms              55.8         0.90       0
//	  unchanged route during the churn: non-2xx 0, socket errors 0: ok
//
//	== targets (hecd against HAProxy; ratios are hecd/HAProxy)
//	  appid    req/s        1.18x     ≥ 0.8x  ok
//	  appid    p99          1.18x     ≤ 1.5x  ok
//	  appid    CPU/req      0.66x     ≤ 1.5x  ok
//	  appid    hecd errors  0         = 0     ok
//	  default  req/s        1.48x     ≥ 0.8x  ok
//	  default  p99          0.60x     ≤ 1.5x  ok
//	  default  CPU/req      0.63x     ≤ 1.5x  ok
//	  default  hecd errors  0         = 0     ok
//	  ttr      p99          25.74ms  < 50ms  ok
//	  churn    errors       0         = 0     ok
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"hecd/cmd/internal/benchkit"
	"hecd/test/hecdproc"
)

type config struct {
	hecd, haproxy, wrk string
	rounds             int
	duration, warmup   time.Duration
	connections        int
	threads            int
	only               string
	parts              map[string]bool
	targetList         string
	targets            map[string]bool
	verbose            bool
	jsonFile           string
	ttr                int
	ttrTimeout         time.Duration
	ttrPoll            time.Duration
	churn              int
	churnDuration      time.Duration
	httpclose          bool
	proxyArgs          []string
}

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	// The hidden backend mode: see startBackend.
	if len(os.Args) == 3 && os.Args[1] == backendArg {
		os.Exit(serveBackend(os.Args[2]))
	}
	os.Exit(run())
}

func run() int {
	var cfg config
	flag.StringVar(&cfg.hecd, "hecd", "", "hecd binary (default: go build hecd/cmd/hecd into a temp dir)")
	flag.StringVar(&cfg.haproxy, "haproxy", "", "haproxy binary (default: haproxy on the PATH or in /usr/sbin)")
	flag.StringVar(&cfg.wrk, "wrk", "wrk", "wrk binary")
	flag.IntVar(&cfg.rounds, "rounds", 5, "interleaved rounds")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "duration of each wrk run (whole seconds)")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unrecorded wrk run per workload and target before the rounds (0: none)")
	flag.IntVar(&cfg.connections, "connections", 64, "wrk connections (-c)")
	flag.IntVar(&cfg.threads, "threads", 2, "wrk threads (-t)")
	flag.StringVar(&cfg.only, "only", "", "comma-separated parts to run: "+strings.Join(partNames, ", ")+"; default all")
	flag.StringVar(&cfg.targetList, "targets", strings.Join(targetNames, ","), "comma-separated targets of the wrk rounds; ttr and churn need hecd")
	flag.BoolVar(&cfg.verbose, "v", false, "also print every round's numbers and wrk's raw output")
	flag.StringVar(&cfg.jsonFile, "json", "", "write all raw numbers to this JSON file")
	flag.IntVar(&cfg.ttr, "ttr", 1000, "registrations timed by the time-to-route part")
	flag.DurationVar(&cfg.ttrTimeout, "ttr-timeout", 5*time.Second, "time to route after which a registration counts as not routed")
	flag.DurationVar(&cfg.ttrPoll, "ttr-poll", time.Millisecond, "time between the polls of a new route")
	flag.IntVar(&cfg.churn, "churn", 1000, "routes added and removed by the churn part")
	flag.DurationVar(&cfg.churnDuration, "churn-duration", 10*time.Second, "time the churn's changes are spread over")
	flag.BoolVar(&cfg.httpclose, "httpclose", true, "one request per client connection (the seed's option httpclose) on both proxies; false: keep-alive")
	flag.Var((*repeated)(&cfg.proxyArgs), "proxy-arg", "extra argument for the hecd proxies (repeatable), e.g. -proxy-arg -settle=20ms")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./cmd/hecd-proxybench [flags]\n\nCompares hecd proxy with HAProxy 2.6 and a direct connection under wrk,\nand measures hecd's time to route and its behaviour under route churn.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintf(os.Stderr, "hecd-proxybench: %v\n", err)
		return 2
	}

	tmp, err := os.MkdirTemp("", "hecd-proxybench-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "hecd-proxybench: %v\n", err)
		return 1
	}
	fl := &fleet{dir: tmp}
	cleanup := func() {
		fl.stopAll()
		os.RemoveAll(tmp)
	}
	defer cleanup()
	ctx, cancel := benchkit.OnInterrupt(progress, cleanup)
	defer cancel()

	hz, assumed := hecdproc.ClockTicks()
	b := &bench{cfg: &cfg, fleet: fl, hz: hz}
	rep := &report{Started: time.Now()}
	err = prepare(ctx, &cfg, tmp)
	if err == nil {
		err = b.all(ctx, rep)
	}
	interrupted := ctx.Err() != nil
	if err != nil && !interrupted {
		fmt.Fprintf(os.Stderr, "hecd-proxybench: %v\n", err)
	}
	// Whatever was measured is reported, also after an error.
	rep.Workloads = b.results
	for _, r := range rep.Workloads {
		r.summarize()
	}
	rep.Config = cfg.asMap(hz, assumed)
	printReport(os.Stdout, rep, preamble(&cfg, hz, assumed), cfg.verbose)
	if cfg.jsonFile != "" {
		if jerr := benchkit.WriteJSON(cfg.jsonFile, rep); jerr != nil {
			fmt.Fprintf(os.Stderr, "hecd-proxybench: %v\n", jerr)
			err = errors.Join(err, jerr)
		}
	}
	switch {
	case interrupted:
		return 130
	case err != nil:
		return 1
	}
	return 0
}

// all runs the selected parts: the wrk rounds, then the time to route,
// then the churn.
func (b *bench) all(ctx context.Context, rep *report) error {
	if err := b.setup(ctx); err != nil {
		return err
	}
	var sel []*workload
	for _, w := range workloads(b.backends) {
		if b.cfg.parts[w.name] {
			sel = append(sel, w)
		}
	}
	if err := b.run(ctx, sel); err != nil {
		return err
	}
	if b.targets["hecd"] == nil && (b.cfg.parts["ttr"] || b.cfg.parts["churn"]) {
		progress("ttr and churn skipped: they measure hecd, which is not in -targets")
	}
	if b.cfg.parts["ttr"] && b.targets["hecd"] != nil && b.cfg.ttr > 0 {
		progress("time to route: %d registrations", b.cfg.ttr)
		var err error
		rep.TTR, err = b.runTTR(ctx)
		if err != nil {
			return fmt.Errorf("time to route: %w", err)
		}
	}
	if b.cfg.parts["churn"] && b.targets["hecd"] != nil {
		progress("churn: %d routes added and removed over %v under wrk", b.cfg.churn, b.cfg.churnDuration)
		var err error
		rep.Churn, err = b.runChurn(ctx)
		if err != nil {
			return fmt.Errorf("churn: %w", err)
		}
	}
	return nil
}

func (cfg *config) check() error {
	if cfg.rounds < 1 || cfg.duration < time.Second || cfg.connections < 1 || cfg.threads < 1 ||
		cfg.ttr < 0 || cfg.ttrTimeout <= 0 || cfg.ttrPoll <= 0 || cfg.churn < 1 || cfg.churnDuration <= 0 || cfg.warmup < 0 {
		return errors.New("-rounds, -connections, -threads, -ttr-timeout, -ttr-poll, -churn and -churn-duration must be positive, -duration at least 1s")
	}
	if cfg.connections < cfg.threads {
		return errors.New("-connections must be at least -threads (wrk's rule)")
	}
	var err error
	if cfg.parts, err = parseSet("-only", cfg.only, partNames); err != nil {
		return err
	}
	if cfg.targets, err = parseSet("-targets", cfg.targetList, targetNames); err != nil {
		return err
	}
	if !cfg.targets["hecd"] && (cfg.parts["ttr"] || cfg.parts["churn"]) && cfg.only != "" {
		return errors.New("ttr and churn measure hecd: add hecd to -targets")
	}
	return nil
}

// parseSet reads a comma-separated list of names from known; empty means
// all of them.
func parseSet(flagName, list string, known []string) (map[string]bool, error) {
	set := map[string]bool{}
	if strings.TrimSpace(list) == "" {
		for _, k := range known {
			set[k] = true
		}
		return set, nil
	}
	for n := range strings.SplitSeq(list, ",") {
		n = strings.TrimSpace(n)
		ok := false
		for _, k := range known {
			ok = ok || k == n
		}
		if !ok {
			return nil, fmt.Errorf("%s: unknown name %q (have %s)", flagName, n, strings.Join(known, ", "))
		}
		set[n] = true
	}
	return set, nil
}

// prepare finds wrk and haproxy and builds hecd if they are needed.
func prepare(ctx context.Context, cfg *config, tmp string) error {
	p, err := exec.LookPath(cfg.wrk)
	if err != nil {
		return fmt.Errorf("wrk: %w (Debian package wrk)", err)
	}
	cfg.wrk = p
	if cfg.targets["haproxy"] {
		if cfg.haproxy == "" {
			if cfg.haproxy = hecdproc.FindHAProxy(); cfg.haproxy == "" {
				return errors.New("haproxy is not installed (Debian package haproxy; not on the PATH nor in /usr/sbin): install it, or use -haproxy or -targets hecd,direct")
			}
		}
		if cfg.haproxy, err = filepath.Abs(cfg.haproxy); err != nil {
			return err
		}
	}
	if cfg.targets["hecd"] {
		if cfg.hecd == "" {
			progress("building hecd/cmd/hecd")
			if cfg.hecd, err = hecdproc.Build(ctx, tmp); err != nil {
				return err
			}
		}
		if cfg.hecd, err = filepath.Abs(cfg.hecd); err != nil {
			return err
		}
		if _, err := os.Stat(cfg.hecd); err != nil {
			return err
		}
	}
	return nil
}

// versionLine is the first line of a program's version output, "" when
// it cannot be run.
func versionLine(bin string, args ...string) string {
	if bin == "" {
		return ""
	}
	// wrk -v exits with status 1 after printing its version: keep the
	// output whatever the status.
	out, _ := exec.Command(bin, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// preamble states what was compared and how, above the tables.
func preamble(cfg *config, hz int, assumed bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hecd-proxybench: %d CPUs, %s, %s\n", runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if v := versionLine(cfg.haproxy, "-v"); v != "" {
		fmt.Fprintf(&b, "  haproxy: %s, nbthread %d, one process (-db)\n", v, haproxyThreads())
	}
	if v := versionLine(cfg.wrk, "-v"); v != "" {
		v, _, _ = strings.Cut(v, " Copyright")
		fmt.Fprintf(&b, "  wrk: %s; -t%d -c%d -d%v --latency\n", v, cfg.threads, cfg.connections, cfg.duration)
	}
	if cfg.httpclose {
		b.WriteString("  option httpclose on both proxies (hecd -httpclose=true): one request per client connection; direct sends Connection: close\n")
	} else {
		b.WriteString("  keep-alive on both proxies (hecd -httpclose=false, HAProxy's default) and direct\n")
	}
	b.WriteString("  logging off on both: HAProxy's configuration has no log line, hecd runs with -access-log off\n")
	if len(cfg.proxyArgs) > 0 {
		fmt.Fprintf(&b, "  extra hecd proxy arguments: %s\n", strings.Join(cfg.proxyArgs, " "))
	}
	unit := fmt.Sprintf("CLK_TCK %d from getconf", hz)
	if assumed {
		unit = fmt.Sprintf("CLK_TCK assumed %d: getconf failed", hz)
	}
	fmt.Fprintf(&b, "  CPU µs/req: the proxy process's utime+stime from /proc/PID/stat (%s) / wrk's requests", unit)
	return b.String()
}

// asMap is the configuration for -json, without machine paths.
func (cfg *config) asMap(hz int, assumed bool) map[string]any {
	return map[string]any{
		"rounds":          cfg.rounds,
		"duration":        cfg.duration.String(),
		"warmup":          cfg.warmup.String(),
		"connections":     cfg.connections,
		"threads":         cfg.threads,
		"only":            cfg.only,
		"targets":         cfg.targetList,
		"ttr":             cfg.ttr,
		"ttr_timeout":     cfg.ttrTimeout.String(),
		"ttr_poll":        cfg.ttrPoll.String(),
		"churn":           cfg.churn,
		"churn_duration":  cfg.churnDuration.String(),
		"httpclose":       cfg.httpclose,
		"proxy_args":      cfg.proxyArgs,
		"haproxy":         versionLine(cfg.haproxy, "-v"),
		"haproxy_threads": haproxyThreads(),
		"clk_tck":         hz,
		"clk_tck_assumed": assumed,
		"cpus":            runtime.NumCPU(),
		"go":              runtime.Version(),
	}
}

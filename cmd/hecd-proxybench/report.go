package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"hecd/cmd/internal/benchkit"
)

// measurement is one wrk run of one workload against one target.
type measurement struct {
	Workload string `json:"workload"`
	Target   string `json:"target"`
	Round    int    `json:"round"`
	wrkResult
	// CPU of the proxy process over the run; nil for direct, which has
	// no proxy.
	CPUSeconds  *float64 `json:"cpu_seconds,omitempty"`
	CPUPerReqUs *float64 `json:"cpu_us_per_req,omitempty"`
}

// setCPU records the proxy's CPU time, given in clock ticks at hz.
func (m *measurement) setCPU(ticks int64, hz int) {
	s := float64(ticks) / float64(hz)
	m.CPUSeconds = &s
	if m.Requests > 0 {
		us := s * 1e6 / float64(m.Requests)
		m.CPUPerReqUs = &us
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// medianOf is the median of the values; the mean of the middle two for an
// even count, NaN for none.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile (0 < p ≤ 1) of the values.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median summarises one target's rounds: each field is the median of
// that field over the rounds, except the error counts, which are summed
// so that a single bad round is not hidden.
func median(ms []measurement) measurement {
	if len(ms) == 0 {
		return measurement{}
	}
	med := func(get func(measurement) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = get(m)
		}
		return medianOf(v)
	}
	out := measurement{Workload: ms[0].Workload, Target: ms[0].Target}
	out.Requests = int64(med(func(m measurement) float64 { return float64(m.Requests) }))
	out.Seconds = med(func(m measurement) float64 { return m.Seconds })
	out.ReqPerSec = med(func(m measurement) float64 { return m.ReqPerSec })
	out.P50Ms = med(func(m measurement) float64 { return m.P50Ms })
	out.P99Ms = med(func(m measurement) float64 { return m.P99Ms })
	for _, m := range ms {
		out.Non2xx += m.Non2xx
		out.Connect += m.Connect
		out.Read += m.Read
		out.Write += m.Write
		out.Timeout += m.Timeout
	}
	if !slices.ContainsFunc(ms, func(m measurement) bool { return m.CPUPerReqUs == nil || m.CPUSeconds == nil }) {
		cpu := med(func(m measurement) float64 { return *m.CPUSeconds })
		per := med(func(m measurement) float64 { return *m.CPUPerReqUs })
		out.CPUSeconds, out.CPUPerReqUs = &cpu, &per
	}
	return out
}

// ratio compares hecd's median with HAProxy's.
type ratio struct {
	Metric string         `json:"metric"`
	Value  float64        `json:"value"` // hecd / haproxy
	Target benchkit.Limit `json:"target"`
	Pass   bool           `json:"pass"`
}

func (r ratio) String() string {
	return fmt.Sprintf("%s %.2fx (target %s: %s)", r.Metric, r.Value, r.Target, benchkit.Verdict(r.Pass))
}

// The targets for hecd against HAProxy on a 2-core machine.
var (
	reqPerSecTarget = *benchkit.AtLeast(0.8)
	p99Target       = *benchkit.AtMost(1.5)
	cpuTarget       = *benchkit.AtMost(1.5)
	ttrTarget       = benchkit.Limit{Value: 50, Unit: "ms", Strict: true}
)

// hecdRatios compares hecd's medians with HAProxy's.
func hecdRatios(h, x measurement) []ratio {
	out := []ratio{
		{Metric: "req/s", Value: h.ReqPerSec / x.ReqPerSec, Target: reqPerSecTarget},
		{Metric: "p99", Value: h.P99Ms / x.P99Ms, Target: p99Target},
	}
	cpu := math.NaN()
	if h.CPUPerReqUs != nil && x.CPUPerReqUs != nil {
		cpu = *h.CPUPerReqUs / *x.CPUPerReqUs
	}
	out = append(out, ratio{Metric: "CPU/req", Value: cpu, Target: cpuTarget})
	for i := range out {
		out[i].Pass = out[i].Target.Met(out[i].Value)
	}
	return out
}

// workloadResult gathers one workload's rounds on every target.
type workloadResult struct {
	Name   string                 `json:"name"`
	Title  string                 `json:"title"`
	Rounds []measurement          `json:"rounds"`
	Median map[string]measurement `json:"median"`
	Ratios []ratio                `json:"ratios,omitempty"` // hecd/haproxy
	// HecdErrorsOK: hecd answered every request with 2xx/3xx and wrk saw
	// no socket error, in every round.
	HecdErrorsOK *bool `json:"hecd_errors_ok,omitempty"`
}

// summarize fills Median, Ratios and HecdErrorsOK from Rounds.
func (r *workloadResult) summarize() {
	r.Median = map[string]measurement{}
	for _, name := range targetNames {
		var ms []measurement
		for _, m := range r.Rounds {
			if m.Target == name {
				ms = append(ms, m)
			}
		}
		if len(ms) > 0 {
			r.Median[name] = median(ms)
		}
	}
	r.Ratios, r.HecdErrorsOK = nil, nil
	h, okH := r.Median["hecd"]
	x, okX := r.Median["haproxy"]
	if okH {
		ok := h.Errors() == 0
		r.HecdErrorsOK = &ok
	}
	if okH && okX {
		r.Ratios = hecdRatios(h, x)
	}
}

// ttrResult is the time-to-route measurement.
type ttrResult struct {
	Registrations int           `json:"registrations"`
	Routed        int           `json:"routed"`    // reached within the timeout
	TimedOut      int           `json:"timed_out"` // not routed within the timeout
	DelaysMs      []float64     `json:"delays_ms"` // of the routed ones, in order
	P50Ms         float64       `json:"p50_ms"`
	P99Ms         float64       `json:"p99_ms"`
	MaxMs         float64       `json:"max_ms"`
	Polls         int64         `json:"polls"` // requests sent while waiting
	Poll          time.Duration `json:"-"`     // in the config as ttr_poll
	Pass          bool          `json:"pass"`
	Seconds       float64       `json:"seconds"`
}

func (t *ttrResult) summarize() {
	t.Routed = len(t.DelaysMs)
	if t.Routed > 0 {
		t.P50Ms = percentile(t.DelaysMs, 0.50)
		t.P99Ms = percentile(t.DelaysMs, 0.99)
		t.MaxMs = slices.Max(t.DelaysMs)
	}
	t.Pass = t.Routed > 0 && t.TimedOut == 0 && ttrTarget.Met(t.P99Ms)
}

// churnResult is the churn measurement: wrk on an unchanged route while
// other routes come and go, and the same without changes.
type churnResult struct {
	Changes     int       `json:"changes"`      // route adds and removes asked for (each)
	Puts        int       `json:"puts"`         // adds the store acknowledged
	Deletes     int       `json:"deletes"`      // removes the store acknowledged
	StoreErrors int       `json:"store_errors"` // PUTs or DELETEs that failed
	Seconds     float64   `json:"seconds"`      // time the changes took
	Baseline    churnLoad `json:"baseline"`     // wrk without changes
	Load        churnLoad `json:"load"`         // wrk during the changes
	Pass        bool      `json:"pass"`
}

// report is what -json writes.
type report struct {
	Started   time.Time         `json:"started"`
	Config    map[string]any    `json:"config"`
	Workloads []*workloadResult `json:"workloads"`
	TTR       *ttrResult        `json:"time_to_route,omitempty"`
	Churn     *churnResult      `json:"churn,omitempty"`
}

func fmtCPU(m measurement) string {
	if m.CPUPerReqUs == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *m.CPUPerReqUs)
}

func fmtErrors(r wrkResult) string {
	if r.Errors() == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (non-2xx %d, socket %d/%d/%d/%d)", r.Errors(), r.Non2xx, r.Connect, r.Read, r.Write, r.Timeout)
}

func row(m measurement) string {
	return fmt.Sprintf("%s\t%.0f\t%s\t%s\t%s\t%s", m.Target, m.ReqPerSec, benchkit.FmtMs(m.P50Ms), benchkit.FmtMs(m.P99Ms), fmtCPU(m), fmtErrors(m.wrkResult))
}

const tableHeader = "target\treq/s\tp50\tp99\tCPU µs/req\terrors"

// printReport writes the tables of medians, the raw rounds when verbose,
// the time to route, the churn verdict and the summary of targets.
func printReport(w io.Writer, rep *report, preamble string, verbose bool) {
	fmt.Fprintf(w, "\n%s\n", preamble)
	for _, r := range rep.Workloads {
		if len(r.Rounds) == 0 {
			continue
		}
		rounds := r.Rounds[len(r.Rounds)-1].Round
		fmt.Fprintf(w, "\n== %s: %s (median of %d round%s; errors summed)\n", r.Name, r.Title, rounds, benchkit.Plural(rounds))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, tableHeader+"\t")
		for _, name := range targetNames {
			if m, ok := r.Median[name]; ok {
				fmt.Fprintln(tw, row(m)+"\t")
			}
		}
		tw.Flush()
		if len(r.Ratios) > 0 {
			parts := make([]string, len(r.Ratios))
			for i, rt := range r.Ratios {
				parts[i] = rt.String()
			}
			fmt.Fprintf(w, "  hecd/HAProxy: %s\n", strings.Join(parts, ", "))
		}
		if verbose {
			fmt.Fprintln(w, "  rounds:")
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "round\t"+tableHeader+"\tCPU s\t")
			for _, m := range r.Rounds {
				cpu := "-"
				if m.CPUSeconds != nil {
					cpu = fmt.Sprintf("%.2f", *m.CPUSeconds)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t\n", m.Round, row(m), cpu)
			}
			tw.Flush()
		}
	}
	if t := rep.TTR; t != nil && t.Registrations > 0 {
		fmt.Fprintf(w, "\n== ttr: time to route, from a PUT's answer to the first 200 through a second hecd proxy (-default-backend none)\n")
		fmt.Fprintf(w, "  %d registrations, %d routed, %d timed out, %.1fs in all; polled every %v\n", t.Registrations, t.Routed, t.TimedOut, t.Seconds, t.Poll)
		fmt.Fprintf(w, "  (hecd publishes a new table once the store has been quiet for 20ms, or -settle after the first change)\n")
		if t.Routed > 0 {
			fmt.Fprintf(w, "  p50 %s  p99 %s  max %s  (target p99 %s: %s)\n", benchkit.FmtMs(t.P50Ms), benchkit.FmtMs(t.P99Ms), benchkit.FmtMs(t.MaxMs), ttrTarget, benchkit.Verdict(t.Pass))
		}
	}
	if c := rep.Churn; c != nil && c.Changes > 0 {
		fmt.Fprintf(w, "\n== churn: %d routes added and removed in %.1fs under wrk on the unchanged route APPID: app1\n", c.Changes, c.Seconds)
		fmt.Fprintf(w, "  store: %d PUTs, %d DELETEs acknowledged, %d failed; a route was removed %d additions after its own\n", c.Puts, c.Deletes, c.StoreErrors, churnLag)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "wrk\trequests\treq/s\tp99\tproxy CPU µs/req\tstore CPU s\terrors\t")
		for _, l := range []struct {
			name string
			churnLoad
		}{{"no changes", c.Baseline}, {"churn", c.Load}} {
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%.1f\t%.2f\t%s\t\n", l.name, l.Requests, l.ReqPerSec, benchkit.FmtMs(l.P99Ms),
				l.ProxyCPUPerReq, l.StoreCPUSeconds, fmtErrors(l.wrkResult))
		}
		tw.Flush()
		fmt.Fprintf(w, "  unchanged route during the churn: non-2xx %d, socket errors %d: %s\n",
			c.Load.Non2xx, c.Load.SocketErrors(), benchkit.Verdict(c.Pass))
	}

	var lines []string
	add := func(part, metric, value string, l string, ok bool) {
		lines = append(lines, fmt.Sprintf("  %s\t%s\t%s\t%s\t%s", part, metric, value, l, benchkit.Verdict(ok)))
	}
	for _, r := range rep.Workloads {
		for _, rt := range r.Ratios {
			add(r.Name, rt.Metric, fmt.Sprintf("%.2fx", rt.Value), rt.Target.String(), rt.Pass)
		}
		if r.HecdErrorsOK != nil {
			add(r.Name, "hecd errors", fmt.Sprint(r.Median["hecd"].Errors()), "= 0", *r.HecdErrorsOK)
		}
	}
	if t := rep.TTR; t != nil && t.Registrations > 0 {
		add("ttr", "p99", benchkit.FmtMs(t.P99Ms), ttrTarget.String(), t.Pass)
	}
	if c := rep.Churn; c != nil && c.Changes > 0 {
		add("churn", "errors", fmt.Sprint(c.Load.Errors()+int64(c.StoreErrors)), "= 0", c.Pass)
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "\n== targets (hecd against HAProxy; ratios are hecd/HAProxy)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, l := range lines {
			fmt.Fprintln(tw, l)
		}
		tw.Flush()
	}
}

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

// measurement is one workload run once on one server.
type measurement struct {
	Workload   string  `json:"workload"`
	Server     string  `json:"server"`
	Round      int     `json:"round"`
	Ops        int64   `json:"ops"` // 2xx answers; for watch, deliveries
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPerOpUs float64 `json:"cpu_us_per_op"`
	Writes     int64   `json:"writes,omitempty"`     // watch: PUTs that succeeded
	Missed     int64   `json:"missed,omitempty"`     // watch: deliveries expected but not seen
	RSSBefore  int64   `json:"rss_before,omitempty"` // load: VmRSS of the fresh server, bytes
	RSSAfter   int64   `json:"rss_after,omitempty"`  // load: VmRSS after the load, bytes
}

func (m *measurement) setLatency(lat []time.Duration) {
	slices.Sort(lat)
	m.P50Ms = ms(percentile(lat, 0.50))
	m.P99Ms = ms(percentile(lat, 0.99))
}

func (m *measurement) setRates(cpu time.Duration) {
	m.CPUSeconds = cpu.Seconds()
	if m.Seconds > 0 {
		m.OpsPerSec = float64(m.Ops) / m.Seconds
	}
	if m.Ops > 0 {
		m.CPUPerOpUs = m.CPUSeconds * 1e6 / float64(m.Ops)
	}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median of each field over rounds.
func median(ms []measurement) measurement {
	if len(ms) == 0 {
		return measurement{}
	}
	med := func(get func(measurement) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = get(m)
		}
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	return measurement{
		Workload:   ms[0].Workload,
		Server:     ms[0].Server,
		Ops:        int64(med(func(m measurement) float64 { return float64(m.Ops) })),
		Errors:     int64(med(func(m measurement) float64 { return float64(m.Errors) })),
		Seconds:    med(func(m measurement) float64 { return m.Seconds }),
		OpsPerSec:  med(func(m measurement) float64 { return m.OpsPerSec }),
		P50Ms:      med(func(m measurement) float64 { return m.P50Ms }),
		P99Ms:      med(func(m measurement) float64 { return m.P99Ms }),
		CPUSeconds: med(func(m measurement) float64 { return m.CPUSeconds }),
		CPUPerOpUs: med(func(m measurement) float64 { return m.CPUPerOpUs }),
		Writes:     int64(med(func(m measurement) float64 { return float64(m.Writes) })),
		Missed:     int64(med(func(m measurement) float64 { return float64(m.Missed) })),
		RSSBefore:  int64(med(func(m measurement) float64 { return float64(m.RSSBefore) })),
		RSSAfter:   int64(med(func(m measurement) float64 { return float64(m.RSSAfter) })),
	}
}

// ratio is one hecd/etcd comparison of medians, with its target if any.
type ratio struct {
	Metric string          `json:"metric"`
	Value  float64         `json:"value"` // hecd / etcd
	Target *benchkit.Limit `json:"target,omitempty"`
	Pass   *bool           `json:"pass,omitempty"`
	get    func(measurement) float64
}

var (
	getThroughput = func(m measurement) float64 { return m.OpsPerSec }
	getCPU        = func(m measurement) float64 { return m.CPUPerOpUs }
	getP99        = func(m measurement) float64 { return m.P99Ms }
	getTime       = func(m measurement) float64 { return m.Seconds }
	getRSS        = func(m measurement) float64 { return float64(m.RSSAfter) }
)

// workloadResult gathers one workload's rounds on both servers.
type workloadResult struct {
	Name   string                 `json:"name"`
	Title  string                 `json:"title"`
	Rounds []measurement          `json:"rounds"`
	Median map[string]measurement `json:"median"`
	Ratios []ratio                `json:"ratios"`
	w      *workload
}

// summarize fills Median and Ratios from Rounds.
func (r *workloadResult) summarize() {
	r.Median = map[string]measurement{}
	for _, name := range []string{"etcd", "hecd"} {
		var ms []measurement
		for _, m := range r.Rounds {
			if m.Server == name {
				ms = append(ms, m)
			}
		}
		if len(ms) > 0 {
			r.Median[name] = median(ms)
		}
	}
	e, okE := r.Median["etcd"]
	h, okH := r.Median["hecd"]
	r.Ratios = nil
	if !okE || !okH {
		return
	}
	for _, rt := range r.w.ratios() {
		rt.Value = rt.get(h) / rt.get(e)
		if rt.Target != nil {
			pass := rt.Target.Met(rt.Value)
			rt.Pass = &pass
		}
		r.Ratios = append(r.Ratios, rt)
	}
}

func (rt ratio) String() string {
	s := fmt.Sprintf("%s %.2fx", rt.Metric, rt.Value)
	if rt.Target != nil {
		mark := "MISS"
		if *rt.Pass {
			mark = "PASS"
		}
		s += fmt.Sprintf(" (target %s: %s)", rt.Target, mark)
	}
	return s
}

// printReport writes the table of medians per workload, the raw rounds when
// verbose, and the targets' summary.
func printReport(w io.Writer, results []*workloadResult, verbose bool) {
	for _, r := range results {
		if len(r.Rounds) == 0 {
			continue
		}
		rounds := r.Rounds[len(r.Rounds)-1].Round
		fmt.Fprintf(w, "\n== %s: %s (median of %d round%s)\n", r.Name, r.Title, rounds, benchkit.Plural(rounds))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, r.w.header()+"\t")
		for _, name := range []string{"etcd", "hecd"} {
			if m, ok := r.Median[name]; ok {
				fmt.Fprintln(tw, r.w.row(m)+"\t")
			}
		}
		tw.Flush()
		if len(r.Ratios) > 0 {
			parts := make([]string, len(r.Ratios))
			for i, rt := range r.Ratios {
				parts[i] = rt.String()
			}
			fmt.Fprintf(w, "  hecd/etcd: %s\n", strings.Join(parts, ", "))
		}
		if verbose {
			fmt.Fprintln(w, "  rounds:")
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "round\t"+r.w.header()+"\t")
			for _, m := range r.Rounds {
				fmt.Fprintf(tw, "%d\t%s\t\n", m.Round, r.w.row(m))
			}
			tw.Flush()
		}
	}

	var lines []string
	for _, r := range results {
		for _, rt := range r.Ratios {
			if rt.Target != nil {
				lines = append(lines, fmt.Sprintf("  %-6s %s", r.Name, rt))
			}
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\n== targets (hecd/etcd)\n%s\n", strings.Join(lines, "\n"))
	}
}

func fmtMB(b int64) string { return fmt.Sprintf("%.1fMB", float64(b)/(1<<20)) }

// jsonReport is what -json writes.
type jsonReport struct {
	Started   time.Time         `json:"started"`
	Config    map[string]any    `json:"config"`
	Workloads []*workloadResult `json:"workloads"`
}

// Package benchkit holds what the two benchmark commands (hecd-bench and
// hecd-proxybench) share: targets and their verdicts, report formatting,
// the JSON file, log tails for errors, and the interrupt handling that
// stops the servers they started.
package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Limit is a target: a value must be at least (or, Strict, more than)
// Value, or at most (less than) it.
type Limit struct {
	AtLeast bool    `json:"at_least"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"` // "x" for ratios, "ms"
	Strict  bool    `json:"strict,omitempty"`
}

// AtLeast and AtMost are the ratio targets ("≥ 1.2x", "≤ 0.5x").
func AtLeast(v float64) *Limit { return &Limit{AtLeast: true, Value: v, Unit: "x"} }
func AtMost(v float64) *Limit  { return &Limit{Value: v, Unit: "x"} }

func (l Limit) String() string {
	op := "≤"
	switch {
	case l.AtLeast && l.Strict:
		op = ">"
	case l.AtLeast:
		op = "≥"
	case l.Strict:
		op = "<"
	}
	return fmt.Sprintf("%s %g%s", op, l.Value, l.Unit)
}

// Met reports whether v meets the target; NaN and infinities never do.
func (l Limit) Met(v float64) bool {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return false
	case l.AtLeast && l.Strict:
		return v > l.Value
	case l.AtLeast:
		return v >= l.Value
	case l.Strict:
		return v < l.Value
	}
	return v <= l.Value
}

// Verdict is the word a report prints for a target.
func Verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISS"
}

// FmtMs prints a latency given in ms, in µs below 1 ms.
func FmtMs(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0fµs", v*1000)
	}
	return fmt.Sprintf("%.2fms", v)
}

// Plural is "s" unless n is 1.
func Plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// WriteJSON writes v, indented, to path.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Tail returns the last n lines of a log file, headed by its path, for
// error messages; "" if it cannot be read.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- " + path + "\n" + strings.Join(lines, "\n")
}

// OnInterrupt returns a context that the first SIGINT or SIGTERM cancels
// (after saying so through progress), so that the run winds down and
// stops its servers; a second signal runs cleanup at once and exits 130.
func OnInterrupt(progress func(format string, args ...any), cleanup func()) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		progress("interrupted: stopping")
		cancel()
		<-sigs
		cleanup()
		os.Exit(130)
	}()
	return ctx, cancel
}

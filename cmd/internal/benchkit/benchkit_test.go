package benchkit

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		l    Limit
		text string
		v    float64
		met  bool
	}{
		{*AtLeast(2), "≥ 2x", 2, true},
		{*AtLeast(1.2), "≥ 1.2x", 1.19, false},
		{*AtMost(0.5), "≤ 0.5x", 0.5, true},
		{*AtMost(0.8), "≤ 0.8x", 0.81, false},
		{Limit{Value: 50, Unit: "ms", Strict: true}, "< 50ms", 50, false},
		{Limit{Value: 50, Unit: "ms", Strict: true}, "< 50ms", 49.9, true},
		{Limit{AtLeast: true, Strict: true, Value: 1, Unit: "x"}, "> 1x", 1, false},
		{*AtMost(1), "≤ 1x", math.NaN(), false},
		{*AtLeast(1), "≥ 1x", math.Inf(1), false},
	} {
		if got := tc.l.String(); got != tc.text {
			t.Errorf("%+v: String %q, want %q", tc.l, got, tc.text)
		}
		if got := tc.l.Met(tc.v); got != tc.met {
			t.Errorf("%s met(%v) = %v, want %v", tc.l, tc.v, got, tc.met)
		}
	}
}

func TestFormatting(t *testing.T) {
	if FmtMs(0.25) != "250µs" || FmtMs(12.345) != "12.35ms" {
		t.Errorf("FmtMs: %q %q", FmtMs(0.25), FmtMs(12.345))
	}
	if Plural(1) != "" || Plural(3) != "s" {
		t.Error("Plural")
	}
}

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("a\nb\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := Tail(p, 2), "--- "+p+"\nb\nc"; got != want {
		t.Errorf("Tail %q, want %q", got, want)
	}
	if Tail(p+".missing", 2) != "" {
		t.Error("Tail of a missing file")
	}
}

package compat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hecd/test/hecdproc"
)

// Unit tests of the harness's own helpers (fast; run in -short mode too).

func TestParseCases(t *testing.T) {
	in := "\n######## Section\n\n=== CASE a-001: one\n--> GET /\n<--\nHTTP/1.1 200 OK\n\n{}\n\n# note\n\n\n" +
		"######## Next\n\n=== CASE a-002: two: colon\nx\n"
	got := parseCases(in)
	if len(got) != 2 || got[0].id != "a-001" || got[1].id != "a-002" {
		t.Fatalf("parseCases: %+v", got)
	}
	if want := "=== CASE a-001: one\n--> GET /\n<--\nHTTP/1.1 200 OK\n\n{}\n\n# note"; got[0].text != want {
		t.Errorf("case text %q, want %q", got[0].text, want)
	}
	if got[1].text != "=== CASE a-002: two: colon\nx" {
		t.Errorf("case text %q", got[1].text)
	}
}

func TestSortUnordered(t *testing.T) {
	a := "HTTP/1.1 200 OK\n\n" + `{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/b","value":"2"},{"key":"/d/a","dir":true,"nodes":[{"key":"/d/a/y"},{"key":"/d/a/x"}]}],"modifiedIndex":1}}`
	b := "HTTP/1.1 200 OK\n\n" + `{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/a","dir":true,"nodes":[{"key":"/d/a/x"},{"key":"/d/a/y"}]},{"key":"/d/b","value":"2"}],"modifiedIndex":1}}`
	if sortUnordered(a) != sortUnordered(b) {
		t.Errorf("not equal after sorting:\n%s\n%s", sortUnordered(a), sortUnordered(b))
	}
	if sortUnordered(b) != b {
		t.Errorf("sorted input changed:\n%s\n%s", b, sortUnordered(b))
	}
	// Field order is kept, so a field-order difference still shows.
	c := "HTTP/1.1 200 OK\n\n" + `{"node":{"key":"/d","dir":true},"action":"get"}`
	if sortUnordered(c) != c {
		t.Errorf("field order changed: %s", sortUnordered(c))
	}
	m1 := `{"members":[{"id":"<member-id>","name":"ref"},{"id":"<member-id>","name":""}]}`
	m2 := `{"members":[{"id":"<member-id>","name":""},{"id":"<member-id>","name":"ref"}]}`
	if sortUnordered(m1) != sortUnordered(m2) {
		t.Errorf("members not sorted")
	}
}

func TestLineDiff(t *testing.T) {
	a := strings.Split("h1\nh2\nh3\nX-Etcd-Index: 5\nh5\nh6\nh7\nbody", "\n")
	b := strings.Split("h1\nh2\nh3\nX-Etcd-Index: 6\nh5\nh6\nh7\nbody2", "\n")
	got := strings.Join(lineDiff(a, b, 1), "\n")
	want := "   h3\n  -X-Etcd-Index: 5\n  +X-Etcd-Index: 6\n   h5\n  ...\n   h7\n  -body\n  +body2"
	if got != want {
		t.Errorf("lineDiff:\n%s\nwant:\n%s", got, want)
	}
	long := strings.Repeat("v", 5000)
	d := lineDiff([]string{long + "a"}, []string{long + "b"}, 0)
	if len(d) != 2 || len(d[0]) > 400 || !strings.Contains(d[0], "va") || !strings.Contains(d[1], "vb") {
		t.Errorf("long line diff: %q", d)
	}
}

func TestCompareMissingAndExtra(t *testing.T) {
	live := []tcase{{"x-001", "a"}, {"x-002", "b"}}
	got := []tcase{{"x-001", "a"}, {"x-003", "c"}}
	res := compare(live, nil, got, nil)
	if res.total != 2 || len(res.failures) != 2 {
		t.Fatalf("compare: %+v", res)
	}
	if res.failures[0].id != "x-002" || res.failures[1].id != "x-003" {
		t.Errorf("failures: %+v", res.failures)
	}
	// The golden case and timing variants are accepted too.
	res = compare([]tcase{{"x-001", "a"}}, []tcase{{"x-001", "g"}}, []tcase{{"x-001", "g"}}, nil)
	if len(res.failures) != 0 {
		t.Errorf("golden fallback: %+v", res.failures)
	}
	res = compare([]tcase{{"x-001", "a"}}, []tcase{{"x-001", "g"}}, []tcase{{"x-001", "v"}}, map[string][]string{"x-001": {"v"}})
	if len(res.failures) != 0 {
		t.Errorf("variant: %+v", res.failures)
	}
}

// The timing variants must parse and name cases that exist in the golden files.
func TestTimingVariantsFile(t *testing.T) {
	b, err := os.ReadFile(variantsFile)
	if err != nil {
		t.Fatal(err)
	}
	vs := parseCases(string(b))
	if len(vs) == 0 {
		t.Fatal("no cases in " + variantsFile)
	}
	shared, err := hecdproc.SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		area := v.id[:strings.LastIndex(v.id, "-")]
		g, err := os.ReadFile(filepath.Join(shared, "spec", "etcd-v2-golden", area+".txt"))
		if err != nil {
			t.Skipf("shared spec not available: %v", err)
		}
		if !strings.Contains(string(g), "=== CASE "+v.id+":") {
			t.Errorf("variant for %s: no such case in %s.txt", v.id, area)
		}
		if first, _, _ := strings.Cut(v.text, "\n"); !strings.HasPrefix(first, "=== CASE "+v.id+":") {
			t.Errorf("variant for %s: bad first line %q", v.id, first)
		}
	}
}

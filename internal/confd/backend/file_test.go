package backend

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const testYAML = `# a comment
app:
  name: web
  port: 8080
  negative: -3
  hex: 0x10
  ratio: 0.5
  big: 1e6
  whole: 2.0
  enabled: true
  disabled: false
  legacy: yes
  quoted: 'yes'
  date: 2006-01-02
  nothing: null
  tilde: ~
  empty:
  servers:
    - 10.0.0.1
    - host: 10.0.0.2
      weight: 2
    - null
    - [a, b]
  nested:
    deep:
      key: v
  80: numeric key
  dotted/key: slash in a key
  block: |
    line one
    line two
other: o
`

var testYAMLValues = map[string]string{
	"/app/name":             "web",
	"/app/port":             "8080",
	"/app/negative":         "-3",
	"/app/hex":              "16",
	"/app/ratio":            "0.5",
	"/app/big":              "1000000",
	"/app/whole":            "2",
	"/app/enabled":          "true",
	"/app/disabled":         "false",
	"/app/legacy":           "true",
	"/app/quoted":           "yes",
	"/app/date":             "2006-01-02",
	"/app/servers/0":        "10.0.0.1",
	"/app/servers/1/host":   "10.0.0.2",
	"/app/servers/1/weight": "2",
	"/app/servers/3/0":      "a",
	"/app/servers/3/1":      "b",
	"/app/nested/deep/key":  "v",
	"/app/80":               "numeric key",
	"/app/dotted/key":       "slash in a key",
	"/app/block":            "line one\nline two\n",
	"/other":                "o",
}

const testJSON = `{
	"svc": {
		"hosts": ["a", "b"],
		"port": 443,
		"ratio": 0.25,
		"tls": false,
		"none": null,
		"opts": {"x": {"y": 1.5}},
		"list": [{"k": 1}, {"k": true}]
	}
}
`

var testJSONValues = map[string]string{
	"/svc/hosts/0":  "a",
	"/svc/hosts/1":  "b",
	"/svc/port":     "443",
	"/svc/ratio":    "0.25",
	"/svc/tls":      "false",
	"/svc/opts/x/y": "1.5",
	"/svc/list/0/k": "1",
	"/svc/list/1/k": "true",
}

// testWriteFiles creates files (relative path → content) under dir.
func testWriteFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func testUnion(ms ...map[string]string) map[string]string {
	out := make(map[string]string)
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

func TestFileGetValues(t *testing.T) {
	dir := t.TempDir()
	testWriteFiles(t, dir, map[string]string{
		"app.yaml":             testYAML,
		"svc.json":             testJSON,
		"conf.d/a.yaml":        "extra:\n  a: 1\n",
		"conf.d/deeper/b.yaml": "extra:\n  b: 2\n",
		"conf.d/deeper/c.json": `{"extra": {"c": 3}}`,
		"conf.d/notes.txt":     "extra:\n  txt: t\n",
		"conf.d/empty.yaml":    "",
		"conf.d/comments.yaml": "# nothing but a comment\n",
		"override/1.yaml":      "k: first\nonly1: x\n",
		"override/2.yaml":      "k: second\n",
		"multi.yaml":           "a: 1\nb: 1\n---\nb: 2\n---\n",
	})
	// A link to a file is read; a link to a directory is not followed.
	if err := os.Symlink(filepath.Join(dir, "override", "2.yaml"), filepath.Join(dir, "conf.d", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "override"), filepath.Join(dir, "conf.d", "linkdir")); err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name   string
		paths  []string
		filter string
		keys   []string
		want   map[string]string
	}{
		{"yaml, everything", []string{p("app.yaml")}, "", []string{"/"}, testYAMLValues},
		{"json, everything", []string{p("svc.json")}, "", []string{"/"}, testJSONValues},
		{"two files merged", []string{p("app.yaml"), p("svc.json")}, "", []string{"/"},
			testUnion(testYAMLValues, testJSONValues)},
		{"string prefix, not path", []string{p("app.yaml")}, "", []string{"/app/serv", "/oth"}, map[string]string{
			"/app/servers/0":        "10.0.0.1",
			"/app/servers/1/host":   "10.0.0.2",
			"/app/servers/1/weight": "2",
			"/app/servers/3/0":      "a",
			"/app/servers/3/1":      "b",
			"/other":                "o",
		}},
		{"missing key is absent", []string{p("app.yaml")}, "", []string{"/nope"}, map[string]string{}},
		{"an explicit file ignores the filter", []string{p("conf.d/notes.txt")}, "*.yaml", []string{"/"},
			map[string]string{"/extra/txt": "t"}},
		{"directory, default filter: all files, recursively", []string{p("conf.d")}, "", []string{"/extra"},
			map[string]string{"/extra/a": "1", "/extra/b": "2", "/extra/c": "3", "/extra/txt": "t"}},
		{"directory, *.yaml", []string{p("conf.d")}, "*.yaml", []string{"/"},
			map[string]string{"/extra/a": "1", "/extra/b": "2", "/k": "second"}},
		{"directory, *.json", []string{p("conf.d")}, "*.json", []string{"/"},
			map[string]string{"/extra/c": "3"}},
		{"later file wins", []string{p("override")}, "", []string{"/"},
			map[string]string{"/k": "second", "/only1": "x"}},
		{"later path wins", []string{p("override/2.yaml"), p("override/1.yaml")}, "", []string{"/"},
			map[string]string{"/k": "first", "/only1": "x"}},
		{"documents merged in order", []string{p("multi.yaml")}, "", []string{"/"},
			map[string]string{"/a": "1", "/b": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFile(tt.paths, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, index, err := f.GetValues(context.Background(), tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if index != 1 {
				t.Errorf("index = %d, want 1", index)
			}
			if !maps.Equal(got, tt.want) {
				for k, v := range tt.want {
					if g, ok := got[k]; !ok || g != v {
						t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
					}
				}
				for k, v := range got {
					if _, ok := tt.want[k]; !ok {
						t.Errorf("unexpected %s = %q", k, v)
					}
				}
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	testWriteFiles(t, dir, map[string]string{
		"bad.yaml":    "a: 1\n b: 2\n",
		"bad.json":    "{\n  \"a\": 1,\n  \"b\": [1, 2\n}\n",
		"list.yaml":   "- 1\n- 2\n",
		"scalar.yaml": "a: 1\n---\nhello\n",
		"dir/ok.yaml": "a: 1\n",
		"dir/x.yaml":  "a: [\n",
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"yaml syntax", []string{p("bad.yaml")},
			"file backend: cannot parse " + p("bad.yaml") + ": yaml: line 2: mapping values are not allowed in this context"},
		// yaml.v3's line for an unclosed construct is the one before it
		// opened (2 for the "[" on line 3); its message is passed on as
		// it is.
		{"json syntax", []string{p("bad.json")},
			"file backend: cannot parse " + p("bad.json") + ": yaml: line 2: did not find expected ',' or ']'"},
		{"a list at the top", []string{p("list.yaml")},
			"file backend: cannot parse " + p("list.yaml") + ": line 1: the document is not a mapping"},
		{"a scalar in a later document", []string{p("scalar.yaml")},
			"file backend: cannot parse " + p("scalar.yaml") + ": line 3: the document is not a mapping"},
		{"one bad file in a directory fails all", []string{p("dir")},
			"file backend: cannot parse " + p("dir/x.yaml") + ": yaml: line 1: did not find expected node content"},
		{"missing path", []string{p("app.yaml"), p("nope.yaml")},
			"file backend: stat " + p("app.yaml") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFile(tt.paths, "")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, _, err := f.GetValues(context.Background(), []string{"/"})
			if err == nil {
				t.Fatalf("GetValues = %v, want an error", got)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err, tt.want)
			}
		})
	}

	if _, err := NewFile(nil, ""); err == nil || err.Error() != "file backend: no file or directory given" {
		t.Errorf("NewFile(nil) error = %v", err)
	}
	if _, err := NewFile([]string{dir}, "[a-"); err == nil || err.Error() != `file backend: bad filter "[a-": syntax error in pattern` {
		t.Errorf("NewFile with a bad filter: error = %v", err)
	}
}

// testWatchResult is what a WatchPrefix running in the background returned.
type testWatchResult struct {
	index uint64
	err   error
}

func testWatchAsync(ctx context.Context, b Backend, keys []string, index uint64) <-chan testWatchResult {
	ch := make(chan testWatchResult, 1)
	go func() {
		i, err := b.WatchPrefix(ctx, "/", keys, index)
		ch <- testWatchResult{i, err}
	}()
	return ch
}

// testWatchQuiet fails the test if the watch returns within d.
func testWatchQuiet(t *testing.T, ch <-chan testWatchResult, d time.Duration, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s woke the watch: index %d, error %v", what, r.index, r.err)
	case <-time.After(d):
	}
}

// testWatchWoken waits for the watch to return.
func testWatchWoken(t *testing.T, ch <-chan testWatchResult, what string) testWatchResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("after %s: WatchPrefix error %v", what, r.err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not wake the watch", what)
	}
	panic("unreachable")
}

func TestFileWatch(t *testing.T) {
	const poll = 10 * time.Millisecond
	const calm = 30 * poll // long enough for several polls to see a change
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf.d")
	testWriteFiles(t, dir, map[string]string{
		"conf.d/app.yaml":   "app:\n  servers:\n    a: 1\nother: x\n",
		"conf.d/other.yaml": "unrelated: 1\n",
	})
	// Files are replaced by rename, as editors and Kubernetes do, so
	// that a slow machine cannot show the poller an empty file twice.
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		testWriteFiles(t, dir, map[string]string{name + ".tmp": content})
		if err := os.Rename(p+".tmp", p); err != nil {
			t.Fatal(err)
		}
	}
	f, err := NewFile([]string{conf}, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.PollInterval = poll
	keys := []string{"/app/servers"}
	ctx := context.Background()

	get := func(want map[string]string) uint64 {
		t.Helper()
		got, index, err := f.GetValues(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("GetValues = %v, want %v", got, want)
		}
		return index
	}
	index := get(map[string]string{"/app/servers/a": "1"})

	// Index 0, or one this backend never gave: return at once.
	for _, from := range []uint64{0, 12345} {
		if i, err := f.WatchPrefix(ctx, "/app", keys, from); err != nil || i != index {
			t.Fatalf("WatchPrefix from %d = %d, %v; want %d at once", from, i, err, index)
		}
	}

	w := testWatchAsync(ctx, f, keys, index)
	write("conf.d/app.yaml", "# a comment changes nothing\napp:\n  servers:\n    a: 1\nother: x\n")
	testWatchQuiet(t, w, calm, "a comment")
	write("conf.d/app.yaml", "app:\n  servers:\n    a: 1\nother: changed\n")
	testWatchQuiet(t, w, calm, "a change to another key")
	write("conf.d/other.txt", "app:\n  servers:\n    filtered: out\n")
	testWatchQuiet(t, w, calm, "a new file the filter leaves out")
	// GetValues sees the edits too and records them: still no reason to wake.
	if i := get(map[string]string{"/app/servers/a": "1"}); i <= index {
		t.Fatalf("index after irrelevant edits = %d, want more than %d", i, index)
	}
	testWatchQuiet(t, w, 5*poll, "reading the irrelevant edits")

	write("conf.d/app.yaml", "app:\n  servers:\n    a: 2\nother: changed\n")
	r := testWatchWoken(t, w, "a changed value")
	index = get(map[string]string{"/app/servers/a": "2"})
	if r.index != index {
		t.Fatalf("watch returned %d, GetValues %d: want the same", r.index, index)
	}

	// A change made between GetValues and WatchPrefix is not lost.
	write("conf.d/new/b.yaml", "app:\n  servers:\n    b: 3\n")
	time.Sleep(calm)
	r = testWatchWoken(t, testWatchAsync(ctx, f, keys, index), "a new file in a subdirectory, before the watch")
	index = get(map[string]string{"/app/servers/a": "2", "/app/servers/b": "3"})
	if r.index != index {
		t.Fatalf("watch returned %d, GetValues %d: want the same", r.index, index)
	}

	w = testWatchAsync(ctx, f, keys, index)
	if err := os.Remove(filepath.Join(conf, "new", "b.yaml")); err != nil {
		t.Fatal(err)
	}
	testWatchWoken(t, w, "a removed file")
	index = get(map[string]string{"/app/servers/a": "2"})

	// A broken file wakes the watch so that the caller reads (and
	// reports) the error; mending it wakes the next watch.
	w = testWatchAsync(ctx, f, keys, index)
	write("conf.d/other.yaml", "unrelated: [\n")
	r = testWatchWoken(t, w, "a broken file")
	if _, i, err := f.GetValues(ctx, keys); err == nil || i != r.index {
		t.Fatalf("GetValues on a broken file = index %d, error %v; want index %d and an error", i, err, r.index)
	}
	w = testWatchAsync(ctx, f, keys, r.index)
	write("conf.d/other.yaml", "unrelated: 1\n")
	testWatchWoken(t, w, "mending the file")
	index = get(map[string]string{"/app/servers/a": "2"})

	// The context ends the watch; so does Close.
	cctx, cancel := context.WithCancel(ctx)
	w = testWatchAsync(cctx, f, keys, index)
	cancel()
	if r := <-w; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("watch after cancel: %v, want %v", r.err, context.Canceled)
	}
	w = testWatchAsync(ctx, f, keys, index)
	time.Sleep(5 * poll)
	f.Close()
	select {
	case r := <-w:
		if !errors.Is(r.err, errClosedBackend) {
			t.Fatalf("watch after Close: %v, want %v", r.err, errClosedBackend)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the watch")
	}
}

var (
	_ Backend = (*File)(nil)
	_ Backend = (*Env)(nil)
	_ Backend = (*EtcdV3)(nil)
)

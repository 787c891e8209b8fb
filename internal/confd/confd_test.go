package confd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// setup is a confdir with one resource "app.toml" rendering tmpl into
// out/app.conf.
type setup struct {
	t       *testing.T
	confDir string
	outDir  string
	dest    string
	be      *memBackend
	logs    *hecdproc.SyncBuffer
	diff    *hecdproc.SyncBuffer
}

func newSetup(t *testing.T, tmpl, extraTOML string) *setup {
	t.Helper()
	root := t.TempDir()
	s := &setup{
		t:       t,
		confDir: filepath.Join(root, "confd"),
		outDir:  filepath.Join(root, "out"),
		be:      newMemBackend(),
		logs:    &hecdproc.SyncBuffer{},
		diff:    &hecdproc.SyncBuffer{},
	}
	s.dest = filepath.Join(s.outDir, "app.conf")
	for _, d := range []string{"conf.d", "templates"} {
		if err := os.MkdirAll(filepath.Join(s.confDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(s.outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.writeTemplate("app.tmpl", tmpl)
	s.writeResource("app.toml", fmt.Sprintf("[template]\nsrc = \"app.tmpl\"\ndest = %q\nkeys = [\"/app\"]\n%s", s.dest, extraTOML))
	return s
}

func (s *setup) writeTemplate(name, text string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.confDir, "templates", name), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *setup) writeResource(name, text string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.confDir, "conf.d", name), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *setup) config(mode Mode) Config {
	cfg := DefaultConfig()
	cfg.ConfDir = s.confDir
	cfg.Backend = s.be
	cfg.Mode = mode
	cfg.Logger = slog.New(NewLogHandler(s.logs, "host", "confd", 1, slog.LevelDebug))
	cfg.Diff = s.diff
	cfg.Settle = 50 * time.Millisecond
	cfg.SettleMax = 500 * time.Millisecond
	cfg.RetryMin = 20 * time.Millisecond
	cfg.RetryMax = 100 * time.Millisecond
	cfg.CommandTimeout = 5 * time.Second
	return cfg
}

func (s *setup) run(cfg Config) error {
	s.t.Helper()
	r, err := New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return r.Run(context.Background())
}

// start runs a daemon renderer; the returned function stops it.
func (s *setup) start(cfg Config) (stop func()) {
	s.t.Helper()
	r, err := New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func (s *setup) readDest() string {
	s.t.Helper()
	b, err := os.ReadFile(s.dest)
	if err != nil {
		s.t.Fatalf("reading dest: %v\nlogs:\n%s", err, s.logs)
	}
	return string(b)
}

// waitFor polls cond until it holds or the timeout ends.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const listTmpl = `{{range gets "/app/*"}}{{base .Key}}={{.Value}}
{{end}}`

func TestOnetimeRendersAndReloads(t *testing.T) {
	s := newSetup(t, listTmpl, `reload_cmd = "echo reloaded >> `+"RELOADLOG"+`"`)
	reloadLog := filepath.Join(s.outDir, "reload.log")
	s.writeResource("app.toml", strings.ReplaceAll(mustRead(t, filepath.Join(s.confDir, "conf.d", "app.toml")), "RELOADLOG", reloadLog))
	s.be.set("/app/b", "2")
	s.be.set("/app/a", "1")
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatalf("run: %v\n%s", err, s.logs)
	}
	if got, want := s.readDest(), "a=1\nb=2\n"; got != want {
		t.Fatalf("dest = %q, want %q", got, want)
	}
	fi, _ := os.Stat(s.dest)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644 for a new file", fi.Mode())
	}
	if got := mustRead(t, reloadLog); got != "reloaded\n" {
		t.Errorf("reload ran %q", got)
	}
	for _, want := range []string{
		"INFO Target config " + s.dest + " out of sync",
		"INFO Target config " + s.dest + " has been updated",
		"DEBUG Got the following map from store: map[/app/a:1 /app/b:2]",
	} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, s.logs)
		}
	}
	// A second run finds the file in sync and does not reload.
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, reloadLog); got != "reloaded\n" {
		t.Errorf("in-sync run reloaded again: %q", got)
	}
	// No stage file is left behind.
	entries, _ := os.ReadDir(s.outDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("stage file left: %s", e.Name())
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogLineFormat(t *testing.T) {
	var b bytes.Buffer
	h := NewLogHandler(&b, "web1", "confd", 14610, slog.LevelInfo)
	h.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	log := slog.New(h)
	log.Info("Starting confd")
	log.Warn("Found no templates")
	log.Debug("hidden")
	log.Log(context.Background(), LevelFatal, "boom")
	want := "2026-01-02T03:04:05Z web1 confd[14610]: INFO Starting confd\n" +
		"2026-01-02T03:04:05Z web1 confd[14610]: WARNING Found no templates\n" +
		"2026-01-02T03:04:05Z web1 confd[14610]: FATAL boom\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestParseLevel(t *testing.T) {
	for _, c := range []struct {
		in   string
		want slog.Level
		err  string
	}{
		{"", slog.LevelInfo, ""}, {"debug", slog.LevelDebug, ""}, {"WARNING", slog.LevelWarn, ""},
		{"warn", slog.LevelWarn, ""}, {"error", slog.LevelError, ""}, {"panic", LevelFatal, ""},
		{"x", 0, `not a valid level: "x"`},
	} {
		got, err := ParseLevel(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("ParseLevel(%q) err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseLevel(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want fs.FileMode
		ok   bool
	}{
		{"0644", 0o644, true},
		{"0600", 0o600, true},
		{"0x1a4", 0o644, true},
		{"644", 0o644, true}, // confd: decimal 644, i.e. --w----r--
		{"755", 0o755, true},
		{"0", 0, true},
		{"4755", 0o755 | fs.ModeSetuid, true},
		{"rw-r--r--", 0, false},
		{"0999", 0, false},
		{"99999", 0, false},
	} {
		got, err := ParseMode(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseMode(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestResourceKeysAreCaseInsensitiveAndUnknownKeysWarn(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	f := filepath.Join(dir, "conf.d", "x.toml")
	os.WriteFile(f, []byte("[template]\nSRC = \"a.tmpl\"\nDest = \"/tmp/out\"\nKeys = [\"/a\"]\nCheck_Cmd = \"true\"\nprefix = \"svc\"\nbogus = 1\nmode = \"0600\"\nuid = 7\ngid = 8\n"), 0o644)
	var warned []string
	r, err := LoadResource(f, LoadOptions{ConfDir: dir, Warn: func(_, m string) { warned = append(warned, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Src != filepath.Join(dir, "templates", "a.tmpl") || r.Dest != "/tmp/out" || r.CheckCmd != "true" ||
		r.Prefix != "/svc" || r.Mode != 0o600 || !r.ModeSet || r.UID != 7 || r.GID != 8 {
		t.Errorf("resource = %+v", r)
	}
	if got := r.PrefixedKeys(); len(got) != 1 || got[0] != "/svc/a" {
		t.Errorf("prefixed keys = %v", got)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"template.bogus"`) {
		t.Errorf("warnings = %v", warned)
	}
}

func TestGlobalPrefixReplacesResourcePrefix(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	f := filepath.Join(dir, "conf.d", "x.toml")
	os.WriteFile(f, []byte("[template]\nsrc = \"a\"\ndest = \"d\"\nprefix = \"myapp\"\nkeys = [\"/servers/\", \"//x//y\"]\n"), 0o644)
	r, err := LoadResource(f, LoadOptions{ConfDir: dir, Prefix: "production"})
	if err != nil {
		t.Fatal(err)
	}
	got := r.PrefixedKeys()
	if strings.Join(got, ",") != "/production/servers,/production/x/y" {
		t.Errorf("prefixed keys = %v", got)
	}
	if sv := storeValues(r.Prefix, map[string]string{"/production/servers/a": "1"}); sv["/servers/a"] != "1" {
		t.Errorf("re-rooted = %v", sv)
	}
}

func TestOwnerByName(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	f := filepath.Join(dir, "conf.d", "x.toml")
	os.WriteFile(f, []byte("[template]\nsrc = \"a\"\ndest = \"d\"\nowner = \"root\"\ngroup = \"root\"\n"), 0o644)
	r, err := LoadResource(f, LoadOptions{ConfDir: dir, UID: 1000, GID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if r.UID != 0 || r.GID != 0 {
		t.Errorf("owner root gave %d:%d", r.UID, r.GID)
	}
	os.WriteFile(f, []byte("[template]\nsrc = \"a\"\ndest = \"d\"\nowner = \"no-such-user-hecd\"\n"), 0o644)
	if _, err := LoadResource(f, LoadOptions{ConfDir: dir}); err == nil || !strings.Contains(err.Error(), `unknown user "no-such-user-hecd"`) {
		t.Errorf("unknown owner: %v", err)
	}
	os.WriteFile(f, []byte("[template]\nsrc = \"a\"\ndest = \"d\"\nowner = \"root\"\nuid = 5\n"), 0o644)
	if _, err := LoadResource(f, LoadOptions{ConfDir: dir}); err == nil || !strings.Contains(err.Error(), "uid") {
		t.Errorf("contradicting uid: %v", err)
	}
}

func TestDiscoveryMatchesConfdGlob(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"conf.d/a.toml", "conf.d/.hidden.toml", "conf.d/footoml", "conf.d/a.toml.bak", "conf.d/sub/b.toml"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	files, err := FindResources(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(dir, "conf.d"), f)
		names = append(names, rel)
	}
	if got, want := strings.Join(names, ","), ".hidden.toml,a.toml,footoml,sub/b.toml"; got != want {
		t.Errorf("found %s, want %s", got, want)
	}
	if _, err := FindResources(filepath.Join(dir, "missing")); !errors.Is(err, ErrNoConfDir) {
		t.Errorf("missing confdir: %v", err)
	}
	if _, err := FindResources(filepath.Join(dir, "conf.d")); err == nil {
		t.Error("confdir without conf.d: no error")
	}
}

func TestOneBadResourceDoesNotStopTheOthers(t *testing.T) {
	s := newSetup(t, listTmpl, "")
	s.writeResource("broken.toml", "[template\nsrc=")
	s.writeResource("nosrc.toml", "[template]\ndest = \"x\"\n")
	s.be.set("/app/a", "1")
	err := s.run(s.config(Onetime))
	if err == nil {
		t.Fatal("onetime with bad resources: no error (confd exits 1)")
	}
	if got := s.readDest(); got != "a=1\n" {
		t.Errorf("good resource not rendered: %q", got)
	}
	logs := s.logs.String()
	for _, want := range []string{"broken.toml", "empty src template"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestCheckFailureLeavesDestination(t *testing.T) {
	s := newSetup(t, listTmpl, `check_cmd = "grep -q ok {{.src}}"`+"\n"+`reload_cmd = "touch RELOADED"`)
	os.WriteFile(s.dest, []byte("old\n"), 0o644)
	s.be.set("/app/a", "bad")
	err := s.run(s.config(Onetime))
	if err == nil || !strings.Contains(err.Error(), "Config check failed: exit status 1") {
		t.Fatalf("err = %v", err)
	}
	if got := s.readDest(); got != "old\n" {
		t.Errorf("dest changed to %q", got)
	}
	s.be.set("/app/a", "ok")
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatalf("%v\n%s", err, s.logs)
	}
	if got := s.readDest(); got != "a=ok\n" {
		t.Errorf("dest = %q", got)
	}
}

func TestTemplateErrorLeavesDestination(t *testing.T) {
	s := newSetup(t, `{{getv "/app/missing"}}`, "")
	os.WriteFile(s.dest, []byte("old\n"), 0o644)
	err := s.run(s.config(Onetime))
	if err == nil || !strings.Contains(err.Error(), "app.tmpl:1") || !strings.Contains(err.Error(), "getv") {
		t.Fatalf("err = %v (want the template name, line and function)", err)
	}
	if got := s.readDest(); got != "old\n" {
		t.Errorf("dest changed to %q", got)
	}
}

func TestMissingKeysDoNotAbortWhenTemplateCopes(t *testing.T) {
	s := newSetup(t, `x={{getv "/app/x" "none"}} {{if exists "/app/y"}}y{{end}}{{range gets "/app/none/*"}}z{{end}}`+"\n", "")
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatalf("%v\n%s", err, s.logs)
	}
	if got := s.readDest(); got != "x=none \n" {
		t.Errorf("dest = %q", got)
	}
}

func TestNoopPrintsDiffAndWritesNothing(t *testing.T) {
	s := newSetup(t, listTmpl, `reload_cmd = "false"`)
	os.WriteFile(s.dest, []byte("a=0\n"), 0o644)
	s.be.set("/app/a", "1")
	cfg := s.config(Onetime)
	cfg.Noop = true
	if err := s.run(cfg); err != nil {
		t.Fatal(err)
	}
	if got := s.readDest(); got != "a=0\n" {
		t.Errorf("noop wrote %q", got)
	}
	want := fmt.Sprintf("--- %s\n+++ %s (rendered)\n@@ -1 +1 @@\n-a=0\n+a=1\n", s.dest, s.dest)
	if got := s.diff.String(); got != want {
		t.Errorf("diff =\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(s.logs.String(), "WARNING Noop mode enabled. "+s.dest+" will not be modified") {
		t.Errorf("logs:\n%s", s.logs)
	}
}

func TestSyncOnlyRunsNoCommands(t *testing.T) {
	s := newSetup(t, listTmpl, `check_cmd = "false"`+"\n"+`reload_cmd = "false"`)
	s.be.set("/app/a", "1")
	cfg := s.config(Onetime)
	cfg.SyncOnly = true
	if err := s.run(cfg); err != nil {
		t.Fatal(err)
	}
	if got := s.readDest(); got != "a=1\n" {
		t.Errorf("dest = %q", got)
	}
}

func TestKeepStageFile(t *testing.T) {
	s := newSetup(t, listTmpl, `check_cmd = "false"`)
	s.be.set("/app/a", "1")
	cfg := s.config(Onetime)
	cfg.KeepStageFile = true
	_ = s.run(cfg)
	entries, _ := os.ReadDir(s.outDir)
	kept := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".app.conf") {
			kept++
			if got := mustRead(t, filepath.Join(s.outDir, e.Name())); got != "a=1\n" {
				t.Errorf("stage file holds %q", got)
			}
		}
	}
	if kept != 1 {
		t.Errorf("%d stage files kept, want 1", kept)
	}
}

func TestModeAndOwnerDriftRewrites(t *testing.T) {
	s := newSetup(t, listTmpl, `mode = "0600"`)
	s.be.set("/app/a", "1")
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(s.dest, 0o666)
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(s.dest)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v after drift", fi.Mode())
	}
	if !strings.Contains(s.logs.String(), "has mode -rw-rw-rw- should be -rw-------") {
		t.Errorf("logs:\n%s", s.logs)
	}
}

func TestExistingModeIsKeptWhenUnset(t *testing.T) {
	s := newSetup(t, listTmpl, "")
	os.WriteFile(s.dest, []byte("old\n"), 0o640)
	s.be.set("/app/a", "1")
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(s.dest)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want the existing 0640", fi.Mode())
	}
}

func TestCommandTimeoutKillsTheCommand(t *testing.T) {
	s := newSetup(t, listTmpl, `check_cmd = "sleep 30"`)
	s.be.set("/app/a", "1")
	cfg := s.config(Onetime)
	cfg.CommandTimeout = 200 * time.Millisecond
	start := time.Now()
	err := s.run(cfg)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if _, err := os.Stat(s.dest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dest written despite the failed check")
	}
}

func TestSrcAndDestInReloadCommand(t *testing.T) {
	s := newSetup(t, listTmpl, `reload_cmd = "cp {{.src}} {{.dest}}.copy"`)
	s.be.set("/app/a", "1")
	if err := s.run(s.config(Onetime)); err != nil {
		t.Fatalf("%v\n%s", err, s.logs)
	}
	if got := mustRead(t, s.dest+".copy"); got != "a=1\n" {
		t.Errorf("copy = %q", got)
	}
}

func TestReloadFailureIsRetriedInInterval(t *testing.T) {
	flag := ""
	s := newSetup(t, listTmpl, `reload_cmd = "test -e FLAG && echo ok >> FLAG.ran"`)
	flag = filepath.Join(s.outDir, "flag")
	s.writeResource("app.toml", strings.ReplaceAll(mustRead(t, filepath.Join(s.confDir, "conf.d", "app.toml")), "FLAG", flag))
	s.be.set("/app/a", "1")
	cfg := s.config(Interval)
	cfg.Interval = 30 * time.Millisecond
	defer s.start(cfg)()
	waitFor(t, 5*time.Second, "a failed reload", func() bool { return strings.Contains(s.logs.String(), "ERROR") })
	os.WriteFile(flag, nil, 0o644)
	waitFor(t, 5*time.Second, "the reload retried", func() bool {
		b, _ := os.ReadFile(flag + ".ran")
		return string(b) == "ok\n"
	})
	time.Sleep(100 * time.Millisecond)
	if b, _ := os.ReadFile(flag + ".ran"); string(b) != "ok\n" {
		t.Errorf("reload ran again after succeeding: %q", b)
	}
}

func TestWatchCoalescesBurstsAndLosesNothing(t *testing.T) {
	s := newSetup(t, listTmpl, `reload_cmd = "echo r >> RELOADS"`)
	reloads := filepath.Join(s.outDir, "reloads")
	s.writeResource("app.toml", strings.ReplaceAll(mustRead(t, filepath.Join(s.confDir, "conf.d", "app.toml")), "RELOADS", reloads))
	s.be.set("/app/a", "0")
	cfg := s.config(Watch)
	cfg.Settle = 100 * time.Millisecond
	defer s.start(cfg)()
	waitFor(t, 5*time.Second, "first render", func() bool { b, _ := os.ReadFile(s.dest); return string(b) == "a=0\n" })

	// Ten quick writes: one render, one reload.
	for i := 1; i <= 10; i++ {
		s.be.set("/app/a", fmt.Sprint(i))
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "burst rendered", func() bool { b, _ := os.ReadFile(s.dest); return string(b) == "a=10\n" })
	time.Sleep(300 * time.Millisecond)
	if got := strings.Count(mustRead(t, reloads), "r\n"); got != 2 {
		t.Errorf("%d reloads for the initial render and one burst, want 2", got)
	}
	// A write to an unrelated key wakes nothing.
	gets := s.be.getCount()
	s.be.set("/other", "x")
	time.Sleep(200 * time.Millisecond)
	if s.be.getCount() != gets {
		t.Errorf("unrelated key caused a re-read")
	}
	// A delete is seen.
	s.be.del("/app/a")
	waitFor(t, 5*time.Second, "delete rendered", func() bool { b, _ := os.ReadFile(s.dest); return string(b) == "" })
}

func TestWatchResyncsAfterIndexCleared(t *testing.T) {
	s := newSetup(t, listTmpl, "")
	s.be.set("/app/a", "1")
	cfg := s.config(Watch)
	defer s.start(cfg)()
	waitFor(t, 5*time.Second, "first render", func() bool { b, _ := os.ReadFile(s.dest); return string(b) == "a=1\n" })
	s.be.mu.Lock()
	s.be.values["/app/a"] = "2" // changed without an event a watch could see
	s.be.history = append(s.be.history, memEvent{key: "/unrelated"})
	s.be.cleared = uint64(len(s.be.history)) + 1
	close(s.be.changed)
	s.be.changed = make(chan struct{})
	s.be.mu.Unlock()
	waitFor(t, 5*time.Second, "re-read after the history was cleared", func() bool { b, _ := os.ReadFile(s.dest); return string(b) == "a=2\n" })
}

func TestWatchKeepsFilesWhileBackendIsDown(t *testing.T) {
	s := newSetup(t, listTmpl, "")
	s.be.set("/app/a", "1")
	s.be.failGet = errors.New("client: etcd cluster is unavailable or misconfigured")
	cfg := s.config(Watch)
	defer s.start(cfg)()
	waitFor(t, 5*time.Second, "errors logged", func() bool { return strings.Count(s.logs.String(), "unavailable") >= 2 })
	s.be.mu.Lock()
	s.be.failGet = nil
	s.be.mu.Unlock()
	waitFor(t, 5*time.Second, "render after recovery", func() bool { b, _ := os.ReadFile(s.dest); return string(b) == "a=1\n" })
}

func TestConfdirMissingIsAWarning(t *testing.T) {
	s := newSetup(t, listTmpl, "")
	cfg := s.config(Onetime)
	cfg.ConfDir = filepath.Join(s.confDir, "nope")
	if err := s.run(cfg); err != nil {
		t.Fatalf("err = %v; confd exits 0", err)
	}
	if !strings.Contains(s.logs.String(), "WARNING Cannot load template resources: confdir") {
		t.Errorf("logs:\n%s", s.logs)
	}
}

package compat

// TestGoldenCompat replays the etcd v2 golden transcripts (the shared spec's
// etcd-v2-golden/record/run.sh) twice per area, concurrently: once against a
// live reference etcd 3.4 (etcd-reference.sh) and once against hecd
// (hecd-server.sh in this directory). Both outputs and the golden file are
// normalised with the spec's normalize.sh, split into cases, and every hecd case
// must equal the live-etcd case or the golden case (or a recorded timing
// variant, see testdata/timing-variants.txt), after the deliberate differences
// below have been applied to the etcd side.
//
// Environment:
//
//	HECD_SHARED=DIR                 the shared directory (default: <repo>/../shared)
//	HECD_COMPAT_KEEP=DIR            copy raw and normalised outputs and logs to DIR/<area>/
//	HECD_COMPAT_TIMEOUT=DURATION    limit for one replay of one area (default 4m)
//	HECD_COMPAT_SERVER_SCRIPT=PATH  self-check only: replace hecd by another server
//	                                script on the hecd side ("etcd" = the reference
//	                                etcd-reference.sh; relative paths are relative to
//	                                the repository root); hecd is then not built,
//	                                and HECD_BIN, if set, is passed on to the script.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hecd/internal/freeport"
	"hecd/test/hecdproc"
)

// areas replayed by TestGoldenCompat, one subtest each (select some with
// -run 'TestGoldenCompat/(keys|ttl)$'). All selected areas replay at once.
var areas = []string{
	"keys", "ttl", "cas", "dirs", "inorder-hidden",
	"watch", "errors", "stats-members", "misc", "restart",
}

// areaTimeout bounds one replay of one area (run.sh including server start/stop);
// HECD_COMPAT_TIMEOUT (a Go duration) overrides it.
var areaTimeout = 4 * time.Minute

// unorderedCases are cases whose JSON arrays "nodes" (and "members") have an
// unspecified order: etcd lists unsorted directories in map order, and orders
// members by their (random) ids. They are compared order-insensitively.
var unorderedCases = map[string]bool{
	"dirs-009":          true, // GET ...?sorted=false: order of nodes unspecified
	"stats-members-038": true, // two members, ordered by random member id
}

// deliberate lists the cases where hecd deliberately answers differently from
// etcd 3.4: case id -> transform that turns the normalised etcd answer (live,
// golden or timing variant) into the answer hecd must give.
//
// Every entry must also be listed, with its reason, in the repository's
// DIFFERENCES.md.
var deliberate = map[string]func(etcdCase string) string{
	// DIFFERENCES.md, "Non-canonical paths redirect with 307, not 301".
	"keys-040": redirect307,
	"keys-041": redirect307,
	"keys-042": redirect307,
}

// redirect307 turns etcd's 301 answer to a non-canonical path into hecd's
// 307 (same Location, Go's body text for the status).
func redirect307(c string) string {
	c = strings.Replace(c, "HTTP/1.1 301 Moved Permanently", "HTTP/1.1 307 Temporary Redirect", 1)
	return strings.Replace(c, ">Moved Permanently</a>", ">Temporary Redirect</a>", 1)
}

// variantsFile holds extra accepted answers (normalised, in transcript
// format) for the documented timing-dependent cases, recorded from etcd 3.4.
const variantsFile = "testdata/timing-variants.txt"

// ---------------------------------------------------------------- setup

type config struct {
	root       string // repository root (holds go.mod)
	shared     string // the shared directory
	golden     string // <shared>/spec/etcd-v2-golden
	runSh      string // golden/record/run.sh
	normSh     string // golden/record/normalize.sh
	etcdScript string // SERVER_SCRIPT for the reference side
	hecdScript string // SERVER_SCRIPT for the hecd side
	hecdBin    string // built hecd binary ("" in self-check mode)
	selfCheck  bool
	keep       string // HECD_COMPAT_KEEP
	variants   map[string][]string
}

func TestMain(m *testing.M) {
	code := m.Run()
	hecdproc.Cleanup()
	os.Exit(code)
}

func setup(t *testing.T) *config {
	t.Helper()
	root, err := hecdproc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config{root: root, keep: os.Getenv("HECD_COMPAT_KEEP")}
	if v := os.Getenv("HECD_COMPAT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("HECD_COMPAT_TIMEOUT=%q: want a positive Go duration such as 4m", v)
		}
		areaTimeout = d
	}
	if cfg.shared, err = hecdproc.SharedDir(); err != nil {
		t.Fatal(err)
	}
	if cfg.shared, err = filepath.Abs(cfg.shared); err != nil {
		t.Fatal(err)
	}
	cfg.golden = filepath.Join(cfg.shared, "spec", "etcd-v2-golden")
	cfg.runSh = filepath.Join(cfg.golden, "record", "run.sh")
	cfg.normSh = filepath.Join(cfg.golden, "record", "normalize.sh")
	cfg.etcdScript = filepath.Join(cfg.shared, "spec", "etcd-reference.sh")
	for _, f := range []string{cfg.runSh, cfg.normSh, cfg.etcdScript} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("shared spec not found (%v); the shared directory is expected beside the repository or in HECD_SHARED", err)
		}
	}

	if s := os.Getenv("HECD_COMPAT_SERVER_SCRIPT"); s != "" {
		cfg.selfCheck = true
		switch {
		case s == "etcd":
			s = cfg.etcdScript
		case !filepath.IsAbs(s):
			s = filepath.Join(root, s)
		}
		cfg.hecdScript = s
		cfg.hecdBin = os.Getenv("HECD_BIN") // passed on if set, e.g. to try hecd-server.sh with a stand-in
		t.Logf("self-check: the hecd side runs SERVER_SCRIPT=%s instead of hecd", s)
	} else {
		cfg.hecdScript = filepath.Join(root, "test", "compat", "hecd-server.sh")
		start := time.Now()
		if cfg.hecdBin, err = hecdproc.Binary(); err != nil {
			t.Fatal(err)
		}
		t.Logf("built hecd in %v", time.Since(start).Round(time.Millisecond))
	}

	vt, err := normalize(context.Background(), cfg, filepath.Join(root, "test", "compat", variantsFile))
	if err != nil {
		t.Fatalf("timing variants: %v", err)
	}
	cfg.variants = map[string][]string{}
	for _, c := range parseCases(vt) {
		cfg.variants[c.id] = append(cfg.variants[c.id], c.text)
	}
	return cfg
}

// ---------------------------------------------------------------- the test

func TestGoldenCompat(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: the golden compatibility replay needs a live etcd and takes about half a minute")
	}
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Fatal("etcd is not on PATH: the compatibility test compares hecd with a real etcd 3.4; " +
			"install it (Debian: apt-get install etcd-server etcd-client) or run with -short to skip")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH (needed to replay the transcripts)", tool)
		}
	}
	cfg := setup(t)
	for _, area := range areas {
		t.Run(area, func(t *testing.T) {
			// The replays start before t.Parallel, so every selected area
			// replays at once whatever -parallel is (they mostly wait on
			// sleeps and long polls); the whole test then takes about as long
			// as the slowest area, and at most areaTimeout.
			work := t.TempDir()
			done := startReplays(cfg, area, work)
			t.Parallel()
			r := <-done
			testArea(t, cfg, area, work, r[0], r[1])
		})
	}
}

// startReplays replays AREA against the reference etcd and against hecd,
// concurrently, in the background; the channel yields {etcd, hecd}.
func startReplays(cfg *config, area, work string) <-chan [2]replay {
	done := make(chan [2]replay, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), areaTimeout)
		defer cancel()
		var r [2]replay
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); r[0] = runArea(ctx, cfg, area, cfg.etcdScript, filepath.Join(work, "etcd")) }()
		go func() { defer wg.Done(); r[1] = runArea(ctx, cfg, area, cfg.hecdScript, filepath.Join(work, "hecd")) }()
		wg.Wait()
		done <- r
	}()
	return done
}

func testArea(t *testing.T, cfg *config, area, work string, ref, got replay) {
	t.Logf("replay times: etcd %.1fs, hecd %.1fs", ref.elapsed.Seconds(), got.elapsed.Seconds())
	defer keepOutputs(t, cfg, area, work)
	golden := filepath.Join(cfg.golden, area+".txt")
	if _, err := os.Stat(golden); err != nil {
		t.Fatalf("golden transcript missing: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if ref.err != nil {
		t.Fatalf("the reference etcd replay failed (environment problem, not hecd): %v\n%s", ref.err, tailFile(ref.log, 30))
	}
	if got.err != nil {
		msg := fmt.Sprintf("the hecd replay failed: %v\n%s", got.err, tailFile(got.log, 30))
		if logs, _ := filepath.Glob(filepath.Join(got.dir, "server-logs", "*.log")); len(logs) > 0 {
			msg += "\nhecd log (" + filepath.Base(logs[0]) + "):\n" + tailFile(logs[0], 30)
		}
		if _, err := os.Stat(got.out); err != nil {
			t.Fatal(msg)
		}
		t.Error(msg) // compare whatever was recorded
	}

	refText, err := normalize(ctx, cfg, ref.out)
	if err != nil {
		t.Fatal(err)
	}
	goldText, err := normalize(ctx, cfg, golden)
	if err != nil {
		t.Fatal(err)
	}
	gotText, err := normalize(ctx, cfg, got.out)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"etcd": refText, "hecd": gotText} {
		os.WriteFile(filepath.Join(work, name, area+".norm.txt"), []byte(text), 0o644)
	}

	res := compare(parseCases(refText), parseCases(goldText), parseCases(gotText), cfg.variants)
	if len(res.liveVsGolden) > 0 {
		t.Logf("note: live etcd differs from the golden transcript in %s (timing-dependent cases, or a changed environment)",
			strings.Join(res.liveVsGolden, ", "))
	}
	if len(res.failures) > 0 {
		t.Errorf("%s: %d of %d cases differ from etcd (neither the live etcd nor the golden answer matches; '-' etcd, '+' %s):\n%s",
			area, len(res.failures), res.total, hecdLabel(cfg), formatFailures(res.failures))
	} else {
		t.Logf("%s: all %d cases match", area, res.total)
	}
}

func hecdLabel(cfg *config) string {
	if cfg.selfCheck {
		return "hecd side (self-check server)"
	}
	return "hecd"
}

// ---------------------------------------------------------------- replay

type replay struct {
	dir     string // side directory: out/, run.log, server-logs/
	out     string // out/AREA.txt
	log     string // run.sh stdout+stderr
	elapsed time.Duration
	err     error
}

// freePortPair returns a port P such that P and P+10 are both free on
// 127.0.0.1 and neither was handed out before by this test binary.
func freePortPair() (int, error) { return freeport.Pair(10) }

// runEnv is the environment of run.sh: ours, without anything that would
// change what run.sh, the case scripts or the servers do.
func runEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case slices.Contains([]string{"SERVER_SCRIPT", "PORT", "OUTDIR", "HECD_BIN", "HECD_LOG_DIR", "ETCD", "ETCDPORT", "AREA", "BASE"}, name),
			strings.HasPrefix(name, "ETCD_"), strings.HasPrefix(name, "ETCDCTL_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// runArea runs `bash run.sh AREA` with the given SERVER_SCRIPT into dir/out.
func runArea(ctx context.Context, cfg *config, area, script, dir string) (r replay) {
	r.dir = dir
	r.out = filepath.Join(dir, "out", area+".txt")
	r.log = filepath.Join(dir, "run.log")
	start := time.Now()
	defer func() { r.elapsed = time.Since(start) }()
	logs := filepath.Join(dir, "server-logs")
	if r.err = os.MkdirAll(logs, 0o755); r.err != nil {
		return r
	}
	port, err := freePortPair()
	if err != nil {
		r.err = err
		return r
	}
	logf, err := os.Create(r.log)
	if err != nil {
		r.err = err
		return r
	}
	defer logf.Close()

	env := []string{
		"SERVER_SCRIPT=" + script,
		fmt.Sprintf("PORT=%d", port),
		"OUTDIR=" + filepath.Join(dir, "out"),
		"HECD_LOG_DIR=" + logs,
	}
	if cfg.hecdBin != "" {
		env = append(env, "HECD_BIN="+cfg.hecdBin)
	}
	cmd := exec.CommandContext(ctx, "bash", cfg.runSh, area)
	cmd.Dir = dir
	cmd.Env = runEnv(env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group, so that a timeout also ends the servers and curls.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	fmt.Fprintf(logf, "# bash run.sh %s with SERVER_SCRIPT=%s PORT=%d\n", area, script, port)
	err = cmd.Run()
	if cmd.Process != nil {
		// Anything of ours still alive (e.g. a server left behind by a failed run).
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	switch {
	case ctx.Err() != nil:
		r.err = fmt.Errorf("run.sh %s timed out after %v", area, areaTimeout)
	case err != nil:
		r.err = fmt.Errorf("run.sh %s: %v", area, err)
	}
	return r
}

// normalize runs the spec's normalize.sh on a file.
func normalize(ctx context.Context, cfg *config, file string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", cfg.normSh, file)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("normalize.sh %s: %v\n%s", file, err, stderr.String())
	}
	return string(out), nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = "  | " + shorten(l, 300)
	}
	return strings.Join(lines, "\n")
}

// keepOutputs copies the area's work directory to $HECD_COMPAT_KEEP/AREA.
func keepOutputs(t *testing.T, cfg *config, area, work string) {
	if cfg.keep == "" {
		return
	}
	dst := filepath.Join(cfg.keep, area)
	os.RemoveAll(dst)
	err := filepath.WalkDir(work, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(work, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Errorf("HECD_COMPAT_KEEP: %v", err)
		return
	}
	t.Logf("outputs kept in %s", dst)
}

// ---------------------------------------------------------------- cases

type tcase struct {
	id, text string
}

// parseCases splits a normalised transcript into cases. A case starts at a
// line "=== CASE <id>: ..." and runs until the next one; "######## " section
// lines, lines before the first case and blank lines at the start and end of
// a case are dropped.
func parseCases(s string) []tcase {
	var cases []tcase
	var cur []string
	flush := func() {
		for len(cur) > 0 && strings.TrimSpace(cur[len(cur)-1]) == "" {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			id, _, _ := strings.Cut(strings.TrimPrefix(cur[0], "=== CASE "), ":")
			cases = append(cases, tcase{strings.TrimSpace(id), strings.Join(cur, "\n")})
		}
		cur = nil
	}
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "=== CASE "):
			flush()
			cur = []string{line}
		case strings.HasPrefix(line, "######## "):
			// section title
		case cur != nil:
			cur = append(cur, line)
		}
	}
	flush()
	return cases
}

func caseMap(cases []tcase) (map[string]string, []string) {
	m := map[string]string{}
	var dups []string
	for _, c := range cases {
		if _, ok := m[c.id]; ok {
			dups = append(dups, c.id)
		}
		m[c.id] = c.text
	}
	return m, dups
}

// ---------------------------------------------------------------- comparison

type failure struct {
	id     string
	reason string // for missing/extra/duplicate cases
	want   string // live etcd (transformed) case
	got    string
	golden bool // the golden case differs from live etcd as well
}

type result struct {
	total        int
	failures     []failure
	liveVsGolden []string
}

// expected returns the accepted answers for a case: the live etcd case, the
// golden case and the recorded timing variants, with the deliberate
// difference (if any) applied, canonicalised for unordered cases.
func expected(id, live string, golden *string, variants []string) []string {
	cands := []string{live}
	if golden != nil {
		cands = append(cands, *golden)
	}
	cands = append(cands, variants...)
	for i := range cands {
		if f := deliberate[id]; f != nil {
			cands[i] = f(cands[i])
		}
		cands[i] = canonical(id, cands[i])
	}
	return cands
}

func canonical(id, text string) string {
	if unorderedCases[id] {
		return sortUnordered(text)
	}
	return text
}

func compare(live, golden, got []tcase, variants map[string][]string) result {
	var res result
	liveM, liveDups := caseMap(live)
	goldM, _ := caseMap(golden)
	gotM, gotDups := caseMap(got)
	for _, id := range liveDups {
		res.failures = append(res.failures, failure{id: id, reason: "case id appears more than once in the etcd output"})
	}
	for _, id := range gotDups {
		res.failures = append(res.failures, failure{id: id, reason: "case id appears more than once in the hecd output"})
	}
	seen := map[string]bool{}
	for _, c := range live {
		if seen[c.id] {
			continue
		}
		seen[c.id] = true
		res.total++
		id := c.id
		g, ok := gotM[id]
		if !ok {
			res.failures = append(res.failures, failure{id: id, reason: "missing from the hecd output"})
			continue
		}
		var gold *string
		if gt, ok := goldM[id]; ok {
			gold = &gt
		}
		cands := expected(id, liveM[id], gold, variants[id])
		if gold != nil && canonical(id, liveM[id]) != canonical(id, *gold) && !slices.Contains(variants[id], liveM[id]) {
			res.liveVsGolden = append(res.liveVsGolden, id)
		}
		gc := canonical(id, g)
		if slices.Contains(cands, gc) {
			continue
		}
		res.failures = append(res.failures, failure{id: id, want: cands[0], got: gc, golden: gold != nil && cands[1] != cands[0]})
	}
	for _, c := range got {
		if _, ok := liveM[c.id]; !ok && !seen[c.id] {
			seen[c.id] = true
			res.failures = append(res.failures, failure{id: c.id, reason: "not in the etcd output (extra case)"})
		}
	}
	return res
}

const (
	maxShownFailures = 25
	maxDiffLines     = 40
)

func formatFailures(fs []failure) string {
	var b strings.Builder
	var rest []string
	var reasons []string // in order of first appearance
	byReason := map[string][]string{}
	shown := 0
	for _, f := range fs {
		if f.reason != "" {
			if byReason[f.reason] == nil {
				reasons = append(reasons, f.reason)
			}
			byReason[f.reason] = append(byReason[f.reason], f.id)
			continue
		}
		if shown >= maxShownFailures {
			rest = append(rest, f.id)
			continue
		}
		shown++
		note := ""
		if f.golden {
			note = " (the golden answer differs from live etcd too; hecd matches neither)"
		}
		fmt.Fprintf(&b, "=== %s%s\n", f.id, note)
		d := lineDiff(strings.Split(f.want, "\n"), strings.Split(f.got, "\n"), 2)
		if len(d) > maxDiffLines {
			d = append(d[:maxDiffLines], fmt.Sprintf("  ... (%d more diff lines)", len(d)-maxDiffLines))
		}
		for _, l := range d {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	if len(rest) > 0 {
		fmt.Fprintf(&b, "... and %d more differing cases: %s\n", len(rest), strings.Join(rest, ", "))
	}
	for _, r := range reasons {
		fmt.Fprintf(&b, "=== %s (%d): %s\n", r, len(byReason[r]), strings.Join(byReason[r], ", "))
	}
	return b.String()
}

// ---------------------------------------------------------------- unordered JSON

// sortUnordered rewrites every JSON line of a case so that "nodes" and
// "members" arrays are sorted (recursively); everything else, including the
// order of object fields, is kept.
func sortUnordered(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "{") && !strings.HasPrefix(l, "[") {
			continue
		}
		if !json.Valid([]byte(l)) {
			continue
		}
		if c, err := canonJSON([]byte(l), false); err == nil {
			lines[i] = string(c)
		}
	}
	return strings.Join(lines, "\n")
}

func canonJSON(raw []byte, sortArray bool) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return raw, nil
	}
	switch raw[0] {
	case '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for n := 0; dec.More(); n++ {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := tok.(string)
			if !ok {
				return nil, fmt.Errorf("object key %v is not a string", tok)
			}
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				return nil, err
			}
			cv, err := canonJSON(val, key == "nodes" || key == "members")
			if err != nil {
				return nil, err
			}
			if n > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(key)
			b.Write(kb)
			b.WriteByte(':')
			b.Write(cv)
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		out := make([][]byte, len(elems))
		for i, e := range elems {
			c, err := canonJSON(e, false)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		if sortArray {
			sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
		}
		return append(append([]byte{'['}, bytes.Join(out, []byte{','})...), ']'), nil
	default:
		return raw, nil
	}
}

// ---------------------------------------------------------------- line diff

const maxLine = 300

// shorten truncates a line to about maxLine characters. diffAt (>= 0) is the
// offset of the first difference from the line it is compared with; the
// shown window then includes it.
func shorten(l string, diffAt ...int) string {
	if len(l) <= maxLine {
		return l
	}
	at := -1
	if len(diffAt) > 0 {
		at = diffAt[0]
	}
	if at < maxLine-50 {
		return fmt.Sprintf("%s[... %d more bytes]", l[:maxLine], len(l)-maxLine)
	}
	from := at - 100
	to := min(from+maxLine, len(l))
	s := fmt.Sprintf("[%d bytes ...]%s", from, l[from:to])
	if to < len(l) {
		s += fmt.Sprintf("[... %d more bytes]", len(l)-to)
	}
	return s
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// lineDiff returns a compact unified-style diff of a (expected, "-") and b
// (got, "+") with ctx lines of context around each change; long lines are
// shortened around their first difference.
func lineDiff(a, b []string, ctx int) []string {
	type op struct {
		kind byte // ' ', '-', '+'
		line string
		at   int
	}
	var ops []op
	if len(a)*len(b) > 4_000_000 {
		for _, l := range a {
			ops = append(ops, op{'-', l, -1})
		}
		for _, l := range b {
			ops = append(ops, op{'+', l, -1})
		}
	} else {
		// LCS table: lcs[i][j] = LCS length of a[i:], b[j:].
		lcs := make([][]int, len(a)+1)
		for i := range lcs {
			lcs[i] = make([]int, len(b)+1)
		}
		for i := len(a) - 1; i >= 0; i-- {
			for j := len(b) - 1; j >= 0; j-- {
				if a[i] == b[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(a) || j < len(b) {
			switch {
			case i < len(a) && j < len(b) && a[i] == b[j]:
				ops = append(ops, op{' ', a[i], -1})
				i++
				j++
			case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, op{'-', a[i], -1})
				i++
			default:
				ops = append(ops, op{'+', b[j], -1})
				j++
			}
		}
	}
	// Pair the k-th '-' and k-th '+' line of each change block to locate
	// their first difference (for shortening long lines).
	for s := 0; s < len(ops); {
		if ops[s].kind == ' ' {
			s++
			continue
		}
		e := s
		for e < len(ops) && ops[e].kind != ' ' {
			e++
		}
		var minus, plus []int
		for k := s; k < e; k++ {
			if ops[k].kind == '-' {
				minus = append(minus, k)
			} else {
				plus = append(plus, k)
			}
		}
		for k := 0; k < min(len(minus), len(plus)); k++ {
			p := commonPrefix(ops[minus[k]].line, ops[plus[k]].line)
			ops[minus[k]].at, ops[plus[k]].at = p, p
		}
		s = e
	}
	// Emit changes with context.
	show := make([]bool, len(ops))
	for k, o := range ops {
		if o.kind != ' ' {
			for c := max(0, k-ctx); c <= min(len(ops)-1, k+ctx); c++ {
				show[c] = true
			}
		}
	}
	var out []string
	gap := false
	for k, o := range ops {
		if !show[k] {
			gap = true
			continue
		}
		if gap && len(out) > 0 {
			out = append(out, "  ...")
		}
		gap = false
		out = append(out, "  "+string(o.kind)+shorten(o.line, o.at))
	}
	return out
}

package crash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// Test parameters; see doc.go for the environment variables.
const (
	defaultCycles   = 25
	minCycles       = 10
	defaultBudget   = 3 * time.Minute
	numWriters      = 8
	setKeysPerW     = 24 // names k00..k23 per writer
	maxLivePerW     = 48 // above this a writer only deletes
	minKillDelay    = 50 * time.Millisecond
	defaultMaxDelay = 800 * time.Millisecond
	historyWindow   = 1000 // events kept for watches (spec W-3)
	watchSamples    = 20
	startTimeout    = 30 * time.Second
	exitTimeout     = 10 * time.Second
	requestTimeout  = 10 * time.Second
	watchTimeout    = 5 * time.Second
	maxViolationLog = 60
	keyRoot         = "/crash"
)

// ---------------------------------------------------------------------------
// The test

func TestKill9AcknowledgedWritesSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test skipped in -short mode")
	}
	set := loadSettings(t)
	testStart := time.Now()
	deadline := testStart.Add(set.budget)
	if d, ok := t.Deadline(); ok && d.Add(-20*time.Second).Before(deadline) {
		deadline = d.Add(-20 * time.Second)
	}
	t.Logf("seed %d (HECD_CRASH_SEED=%d repeats it), up to %d cycles within %v, kill %v-%v after the writers start",
		set.seed, set.seed, set.cycles, time.Until(deadline).Round(time.Second), minKillDelay, set.maxDelay)

	tmp := t.TempDir()
	buildStart := time.Now()
	bin, err := hecdproc.Build(context.Background(), tmp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built hecd in %v", time.Since(buildStart).Round(time.Millisecond))
	peerPort, err := hecdproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	m := &member{
		t:       t,
		bin:     bin,
		logDir:  tmp,
		dataDir: filepath.Join(tmp, "data"),
		peerURL: "http://127.0.0.1:" + strconv.Itoa(peerPort),
	}
	if set.snapshotCount != "" {
		m.extra = append(m.extra, "--snapshot-count", set.snapshotCount)
	}
	t.Cleanup(m.killNow)

	rng := rand.New(rand.NewPCG(set.seed, 0x5eed))
	h := newHarness(t, rng)

	// First start: fresh data directory; verify (nothing under /crash yet)
	// and take the starting index.
	p := m.mustStart()
	h.verifyAfterStart(p, 0, 0)

	var cycleDur, restartDur []time.Duration
	completed := 0
	for c := 1; c <= set.cycles; c++ {
		need := 15 * time.Second
		if n := len(cycleDur); n > 0 {
			need = maxDur(cycleDur)*3/2 + 5*time.Second
		}
		if time.Until(deadline) < need {
			t.Logf("time budget nearly used: stopping after %d cycles", completed)
			break
		}
		cStart := time.Now()
		delay := minKillDelay + time.Duration(rng.Int64N(int64(set.maxDelay-minKillDelay)+1))
		acked := h.runWorkload(p, c, delay)

		rStart := time.Now()
		p = m.mustStart()
		restartDur = append(restartDur, time.Since(rStart))
		h.verifyAfterStart(p, c, acked)
		cycleDur = append(cycleDur, time.Since(cStart))
		completed++
		if testing.Verbose() && (c%5 == 0 || c == set.cycles) {
			t.Logf("cycle %d done: index %d, %d writes acknowledged so far, %d violations", c, h.lastIndex, h.stats.acked, h.violations)
		}
	}
	m.killNow()

	need := min(minCycles, set.cycles)
	if completed < need {
		t.Errorf("only %d kill/restart cycles completed within the time budget; at least %d are required", completed, need)
	}
	h.logSummary(completed, set, time.Since(testStart), cycleDur, restartDur)
	if snaps, err := os.ReadDir(filepath.Join(m.dataDir, "snapshots")); err == nil {
		t.Logf("snapshots in the data directory at the end: %d", len(snaps))
	}
	if h.violations > 0 {
		t.Errorf("%d violation(s) found (see above)", h.violations)
		m.logTails(2)
	}
}

type settings struct {
	cycles        int
	budget        time.Duration
	seed          uint64
	snapshotCount string
	maxDelay      time.Duration
}

func loadSettings(t *testing.T) settings {
	s := settings{cycles: defaultCycles, budget: defaultBudget, seed: uint64(time.Now().UnixNano()), maxDelay: defaultMaxDelay}
	if v := os.Getenv("HECD_CRASH_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("HECD_CRASH_CYCLES=%q: want a positive integer", v)
		}
		s.cycles = n
	}
	if v := os.Getenv("HECD_CRASH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("HECD_CRASH_DURATION=%q: want a positive Go duration", v)
		}
		s.budget = d
	}
	if v := os.Getenv("HECD_CRASH_MAX_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minKillDelay {
			t.Fatalf("HECD_CRASH_MAX_DELAY=%q: want a Go duration of at least %v", v, minKillDelay)
		}
		s.maxDelay = d
	}
	if v := os.Getenv("HECD_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("HECD_CRASH_SEED=%q: want an unsigned integer", v)
		}
		s.seed = n
	}
	if v := os.Getenv("HECD_CRASH_SNAPSHOT_COUNT"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err != nil || n == 0 {
			t.Fatalf("HECD_CRASH_SNAPSHOT_COUNT=%q: want a positive integer", v)
		}
		s.snapshotCount = v
	}
	return s
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// ---------------------------------------------------------------------------
// The hecd process

// member runs the hecd binary, one process at a time, always on the same
// data directory and peer URL (the member id derives from it); the client
// port is new for every start.
type member struct {
	t       *testing.T
	bin     string
	logDir  string
	dataDir string
	peerURL string
	extra   []string
	starts  int
	logs    []string
	cur     *proc
}

// proc is one hecd process.
type proc struct {
	cmd     *exec.Cmd
	url     string // client URL
	logPath string
	exited  chan struct{}
	err     error // Wait's result; read only after exited is closed
}

func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (m *member) spawn() (*proc, error) {
	port, err := hecdproc.FreePort()
	if err != nil {
		return nil, err
	}
	m.starts++
	logPath := filepath.Join(m.logDir, fmt.Sprintf("hecd-%03d.log", m.starts))
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cu := "http://127.0.0.1:" + strconv.Itoa(port)
	args := append(hecdproc.StoreArgs("crash", m.dataDir, cu, m.peerURL), m.extra...)
	cmd := exec.Command(m.bin, args...)
	cmd.Env = hecdproc.Env()
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, url: cu, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.exited)
	}()
	m.cur = p
	m.logs = append(m.logs, logPath)
	return p, nil
}

// mustStart starts hecd and waits until /health says it is healthy. A
// failure ends the test with the process's log.
func (m *member) mustStart() *proc {
	t := m.t
	t.Helper()
	for attempt := 1; ; attempt++ {
		start := time.Now()
		p, err := m.spawn()
		if err != nil {
			t.Fatalf("starting hecd: %v", err)
		}
		err = hecdproc.WaitHealthy(context.Background(), p.url, p.exited, startTimeout)
		if err == nil {
			return p
		}
		m.killNow()
		log := readLog(p.logPath, 80)
		// Someone else took the client port between our probe and hecd's
		// listen: try another one.
		if attempt < 3 && strings.Contains(log, "address already in use") && strings.Contains(log, p.url) {
			t.Logf("client port of %s was taken; retrying", p.url)
			continue
		}
		t.Fatalf("hecd start #%d (data dir reused: %v) failed after %v: %v\n--- hecd log (%s, last lines) ---\n%s",
			m.starts, m.starts > 1, time.Since(start).Round(time.Millisecond), err, filepath.Base(p.logPath), log)
	}
}

// kill sends SIGKILL to the current process and waits for it to be gone.
func (m *member) kill() error {
	p := m.cur
	if p == nil {
		return nil
	}
	// An error here means the process is already gone; waiting tells.
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(exitTimeout):
		return fmt.Errorf("hecd (pid %d) did not exit within %v of SIGKILL", p.cmd.Process.Pid, exitTimeout)
	}
	m.cur = nil
	return nil
}

// killNow is the cleanup: no hecd may outlive the test.
func (m *member) killNow() {
	if err := m.kill(); err != nil {
		m.t.Errorf("cleanup: %v", err)
	}
}

func (m *member) logTails(n int) {
	for i := max(0, len(m.logs)-n); i < len(m.logs); i++ {
		m.t.Logf("--- hecd log %s (last lines) ---\n%s", filepath.Base(m.logs[i]), readLog(m.logs[i], 40))
	}
}

func readLog(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = append([]string{fmt.Sprintf("... (%d earlier lines)", len(ls)-lines)}, ls[len(ls)-lines:]...)
	}
	return strings.Join(ls, "\n")
}

// ---------------------------------------------------------------------------
// v2 JSON

type v2Node struct {
	Key           string    `json:"key"`
	Value         *string   `json:"value"`
	Dir           bool      `json:"dir"`
	Nodes         []*v2Node `json:"nodes"`
	ModifiedIndex uint64    `json:"modifiedIndex"`
	CreatedIndex  uint64    `json:"createdIndex"`
}

type v2Event struct {
	Action   string  `json:"action"`
	Node     *v2Node `json:"node"`
	PrevNode *v2Node `json:"prevNode"`
}

type v2Error struct {
	ErrorCode int    `json:"errorCode"`
	Message   string `json:"message"`
	Cause     string `json:"cause"`
	Index     uint64 `json:"index"`
}

func (n *v2Node) value() string {
	if n == nil || n.Value == nil {
		return ""
	}
	return *n.Value
}

func etcdIndex(h http.Header) (uint64, bool) {
	v := h.Get("X-Etcd-Index")
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// ---------------------------------------------------------------------------
// Model of the key space

type opKind uint8

const (
	opSet opKind = iota
	opCAS
	opPost
	opDelete
)

func (k opKind) String() string {
	return [...]string{"set", "compareAndSwap", "create(POST)", "delete"}[k]
}

// action is the v2 event action an acknowledged op must report.
func (k opKind) action() string {
	return [...]string{"set", "compareAndSwap", "create", "delete"}[k]
}

// keyState is what a key holds (or that it does not exist).
type keyState struct {
	exists       bool
	value        string
	mod, created uint64
	by           string // what produced this state, for messages
}

func (s keyState) String() string {
	if !s.exists {
		return "absent (" + s.by + ")"
	}
	return fmt.Sprintf("value %q mod %d created %d (%s)", s.value, s.mod, s.created, s.by)
}

// pendingOp is a write whose outcome is unknown: it may or may not have
// taken effect.
type pendingOp struct {
	kind  opKind
	key   string // the key; for POST the directory
	value string
	cycle int
	why   string
	atK   bool // failed because of the kill (not a 5xx while serving)
}

func (o pendingOp) String() string {
	return fmt.Sprintf("%s %s value %q in cycle %d (%s)", o.kind, o.key, o.value, o.cycle, o.why)
}

// keyModel is one key: its last known state and the unacknowledged ops
// issued on it since. A writer never touches a key with pending ops until a
// restart resolved them.
type keyModel struct {
	st   keyState
	pend []pendingOp
}

// ackRecord is one acknowledged write.
type ackRecord struct {
	cycle, writer int
	kind          opKind
	key           string
	value         string
	index         uint64
	sent, recv    time.Time
}

func (a ackRecord) String() string {
	return fmt.Sprintf("%s %s value %q at index %d (writer %d, cycle %d)", a.kind, a.key, a.value, a.index, a.writer, a.cycle)
}

// ---------------------------------------------------------------------------
// Writers

type writer struct {
	h       *harness
	id      int
	rng     *rand.Rand
	dir     string // /crash/wN
	keys    map[string]*keyModel
	live    []string // keys known to exist with no pending op
	livePos map[string]int
	posts   []pendingOp // unacknowledged POSTs: the key is not known
	seq     int
	lastIdx uint64 // highest index acknowledged to this writer

	// Per cycle, owned by the writer goroutine while it runs.
	client *http.Client
	base   string
	cycle  int
	acks   []ackRecord
}

func (w *writer) addLive(key string) {
	if _, ok := w.livePos[key]; ok {
		return
	}
	w.livePos[key] = len(w.live)
	w.live = append(w.live, key)
}

func (w *writer) dropLive(key string) {
	i, ok := w.livePos[key]
	if !ok {
		return
	}
	last := len(w.live) - 1
	w.live[i] = w.live[last]
	w.livePos[w.live[i]] = i
	w.live = w.live[:last]
	delete(w.livePos, key)
}

func (w *writer) randomLive() (string, bool) {
	if len(w.live) == 0 {
		return "", false
	}
	return w.live[w.rng.IntN(len(w.live))], true
}

// run issues writes until the kill starts or the connection breaks.
func (w *writer) run(killing *atomic.Bool) {
	for !killing.Load() {
		if !w.step(killing) {
			return
		}
	}
}

// step chooses and performs one write; false when the writer must stop.
func (w *writer) step(killing *atomic.Bool) bool {
	r := w.rng.IntN(100)
	switch {
	case len(w.live) > maxLivePerW || (r >= 80 && len(w.live) > 0):
		key, _ := w.randomLive()
		return w.do(killing, opDelete, key)
	case r >= 55:
		if key, ok := w.randomLive(); ok {
			return w.do(killing, opCAS, key)
		}
		fallthrough
	case r < 35:
		key := fmt.Sprintf("%s/k%02d", w.dir, w.rng.IntN(setKeysPerW))
		if km := w.keys[key]; km == nil || len(km.pend) == 0 {
			return w.do(killing, opSet, key)
		}
	}
	return w.do(killing, opPost, w.dir+"/q")
}

func (w *writer) do(killing *atomic.Bool, kind opKind, key string) bool {
	w.seq++
	value := fmt.Sprintf("c%03d-w%d-%06d", w.cycle, w.id, w.seq)
	km := w.keys[key]
	var prev keyState
	if km != nil {
		prev = km.st
	}
	method, query := http.MethodPut, ""
	switch kind {
	case opCAS:
		query = "?prevIndex=" + strconv.FormatUint(prev.mod, 10)
	case opPost:
		method = http.MethodPost
	case opDelete:
		method, value = http.MethodDelete, ""
	}
	var body io.Reader
	if kind != opDelete {
		body = strings.NewReader("value=" + url.QueryEscape(value))
	}
	req, err := http.NewRequest(method, w.base+"/v2/keys"+key+query, body)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}

	op := pendingOp{kind: kind, key: key, value: value, cycle: w.cycle}
	sent := time.Now()
	resp, err := w.client.Do(req)
	var respBody []byte
	if err == nil {
		respBody, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	recv := time.Now()
	if err != nil {
		op.why, op.atK = "transport error: "+err.Error(), true
		if !killing.Load() {
			op.atK = false
			w.h.violation("writer %d: transport error before the kill on %s: %v (hecd dropped a connection while it should be serving)", w.id, op, err)
		}
		w.markPending(op)
		return false
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		var ev v2Event
		if jerr := json.Unmarshal(respBody, &ev); jerr != nil || ev.Node == nil {
			op.why = fmt.Sprintf("HTTP %d with an unparsable event: %s", resp.StatusCode, short(respBody))
			w.h.violation("writer %d: %s", w.id, op)
			w.markPending(op)
			return true
		}
		w.acknowledged(op, prev, resp, &ev, sent, recv)
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		// A definite failure: no effect. The writer knows the key's state,
		// so this must not happen.
		w.h.violation("writer %d: %s %s (state known to be %s) failed definitely: HTTP %d %s",
			w.id, kind, key+query, prev, resp.StatusCode, short(respBody))
	default:
		op.why = fmt.Sprintf("HTTP %d %s", resp.StatusCode, short(respBody))
		w.h.countIndeterminate(op)
		w.markPending(op)
	}
	return true
}

func (w *writer) markPending(op pendingOp) {
	if op.kind == opPost {
		w.posts = append(w.posts, op)
		return
	}
	km := w.keys[op.key]
	if km == nil {
		km = &keyModel{st: keyState{by: "never written"}}
		w.keys[op.key] = km
	}
	km.pend = append(km.pend, op)
	w.dropLive(op.key)
}

// acknowledged checks a 2xx answer against the model and applies it.
func (w *writer) acknowledged(op pendingOp, prev keyState, resp *http.Response, ev *v2Event, sent, recv time.Time) {
	h := w.h
	n := ev.Node
	idx := n.ModifiedIndex
	desc := fmt.Sprintf("writer %d: acknowledged %s %s value %q (index %d)", w.id, op.kind, op.key, op.value, idx)
	if ev.Action != op.kind.action() {
		h.violation("%s: action %q, want %q", desc, ev.Action, op.kind.action())
	}
	if hi, ok := etcdIndex(resp.Header); !ok || hi != idx {
		h.violation("%s: X-Etcd-Index %q differs from node.modifiedIndex %d", desc, resp.Header.Get("X-Etcd-Index"), idx)
	}
	if idx <= w.lastIdx {
		h.violation("%s: index not above %d, the index of this writer's previous acknowledged write (I-2)", desc, w.lastIdx)
	}
	w.lastIdx = max(w.lastIdx, idx)
	if op.kind != opDelete && n.value() != op.value {
		h.violation("%s: node value %q", desc, n.value())
	}
	checkPrev := func() {
		p := ev.PrevNode
		switch {
		case !prev.exists && p != nil:
			h.violation("%s: prevNode %+v but the key was absent", desc, *p)
		case prev.exists && p == nil:
			h.violation("%s: no prevNode but the key held %s", desc, prev)
		case prev.exists && (p.value() != prev.value || p.ModifiedIndex != prev.mod || p.CreatedIndex != prev.created):
			h.violation("%s: prevNode value %q mod %d created %d, but the key held %s (I-5)", desc, p.value(), p.ModifiedIndex, p.CreatedIndex, prev)
		}
	}
	key := op.key
	by := fmt.Sprintf("acknowledged %s in cycle %d at index %d", op.kind, w.cycle, idx)
	var st keyState
	switch op.kind {
	case opSet:
		checkPrev()
		if n.Key != key || n.CreatedIndex != idx {
			h.violation("%s: node key %q created %d", desc, n.Key, n.CreatedIndex)
		}
		st = keyState{exists: true, value: op.value, mod: idx, created: idx, by: by}
	case opCAS:
		checkPrev()
		if n.Key != key || n.CreatedIndex != prev.created {
			h.violation("%s: node key %q created %d, want created %d", desc, n.Key, n.CreatedIndex, prev.created)
		}
		st = keyState{exists: true, value: op.value, mod: idx, created: prev.created, by: by}
	case opDelete:
		checkPrev()
		if n.Key != key || n.CreatedIndex != prev.created {
			h.violation("%s: node key %q created %d, want created %d", desc, n.Key, n.CreatedIndex, prev.created)
		}
		st = keyState{mod: idx, by: by}
	case opPost:
		key = n.Key
		if !strings.HasPrefix(key, op.key+"/") || strings.Contains(key[len(op.key)+1:], "/") || n.CreatedIndex != idx {
			h.violation("%s: created node key %q created %d", desc, n.Key, n.CreatedIndex)
		}
		if old := w.keys[key]; old != nil {
			h.violation("%s: created key %s already existed in the history of this test: %s", desc, key, old.st)
		}
		st = keyState{exists: true, value: op.value, mod: idx, created: idx, by: by}
	}
	km := w.keys[key]
	if km == nil {
		km = &keyModel{}
		w.keys[key] = km
	}
	km.st = st
	if st.exists {
		w.addLive(key)
	} else {
		w.dropLive(key)
	}
	w.acks = append(w.acks, ackRecord{cycle: w.cycle, writer: w.id, kind: op.kind, key: key, value: op.value, index: idx, sent: sent, recv: recv})
}

// ---------------------------------------------------------------------------
// Harness: workload, verification, statistics

type stats struct {
	acked          int
	ackedByKind    [4]int
	inflight       int // indeterminate because of the kill
	inflightApp    int // ... and found applied after the restart
	inflightNotApp int
	indet5xx       int // indeterminate answers while serving (5xx)
	indet5xxApp    int
	watchChecks    int
	maxInflight    int // largest number in flight at one kill
}

type harness struct {
	t       *testing.T
	rng     *rand.Rand
	writers []*writer

	mu         sync.Mutex // guards violations and indet counters from writers
	violations int
	logged     int

	stats      stats
	owners     map[uint64]string // etcd index -> the write (or restart) that used it
	allAcks    []ackRecord
	maxAcked   uint64
	lastIndex  uint64 // X-Etcd-Index right after the last start
	cycleAcked int
}

func newHarness(t *testing.T, rng *rand.Rand) *harness {
	h := &harness{t: t, rng: rng, owners: map[uint64]string{}}
	for i := 0; i < numWriters; i++ {
		h.writers = append(h.writers, &writer{
			h:       h,
			id:      i,
			rng:     rand.New(rand.NewPCG(rng.Uint64(), uint64(i))),
			dir:     fmt.Sprintf("%s/w%d", keyRoot, i),
			keys:    map[string]*keyModel{},
			livePos: map[string]int{},
		})
	}
	return h
}

func (h *harness) violation(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.violations++
	h.logged++
	switch {
	case h.logged <= maxViolationLog:
		h.t.Errorf("VIOLATION: "+format, args...)
	case h.logged == maxViolationLog+1:
		h.t.Errorf("(further violations are counted but not shown)")
	}
}

func (h *harness) countIndeterminate(op pendingOp) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.indet5xx++
}

// runWorkload runs the writers against p and kills p after delay. It
// returns how many writes were acknowledged in this cycle.
func (h *harness) runWorkload(p *proc, cycle int, delay time.Duration) int {
	t := h.t
	var killing atomic.Bool
	var wg sync.WaitGroup
	for _, w := range h.writers {
		w.client = &http.Client{
			Timeout:   requestTimeout,
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, DisableCompression: true},
		}
		w.base, w.cycle, w.acks = p.url, cycle, nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(&killing)
		}()
	}
	timer := time.NewTimer(delay)
	select {
	case <-timer.C:
	case <-p.exited:
		killing.Store(true)
		wg.Wait()
		t.Fatalf("cycle %d: hecd exited by itself during the workload (%v)\n--- hecd log ---\n%s", cycle, p.err, readLog(p.logPath, 80))
	}
	killing.Store(true)
	if p.hasExited() {
		wg.Wait()
		t.Fatalf("cycle %d: hecd exited by itself during the workload (%v)\n--- hecd log ---\n%s", cycle, p.err, readLog(p.logPath, 80))
	}
	sigErr := p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(exitTimeout):
		t.Fatalf("cycle %d: hecd did not exit within %v of SIGKILL", cycle, exitTimeout)
	}
	wg.Wait()
	if sigErr != nil {
		t.Fatalf("cycle %d: SIGKILL failed (%v): hecd exited by itself (%v)\n--- hecd log ---\n%s", cycle, sigErr, p.err, readLog(p.logPath, 80))
	}

	// Collect the cycle's acknowledged writes.
	var acks []ackRecord
	inflight := 0
	for _, w := range h.writers {
		w.client.CloseIdleConnections()
		acks = append(acks, w.acks...)
		w.acks = nil
		for _, km := range w.keys {
			for _, op := range km.pend {
				if op.cycle == cycle && op.atK {
					inflight++
				}
			}
		}
		for _, op := range w.posts {
			if op.cycle == cycle && op.atK {
				inflight++
			}
		}
	}
	h.stats.inflight += inflight
	h.stats.maxInflight = max(h.stats.maxInflight, inflight)
	h.checkAcks(cycle, acks)
	return len(acks)
}

// checkAcks records the cycle's acknowledged indexes and checks I-1 and I-2
// across writers, and that the cycle's writes come after everything before.
func (h *harness) checkAcks(cycle int, acks []ackRecord) {
	if len(acks) == 0 {
		return
	}
	prevMax := h.maxAcked
	first := acks[0]
	for _, a := range acks {
		if a.index < first.index {
			first = a
		}
		h.stats.acked++
		h.stats.ackedByKind[a.kind]++
		if o, dup := h.owners[a.index]; dup {
			h.violation("index %d reused (I-1): acknowledged to %s, and earlier used by %s", a.index, a, o)
		} else {
			h.owners[a.index] = "acknowledged " + a.String()
		}
		h.maxAcked = max(h.maxAcked, a.index)
	}
	if first.index <= prevMax || first.index <= h.lastIndex {
		h.violation("cycle %d: first acknowledged write %s is not above every earlier index (highest acknowledged before: %d, index after the restart: %d)",
			cycle, first, prevMax, h.lastIndex)
	}
	// I-2 across writers: a write that returned before another was sent has
	// the smaller index.
	byRecv := append([]ackRecord(nil), acks...)
	sort.Slice(byRecv, func(i, j int) bool { return byRecv[i].recv.Before(byRecv[j].recv) })
	bySent := append([]ackRecord(nil), acks...)
	sort.Slice(bySent, func(i, j int) bool { return bySent[i].sent.Before(bySent[j].sent) })
	var best *ackRecord
	j := 0
	reported := 0
	for i := range bySent {
		b := &bySent[i]
		for j < len(byRecv) && byRecv[j].recv.Before(b.sent) {
			if best == nil || byRecv[j].index > best.index {
				best = &byRecv[j]
			}
			j++
		}
		if best != nil && best.index >= b.index && reported < 5 {
			reported++
			h.violation("cycle %d: %s returned before %s was sent, but its index is not smaller (I-2)", cycle, best, b)
		}
	}
	h.allAcks = append(h.allAcks, acks...)
	h.cycleAcked = len(acks)
}

// tree reads /crash recursively and returns its leaves and X-Etcd-Index.
func readTree(hc *http.Client, base string, quorum bool) (map[string]*v2Node, uint64, error) {
	u := base + "/v2/keys" + keyRoot + "?recursive=true"
	if quorum {
		u += "&quorum=true"
	}
	resp, err := hc.Get(u)
	if err != nil {
		return nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, 0, err
	}
	idx, ok := etcdIndex(resp.Header)
	if !ok {
		return nil, 0, fmt.Errorf("GET %s: HTTP %d without X-Etcd-Index: %s", u, resp.StatusCode, short(body))
	}
	leaves := map[string]*v2Node{}
	switch resp.StatusCode {
	case http.StatusOK:
		var ev v2Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.Node == nil {
			return nil, 0, fmt.Errorf("GET %s: bad body: %v: %s", u, err, short(body))
		}
		var walk func(n *v2Node)
		walk = func(n *v2Node) {
			if !n.Dir {
				leaves[n.Key] = n
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		}
		walk(ev.Node)
	case http.StatusNotFound:
		var e v2Error
		if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != 100 {
			return nil, 0, fmt.Errorf("GET %s: HTTP 404 but not errorCode 100: %s", u, short(body))
		}
	default:
		return nil, 0, fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, short(body))
	}
	return leaves, idx, nil
}

func sameLeaves(a, b map[string]*v2Node) string {
	for k, x := range a {
		y := b[k]
		if y == nil {
			return fmt.Sprintf("%s only in the default read", k)
		}
		if x.value() != y.value() || x.ModifiedIndex != y.ModifiedIndex || x.CreatedIndex != y.CreatedIndex {
			return fmt.Sprintf("%s: default read value %q mod %d, quorum read value %q mod %d", k, x.value(), x.ModifiedIndex, y.value(), y.ModifiedIndex)
		}
	}
	for k := range b {
		if a[k] == nil {
			return fmt.Sprintf("%s only in the quorum read", k)
		}
	}
	return ""
}

// verifyAfterStart checks the restarted member against the model, resolves
// every pending op, and checks the indexes. cycle is the cycle whose kill
// preceded this start (0 for the first start); acked its acknowledged writes.
func (h *harness) verifyAfterStart(p *proc, cycle int, acked int) {
	t := h.t
	hc := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()

	// A default read first: a restarted member must not serve stale data
	// (C-R4); then a quorum read (D-2), which must agree.
	leaves, idx, err := readTree(hc, p.url, false)
	if err != nil {
		t.Fatalf("after restart %d: %v\n--- hecd log ---\n%s", cycle, err, readLog(p.logPath, 40))
	}
	qLeaves, qIdx, err := readTree(hc, p.url, true)
	if err != nil {
		t.Fatalf("after restart %d: quorum read: %v\n--- hecd log ---\n%s", cycle, err, readLog(p.logPath, 40))
	}
	if qIdx != idx {
		h.violation("after restart %d: default read at X-Etcd-Index %d, quorum read at %d, with no writes in between", cycle, idx, qIdx)
	}
	if d := sameLeaves(leaves, qLeaves); d != "" {
		h.violation("after restart %d: default and quorum reads differ: %s", cycle, d)
	}

	base := h.lastIndex // index when this cycle's workload started
	if cycle > 0 && idx < h.maxAcked {
		h.violation("after restart %d: X-Etcd-Index %d is below the highest acknowledged index %d", cycle, idx, h.maxAcked)
	}
	// inRange: an unacknowledged op of this cycle that took effect has an
	// index after the cycle started and before the restart's own.
	inRange := func(mod uint64) bool { return cycle > 0 && mod > base && mod < idx }

	applied, atKApplied, atKNot, x5App := 0, 0, 0, 0
	count := func(op pendingOp, app bool) {
		switch {
		case op.atK && app:
			atKApplied++
		case op.atK:
			atKNot++
		case app:
			x5App++
		}
		if app {
			applied++
		}
	}
	claimIndex := func(mod uint64, what string) {
		if o, dup := h.owners[mod]; dup {
			h.violation("after restart %d: %s took effect at index %d, which was also used by %s (I-1)", cycle, what, mod, o)
			return
		}
		h.owners[mod] = what
	}
	seen := map[string]bool{}
	for _, w := range h.writers {
		for key, km := range w.keys {
			obs := leaves[key]
			seen[key] = true
			// Candidate states: the known one, then after each pending op.
			matched := -1
			cand := km.st
			if stateMatches(cand, obs) {
				matched = 0
			}
			for i, op := range km.pend {
				var ok bool
				switch op.kind {
				case opSet:
					ok = obs != nil && obs.value() == op.value && obs.CreatedIndex == obs.ModifiedIndex && inRange(obs.ModifiedIndex)
				case opCAS:
					ok = obs != nil && obs.value() == op.value && inRange(obs.ModifiedIndex) &&
						(!cand.exists || cand.created == 0 || obs.CreatedIndex == cand.created)
				case opDelete:
					ok = obs == nil
				}
				cand = keyState{exists: op.kind != opDelete, value: op.value, created: cand.created}
				if op.kind == opSet {
					cand.created = 0 // unknown
				}
				if ok {
					matched = i + 1
				}
			}
			if matched < 0 {
				var pend []string
				for _, op := range km.pend {
					pend = append(pend, op.String())
				}
				what := "acknowledged write lost or changed"
				if !km.st.exists {
					what = "deleted key came back"
				}
				if len(pend) > 0 {
					what += " (no unacknowledged write explains it either)"
				}
				h.violation("after restart %d: %s: %s is %s, want %s; unacknowledged ops since: %v", cycle, what, key, describeObs(obs), km.st, pend)
			}
			for i, op := range km.pend {
				app := i < matched
				count(op, app)
				if app && op.kind != opDelete && i == matched-1 && obs != nil {
					claimIndex(obs.ModifiedIndex, fmt.Sprintf("unacknowledged %s", op))
				}
			}
			// From now on the key is what the member says it is.
			if obs != nil {
				by := km.st.by
				if matched != 0 {
					by = fmt.Sprintf("observed after restart %d", cycle)
				}
				km.st = keyState{exists: true, value: obs.value(), mod: obs.ModifiedIndex, created: obs.CreatedIndex, by: by}
			} else if km.st.exists {
				km.st = keyState{by: fmt.Sprintf("found absent after restart %d", cycle)}
			}
			km.pend = nil
		}
		// Unacknowledged POSTs: their key is whatever new leaf holds the value.
		byValue := map[string]*v2Node{}
		for key, n := range leaves {
			if !seen[key] && strings.HasPrefix(key, w.dir+"/") {
				byValue[n.value()] = n
			}
		}
		for _, op := range w.posts {
			n := byValue[op.value]
			app := n != nil && strings.HasPrefix(n.Key, op.key+"/") && n.CreatedIndex == n.ModifiedIndex && inRange(n.ModifiedIndex)
			count(op, app)
			if app {
				seen[n.Key] = true
				claimIndex(n.ModifiedIndex, fmt.Sprintf("unacknowledged %s", op))
				w.keys[n.Key] = &keyModel{st: keyState{exists: true, value: n.value(), mod: n.ModifiedIndex, created: n.CreatedIndex,
					by: fmt.Sprintf("unacknowledged POST of cycle %d, found after restart %d", op.cycle, cycle)}}
			}
		}
		w.posts = nil
		// Rebuild the live list from the resolved model.
		w.live, w.livePos = nil, map[string]int{}
		for key, km := range w.keys {
			if km.st.exists {
				w.addLive(key)
			}
		}
	}
	for key, n := range leaves {
		if !seen[key] {
			h.violation("after restart %d: unexpected key %s (value %q, mod %d) that no write of this test explains", cycle, key, n.value(), n.ModifiedIndex)
		}
	}
	h.stats.inflightApp += atKApplied
	h.stats.inflightNotApp += atKNot
	h.stats.indet5xxApp += x5App

	if cycle > 0 {
		// Index accounting: nothing but this cycle's applied writes and the
		// restart itself advanced the index.
		want := base + uint64(acked) + uint64(applied) + 1
		if idx != want {
			h.violation("after restart %d: X-Etcd-Index %d, want %d = %d (index when the cycle began) + %d acknowledged + %d unacknowledged but applied + 1 (restart)",
				cycle, idx, want, base, acked, applied)
		}
	}
	if o, dup := h.owners[idx]; dup {
		h.violation("after restart %d: the restart's own index %d was already used by %s", cycle, idx, o)
	} else {
		h.owners[idx] = fmt.Sprintf("member start after cycle %d", cycle)
	}
	h.lastIndex = idx
	if cycle > 0 {
		h.checkWatches(p, cycle, idx)
	}
}

func stateMatches(s keyState, obs *v2Node) bool {
	if !s.exists {
		return obs == nil
	}
	return obs != nil && obs.value() == s.value && obs.ModifiedIndex == s.mod && obs.CreatedIndex == s.created
}

func describeObs(n *v2Node) string {
	if n == nil {
		return "absent"
	}
	return fmt.Sprintf("value %q mod %d created %d", n.value(), n.ModifiedIndex, n.CreatedIndex)
}

// checkWatches asks for a sample of acknowledged events that are still in
// the event history, by exact index.
func (h *harness) checkWatches(p *proc, cycle int, current uint64) {
	var lowest uint64
	if current > historyWindow-1 {
		lowest = current - (historyWindow - 1)
	}
	// Every index of a cycle is above every index of the cycles before
	// (checked in checkAcks), so once a cycle has a write that is out of
	// the window, all earlier cycles are out too.
	var eligible []ackRecord
	stopBelow := 0
	for i := len(h.allAcks) - 1; i >= 0; i-- {
		a := h.allAcks[i]
		if a.cycle < stopBelow {
			break
		}
		if a.index > lowest {
			eligible = append(eligible, a)
		} else {
			stopBelow = a.cycle
		}
	}
	h.rng.Shuffle(len(eligible), func(i, j int) { eligible[i], eligible[j] = eligible[j], eligible[i] })
	if len(eligible) > watchSamples {
		eligible = eligible[:watchSamples]
	}
	hc := &http.Client{Timeout: watchTimeout, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	for _, a := range eligible {
		h.stats.watchChecks++
		u := fmt.Sprintf("%s/v2/keys%s?wait=true&waitIndex=%d", p.url, a.key, a.index)
		resp, err := hc.Get(u)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				h.violation("after restart %d: watch for %s did not return within %v: the event is missing from the history (current index %d)", cycle, a, watchTimeout, current)
			} else {
				h.violation("after restart %d: watch for %s: %v", cycle, a, err)
			}
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			h.violation("after restart %d: watch for %s: reading: %v", cycle, a, err)
			continue
		}
		var ev v2Event
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ev) != nil || ev.Node == nil {
			h.violation("after restart %d: watch for %s (current index %d): HTTP %d %s", cycle, a, current, resp.StatusCode, short(body))
			continue
		}
		n := ev.Node
		if ev.Action != a.kind.action() || n.Key != a.key || n.ModifiedIndex != a.index || (a.kind != opDelete && n.value() != a.value) {
			h.violation("after restart %d: watch for %s returned %s %s value %q at index %d", cycle, a, ev.Action, n.Key, n.value(), n.ModifiedIndex)
		}
	}
}

func (h *harness) logSummary(completed int, set settings, elapsed time.Duration, cycleDur, restartDur []time.Duration) {
	s := h.stats
	avg := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return sum / time.Duration(len(ds))
	}
	minD := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		m := ds[0]
		for _, d := range ds {
			m = min(m, d)
		}
		return m
	}
	snap := "hecd default"
	if set.snapshotCount != "" {
		snap = set.snapshotCount
	}
	h.t.Logf(`summary (seed %d, snapshot count %s):
  cycles completed:            %d of %d requested, in %v
  acknowledged writes:         %d (set %d, compareAndSwap %d, create(POST) %d, delete %d)
  in flight at a kill:         %d (at most %d in one kill): applied %d, not applied %d
  5xx (indeterminate) answers: %d, applied %d
  watch checks by index:       %d
  last etcd index:             %d
  restart (start to healthy):  min %v, avg %v, max %v
  whole cycle:                 avg %v, max %v
  violations:                  %d`,
		set.seed, snap,
		completed, set.cycles, elapsed.Round(time.Millisecond),
		s.acked, s.ackedByKind[opSet], s.ackedByKind[opCAS], s.ackedByKind[opPost], s.ackedByKind[opDelete],
		s.inflight, s.maxInflight, s.inflightApp, s.inflightNotApp,
		s.indet5xx, s.indet5xxApp,
		s.watchChecks,
		h.lastIndex,
		minD(restartDur).Round(time.Millisecond), avg(restartDur).Round(time.Millisecond), maxDur(restartDur).Round(time.Millisecond),
		avg(cycleDur).Round(time.Millisecond), maxDur(cycleDur).Round(time.Millisecond),
		h.violations)
}

package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hecd/internal/proxy/proxytest"
)

// ---- helpers ----

// step is one applied check result with the state right after it.
type step struct {
	res  CheckResult
	snap HealthSnapshot
}

// withResults sends every applied result to the returned channel.
func withResults() (CheckOption, chan step) {
	ch := make(chan step, 1000)
	return func(o *checkOptions) {
		o.result = func(r CheckResult, s HealthSnapshot) { ch <- step{r, s} }
	}, ch
}

func next(t *testing.T, ch chan step) step {
	t.Helper()
	select {
	case st := <-ch:
		return st
	case <-time.After(5 * time.Second):
		t.Fatal("no check result within 5s")
	}
	return step{}
}

// nextWith skips results until one with status want.
func nextWith(t *testing.T, ch chan step, want CheckStatus) step {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-ch:
			if st.res.Status == want {
				return st
			}
		case <-deadline:
			t.Fatalf("no %s result within 5s", want)
		}
	}
}

// logRecorder keeps the messages logged through it.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	lvls  []slog.Level
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Message)
	r.lvls = append(r.lvls, rec.Level)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func newRecorder() (*logRecorder, CheckOption) {
	r := &logRecorder{}
	return r, WithLogger(slog.New(r))
}

// acceptor is a real listener on 127.0.0.1 that accepts and closes
// connections, counting them.
type acceptor struct {
	laddr string
	count atomic.Int64
}

func listenAcceptor(t *testing.T, addr string) *acceptor {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	a := &acceptor{}
	a.laddr = proxytest.Serve(t, ln, func(c net.Conn) {
		a.count.Add(1)
		c.Close()
	})
	return a
}

func (a *acceptor) addr() string { return a.laddr }

// httpServer answers each connection with handle's bytes.
func httpServer(t *testing.T, handle func(req string, c net.Conn)) string {
	t.Helper()
	return proxytest.ServeLoopback(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		var req strings.Builder
		for {
			line, err := br.ReadString('\n')
			req.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		handle(req.String(), c)
	})
}

func fastCfg() CheckConfig {
	// Timeouts stay generous: a loaded machine can take long to connect even
	// on loopback, and only the timeout tests want timeouts.
	return CheckConfig{Enabled: true, Inter: 20 * time.Millisecond, Timeout: 3 * time.Second, Rise: 2, Fall: 1}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	proxytest.WaitFor(t, 5*time.Second, what, cond)
}

// ---- the counter algorithm alone ----

func TestNextHealthSequences(t *testing.T) {
	// Each case: rise, fall, start h, results (S pass, F fail), expected h
	// after each result.
	cases := []struct {
		name       string
		rise, fall int
		start      int
		results    string
		want       []int
	}{
		{"legacy initial up: first failure is DOWN", 2, 1, 2, "F", []int{0}},
		{"legacy: two successes to come UP", 2, 1, 0, "SSF", []int{1, 2, 0}},
		{"legacy: a failure between successes restarts", 2, 1, 0, "SFSS", []int{1, 0, 1, 2}},
		{"fall 3 initial up: first failure still DOWN", 2, 3, 2, "F", []int{0}},
		{"fall 3 after a success needs 3 failures", 2, 3, 2, "SFFF", []int{4, 3, 2, 0}},
		{"fall 3 success in between goes back to top", 2, 3, 4, "FFSF", []int{3, 2, 4, 3}},
		{"top is sticky on success", 2, 3, 4, "SS", []int{4, 4}},
		{"bottom is sticky on failure", 3, 2, 0, "FF", []int{0, 0}},
		{"rise 3 fall 2 from 0", 3, 2, 0, "SSSFF", []int{1, 2, 4, 3, 0}},
		{"rise 3: failure while going up drops to 0", 3, 2, 2, "F", []int{0}},
		{"rise 1 fall 1", 1, 1, 0, "SFS", []int{1, 0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.start
			var got []int
			for _, r := range c.results {
				h = nextHealth(h, c.rise, c.fall, r == 'S')
				got = append(got, h)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("h sequence %v, want %v", got, c.want)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	chk := func(up bool, h, rise, fall int) statusInput {
		return statusInput{checking: true, up: up, h: h, rise: rise, fall: fall}
	}
	cases := []struct {
		in   statusInput
		want string
	}{
		{chk(true, 2, 2, 1), "UP"},
		{chk(true, 4, 2, 3), "UP"},
		{chk(true, 3, 2, 3), "UP 2/3"},
		{chk(true, 2, 2, 3), "UP 1/3"},
		{chk(false, 0, 2, 1), "DOWN"},
		{chk(false, 1, 2, 1), "DOWN 1/2"},
		{chk(false, 2, 3, 2), "DOWN 2/3"},
		{statusInput{checking: true, up: true, nolb: true, h: 4, rise: 2, fall: 3}, "NOLB"},
		{statusInput{checking: true, up: true, nolb: true, h: 3, rise: 2, fall: 3}, "NOLB 2/3"},
		{statusInput{checking: true, up: true, drain: true, h: 4, rise: 2, fall: 3}, "DRAIN"},
		{statusInput{checking: true, up: true, drain: true, h: 2, rise: 2, fall: 3}, "DRAIN 1/3"},
		{statusInput{checking: true, up: false, drain: true, h: 0, rise: 2, fall: 3}, "DOWN"},
		{statusInput{maint: true, checking: true, up: true, h: 4, rise: 2, fall: 3}, "MAINT"},
		{statusInput{maint: true, up: false}, "MAINT"},
		{statusInput{up: true}, "no check"},
		{statusInput{up: true, drain: true}, "DRAIN"},
		{statusInput{up: true, nolb: true}, "NOLB"},
		{statusInput{up: false}, "DOWN"},
	}
	for _, c := range cases {
		if got := statusText(c.in); got != c.want {
			t.Errorf("statusText(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// ---- status strings through a sequence of results (no network) ----

func TestStatusThroughResults(t *testing.T) {
	s := NewServer("app1", "127.0.0.1:1")
	cfg := CheckConfig{Enabled: true, Inter: time.Hour, Rise: 2, Fall: 3}
	if _, run, err := s.setupChecks(cfg, []CheckOption{WithLogger(slog.New(&logRecorder{}))}); err != nil || !run {
		t.Fatalf("setupChecks: run=%v err=%v", run, err)
	}
	snap := s.HealthSnapshot()
	if snap.Status != "UP 1/3" || snap.CheckStatus != "INI" || snap.Health != 2 || !s.Usable() || snap.HasDuration {
		t.Fatalf("initial: %+v usable=%v", snap, s.Usable())
	}
	ok := CheckResult{Status: CheckL4OK, Duration: time.Millisecond}
	con := CheckResult{Status: CheckL4CON, Info: "Connection refused"}
	steps := []struct {
		res              CheckResult
		status, check    string
		h                int
		usable           bool
		chkfail, chkdown int64
	}{
		{ok, "UP", "L4OK", 4, true, 0, 0},
		{con, "UP 2/3", "L4CON", 3, true, 1, 0},
		{con, "UP 1/3", "L4CON", 2, true, 2, 0},
		{ok, "UP", "L4OK", 4, true, 2, 0},
		{con, "UP 2/3", "L4CON", 3, true, 3, 0},
		{con, "UP 1/3", "L4CON", 2, true, 4, 0},
		{con, "DOWN", "L4CON", 0, false, 5, 1},
		{con, "DOWN", "L4CON", 0, false, 5, 1}, // no counter change, not counted
		{ok, "DOWN 1/2", "L4OK", 1, false, 5, 1},
		{con, "DOWN", "L4CON", 0, false, 6, 1},
		{ok, "DOWN 1/2", "L4OK", 1, false, 6, 1},
		{ok, "UP", "L4OK", 4, true, 6, 1},
		{CheckResult{Status: CheckL7STS, Code: 503, Info: "Service Unavailable"}, "UP 2/3", "L7STS", 3, true, 7, 1},
	}
	for i, st := range steps {
		s.finishCheck(st.res)
		snap := s.HealthSnapshot()
		if snap.Status != st.status || snap.CheckStatus != st.check || snap.Health != st.h ||
			s.Usable() != st.usable || snap.ChkFail != st.chkfail || snap.ChkDown != st.chkdown {
			t.Fatalf("step %d (%s): status=%q check=%q h=%d usable=%v chkfail=%d chkdown=%d; want %q %q %d %v %d %d",
				i, st.res.Status, snap.Status, snap.CheckStatus, snap.Health, s.Usable(), snap.ChkFail, snap.ChkDown,
				st.status, st.check, st.h, st.usable, st.chkfail, st.chkdown)
		}
	}
	snap = s.HealthSnapshot()
	if !snap.HasCode || snap.CheckCode != 503 || snap.CheckDesc != "Layer7 wrong status" || snap.LastChk != "Service Unavailable" {
		t.Fatalf("L7 columns: %+v", snap)
	}
	// Admin states over the same counter (h = 3, going down).
	s.SetAdmin(Drain)
	if got := s.HealthSnapshot().Status; got != "DRAIN 2/3" {
		t.Fatalf("drain: %q", got)
	}
	s.SetAdmin(Ready)
	s.SetWeight(0)
	if got := s.HealthSnapshot().Status; got != "DRAIN 2/3" {
		t.Fatalf("weight 0: %q", got)
	}
	s.SetWeight(1)
	s.SetAdmin(Maint)
	snap = s.HealthSnapshot()
	if snap.Status != "MAINT" || snap.CheckShown || !snap.CheckEnabled {
		t.Fatalf("maint: %+v", snap)
	}
	// The check running is shown with "* ".
	s.SetAdmin(Ready)
	if !s.beginCheck() {
		t.Fatal("beginCheck refused a ready server")
	}
	if got := s.HealthSnapshot().CheckStatus; got != "* L7STS" {
		t.Fatalf("running check status %q, want \"* L7STS\"", got)
	}
}

func TestNoCheckServer(t *testing.T) {
	s := NewServer("app1", "127.0.0.1:1")
	snap := s.HealthSnapshot()
	if snap.Status != "no check" || snap.CheckEnabled || snap.CheckStatus != "" || !s.Usable() {
		t.Fatalf("%+v", snap)
	}
	if err := s.StartChecks(CheckConfig{}, WithLogger(slog.New(&logRecorder{}))); err != nil {
		t.Fatal(err)
	}
	if s.HealthAction("dhlth") || s.HealthAction("ehlth") {
		t.Fatal("dhlth/ehlth applied to a server without checks")
	}
	// hdown/hrunn apply to any server, as in HAProxy.
	if !s.HealthAction("hdown") || s.Usable() || s.HealthSnapshot().Status != "DOWN" {
		t.Fatalf("hdown: usable=%v %q", s.Usable(), s.HealthSnapshot().Status)
	}
	if !s.HealthAction("hrunn") || !s.Usable() || s.HealthSnapshot().Status != "no check" {
		t.Fatalf("hrunn: usable=%v %q", s.Usable(), s.HealthSnapshot().Status)
	}
	if s.HealthAction("bogus") {
		t.Fatal("unknown action applied")
	}
}

// ---- scenario 3 on real sockets ----

func TestScenario3RefusedDownThenUpAfterTwoSuccesses(t *testing.T) {
	addr := proxytest.ClosedAddr(t)
	rec, logOpt := newRecorder()
	res, results := withResults()
	var transitions []Transition
	var tmu sync.Mutex
	hook := OnTransition(func(tr Transition) { tmu.Lock(); transitions = append(transitions, tr); tmu.Unlock() })
	s := NewServer("app1", addr)
	if err := s.StartChecks(fastCfg(), Immediate(), logOpt, res, hook); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	st := next(t, results)
	if st.res.Status != CheckL4CON || st.res.Info != "Connection refused" || st.snap.Status != "DOWN" || s.Usable() {
		t.Fatalf("first check: %+v usable=%v", st, s.Usable())
	}
	if st.snap.ChkFail != 1 || st.snap.ChkDown != 1 || st.snap.CheckDesc != "Layer4 connection problem" || !st.snap.HasDuration {
		t.Fatalf("counters: %+v", st.snap)
	}
	downLine := regexp.MustCompile(`^Server app1/app1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms\. 0 active and 0 backup servers left\.$`)
	if lines := rec.all(); len(lines) != 1 || !downLine.MatchString(lines[0]) {
		t.Fatalf("log lines %q", lines)
	}
	if b := NewBackend("app1", s); b.Pick(nil) != nil {
		t.Fatal("a DOWN server was picked")
	}

	// The server comes up: one success is not enough, two are.
	listenAcceptor(t, addr)
	st = nextWith(t, results, CheckL4OK)
	if st.snap.Status != "DOWN 1/2" || s.Usable() {
		t.Fatalf("after one success: %q usable=%v", st.snap.Status, s.Usable())
	}
	st = next(t, results)
	if st.res.Status != CheckL4OK || st.snap.Status != "UP" || !s.Usable() {
		t.Fatalf("after two successes: %+v usable=%v", st, s.Usable())
	}
	upLine := regexp.MustCompile(`^Server app1/app1 is UP, reason: Layer4 check passed, check duration: \d+ms\. 1 active and 0 backup servers online\.$`)
	lines := rec.all()
	if len(lines) != 2 || !upLine.MatchString(lines[1]) {
		t.Fatalf("log lines %q", lines)
	}
	tmu.Lock()
	defer tmu.Unlock()
	if len(transitions) != 2 || transitions[0].Status != "DOWN" || transitions[0].Usable ||
		transitions[1].Prev != "DOWN 1/2" || transitions[1].Status != "UP" || !transitions[1].Usable ||
		transitions[1].Cause != CauseCheck || transitions[1].Check == nil || transitions[1].Message != lines[1] {
		t.Fatalf("transitions %+v", transitions)
	}
}

func TestScenario3InitialUpTakesTrafficAndFallsOnFirstFailure(t *testing.T) {
	// fall 3 to show that the first failure brings it down whatever fall
	// says; inter long so that the first check comes after the
	// assertions on the unchecked state.
	cfg := CheckConfig{Enabled: true, Inter: 300 * time.Millisecond, Timeout: 3 * time.Second, Rise: 2, Fall: 3}
	s := NewServer("app1", proxytest.ClosedAddr(t))
	res, results := withResults()
	_, logOpt := newRecorder()
	if err := s.StartChecks(cfg, res, logOpt); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	b := NewBackend("app1", s)
	if !s.Usable() || b.Pick(nil) != s {
		t.Fatal("new server with initial_state up takes no traffic")
	}
	if snap := s.HealthSnapshot(); snap.Status != "UP 1/3" || snap.CheckStatus != "INI" && snap.CheckStatus != "* INI" {
		t.Fatalf("before the first check: %+v", snap)
	}
	st := next(t, results)
	if st.res.Status != CheckL4CON || st.snap.Status != "DOWN" || s.Usable() || b.Pick(nil) != nil {
		t.Fatalf("after the first failure: %+v usable=%v", st, s.Usable())
	}
}

func TestScenario3InitialDownNoTrafficUntilRise(t *testing.T) {
	a := listenAcceptor(t, "")
	cfg := fastCfg()
	cfg.InitialState = InitialDown
	s := NewServer("app1", a.addr())
	res, results := withResults()
	rec, logOpt := newRecorder()
	if err := s.StartChecks(cfg, res, logOpt, Immediate()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	b := NewBackend("app1", s)
	if s.Usable() || b.Pick(nil) != nil {
		t.Fatal("initial_state down server usable before any check")
	}
	st := next(t, results)
	if st.res.Status != CheckL4OK || st.snap.Status != "DOWN 1/2" || s.Usable() {
		t.Fatalf("after one success: %+v usable=%v", st, s.Usable())
	}
	st = next(t, results)
	if st.snap.Status != "UP" || !s.Usable() || b.Pick(nil) != s {
		t.Fatalf("after two successes: %+v", st)
	}
	if lines := rec.all(); len(lines) != 1 || !strings.HasPrefix(lines[0], "Server app1/app1 is UP, reason: Layer4 check passed") {
		t.Fatalf("log lines %q (the initial DOWN is not a transition)", lines)
	}
}

func TestStaggeredFirstChecks(t *testing.T) {
	a := listenAcceptor(t, "")
	inter := 200 * time.Millisecond
	res, results := withResults()
	start := time.Now()
	var servers []*Server
	for i := range 8 {
		s := NewServer(fmt.Sprintf("s%d", i), a.addr())
		cfg := CheckConfig{Enabled: true, Inter: inter, Timeout: 3 * time.Second}
		if err := s.StartChecks(cfg, res, WithLogger(slog.New(&logRecorder{}))); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	var first, last time.Duration
	for i := range 8 {
		_ = next(t, results)
		at := time.Since(start)
		if i == 0 {
			first = at
		}
		last = at
	}
	for _, s := range servers {
		s.Stop()
	}
	// Eight offsets drawn in [0, 200ms) are not all within 10ms; all
	// came within one interval (plus scheduling slack).
	if last > inter+time.Second {
		t.Fatalf("first checks took %v, want within inter", last)
	}
	if last-first < 10*time.Millisecond {
		t.Fatalf("first checks not spread: %v..%v", first, last)
	}
}

// ---- check kinds ----

func TestL4ConVsL4TimeoutVsSockErr(t *testing.T) {
	cfg := CheckConfig{Inter: time.Second, Timeout: 3 * time.Second}.WithDefaults()
	var d net.Dialer
	r := runCheck(context.Background(), cfg, proxytest.ClosedAddr(t), d.DialContext)
	if r.Status != CheckL4CON || r.Info != "Connection refused" {
		t.Fatalf("refused: %+v", r)
	}
	r = runCheck(context.Background(), cfg, "127.0.0.1:99999", d.DialContext)
	if r.Status != CheckSOCKERR {
		t.Fatalf("bad port: %+v", r)
	}
	a := listenAcceptor(t, "")
	r = runCheck(context.Background(), cfg, a.addr(), d.DialContext)
	if r.Status != CheckL4OK || r.Duration < 0 {
		t.Fatalf("open: %+v", r)
	}

	cfg.Timeout = 300 * time.Millisecond
	t.Run("full backlog", func(t *testing.T) {
		addr := fullBacklog(t)
		start := time.Now()
		r := runCheck(context.Background(), cfg, addr, d.DialContext)
		if r.Status != CheckL4TOUT || r.Info != "" {
			t.Fatalf("full backlog: %+v", r)
		}
		if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
			t.Fatalf("timeout after %v, want about %v", el, cfg.Timeout)
		}
		if r.Duration < 250*time.Millisecond {
			t.Fatalf("duration %v", r.Duration)
		}
		line := transitionMessage("bk", "s1", "DOWN", &r, "", 0, true)
		if !regexp.MustCompile(`^Server bk/s1 is DOWN, reason: Layer4 timeout, check duration: \d+ms\. 0 active and 0 backup servers left\.$`).MatchString(line) {
			t.Fatalf("line %q", line)
		}
	})

	t.Run("dial hook timeout", func(t *testing.T) {
		// The same classification with a dialer that never connects.
		block := func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		r := runCheck(context.Background(), cfg, "127.0.0.1:1", block)
		if r.Status != CheckL4TOUT {
			t.Fatalf("%+v", r)
		}
	})
}

// fullBacklog returns the address of a listener whose accept queue is
// full: it never accepts and its backlog is cut to 0, so once a
// connection or two wait, Linux drops further SYNs and connects time out.
func fullBacklog(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux dropping SYNs to a full accept queue")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), 0) }); err != nil || lerr != nil {
		t.Skipf("cannot shrink the backlog: %v %v", err, lerr)
	}
	addr := ln.Addr().String()
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill the accept queue")
	return ""
}

func TestHTTPChecks(t *testing.T) {
	var gotReq atomic.Value
	reply := func(status string) func(string, net.Conn) {
		return func(req string, c net.Conn) {
			gotReq.Store(req)
			io.WriteString(c, "HTTP/1.1 "+status+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		}
	}
	ok200 := httpServer(t, reply("200 OK"))
	err500 := httpServer(t, reply("500 Internal Server Error"))
	redirect := httpServer(t, reply("302 Found"))
	garbage := httpServer(t, func(_ string, c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n") })
	silent := httpServer(t, func(_ string, c net.Conn) {})
	slow := httpServer(t, func(_ string, c net.Conn) { time.Sleep(2 * time.Second) })

	cfg := CheckConfig{Inter: time.Second, Timeout: 3 * time.Second, Type: CheckHTTP, HTTPMethod: "GET", HTTPPath: "/health"}.WithDefaults()
	var d net.Dialer
	cases := []struct {
		name, addr string
		expect     []int
		status     CheckStatus
		code       int
		info       string
	}{
		{"200", ok200, nil, CheckL7OK, 200, "OK"},
		{"302 is a pass by default", redirect, nil, CheckL7OK, 302, "Found"},
		{"500", err500, nil, CheckL7STS, 500, "Internal Server Error"},
		{"200 not in the expect list", ok200, []int{204}, CheckL7STS, 200, "OK"},
		{"500 in the expect list", err500, []int{500}, CheckL7OK, 500, "Internal Server Error"},
		{"garbage", garbage, nil, CheckL7RSP, 0, ""},
		{"closed without answer", silent, nil, CheckL7RSP, 0, "Connection closed without a complete response"},
		{"slow", slow, nil, CheckL7TOUT, 0, ""},
		{"refused", proxytest.ClosedAddr(t), nil, CheckL4CON, 0, "Connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := cfg
			cfg.HTTPExpect = c.expect
			if c.status == CheckL7TOUT {
				cfg.Timeout = 300 * time.Millisecond
			}
			r := runCheck(context.Background(), cfg, c.addr, d.DialContext)
			if r.Status != c.status || r.Code != c.code || (c.info != "" && r.Info != c.info) {
				t.Fatalf("got %+v, want %s %d %q", r, c.status, c.code, c.info)
			}
			if c.status == CheckL7RSP && r.Info == "" {
				t.Fatal("L7RSP without info")
			}
		})
	}
	req, _ := gotReq.Load().(string)
	if !strings.HasPrefix(req, "GET /health HTTP/1.0\r\n") || !strings.Contains(req, "\r\nHost: 127.0.0.1:") {
		t.Fatalf("request %q", req)
	}
	line := transitionMessage("bk", "s1", "DOWN", &CheckResult{Status: CheckL7STS, Code: 500, Info: "Internal Server Error", Duration: 3 * time.Millisecond}, "", 0, true)
	if want := `Server bk/s1 is DOWN, reason: Layer7 wrong status, code: 500, info: "Internal Server Error", check duration: 3ms. 0 active and 0 backup servers left.`; line != want {
		t.Fatalf("line\n%s\nwant\n%s", line, want)
	}
}

func TestHTTPCheckDefaultRequest(t *testing.T) {
	got := make(chan string, 1)
	addr := httpServer(t, func(req string, c net.Conn) {
		got <- req
		io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n")
	})
	s := NewServer("app1", addr)
	res, results := withResults()
	if err := s.StartChecks(CheckConfig{Enabled: true, Type: CheckHTTP, Inter: time.Hour}, Immediate(), res, WithLogger(slog.New(&logRecorder{}))); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	st := next(t, results)
	if st.res.Status != CheckL7OK || st.snap.CheckStatus != "L7OK" || st.snap.CheckCode != 200 || !st.snap.HasCode {
		t.Fatalf("%+v", st)
	}
	if req := <-got; !strings.HasPrefix(req, "OPTIONS / HTTP/1.0\r\n") {
		t.Fatalf("default request %q, want HAProxy's OPTIONS / HTTP/1.0", req)
	}
}

func TestMessageFormat(t *testing.T) {
	r := &CheckResult{Status: CheckL4CON, Info: "Connection refused", Duration: 0}
	got := transitionMessage("app1", "app1", "DOWN", r, "", 0, true)
	want := `Server app1/app1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left.`
	if got != want {
		t.Fatalf("\n%s\nwant\n%s", got, want)
	}
	got = transitionMessage("default_backend", "web1", "UP", &CheckResult{Status: CheckL7OK, Code: 200, Info: "OK", Duration: 12 * time.Millisecond}, "", 3, false)
	want = `Server default_backend/web1 is UP, reason: Layer7 check passed, code: 200, info: "OK", check duration: 12ms. 3 active and 0 backup servers online.`
	if got != want {
		t.Fatalf("\n%s\nwant\n%s", got, want)
	}
	got = transitionMessage("b", "s", "DOWN", nil, "changed from Web interface", 0, true)
	if want := "Server b/s is DOWN, changed from Web interface. 0 active and 0 backup servers left."; got != want {
		t.Fatalf("%q", got)
	}
	// Info is kept on one line with its quotes intact.
	got = transitionMessage("b", "s", "DOWN", &CheckResult{Status: CheckL7RSP, Info: "bad \"x\"\r\n<y>", Duration: -1}, "", 0, true)
	if want := `Server b/s is DOWN, reason: Layer7 invalid response, info: "bad <22>x<22><0D><0A><3C>y<3E>". 0 active and 0 backup servers left.`; got != want {
		t.Fatalf("%q", got)
	}
}

// ---- scheduling: MAINT, limiter, Stop ----

func TestMaintIsNotChecked(t *testing.T) {
	a := listenAcceptor(t, "")
	s := NewServer("app1", a.addr())
	rec, logOpt := newRecorder()
	// In MAINT before its checker starts (an admin state restored from
	// the store); that line goes to the options' logger given here.
	logOpt(&s.health.opts)
	s.SetAdmin(Maint)
	res, results := withResults()
	if err := s.StartChecks(fastCfg(), Immediate(), logOpt, res); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	time.Sleep(150 * time.Millisecond) // 7 intervals
	if n := a.count.Load(); n != 0 {
		t.Fatalf("server in MAINT checked %d times", n)
	}
	if snap := s.HealthSnapshot(); snap.Status != "MAINT" || snap.CheckShown || s.Usable() {
		t.Fatalf("%+v usable=%v", snap, s.Usable())
	}
	// Leaving MAINT: start OK (h = rise) and check at once.
	s.SetAdmin(Ready)
	if snap := s.HealthSnapshot(); !s.Usable() || snap.Health != 2 {
		t.Fatalf("after ready: usable=%v %+v", s.Usable(), snap)
	}
	st := next(t, results)
	if st.res.Status != CheckL4OK || st.snap.Status != "UP" {
		t.Fatalf("%+v", st)
	}
	// Back in MAINT, checks stop again.
	s.SetAdmin(Maint)
	time.Sleep(30 * time.Millisecond) // let a check in flight finish
	n := a.count.Load()
	time.Sleep(150 * time.Millisecond)
	if m := a.count.Load(); m != n {
		t.Fatalf("checks went on in MAINT: %d -> %d", n, m)
	}
	lines := rec.all()
	if len(lines) < 3 || lines[0] != "Server app1/app1 is going DOWN for maintenance. 0 active and 0 backup servers left." ||
		lines[1] != "Server app1/app1 is UP (leaving forced maintenance)." ||
		lines[2] != "Server app1/app1 is going DOWN for maintenance. 0 active and 0 backup servers left." {
		t.Fatalf("log lines %q", lines)
	}
	if snap := s.HealthSnapshot(); snap.Downtime <= 0 {
		t.Fatalf("MAINT not counted as downtime: %+v", snap)
	}
}

func TestLimiterBoundsCheckRate(t *testing.T) {
	a := listenAcceptor(t, "")
	lim := NewCheckLimiter(40)
	var servers []*Server
	for i := range 30 {
		s := NewServer(fmt.Sprintf("s%d", i), a.addr())
		cfg := CheckConfig{Enabled: true, Inter: 10 * time.Millisecond, Timeout: 3 * time.Second}
		if err := s.StartChecks(cfg, Immediate(), WithLimiter(lim), WithLogger(slog.New(&logRecorder{}))); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	time.Sleep(500 * time.Millisecond)
	for _, s := range servers {
		s.Stop()
	}
	for _, s := range servers {
		<-s.health.done
	}
	// Unbounded, 30 servers every 10ms would make ~1500 checks; at 40/s
	// at most 20 slots fit in 500ms, plus the first immediate one.
	n := a.count.Load()
	if n > 23 || n < 10 {
		t.Fatalf("%d checks in 500ms with a limit of 40/s", n)
	}
	if NewCheckLimiter(0) != nil {
		t.Fatal("limit 0 must mean no limiter")
	}
	var nilLim *CheckLimiter
	if !nilLim.Wait(context.Background()) {
		t.Fatal("nil limiter blocked")
	}
}

func TestStopEndsChecker(t *testing.T) {
	before := runtime.NumGoroutine()
	// A slow HTTP server keeps a check in flight when Stop comes.
	addr := httpServer(t, func(_ string, c net.Conn) { time.Sleep(2 * time.Second) })
	var servers []*Server
	for i := range 5 {
		s := NewServer(fmt.Sprintf("s%d", i), addr)
		cfg := CheckConfig{Enabled: true, Type: CheckHTTP, Inter: 10 * time.Millisecond, Timeout: 5 * time.Second}
		if err := s.StartChecks(cfg, Immediate(), WithLogger(slog.New(&logRecorder{}))); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	waitFor(t, "checks in flight", func() bool {
		for _, s := range servers {
			if !s.HealthSnapshot().CheckRunning {
				return false
			}
		}
		return true
	})
	if got := servers[0].HealthSnapshot().CheckStatus; got != "* INI" {
		t.Fatalf("check status while running %q", got)
	}
	start := time.Now()
	for _, s := range servers {
		s.Stop()
		s.Stop() // idempotent
	}
	for _, s := range servers {
		select {
		case <-s.health.done:
		case <-time.After(time.Second):
			t.Fatal("checker still running 1s after Stop")
		}
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("Stop took %v with a check in flight", el)
	}
	// Every goroutine the checkers started is gone (the slow server's
	// handlers end on their own; wait for them too).
	waitFor(t, "goroutines to return to the baseline", func() bool {
		return runtime.NumGoroutine() <= before+2 // the test server's accept loop and listener
	})
	if err := servers[0].StartChecks(fastCfg()); err == nil {
		t.Fatal("second StartChecks accepted")
	}
}

// ---- admin actions ----

func TestHealthAdminActions(t *testing.T) {
	a := listenAcceptor(t, "")
	s := NewServer("app1", a.addr())
	rec, logOpt := newRecorder()
	res, results := withResults()
	cfg := fastCfg()
	cfg.Inter = 30 * time.Millisecond
	if err := s.StartChecks(cfg, Immediate(), logOpt, res); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	next(t, results)

	b := NewBackend("b", s, NewServer("other", "127.0.0.1:1"))
	// hnolb: up for requests routed to it, not balanced, until the next
	// good check.
	if !s.HealthAction("hnolb") {
		t.Fatal("hnolb refused")
	}
	if snap := s.HealthSnapshot(); snap.Status != "NOLB" || !s.Usable() || s.Balanced() {
		t.Fatalf("hnolb: %+v balanced=%v", snap, s.Balanced())
	}
	for range 4 {
		if b.Pick(nil) == s {
			t.Fatal("NOLB server picked by the balancer")
		}
	}
	nextWith(t, results, CheckL4OK)
	if snap := s.HealthSnapshot(); snap.Status != "UP" || !s.Balanced() {
		t.Fatalf("after a good check: %+v", snap)
	}

	// hdown: down until rise good checks.
	s.HealthAction("hdown")
	if s.Usable() || s.HealthSnapshot().Status != "DOWN" {
		t.Fatal("hdown did not take the server down")
	}
	st := nextWith(t, results, CheckL4OK)
	if st.snap.Status != "DOWN 1/2" {
		t.Fatalf("after hdown and one success: %q", st.snap.Status)
	}
	st = next(t, results)
	if st.snap.Status != "UP" {
		t.Fatalf("after hdown and two successes: %q", st.snap.Status)
	}

	// dhlth: no checks, considered UP ("no check") even when forced down
	// before; ehlth resumes from the counter and checks at once.
	s.HealthAction("hdown")
	if !s.HealthAction("dhlth") {
		t.Fatal("dhlth refused")
	}
	snap := s.HealthSnapshot()
	if snap.Status != "no check" || !s.Usable() || snap.CheckEnabled || snap.CheckStatus != "" {
		t.Fatalf("dhlth: %+v", snap)
	}
	time.Sleep(50 * time.Millisecond) // a check in flight may end
	n := a.count.Load()
	time.Sleep(120 * time.Millisecond)
	if m := a.count.Load(); m != n {
		t.Fatalf("checks ran while disabled: %d -> %d", n, m)
	}
	for len(results) > 0 {
		<-results
	}
	s.HealthAction("ehlth")
	if s.Usable() {
		t.Fatalf("ehlth after hdown: %q", s.HealthSnapshot().Status)
	}
	st = next(t, results)
	if st.snap.Status != "DOWN 1/2" {
		t.Fatalf("after ehlth: %q", st.snap.Status)
	}
	s.HealthAction("hrunn")
	if !s.Usable() || s.HealthSnapshot().Status != "UP" {
		t.Fatal("hrunn")
	}
	want := []string{
		"Server app1/app1 is stopping, changed from Web interface. 0 active and 0 backup servers online.",
		"Server app1/app1 is DOWN, changed from Web interface. 0 active and 0 backup servers left.",
		"Server app1/app1 is UP, changed from Web interface. 1 active and 0 backup servers online.",
	}
	lines := strings.Join(rec.all(), "\n")
	for _, w := range want {
		if !strings.Contains(lines, w) {
			t.Errorf("missing log line %q in\n%s", w, lines)
		}
	}
}

// ---- passive health ----

func TestPassiveWithoutActiveChecks(t *testing.T) {
	s := NewServer("app1", "127.0.0.1:1")
	rec, logOpt := newRecorder()
	window := 150 * time.Millisecond
	if err := s.StartChecks(CheckConfig{}, WithPassive(PassiveConfig{MaxFails: 3, FailWindow: window}), logOpt); err != nil {
		t.Fatal(err)
	}
	s.ReportFailure()
	s.ReportFailure()
	s.ReportSuccess() // clears the count
	s.ReportFailure()
	s.ReportFailure()
	if !s.Usable() {
		t.Fatal("down before max_fails uninterrupted failures")
	}
	s.ReportFailure()
	tripped := time.Now()
	snap := s.HealthSnapshot()
	if s.Usable() || snap.Status != "DOWN" || snap.HanaFail != 1 {
		t.Fatalf("after 3 failures: usable=%v %+v", s.Usable(), snap)
	}
	waitFor(t, "the window to end", s.Usable)
	if el := time.Since(tripped); el < window-10*time.Millisecond {
		t.Fatalf("back after %v, want %v", el, window)
	}
	if got := s.HealthSnapshot().Status; got != "no check" {
		t.Fatalf("after the window: %q", got)
	}
	// The server is usable a moment before its UP line is logged.
	waitFor(t, "the UP line", func() bool { return len(rec.all()) >= 2 })
	lines := rec.all()
	if len(lines) != 2 ||
		lines[0] != `Server app1/app1 is DOWN, reason: Health analyze, info: "3 failed requests within 150ms". 0 active and 0 backup servers left.` ||
		lines[1] != "Server app1/app1 is UP, passive failure window of 150ms expired. 1 active and 0 backup servers online." {
		t.Fatalf("log lines %q", lines)
	}
	// Failures spread wider than the window do not add up.
	s.ReportFailure()
	s.ReportFailure()
	time.Sleep(window + 20*time.Millisecond)
	s.ReportFailure()
	if !s.Usable() {
		t.Fatal("failures outside the window tripped")
	}
}

func TestPassiveOffByDefault(t *testing.T) {
	s := NewServer("app1", "127.0.0.1:1")
	for range 100 {
		s.ReportFailure()
	}
	if !s.Usable() {
		t.Fatal("passive health acted without being configured")
	}
}

func TestPassiveWithActiveChecksNeedsRise(t *testing.T) {
	a := listenAcceptor(t, "")
	s := NewServer("app1", a.addr())
	res, results := withResults()
	_, logOpt := newRecorder()
	window := 60 * time.Millisecond
	cfg := CheckConfig{Enabled: true, Inter: 25 * time.Millisecond, Timeout: 3 * time.Second, Rise: 2, Fall: 1}
	if err := s.StartChecks(cfg, Immediate(), res, logOpt, WithPassive(PassiveConfig{MaxFails: 2, FailWindow: window})); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	next(t, results)
	s.ReportFailure()
	s.ReportFailure()
	tripped := time.Now()
	snap := s.HealthSnapshot()
	if s.Usable() || snap.Health != 0 || snap.CheckStatus != "HANA" || snap.HasDuration {
		t.Fatalf("after the trip: %+v", snap)
	}
	// Back only once the window is over and rise checks passed.
	var upAt time.Time
	waitFor(t, "the server to come back", func() bool {
		if s.Usable() {
			upAt = time.Now()
			return true
		}
		return false
	})
	if upAt.Sub(tripped) < window-5*time.Millisecond {
		t.Fatalf("back after %v, before the window %v", upAt.Sub(tripped), window)
	}
	if snap := s.HealthSnapshot(); snap.Status != "UP" || snap.Health != 2 {
		t.Fatalf("%+v", snap)
	}
}

func TestPassiveWithActiveChecksWindowShorterThanRise(t *testing.T) {
	// A tiny window: the checks, not the window, decide the return.
	s := NewServer("app1", "127.0.0.1:1")
	if _, _, err := s.setupChecks(CheckConfig{Enabled: true, Inter: time.Hour, Rise: 2, Fall: 1},
		[]CheckOption{WithPassive(PassiveConfig{MaxFails: 1, FailWindow: time.Millisecond}), WithLogger(slog.New(&logRecorder{}))}); err != nil {
		t.Fatal(err)
	}
	s.ReportFailure()
	time.Sleep(20 * time.Millisecond)
	if s.Usable() || s.HealthSnapshot().Status != "DOWN" {
		t.Fatalf("window over but no check passed: usable=%v %q", s.Usable(), s.HealthSnapshot().Status)
	}
	s.finishCheck(CheckResult{Status: CheckL4OK})
	if s.Usable() {
		t.Fatal("up after one success with rise 2")
	}
	s.finishCheck(CheckResult{Status: CheckL4OK})
	if !s.Usable() {
		t.Fatal("still down after rise successes")
	}
}

// ---- configuration ----

func TestCheckConfigDefaultsAndValidate(t *testing.T) {
	d := DefaultCheckConfig()
	if !d.Enabled || d.Inter != 5*time.Second || d.FastInter != d.Inter || d.DownInter != d.Inter ||
		d.Timeout != d.Inter || d.Rise != 2 || d.Fall != 1 || d.Type != CheckTCP || d.InitialState != InitialUp {
		t.Fatalf("defaults %+v", d)
	}
	h := CheckConfig{Type: CheckHTTP, Inter: time.Second, DownInter: 3 * time.Second}.WithDefaults()
	if h.HTTPMethod != "OPTIONS" || h.HTTPPath != "/" || h.FastInter != time.Second || h.DownInter != 3*time.Second || h.Timeout != time.Second {
		t.Fatalf("http defaults %+v", h)
	}
	bad := []CheckConfig{
		{Rise: -1},
		{Fall: -2},
		{Inter: -time.Second},
		{Type: "udp"},
		{InitialState: "maybe"},
		{Type: CheckHTTP, HTTPPath: "health"},
		{Type: CheckHTTP, HTTPPath: "/a b"},
		{Type: CheckHTTP, HTTPPath: "/a\r\nX-Injected: 1"},
		{Type: CheckHTTP, HTTPMethod: "GE T"},
		{HTTPExpect: []int{99}},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) accepted", c)
		}
	}
	if err := (CheckConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := (PassiveConfig{MaxFails: -1}).Validate(); err == nil {
		t.Error("negative max_fails accepted")
	}
	s := NewServer("x", "127.0.0.1:1")
	if err := s.StartChecks(CheckConfig{Enabled: true, Type: "udp"}); err == nil {
		t.Error("StartChecks accepted an invalid config")
	}
}

func TestDialResultClassification(t *testing.T) {
	cases := []struct {
		err  error
		want CheckStatus
		info string
	}{
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, CheckL4CON, "Connection refused"},
		{&net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, CheckL4CON, "No route to host"},
		{&net.OpError{Op: "dial", Err: syscall.ETIMEDOUT}, CheckL4TOUT, ""},
		{context.DeadlineExceeded, CheckL4TOUT, ""},
		{&net.OpError{Op: "dial", Err: syscall.EMFILE}, CheckSOCKERR, "Too many open files"},
		{&net.DNSError{Err: "no such host", Name: "x"}, CheckSOCKERR, ""},
	}
	for _, c := range cases {
		r := dialResult(c.err)
		if r.Status != c.want || (c.info != "" && r.Info != c.info) {
			t.Errorf("dialResult(%v) = %+v, want %s %q", c.err, r, c.want, c.info)
		}
	}
}

// Status and counters in HealthSnapshot never race with the checker.
func TestSnapshotConcurrent(t *testing.T) {
	a := listenAcceptor(t, "")
	s := NewServer("app1", a.addr())
	if err := s.StartChecks(CheckConfig{Enabled: true, Inter: 5 * time.Millisecond, Timeout: 3 * time.Second},
		Immediate(), WithLogger(slog.New(&logRecorder{})), WithPassive(PassiveConfig{MaxFails: 5, FailWindow: 5 * time.Millisecond})); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				_ = s.HealthSnapshot()
				_ = s.Balanced()
				switch i % 7 {
				case 0:
					s.ReportFailure()
				case 1:
					s.ReportSuccess()
				case 2:
					s.SetAdmin(AdminState(i % 3))
				case 3:
					s.HealthAction([]string{"hrunn", "hnolb", "hdown", "dhlth", "ehlth"}[i%5])
				}
			}
		}()
	}
	wg.Wait()
	s.Stop()
	<-s.health.done
}

func TestDefaultBackendLogOptions(t *testing.T) {
	// A server of the default backend: the line names that backend and
	// counts the servers still up in it, through the caller's function.
	other := NewServer("web2", "127.0.0.1:1")
	web1 := NewServer("web1", proxytest.ClosedAddr(t))
	b := NewBackend("default_backend", web1, other)
	rec, logOpt := newRecorder()
	res, results := withResults()
	var dialed atomic.Int64
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	if err := web1.StartChecks(fastCfg(), Immediate(), logOpt, res,
		WithBackendName("default_backend"), WithActiveCount(b.Up), WithDialer(dial)); err != nil {
		t.Fatal(err)
	}
	defer web1.Stop()
	if !web1.HealthChecksEnabled() || other.HealthChecksEnabled() {
		t.Fatal("HealthChecksEnabled")
	}
	next(t, results)
	want := regexp.MustCompile(`^Server default_backend/web1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms\. 1 active and 0 backup servers left\.$`)
	if lines := rec.all(); len(lines) != 1 || !want.MatchString(lines[0]) {
		t.Fatalf("log lines %q", lines)
	}
	if dialed.Load() == 0 {
		t.Fatal("the dialer option was not used")
	}
	for range 3 {
		if b.Pick(nil) != other {
			t.Fatal("the DOWN server was picked")
		}
	}
}

func TestScenario12DownServerGetsNoneAndRejoins(t *testing.T) {
	a := listenAcceptor(t, "")
	cAddr := proxytest.ClosedAddr(t)
	sa, sb, sc := NewServer("a", a.addr()), NewServer("b", a.addr()), NewServer("c", cAddr)
	sa.SetWeight(1)
	sb.SetWeight(2)
	sc.SetWeight(3)
	b := NewBackend("default_backend", sa, sb, sc)
	res, results := withResults()
	_, logOpt := newRecorder()
	if err := sc.StartChecks(fastCfg(), Immediate(), res, logOpt, WithBackendName("default_backend")); err != nil {
		t.Fatal(err)
	}
	defer sc.Stop()
	if st := next(t, results); st.snap.Status != "DOWN" {
		t.Fatalf("c: %q", st.snap.Status)
	}
	count := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			if s := b.Pick(nil); s != nil {
				got[s.ID]++
			}
		}
		return got
	}
	if got := count(600); got["c"] != 0 || got["a"] != 200 || got["b"] != 400 {
		t.Fatalf("with c DOWN: %v", got)
	}
	listenAcceptor(t, cAddr)
	nextWith(t, results, CheckL4OK)
	if st := next(t, results); st.snap.Status != "UP" {
		t.Fatalf("c after two successes: %q", st.snap.Status)
	}
	got := count(600)
	for id, want := range map[string]int{"a": 100, "b": 200, "c": 300} {
		if d := got[id] - want; d < -1 || d > 1 {
			t.Fatalf("after c rejoined: %v", got)
		}
	}
}

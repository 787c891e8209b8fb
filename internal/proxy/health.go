package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Health checks, HAProxy's way (spec proxy.md A.3, D.3).
//
// Each checked server has a counter h in 0..rise+fall-1 and is UP when
// h >= rise. A passed check raises h by one and, once h reaches rise,
// puts it at the top (fully up); a failed check lowers h by one and, once
// h drops below rise, puts it at 0 (fully down). So a server goes DOWN
// after fall consecutive failures and UP after rise consecutive successes,
// with no hysteresis beyond that. Starting at h = rise makes a new server
// take traffic at once while its first failure brings it down ("start OK
// but check immediately").
//
// One goroutine per server runs the checks (StartChecks) until Stop. The
// verdict goes into the server's lock-free up flag that Usable reads on
// every request; the rest of the state is behind healthState.mu and read
// by the stats page through HealthSnapshot.

// Check kinds.
const (
	CheckTCP  = "tcp"
	CheckHTTP = "http"
)

// Initial states of a server before its first check.
const (
	InitialUp   = "up"
	InitialDown = "down"
)

// Defaults of the legacy line "check inter 5000 fall 1 rise 2". HAProxy's
// own defaults (inter 2s, fall 3) are not used: hecd reproduces the
// deployment, not the bare program.
const (
	DefaultCheckInter = 5 * time.Second
	DefaultCheckRise  = 2
	DefaultCheckFall  = 1
)

// CheckConfig is a server's active check (HAProxy's "check" server
// options and "option httpchk"). Zero fields take their defaults (see
// WithDefaults).
type CheckConfig struct {
	// Enabled turns active checks on; without them a server is always up
	// ("no check") unless passive health or an admin action says otherwise.
	Enabled bool
	// Inter is the time between checks; FastInter replaces it while the
	// server is in transition (neither fully up nor fully down), DownInter
	// while it is fully down. Both default to Inter.
	Inter, FastInter, DownInter time.Duration
	// Timeout bounds one check (connect and, for HTTP, the response);
	// default Inter, as HAProxy does without "timeout check".
	Timeout time.Duration
	// Rise and Fall are the consecutive successes to come UP and failures
	// to go DOWN.
	Rise, Fall int
	// Type is CheckTCP (connect only, the default) or CheckHTTP.
	Type string
	// HTTPMethod and HTTPPath make the HTTP check's request line; default
	// "OPTIONS /", as HAProxy's bare "option httpchk".
	HTTPMethod, HTTPPath string
	// HTTPExpect lists the statuses that pass; empty means 2xx and 3xx.
	HTTPExpect []int
	// InitialState is InitialUp (default: h = rise, traffic at once, first
	// failure brings it down) or InitialDown (h = 0, no traffic until rise
	// successes).
	InitialState string
}

// DefaultCheckConfig is the legacy deployment's check: TCP, inter 5s,
// rise 2, fall 1, initially up.
func DefaultCheckConfig() CheckConfig {
	return CheckConfig{Enabled: true}.WithDefaults()
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c CheckConfig) WithDefaults() CheckConfig {
	if c.Inter == 0 {
		c.Inter = DefaultCheckInter
	}
	if c.FastInter == 0 {
		c.FastInter = c.Inter
	}
	if c.DownInter == 0 {
		c.DownInter = c.Inter
	}
	if c.Timeout == 0 {
		c.Timeout = c.Inter
	}
	if c.Rise == 0 {
		c.Rise = DefaultCheckRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultCheckFall
	}
	if c.Type == "" {
		c.Type = CheckTCP
	}
	if c.Type == CheckHTTP {
		if c.HTTPMethod == "" {
			c.HTTPMethod = http.MethodOptions
		}
		if c.HTTPPath == "" {
			c.HTTPPath = "/"
		}
	}
	if c.InitialState == "" {
		c.InitialState = InitialUp
	}
	return c
}

// Validate reports the first invalid field of c (zero fields count as
// their defaults).
func (c CheckConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Inter < 0 || c.FastInter < 0 || c.DownInter < 0 || c.Timeout < 0:
		return errors.New("check: intervals and timeout must be positive")
	case c.Rise < 1 || c.Fall < 1:
		return errors.New("check: rise and fall must be at least 1")
	case c.Type != CheckTCP && c.Type != CheckHTTP:
		return fmt.Errorf("check: type %q: want %s or %s", c.Type, CheckTCP, CheckHTTP)
	case c.InitialState != InitialUp && c.InitialState != InitialDown:
		return fmt.Errorf("check: initial state %q: want %s or %s", c.InitialState, InitialUp, InitialDown)
	}
	if c.Type == CheckHTTP {
		// The request line is written as is: a space, CR or LF in either
		// part would let configuration inject headers or a second request.
		if !isToken(c.HTTPMethod) {
			return fmt.Errorf("check: HTTP method %q is not a token", c.HTTPMethod)
		}
		if !strings.HasPrefix(c.HTTPPath, "/") || strings.ContainsFunc(c.HTTPPath, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("check: HTTP path %q: want /path without spaces or control characters", c.HTTPPath)
		}
	}
	for _, code := range c.HTTPExpect {
		if code < 100 || code > 599 {
			return fmt.Errorf("check: expected status %d out of 100..599", code)
		}
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

// PassiveConfig is passive health (Traefik/Caddy/nginx style, off by
// default): MaxFails failed requests within FailWindow mark the server
// down for FailWindow. A request that succeeds in between clears the
// count, so only failures not interrupted by a success add up: a single
// server of a route is not pulled for an application's occasional error.
type PassiveConfig struct {
	// MaxFails is the number of failures that trips; 0 turns passive
	// health off.
	MaxFails int
	// FailWindow is both the window that failures are counted in and how
	// long a tripped server stays down; default 10s (nginx's fail_timeout).
	FailWindow time.Duration
}

// DefaultFailWindow is FailWindow's default.
const DefaultFailWindow = 10 * time.Second

// Validate reports an invalid field of p.
func (p PassiveConfig) Validate() error {
	if p.MaxFails < 0 || p.FailWindow < 0 {
		return errors.New("passive health: max_fails and fail_window must not be negative")
	}
	return nil
}

// CheckStatus is a check result code as HAProxy's stats show it.
type CheckStatus string

// HAProxy's check status codes (A.3). HANA ("health analyze") is the
// status HAProxy shows when passive health marked the server down.
const (
	CheckUNK     CheckStatus = "UNK"
	CheckINI     CheckStatus = "INI"
	CheckSOCKERR CheckStatus = "SOCKERR"
	CheckL4OK    CheckStatus = "L4OK"
	CheckL4TOUT  CheckStatus = "L4TOUT"
	CheckL4CON   CheckStatus = "L4CON"
	CheckL6OK    CheckStatus = "L6OK"
	CheckL6TOUT  CheckStatus = "L6TOUT"
	CheckL6RSP   CheckStatus = "L6RSP"
	CheckL7OK    CheckStatus = "L7OK"
	CheckL7OKC   CheckStatus = "L7OKC"
	CheckL7TOUT  CheckStatus = "L7TOUT"
	CheckL7RSP   CheckStatus = "L7RSP"
	CheckL7STS   CheckStatus = "L7STS"
	CheckHANA    CheckStatus = "HANA"
)

// Description is HAProxy's wording of the status, used in the "reason:"
// of transition logs and in the check_desc CSV column.
func (c CheckStatus) Description() string {
	switch c {
	case CheckINI:
		return "Initializing"
	case CheckSOCKERR:
		return "Socket error"
	case CheckL4OK:
		return "Layer4 check passed"
	case CheckL4TOUT:
		return "Layer4 timeout"
	case CheckL4CON:
		return "Layer4 connection problem"
	case CheckL6OK:
		return "Layer6 check passed"
	case CheckL6TOUT:
		return "Layer6 timeout"
	case CheckL6RSP:
		return "Layer6 invalid response"
	case CheckL7OK:
		return "Layer7 check passed"
	case CheckL7OKC:
		return "Layer7 check conditionally passed"
	case CheckL7TOUT:
		return "Layer7 timeout"
	case CheckL7RSP:
		return "Layer7 invalid response"
	case CheckL7STS:
		return "Layer7 wrong status"
	case CheckHANA:
		return "Health analyze"
	}
	return "Unknown"
}

// Passed says whether the status counts as a successful check.
func (c CheckStatus) Passed() bool {
	return c == CheckL4OK || c == CheckL6OK || c == CheckL7OK || c == CheckL7OKC
}

// HasCode says whether the status carries a layer-7 response code (the
// check_code column and ", code: N" in logs).
func (c CheckStatus) HasCode() bool {
	return c == CheckL7OK || c == CheckL7OKC || c == CheckL7STS
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	Status CheckStatus
	// Code is the HTTP status of an L7 result, 0 otherwise.
	Code int
	// Info is the detail HAProxy logs as info: "Connection refused", the
	// response's reason phrase, a parse error; often empty.
	Info string
	// Duration is how long the check took; negative when it does not
	// apply (HANA, INI).
	Duration time.Duration
}

// ForcedHealth is an operator's override of the health verdict.
type ForcedHealth int

const (
	// ForceUp is "hrunn": fully up (h = rise+fall-1).
	ForceUp ForcedHealth = iota
	// ForceNOLB is "hnolb": up but no new load-balanced traffic until the
	// next successful check.
	ForceNOLB
	// ForceDown is "hdown": fully down (h = 0).
	ForceDown
)

// Causes of a Transition.
const (
	CauseCheck   = "check"   // an active check result
	CausePassive = "passive" // passive health tripped or its window ended
	CauseAdmin   = "admin"   // hrunn/hnolb/hdown/dhlth/ehlth
	CauseMaint   = "maint"   // entering or leaving MAINT
	CauseDrain   = "drain"   // entering or leaving DRAIN
)

// Transition describes one change of a server's state, handed to the
// transition hook after it is logged.
type Transition struct {
	Server  *Server
	Backend string
	Cause   string
	// Prev and Status are the displayed statuses before and after
	// ("UP", "DOWN 1/2", "NOLB", "MAINT", ...).
	Prev, Status string
	// Usable is the server's Usable() after the change.
	Usable bool
	// Check is the result that caused it, for CauseCheck and CausePassive.
	Check *CheckResult
	// Message is the logged line.
	Message string
	At      time.Time
}

// CheckOption adjusts StartChecks.
type CheckOption func(*checkOptions)

type checkOptions struct {
	immediate bool
	limiter   *CheckLimiter
	logger    *slog.Logger
	backend   string
	active    func() int
	hook      func(Transition)
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	passive   PassiveConfig
	// result, tests only: called after every applied check result.
	result func(CheckResult, HealthSnapshot)
}

// Immediate checks at once instead of after a random offset in
// [0, inter): for a server added after start-up, so that it is probed as
// soon as it appears.
func Immediate() CheckOption { return func(o *checkOptions) { o.immediate = true } }

// WithLimiter shares l, which bounds the checks started per second over
// all servers using it.
func WithLimiter(l *CheckLimiter) CheckOption { return func(o *checkOptions) { o.limiter = l } }

// WithLogger sets the logger of transition lines (default slog.Default()).
func WithLogger(l *slog.Logger) CheckOption { return func(o *checkOptions) { o.logger = l } }

// WithBackendName names the backend in log lines ("Server <backend>/<id>");
// default the server's ID, the route backend's name.
func WithBackendName(name string) CheckOption { return func(o *checkOptions) { o.backend = name } }

// WithActiveCount supplies the "N active ... servers left/online" count
// of log lines, called after the change. Default: 1 when this server
// takes traffic, else 0 (a route's backend has only it).
func WithActiveCount(fn func() int) CheckOption { return func(o *checkOptions) { o.active = fn } }

// OnTransition calls fn after every logged transition (metrics). fn runs
// on the checker's or the caller's goroutine and must not block.
func OnTransition(fn func(Transition)) CheckOption { return func(o *checkOptions) { o.hook = fn } }

// WithDialer replaces the dialer of checks (a source address, tests).
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) CheckOption {
	return func(o *checkOptions) { o.dial = dial }
}

// WithPassive turns passive health on with p.
func WithPassive(p PassiveConfig) CheckOption { return func(o *checkOptions) { o.passive = p } }

// healthState is the server's health beyond the lock-free up flag.
type healthState struct {
	// nolb is set while the server is forced NOLB (hnolb): Balanced reads
	// it on every pick, so it is atomic like up.
	nolb atomic.Bool
	// fails mirrors len(failTimes) so that ReportSuccess, called for every
	// good response, costs one atomic load when there is nothing to clear.
	fails atomic.Int32

	mu      sync.Mutex
	opts    checkOptions
	cfg     CheckConfig // with defaults; fixed once started
	setUp   bool        // StartChecks ran
	checked bool        // active checks configured
	enabled bool        // not disabled by dhlth
	h       int
	// forcedDown is hdown's verdict while there are no active checks to
	// own it (no checks configured, or dhlth).
	forcedDown bool
	running    bool
	last       CheckResult
	lastAt     time.Time
	chkFail    int64
	chkDown    int64
	hanaFail   int64

	op         opState // health state last accounted for
	lastChange time.Time
	downSince  time.Time // zero while not down (health or MAINT)
	downTotal  time.Duration

	failTimes    []time.Time
	passiveHeld  bool
	passiveTimer *time.Timer

	wake   chan struct{}
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

type opState int

const (
	opUp opState = iota
	opNOLB
	opDown
)

// initHealth is called by NewServer.
func (s *Server) initHealth() {
	s.health.lastChange = time.Now()
	s.health.last = CheckResult{Status: CheckINI, Duration: -1}
	// Stop cancels ctx, which ends the checker's waits and a check in
	// progress without a goroutine watching the stop channel.
	s.health.ctx, s.health.cancel = context.WithCancel(context.Background())
}

// StartChecks configures the server's health and, when cfg.Enabled,
// starts its checker goroutine, which runs until Stop. Call it once,
// before the server is published in a table, so that InitialDown takes
// effect before any request sees the server. With cfg.Enabled false it
// only records the options (passive health, logger, hook).
func (s *Server) StartChecks(cfg CheckConfig, opts ...CheckOption) error {
	first, run, err := s.setupChecks(cfg, opts)
	if err != nil || !run {
		return err
	}
	go s.checkLoop(first)
	return nil
}

// setupChecks does StartChecks's work but for the goroutine: it returns
// the delay to the first check and whether a checker must run.
func (s *Server) setupChecks(cfg CheckConfig, opts []CheckOption) (time.Duration, bool, error) {
	if cfg.Enabled {
		if err := cfg.Validate(); err != nil {
			return 0, false, err
		}
	}
	var o checkOptions
	for _, f := range opts {
		f(&o)
	}
	if err := o.passive.Validate(); err != nil {
		return 0, false, err
	}
	if o.passive.MaxFails > 0 && o.passive.FailWindow == 0 {
		o.passive.FailWindow = DefaultFailWindow
	}
	if o.dial == nil {
		var d net.Dialer
		o.dial = d.DialContext
	}
	hs := &s.health
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.setUp {
		return 0, false, fmt.Errorf("server %s: checks already started", s.ID)
	}
	hs.setUp = true
	hs.opts = o
	if !cfg.Enabled {
		return 0, false, nil
	}
	cfg = cfg.WithDefaults()
	hs.cfg = cfg
	hs.checked, hs.enabled = true, true
	hs.h = cfg.Rise
	if cfg.InitialState == InitialDown {
		hs.h = 0
	}
	// The initial state is not a transition: nothing is logged, but a
	// server starting down counts as down from now on.
	now := time.Now()
	up := hs.verdictLocked()
	s.up.Store(up)
	if !up {
		hs.op = opDown
		hs.lastChange = now
	}
	s.accountDowntimeLocked(now)
	hs.wake = make(chan struct{}, 1)
	hs.done = make(chan struct{})
	first := time.Duration(0)
	if !o.immediate {
		// Servers present at start-up spread their first checks over one
		// interval, so thousands of them do not probe in the same instant.
		first = rand.N(cfg.Inter)
	}
	return first, true, nil
}

// checkLoop runs the checks until Stop.
func (s *Server) checkLoop(first time.Duration) {
	hs := &s.health
	defer close(hs.done)
	// ctx ends when the server stops, cutting short a limiter wait or a
	// check in progress.
	ctx := hs.ctx
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-hs.wake:
			// Leaving MAINT or re-enabling checks: check now.
			timer.Stop()
		}
		if !s.checkable() {
			// MAINT or checks disabled: park, with no timer, until woken.
			continue
		}
		if !hs.opts.limiter.Wait(ctx) {
			return
		}
		if !s.beginCheck() {
			continue
		}
		res := runCheck(ctx, hs.cfg, s.Addr, hs.opts.dial)
		if ctx.Err() != nil {
			return
		}
		timer.Reset(s.finishCheck(res))
	}
}

// checkable says whether the server may be checked: HAProxy does not
// check a server in MAINT or with checks disabled.
func (s *Server) checkable() bool {
	hs := &s.health
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.enabled && s.Admin() != Maint
}

// beginCheck marks a check in progress if the server may still be
// checked after the limiter's wait.
func (s *Server) beginCheck() bool {
	hs := &s.health
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if !hs.enabled || s.Admin() == Maint {
		return false
	}
	hs.running = true
	return true
}

// finishCheck applies a result and returns the delay to the next check.
func (s *Server) finishCheck(res CheckResult) time.Duration {
	hs := &s.health
	now := time.Now()
	hs.mu.Lock()
	hs.running = false
	if !hs.enabled || s.Admin() == Maint {
		// Disabled or put in MAINT while the check ran: its result is
		// stale, and the loop parks on the next round.
		hs.mu.Unlock()
		return hs.cfg.Inter
	}
	prev := s.statusLocked()
	hs.last, hs.lastAt = res, now
	passed := res.Status.Passed()
	if !passed && hs.h > 0 {
		// HAProxy counts a failed check only when it lowers the counter.
		hs.chkFail++
	}
	hs.h = nextHealth(hs.h, hs.cfg.Rise, hs.cfg.Fall, passed)
	if passed && hs.h >= hs.cfg.Rise {
		// A good check lifts a forced NOLB, as HAProxy sets the server
		// running again on its next success.
		hs.nolb.Store(false)
	}
	ev := s.settleLocked(now, CauseCheck, prev, &res, "")
	next := hs.intervalLocked()
	hook := hs.opts.result
	var snap HealthSnapshot
	if hook != nil {
		snap = s.snapshotLocked(now)
	}
	hs.mu.Unlock()
	s.emit(ev)
	if hook != nil {
		hook(res, snap)
	}
	return next
}

// nextHealth is HAProxy's counter step: h in 0..rise+fall-1, UP when
// h >= rise.
func nextHealth(h, rise, fall int, passed bool) int {
	top := rise + fall - 1
	if passed {
		if h < top {
			h++
			if h >= rise {
				h = top
			}
		}
		return h
	}
	if h > 0 {
		h--
		if h < rise {
			h = 0
		}
	}
	return h
}

// intervalLocked is the delay to the next check: inter when fully up,
// downinter when fully down, fastinter in between (HAProxy's rule).
func (hs *healthState) intervalLocked() time.Duration {
	switch {
	case hs.h >= hs.cfg.Rise+hs.cfg.Fall-1 && !hs.passiveHeld:
		return hs.cfg.Inter
	case hs.h == 0:
		return hs.cfg.DownInter
	}
	return hs.cfg.FastInter
}

// verdictLocked is the health verdict: the counter when checks run, else
// the operator's hdown; a passive trip holds the server down either way.
func (hs *healthState) verdictLocked() bool {
	if hs.passiveHeld {
		return false
	}
	if hs.checked && hs.enabled {
		return hs.h >= hs.cfg.Rise
	}
	return !hs.forcedDown
}

// settleLocked publishes the verdict and, when the operational state
// (UP/NOLB/DOWN) changed, accounts for it and returns the event to emit
// once the lock is released.
func (s *Server) settleLocked(now time.Time, cause, prev string, res *CheckResult, reason string) *pendingEvent {
	hs := &s.health
	up := hs.verdictLocked()
	if !up {
		hs.nolb.Store(false)
	}
	s.up.Store(up)
	op := opUp
	switch {
	case !up:
		op = opDown
	case hs.nolb.Load():
		op = opNOLB
	}
	if op == hs.op {
		return nil
	}
	was := hs.op
	hs.op = op
	hs.lastChange = now
	if op == opDown && was != opDown {
		hs.chkDown++
	}
	s.accountDowntimeLocked(now)
	ev := &pendingEvent{
		tr:     Transition{Server: s, Cause: cause, Prev: prev, Status: s.statusLocked(), At: now},
		res:    res,
		reason: reason,
		down:   op == opDown,
	}
	switch op {
	case opUp:
		ev.verb = "UP"
	case opNOLB:
		ev.verb = "stopping"
	default:
		ev.verb = "DOWN"
	}
	if s.Admin() == Maint {
		// HAProxy does not report health changes of a server in MAINT:
		// it takes no traffic either way.
		ev.silent = true
	}
	return ev
}

// accountDowntimeLocked starts or ends a down period: DOWN and MAINT
// count, as in HAProxy, where a server in MAINT is stopped.
func (s *Server) accountDowntimeLocked(now time.Time) {
	hs := &s.health
	down := hs.op == opDown || s.Admin() == Maint
	switch {
	case down && hs.downSince.IsZero():
		hs.downSince = now
	case !down && !hs.downSince.IsZero():
		hs.downTotal += now.Sub(hs.downSince)
		hs.downSince = time.Time{}
	}
}

// pendingEvent is a transition waiting to be logged.
type pendingEvent struct {
	tr     Transition
	verb   string // "UP", "DOWN" or "stopping" (NOLB), for health events
	res    *CheckResult
	reason string
	down   bool
	silent bool
	// line, when set, is the message without the server count (MAINT and
	// DRAIN wording); count says whether to append it.
	line  string
	count bool
}

// emit logs ev and calls the hook; called without the lock.
func (s *Server) emit(ev *pendingEvent) {
	if ev == nil || ev.silent {
		return
	}
	s.health.mu.Lock()
	o := s.health.opts
	s.health.mu.Unlock()
	backend := o.backend
	if backend == "" {
		backend = s.ID
	}
	active := 0
	if o.active != nil {
		active = o.active()
	} else if s.Usable() && !s.health.nolb.Load() {
		active = 1
	}
	var msg string
	if ev.line != "" {
		msg = fmt.Sprintf(ev.line, backend, s.ID)
		if ev.count {
			msg += serversLeft(active, ev.down)
		}
	} else {
		msg = transitionMessage(backend, s.ID, ev.verb, ev.res, ev.reason, active, ev.down)
	}
	lg := o.logger
	if lg == nil {
		lg = slog.Default()
	}
	level := slog.LevelInfo
	if ev.down {
		level = slog.LevelWarn
	}
	lg.Log(context.Background(), level, msg, "backend", backend, "server", s.ID)
	if o.hook != nil {
		tr := ev.tr
		tr.Backend = backend
		tr.Message = msg
		tr.Usable = s.Usable()
		tr.Check = ev.res
		o.hook(tr)
	}
}

// transitionMessage words a health transition as HAProxy logs it:
//
//	Server app1/app1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left.
//
// res, when not nil, gives the reason, code, info and duration; else
// reason, when not empty, follows the state after a comma. hecd has no
// backup servers and no queue, so the count ends the line.
func transitionMessage(backend, server, verb string, res *CheckResult, reason string, active int, down bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Server %s/%s is %s", backend, server, verb)
	switch {
	case res != nil:
		fmt.Fprintf(&b, ", reason: %s", res.Status.Description())
		if res.Status.HasCode() {
			fmt.Fprintf(&b, ", code: %d", res.Code)
		}
		if res.Info != "" {
			fmt.Fprintf(&b, ", info: \"%s\"", asciiEncode(res.Info))
		}
		if res.Duration >= 0 {
			fmt.Fprintf(&b, ", check duration: %dms", res.Duration.Milliseconds())
		}
	case reason != "":
		fmt.Fprintf(&b, ", %s", reason)
	}
	b.WriteString(serversLeft(active, down))
	return b.String()
}

func serversLeft(active int, down bool) string {
	if down {
		return fmt.Sprintf(". %d active and 0 backup servers left.", active)
	}
	return fmt.Sprintf(". %d active and 0 backup servers online.", active)
}

// asciiEncode keeps a log line on one line and its quoting intact: bytes
// outside printable ASCII, the quote and angle brackets become <XX>, the
// notation HAProxy uses in the same place.
func asciiEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' {
			fmt.Fprintf(&b, "<%02X>", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// setAdmin changes the admin state (SetAdmin) and does what HAProxy does
// around it: leaving MAINT restarts checks from h = rise and checks at
// once; MAINT and DRAIN changes are logged and counted as downtime.
func (s *Server) setAdmin(a AdminState) {
	hs := &s.health
	now := time.Now()
	hs.mu.Lock()
	prev := s.statusLocked()
	old := AdminState(s.admin.Swap(int32(a)))
	if old == a {
		hs.mu.Unlock()
		return
	}
	wake := false
	if old == Maint && hs.checked && hs.enabled {
		// "Start OK but check immediately", as after a start.
		hs.h = hs.cfg.Rise
		wake = true
	}
	// The verdict may follow the counter; the admin event below is the
	// one logged, not a separate health one.
	up := hs.verdictLocked()
	s.up.Store(up)
	switch {
	case !up:
		hs.op = opDown
	case hs.nolb.Load():
		hs.op = opNOLB
	default:
		hs.op = opUp
	}
	hs.lastChange = now
	s.accountDowntimeLocked(now)
	ev := &pendingEvent{tr: Transition{Server: s, Prev: prev, Status: s.statusLocked(), At: now}}
	switch {
	case a == Maint:
		ev.tr.Cause, ev.down, ev.count = CauseMaint, true, true
		ev.line = "Server %s/%s is going DOWN for maintenance"
	case old == Maint:
		ev.tr.Cause = CauseMaint
		ev.down = !up
		if up {
			ev.line = "Server %s/%s is UP (leaving forced maintenance)."
		} else {
			ev.line = "Server %s/%s is DOWN (leaving forced maintenance)."
		}
	case a == Drain:
		ev.tr.Cause = CauseDrain
		ev.line = "Server %s/%s enters drain state."
	default:
		ev.tr.Cause = CauseDrain
		ev.line = "Server %s/%s is UP (leaving forced drain)."
	}
	w := hs.wake
	hs.mu.Unlock()
	if wake && w != nil {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	s.emit(ev)
}

// SetHealthChecks enables ("ehlth") or disables ("dhlth") the active
// checks. Disabled checks are not run and their result is ignored: the
// server is considered UP ("no check") unless forced down. Enabled again,
// the server resumes from its counter and is checked at once. It returns
// false when the server has no active checks configured.
func (s *Server) SetHealthChecks(on bool) bool {
	hs := &s.health
	now := time.Now()
	hs.mu.Lock()
	if !hs.checked {
		hs.mu.Unlock()
		return false
	}
	if hs.enabled == on {
		hs.mu.Unlock()
		return true
	}
	prev := s.statusLocked()
	hs.enabled = on
	if !on {
		hs.forcedDown = false
		hs.running = false
	}
	ev := s.settleLocked(now, CauseAdmin, prev, nil, "changed from Web interface")
	w := hs.wake
	hs.mu.Unlock()
	if on {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	s.emit(ev)
	return true
}

// HealthChecksEnabled says whether active checks are configured and not
// disabled.
func (s *Server) HealthChecksEnabled() bool {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.health.checked && s.health.enabled
}

// ForceHealth overrides the health verdict ("hrunn", "hnolb", "hdown").
// Checks go on and move the server from there: after ForceDown it needs
// rise successes, after ForceUp fall failures; a NOLB server is UP again
// on its next good check. A passive trip is cleared.
func (s *Server) ForceHealth(f ForcedHealth) {
	hs := &s.health
	now := time.Now()
	hs.mu.Lock()
	prev := s.statusLocked()
	top := hs.cfg.Rise + hs.cfg.Fall - 1
	hs.passiveHeld = false
	hs.clearFailsLocked()
	if hs.passiveTimer != nil {
		hs.passiveTimer.Stop()
		hs.passiveTimer = nil
	}
	// The counter is moved only where there is one; forcedDown holds
	// the verdict while checks are off or absent.
	switch f {
	case ForceUp:
		if hs.checked {
			hs.h = top
		}
		hs.forcedDown = false
		hs.nolb.Store(false)
	case ForceNOLB:
		if hs.checked {
			hs.h = top
		}
		hs.forcedDown = false
		hs.nolb.Store(true)
	default:
		hs.h, hs.forcedDown = 0, true
		hs.nolb.Store(false)
	}
	ev := s.settleLocked(now, CauseAdmin, prev, nil, "changed from Web interface")
	hs.mu.Unlock()
	s.emit(ev)
}

// HealthAction carries out a stats page health action by HAProxy's name:
// dhlth, ehlth, hrunn, hnolb, hdown. It returns false for another name
// and, for dhlth/ehlth, when the server has no active checks (HAProxy
// skips those servers).
func (s *Server) HealthAction(action string) bool {
	switch action {
	case "dhlth":
		return s.SetHealthChecks(false)
	case "ehlth":
		return s.SetHealthChecks(true)
	case "hrunn":
		s.ForceHealth(ForceUp)
	case "hnolb":
		s.ForceHealth(ForceNOLB)
	case "hdown":
		s.ForceHealth(ForceDown)
	default:
		return false
	}
	return true
}

// ReportFailure records a failed request (connection failure, timeout or
// a configured status) for passive health. MaxFails of them within
// FailWindow mark the server down for FailWindow; with active checks on,
// the counter drops to 0 too, so it also needs rise good checks.
func (s *Server) ReportFailure() {
	hs := &s.health
	now := time.Now()
	hs.mu.Lock()
	p := hs.opts.passive
	if p.MaxFails <= 0 || hs.passiveHeld || s.Admin() == Maint {
		hs.mu.Unlock()
		return
	}
	// Keep only failures within the window.
	cut := now.Add(-p.FailWindow)
	keep := hs.failTimes[:0]
	for _, t := range hs.failTimes {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	hs.failTimes = append(keep, now)
	hs.fails.Store(int32(len(hs.failTimes)))
	if len(hs.failTimes) < p.MaxFails {
		hs.mu.Unlock()
		return
	}
	prev := s.statusLocked()
	n := len(hs.failTimes)
	hs.clearFailsLocked()
	hs.passiveHeld = true
	hs.hanaFail++
	res := CheckResult{Status: CheckHANA, Info: fmt.Sprintf("%d failed requests within %s", n, p.FailWindow), Duration: -1}
	if hs.checked && hs.enabled {
		hs.h = 0
		// The stats page shows why the server went down, as HAProxy
		// shows HANA after an on-error mark-down.
		hs.last, hs.lastAt = res, now
	}
	hs.passiveTimer = time.AfterFunc(p.FailWindow, s.passiveExpired)
	ev := s.settleLocked(now, CausePassive, prev, &res, "")
	hs.mu.Unlock()
	s.emit(ev)
}

// ReportSuccess records a good response: it clears the failures counted
// so far. It costs one atomic load when there are none.
func (s *Server) ReportSuccess() {
	hs := &s.health
	if hs.fails.Load() == 0 {
		return
	}
	hs.mu.Lock()
	hs.clearFailsLocked()
	hs.mu.Unlock()
}

func (hs *healthState) clearFailsLocked() {
	hs.failTimes = hs.failTimes[:0]
	hs.fails.Store(0)
}

// passiveExpired ends a passive trip.
func (s *Server) passiveExpired() {
	hs := &s.health
	now := time.Now()
	hs.mu.Lock()
	if !hs.passiveHeld {
		hs.mu.Unlock()
		return
	}
	prev := s.statusLocked()
	hs.passiveHeld = false
	hs.passiveTimer = nil
	ev := s.settleLocked(now, CausePassive, prev, nil,
		fmt.Sprintf("passive failure window of %s expired", hs.opts.passive.FailWindow))
	hs.mu.Unlock()
	select {
	case <-s.stop:
		// A removed server's window ending is nobody's concern.
		return
	default:
	}
	s.emit(ev)
}

// HealthSnapshot is a server's health for the stats page and the CSV
// (A.8). Fields HAProxy leaves empty are flagged rather than zeroed.
type HealthSnapshot struct {
	// Status is column 17 exactly as HAProxy shows it: "UP", "UP 1/3",
	// "DOWN", "DOWN 1/2", "NOLB", "NOLB 1/3", "DRAIN", "DRAIN 1/3",
	// "MAINT", "no check".
	Status string
	// CheckEnabled: active checks are configured and not disabled
	// (HAProxy's CHK_ST_ENABLED). chkfail, chkdown and downtime (21, 22,
	// 24) are shown only then.
	CheckEnabled bool
	// CheckShown: CheckEnabled and not paused by MAINT. check_status,
	// check_code, check_duration (36-38), last_chk (56), check_desc (65)
	// and check_rise/fall/health (67-69) are shown only then.
	CheckShown bool
	// CheckRunning says a check is in progress.
	CheckRunning bool
	// CheckStatus is column 36: the last result's code, prefixed "* "
	// while a check runs; "INI" before the first check.
	CheckStatus string
	// Last is the last result as is.
	Last CheckResult
	// LastCheck is when Last was recorded; zero before the first.
	LastCheck time.Time
	// CheckCode (37) is meaningful when HasCode (L7 results).
	CheckCode int
	HasCode   bool
	// CheckDuration (38, in ms) is meaningful when HasDuration (a real
	// result, not INI or HANA).
	CheckDuration time.Duration
	HasDuration   bool
	// CheckDesc is column 65 (the status's description); LastChk is
	// column 56 (the result's detail).
	CheckDesc, LastChk string
	// ChkFail (21) counts failed checks that lowered the counter; ChkDown
	// (22) UP->DOWN transitions; HanaFail (45) passive trips.
	ChkFail, ChkDown, HanaFail int64
	// LastChange is when the state last changed (23 is seconds since).
	LastChange time.Time
	// Downtime (24) is the total time DOWN or in MAINT.
	Downtime time.Duration
	// Rise, Fall, Health are columns 67-69.
	Rise, Fall, Health int
}

// HealthSnapshot returns a consistent copy of the server's health.
func (s *Server) HealthSnapshot() HealthSnapshot {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.snapshotLocked(time.Now())
}

func (s *Server) snapshotLocked(now time.Time) HealthSnapshot {
	hs := &s.health
	snap := HealthSnapshot{
		Status:       s.statusLocked(),
		CheckEnabled: hs.checked && hs.enabled,
		CheckRunning: hs.running,
		Last:         hs.last,
		LastCheck:    hs.lastAt,
		ChkFail:      hs.chkFail,
		ChkDown:      hs.chkDown,
		HanaFail:     hs.hanaFail,
		LastChange:   hs.lastChange,
		Downtime:     hs.downTotal,
		Rise:         hs.cfg.Rise,
		Fall:         hs.cfg.Fall,
		Health:       hs.h,
	}
	snap.CheckShown = snap.CheckEnabled && s.Admin() != Maint
	if !hs.downSince.IsZero() {
		snap.Downtime += now.Sub(hs.downSince)
	}
	if snap.CheckEnabled {
		snap.CheckStatus = string(hs.last.Status)
		if hs.running {
			snap.CheckStatus = "* " + snap.CheckStatus
		}
		snap.CheckDesc = hs.last.Status.Description()
		snap.LastChk = hs.last.Info
		snap.HasCode = hs.last.Status.HasCode()
		if snap.HasCode {
			snap.CheckCode = hs.last.Code
		}
		snap.HasDuration = hs.last.Duration >= 0
		if snap.HasDuration {
			snap.CheckDuration = hs.last.Duration
		}
	}
	return snap
}

// statusLocked is the displayed status (CSV column 17).
func (s *Server) statusLocked() string {
	hs := &s.health
	return statusText(statusInput{
		maint:    s.Admin() == Maint,
		drain:    s.Admin() == Drain || s.Weight() == 0,
		checking: hs.checked && hs.enabled,
		up:       s.up.Load(),
		nolb:     hs.nolb.Load(),
		h:        hs.h,
		rise:     hs.cfg.Rise,
		fall:     hs.cfg.Fall,
	})
}

type statusInput struct {
	maint, drain, checking, up, nolb bool
	h, rise, fall                    int
}

// statusText follows HAProxy's stats: a server going down shows how far
// it still is from DOWN as (h-rise+1)/fall, one going up how far it got
// as h/rise; NOLB and DRAIN replace UP; MAINT hides everything.
func statusText(in statusInput) string {
	if in.maint {
		return "MAINT"
	}
	if !in.up {
		if in.checking && in.h > 0 && in.h < in.rise {
			return fmt.Sprintf("DOWN %d/%d", in.h, in.rise)
		}
		return "DOWN"
	}
	going := in.checking && in.h < in.rise+in.fall-1
	word := "UP"
	switch {
	case in.nolb:
		word = "NOLB"
	case in.drain:
		word = "DRAIN"
	case !in.checking:
		return "no check"
	}
	if going {
		return fmt.Sprintf("%s %d/%d", word, in.h-in.rise+1, in.fall)
	}
	return word
}

// CheckLimiter bounds the checks started per second over the servers
// sharing it (--max-checks-per-second). It paces them evenly: with a
// limit of n, checks start at least 1/n apart, so thousands of servers
// whose intervals line up do not probe in a burst.
type CheckLimiter struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
}

// NewCheckLimiter returns a limiter of perSecond checks, or nil (no
// bound) when perSecond <= 0. A nil *CheckLimiter is valid.
func NewCheckLimiter(perSecond int) *CheckLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &CheckLimiter{every: time.Second / time.Duration(perSecond)}
}

// Wait blocks until the caller may start a check, or returns false when
// ctx ends first.
func (l *CheckLimiter) Wait(ctx context.Context) bool {
	if l == nil {
		return ctx.Err() == nil
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	// Reserve the slot: callers queue up in arrival order.
	l.next = at.Add(l.every)
	l.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// runCheck performs one check of addr.
func runCheck(ctx context.Context, cfg CheckConfig, addr string, dial func(context.Context, string, string) (net.Conn, error)) CheckResult {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		res := dialResult(err)
		res.Duration = time.Since(start)
		return res
	}
	defer conn.Close()
	res := CheckResult{Status: CheckL4OK}
	if cfg.Type == CheckHTTP {
		res = httpCheck(ctx, conn, cfg, addr)
	}
	res.Duration = time.Since(start)
	return res
}

// dialResult classifies a connect failure: a timeout is L4TOUT, a refusal
// or unreachable peer L4CON with the system's message (capitalised like
// strerror), anything local (bad address, no descriptors) SOCKERR.
func dialResult(err error) CheckResult {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, syscall.ETIMEDOUT) || (errors.As(err, &ne) && ne.Timeout()) {
		return CheckResult{Status: CheckL4TOUT}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
			syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN:
			return CheckResult{Status: CheckL4CON, Info: capitalize(errno.Error())}
		}
		return CheckResult{Status: CheckSOCKERR, Info: capitalize(errno.Error())}
	}
	return CheckResult{Status: CheckSOCKERR, Info: err.Error()}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// httpCheck sends the check request on conn and judges the status line.
// The request is HTTP/1.0 like HAProxy's, with a Host header so that
// name-based servers answer, and Connection: close.
func httpCheck(ctx context.Context, conn net.Conn, cfg CheckConfig, addr string) CheckResult {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Stop cuts a check short by expiring the connection's deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := cfg.HTTPMethod + " " + cfg.HTTPPath + " HTTP/1.0\r\nHost: " + addr +
		"\r\nUser-Agent: hecd-check\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return l7Error(err)
	}
	// A HEAD answer has no body; ReadResponse must know not to expect one.
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: cfg.HTTPMethod})
	if err != nil {
		return l7Error(err)
	}
	resp.Body.Close()
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	res := CheckResult{Status: CheckL7STS, Code: resp.StatusCode, Info: reason}
	if statusExpected(resp.StatusCode, cfg.HTTPExpect) {
		res.Status = CheckL7OK
	}
	return res
}

func l7Error(err error) CheckResult {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return CheckResult{Status: CheckL7TOUT}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return CheckResult{Status: CheckL7RSP, Info: "Connection closed without a complete response"}
	}
	return CheckResult{Status: CheckL7RSP, Info: err.Error()}
}

func statusExpected(code int, expect []int) bool {
	if len(expect) == 0 {
		return code >= 200 && code < 400
	}
	for _, c := range expect {
		if c == code {
			return true
		}
	}
	return false
}

package registrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registrator keeps one Docker host's routes in the store. Create it
// with New and start it with Run; Status and Metrics may be called at any
// time.
type Registrator struct {
	cfg Config
	log *slog.Logger
	m   counters

	ran atomic.Bool

	mu sync.Mutex
	// ctx is Run's context; nil before Run. Work is scheduled only while
	// it is live.
	ctx context.Context
	// regs are the route names this owner holds (refresh) or keeps after
	// a container's death (no refresh), by Rel.
	regs map[string]*reg
	// work is the keyed worker's per-container state.
	work map[string]*workItem
	// timers are pending delayed passes (retries after errors, duplicate
	// keys expected to expire), by container.
	timers map[string]*retry
	// attempts counts the failed passes in a row, for the back-off.
	attempts map[string]int
	// events is the per-container event bookkeeping (draining).
	events map[string]*eventState
	// waiting are the containers that found a route name held by another
	// local container, woken when it is removed, by Rel.
	waiting map[string]map[string]bool
	// reasons are the last "ignored" reasons logged, notes the notes, by
	// container.
	reasons map[string]string
	notes   map[string]map[string]bool
	// probes are the readiness probers running, by container (see
	// gateReady).
	probes  map[string]*prober
	hosts   HostAddrs
	hostErr error
	hostSet bool

	wg           sync.WaitGroup
	sem          chan struct{}
	reconcileReq chan struct{}
}

type reg struct {
	container string
	value     string
	weight    int
	refresh   bool
}

type workItem struct {
	running, dirty bool
	hints          map[string]bool
	done           []chan struct{}
}

type retry struct {
	due   time.Time
	t     *time.Timer
	hints map[string]bool
}

type eventState struct {
	lastStart  int64 // timeNano of the newest start/unpause seen
	drainSince int64 // timeNano of the terminating kill/stop; 0: not draining
	drainUntil time.Time
	drainTimer *time.Timer
}

// New checks cfg and returns a registrator.
func New(cfg Config) (*Registrator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Probe == nil {
		cfg.Probe = dialProbe
	}
	return &Registrator{
		cfg:          cfg,
		log:          cfg.Logger,
		regs:         map[string]*reg{},
		work:         map[string]*workItem{},
		timers:       map[string]*retry{},
		attempts:     map[string]int{},
		events:       map[string]*eventState{},
		waiting:      map[string]map[string]bool{},
		reasons:      map[string]string{},
		notes:        map[string]map[string]bool{},
		probes:       map[string]*prober{},
		sem:          make(chan struct{}, cfg.Parallel),
		reconcileReq: make(chan struct{}, 1),
	}, nil
}

// dialProbe connects to addr and hangs up. The timeout is short: on a
// host's own bridge or a LAN a listening port answers in well under a
// millisecond, and a filtered one must not hold a container's worker.
func dialProbe(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 300 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// Run registers until ctx ends (C.3): it waits for Docker, subscribes to
// events before the first listing, reconciles (retrying until the store
// and Docker answer), then follows the events, refreshes the TTLs and
// reconciles every Resync and after each reconnect of the event stream.
// When ctx ends it stops refreshing and, with DeregisterOnExit, deletes
// its keys; otherwise they expire one TTL later. It returns nil then; it
// can be called once.
func (r *Registrator) Run(ctx context.Context) error {
	if !r.ran.CompareAndSwap(false, true) {
		return errors.New("registrator: Run called twice")
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	info, err := r.waitDocker(ctx)
	if err != nil {
		return nil
	}
	r.log.Info(fmt.Sprintf("docker: engine %s, api %s", orUnknown(info.ServerVersion), orUnknown(info.APIVersion)))
	r.log.Info(fmt.Sprintf("registrator: owner %s, prefix %s, layout %s, key-by %s, ttl %s",
		r.cfg.OwnerID, r.cfg.Prefix, r.cfg.Layout, r.cfg.KeyBy, ttlString(r.cfg.TTL)))

	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()

	// Subscribe before listing (A.1 step 5), so that a container started
	// during the first reconcile is seen; its events wait in q.
	q := newEventQueue(&r.m)
	since := time.Now().UnixNano()
	evs, errs := r.cfg.Docker.Events(ctx, 0)
	var loops sync.WaitGroup
	loops.Go(func() { r.readEvents(ctx, evs, errs, since, q) })

	for b := r.cfg.BackoffMin; ; b = min(2*b, r.cfg.BackoffMax) {
		if r.reconcile(ctx) == nil {
			break
		}
		if !sleep(ctx, b) {
			break
		}
	}
	if ctx.Err() == nil {
		loops.Go(func() { r.refreshLoop(ctx) })
		loops.Go(func() { r.reconcileLoop(ctx) })
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-q.ready:
				evs, overflow := q.take()
				for _, ev := range evs {
					r.dispatch(ev)
				}
				r.m.eventsApplied.Add(uint64(len(evs)))
				if overflow {
					r.requestReconcile()
				}
			}
		}
	}

	cancel()
	loops.Wait()
	r.mu.Lock()
	for id, t := range r.timers {
		t.t.Stop()
		delete(r.timers, id)
	}
	for _, es := range r.events {
		if es.drainTimer != nil {
			es.drainTimer.Stop()
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
	if r.cfg.DeregisterOnExit {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(parent), 10*time.Second)
		r.removeAll(dctx)
		dcancel()
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// waitDocker pings the daemon until it answers (C.3: never crash-loop).
func (r *Registrator) waitDocker(ctx context.Context) (EngineInfo, error) {
	for b := r.cfg.BackoffMin; ; b = min(2*b, r.cfg.BackoffMax) {
		info, err := r.cfg.Docker.Info(ctx)
		if err == nil {
			r.dockerContact()
			return info, nil
		}
		r.m.dockerErrors.Add(1)
		if ctx.Err() != nil {
			return info, ctx.Err()
		}
		r.log.Warn(fmt.Sprintf("docker: %v; retrying in %v", err, b))
		if !sleep(ctx, b) {
			return info, ctx.Err()
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ---- events ----

// eventQueue is the unbounded-but-capped buffer between the stream reader
// and the dispatcher: the reader never blocks, because the daemon skips
// events for a subscriber that does not take them within 100 ms (B.3).
type eventQueue struct {
	mu       sync.Mutex
	evs      []Event
	overflow bool
	ready    chan struct{}
	m        *counters
}

// passTimeout bounds one pass over a container and the read phase of a
// reconcile, so that a hung Docker or store call cannot stall the
// registrator; the pass is retried.
const passTimeout = 2 * time.Minute

// maxQueued bounds the queue; beyond it events are dropped and a full
// reconcile stands in for them.
const maxQueued = 1 << 16

func newEventQueue(m *counters) *eventQueue {
	return &eventQueue{ready: make(chan struct{}, 1), m: m}
}

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	if len(q.evs) >= maxQueued {
		q.overflow = true
		q.m.eventsDropped.Add(1)
	} else {
		q.evs = append(q.evs, ev)
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *eventQueue) take() ([]Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs, o := q.evs, q.overflow
	q.evs, q.overflow = nil, false
	return evs, o
}

// readEvents follows the stream and, when it breaks, reconnects with
// back-off from the last event's time, then asks for a full reconcile
// (C.3 step 6): since replay is best-effort (256 events, B.3).
func (r *Registrator) readEvents(ctx context.Context, evs <-chan Event, errs <-chan error, last int64, q *eventQueue) {
	backoff := r.cfg.BackoffMin
	for {
		start := time.Now()
		got, err := r.follow(ctx, evs, errs, &last, q)
		if ctx.Err() != nil {
			return
		}
		r.m.reconnects.Add(1)
		r.m.dockerErrors.Add(1)
		if got || time.Since(start) > r.cfg.BackoffMax {
			backoff = r.cfg.BackoffMin
		}
		r.log.Warn(fmt.Sprintf("docker: event stream ended (%v); reconnecting in %v", err, backoff))
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, r.cfg.BackoffMax)
		evs, errs = r.cfg.Docker.Events(ctx, last)
		r.requestReconcile()
	}
}

// follow reads one stream until it ends; got reports whether it
// delivered any event.
func (r *Registrator) follow(ctx context.Context, evs <-chan Event, errs <-chan error, last *int64, q *eventQueue) (got bool, err error) {
	take := func(ev Event) {
		got = true
		r.m.eventsReceived.Add(1)
		r.dockerContact()
		if ev.TimeNano == 0 {
			ev.TimeNano = time.Now().UnixNano()
		}
		*last = max(*last, ev.TimeNano)
		q.push(ev)
	}
	for evs != nil || errs != nil {
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case ev, ok := <-evs:
			if !ok {
				evs = nil
				continue
			}
			take(ev)
		case e, ok := <-errs:
			if !ok || e == nil {
				e = io.EOF
			}
			// Take what the stream delivered before it broke.
			for evs != nil {
				select {
				case ev, ok := <-evs:
					if !ok {
						evs = nil
						continue
					}
					take(ev)
					continue
				default:
				}
				break
			}
			return got, e
		}
	}
	return got, io.EOF
}

// terminating reports whether a kill signal ends the container: SIGTERM,
// SIGINT or SIGKILL, by number or name (C.4). Others (HUP for a reload)
// change nothing.
func terminating(sig string) bool {
	s := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(sig)), "SIG")
	switch s {
	case "15", "2", "9", "TERM", "INT", "KILL":
		return true
	}
	return false
}

// dispatch applies one event (C.4). It never blocks: it updates the
// draining marks and schedules the container; the worker re-inspects it
// and converges to whatever state it is in by then.
func (r *Registrator) dispatch(ev Event) {
	if ev.ID == "" {
		return
	}
	t := ev.TimeNano
	switch a := ev.Action; {
	case a == "start" || a == "unpause":
		r.mu.Lock()
		es := r.eventState(ev.ID)
		es.lastStart = max(es.lastStart, t)
		if es.drainSince != 0 && t >= es.drainSince {
			r.undrainLocked(ev.ID)
		}
		r.mu.Unlock()
	case a == "die" || a == "destroy":
		r.mu.Lock()
		if es := r.events[ev.ID]; es != nil && es.drainSince != 0 && (t >= es.drainSince || a == "destroy") {
			r.undrainLocked(ev.ID)
		}
		r.mu.Unlock()
	case a == "kill":
		if !terminating(ev.Attributes["signal"]) {
			return
		}
		r.drain(ev.ID, t)
	case a == "stop":
		r.drain(ev.ID, t)
	case a == "pause", a == "rename", strings.HasPrefix(a, "health_status"):
	default:
		return
	}
	r.schedule(ev.ID)
}

func (r *Registrator) eventState(id string) *eventState {
	es := r.events[id]
	if es == nil {
		es = &eventState{}
		r.events[id] = es
	}
	return es
}

// drain marks a container that is being stopped as not routable, so that
// traffic leaves it before the process exits and a reconcile in the stop
// grace period does not add it back (C.4, gliderlabs/registrator#685). A
// signal older than the container's latest start is stale (events may
// arrive out of order) and ignored.
func (r *Registrator) drain(id string, t int64) {
	if r.cfg.Deregister != DeregisterAlways || r.cfg.DrainTimeout <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	es := r.eventState(id)
	if t < es.lastStart {
		return
	}
	if es.drainSince == 0 || t > es.drainSince {
		es.drainSince = t
	}
	es.drainUntil = time.Now().Add(r.cfg.DrainTimeout)
	if es.drainTimer != nil {
		es.drainTimer.Stop()
	}
	// After the timeout the container is judged on its state again.
	es.drainTimer = time.AfterFunc(r.cfg.DrainTimeout+10*time.Millisecond, func() { r.schedule(id) })
}

func (r *Registrator) undrainLocked(id string) {
	es := r.events[id]
	if es == nil {
		return
	}
	es.drainSince = 0
	if es.drainTimer != nil {
		es.drainTimer.Stop()
		es.drainTimer = nil
	}
}

// draining reports whether id is marked and the mark has not timed out.
func (r *Registrator) draining(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	es := r.events[id]
	if es == nil || es.drainSince == 0 {
		return false
	}
	if time.Now().After(es.drainUntil) {
		r.undrainLocked(id)
		return false
	}
	return true
}

// ---- keyed worker ----

// schedule asks for a pass over container id (hints: route names to look
// at besides those it is known to hold). Passes for one container never
// overlap and run in request order; requests made while a pass runs are
// coalesced into one more pass, which re-inspects the container.
func (r *Registrator) schedule(id string, hints ...string) {
	r.enqueue(id, hints, false)
}

// enqueue is schedule; with wait, the returned channel is closed when a
// pass that started after the request has ended.
func (r *Registrator) enqueue(id string, hints []string, wait bool) chan struct{} {
	var done chan struct{}
	if wait {
		done = make(chan struct{})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.ctx.Err() != nil || id == "" {
		if done != nil {
			close(done)
		}
		return done
	}
	w := r.work[id]
	if w == nil {
		w = &workItem{}
		r.work[id] = w
	}
	if w.dirty {
		r.m.eventsCoalesced.Add(1)
	}
	w.dirty = true
	for _, h := range hints {
		if w.hints == nil {
			w.hints = map[string]bool{}
		}
		w.hints[h] = true
	}
	if done != nil {
		w.done = append(w.done, done)
	}
	if !w.running {
		w.running = true
		r.wg.Add(1)
		go r.worker(r.ctx, id, w)
	}
	return done
}

func (r *Registrator) worker(ctx context.Context, id string, w *workItem) {
	defer r.wg.Done()
	acquired := false
	select {
	case r.sem <- struct{}{}:
		acquired = true
	case <-ctx.Done():
	}
	defer func() {
		if acquired {
			<-r.sem
		}
	}()
	for {
		r.mu.Lock()
		if !w.dirty || ctx.Err() != nil {
			w.running = false
			done := w.done
			w.done = nil
			if r.work[id] == w {
				delete(r.work, id)
			}
			r.mu.Unlock()
			closeAll(done)
			return
		}
		w.dirty = false
		hints := w.hints
		w.hints = nil
		done := w.done
		w.done = nil
		r.mu.Unlock()

		pctx, cancel := context.WithTimeout(ctx, passTimeout)
		err := r.converge(pctx, id, hints)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.retryLater(id, hints, err)
		} else if err == nil {
			r.mu.Lock()
			delete(r.attempts, id)
			r.mu.Unlock()
		}
		closeAll(done)
	}
}

func closeAll(chs []chan struct{}) {
	for _, c := range chs {
		close(c)
	}
}

// retryLater schedules another pass after a Docker or store error, with
// back-off per container.
func (r *Registrator) retryLater(id string, hints map[string]bool, err error) {
	r.mu.Lock()
	attempt := r.attempts[id]
	r.attempts[id] = attempt + 1
	r.mu.Unlock()
	d := min(r.cfg.BackoffMin<<min(attempt, 16), r.cfg.BackoffMax)
	r.log.Warn(fmt.Sprintf("container %s: %v; retrying in %v", shortID(id), err, d))
	r.later(id, d, hints)
}

// later schedules a pass over id after d, unless an earlier one is
// already due.
func (r *Registrator) later(id string, d time.Duration, hints map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.ctx.Err() != nil {
		return
	}
	due := time.Now().Add(d)
	t := r.timers[id]
	if t != nil {
		for h := range hints {
			t.hints[h] = true
		}
		if !t.due.After(due) {
			return
		}
		t.t.Stop()
	} else {
		t = &retry{hints: map[string]bool{}}
		for h := range hints {
			t.hints[h] = true
		}
		r.timers[id] = t
	}
	t.due = due
	t.t = time.AfterFunc(d, func() {
		r.mu.Lock()
		var hs []string
		if r.timers[id] == t {
			delete(r.timers, id)
			hs = sortedKeys(t.hints)
		}
		r.mu.Unlock()
		r.schedule(id, hs...)
	})
}

// ---- reconcile ----

func (r *Registrator) requestReconcile() {
	select {
	case r.reconcileReq <- struct{}{}:
	default:
	}
}

func (r *Registrator) reconcileLoop(ctx context.Context) {
	var tick <-chan time.Time
	if r.cfg.Resync > 0 {
		t := time.NewTicker(r.cfg.Resync)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-r.reconcileReq:
		}
		r.reconcile(ctx)
	}
}

// refreshLoop resets the TTL of every held route every TTLRefresh,
// without waking watchers (C.2).
func (r *Registrator) refreshLoop(ctx context.Context) {
	if r.cfg.TTL == 0 {
		return
	}
	// Refresh at once: after a restart the first reconcile keeps the
	// unchanged keys without writing them, and one of them may have been
	// refreshed last almost a full period before the crash; waiting for
	// the first tick could let it expire and drop a live route.
	r.refreshAll(ctx)
	t := time.NewTicker(r.cfg.TTLRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.refreshAll(ctx)
		}
	}
}

// ---- logging and bookkeeping ----

// setReason logs a container's "ignored" reason when it changes; an
// empty reason clears it.
func (r *Registrator) setReason(id, reason string, duplicate bool) {
	r.mu.Lock()
	old := r.reasons[id]
	if reason == "" {
		delete(r.reasons, id)
	} else {
		r.reasons[id] = reason
	}
	r.mu.Unlock()
	if reason == "" || reason == old {
		return
	}
	if duplicate {
		r.m.duplicates.Add(1)
	}
	msg := "ignored: " + shortID(id) + " " + reason
	if duplicate || strings.HasPrefix(reason, "no usable address") {
		r.log.Warn(msg)
	} else {
		r.log.Info(msg)
	}
}

// note logs each note once per container.
func (r *Registrator) note(id string, notes []string) {
	if len(notes) == 0 {
		return
	}
	r.mu.Lock()
	seen := r.notes[id]
	if seen == nil {
		seen = map[string]bool{}
		r.notes[id] = seen
	}
	var fresh []string
	for _, n := range notes {
		if !seen[n] {
			seen[n] = true
			fresh = append(fresh, n)
		}
	}
	r.mu.Unlock()
	for _, n := range fresh {
		r.log.Warn("container " + shortID(id) + ": " + n)
	}
}

// forgetContainer drops what is kept about a container that is gone.
func (r *Registrator) forgetContainer(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.reasons, id)
	delete(r.notes, id)
	r.stopProbeLocked(id)
	r.undrainLocked(id)
	delete(r.events, id)
	for rel, ws := range r.waiting {
		delete(ws, id)
		if len(ws) == 0 {
			delete(r.waiting, rel)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

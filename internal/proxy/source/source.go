package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"hecd/internal/client"
	"hecd/internal/proxy"
)

// Defaults of Config.
const (
	DefaultPrefix        = "/app/servers"
	DefaultWeightsPrefix = "/hecd/weights"
	DefaultServersPrefix = "/hecd/default"
	// DefaultAdminPrefix is where the stats page persists admin states
	// when persistence is on; Config.AdminPrefix is empty (off) unless
	// set.
	DefaultAdminPrefix = "/hecd/admin"
	DefaultSettle      = 100 * time.Millisecond
	DefaultSettleMax   = time.Second
	// settleQuiet is how long the store must be quiet before gathered
	// changes are published.
	settleQuiet          = 20 * time.Millisecond
	DefaultBackendName   = "default_backend"
	DefaultProbeInterval = 5 * time.Second
)

// DefaultMode chooses the default backend's servers (spec D.3).
type DefaultMode string

const (
	// DefaultStatic: the servers of Config.DefaultServers and of the keys
	// <DefaultServersPrefix>/<name> = host:port (the legacy model).
	DefaultStatic DefaultMode = "static"
	// DefaultAll: every route's server, balanced round robin.
	DefaultAll DefaultMode = "all"
	// DefaultNone: no default backend; unmatched requests get 503.
	DefaultNone DefaultMode = "none"
)

// StaticServer is a default-backend server from the configuration.
type StaticServer struct {
	Name string // as a route id; shown on the stats page
	Addr string // host:port
	// Weight is 1–256; 0 means HAProxy's default, 1. (A configured
	// server that should take no traffic is drained on the stats page,
	// or left out.)
	Weight int
}

// Config configures a Source. Client and Router are required; every
// other field has a default.
type Config struct {
	// Client reads and watches the store.
	Client *client.Client
	// Router receives each new table.
	Router *proxy.Router

	// Prefix holds the routes, <Prefix>/<id> = host:port. Default
	// DefaultPrefix.
	Prefix string
	// Settle bounds how long changes are gathered: a table is published
	// once no change has come for 20 ms, or Settle after the
	// first change it holds, whichever is sooner. A lone registration is
	// thus routable in milliseconds, and a burst of writes gives one table
	// per Settle. SettleMax is kept for compatibility and bounds Settle.
	// Defaults DefaultSettle and DefaultSettleMax.
	Settle, SettleMax time.Duration

	// DefaultMode chooses the default backend's servers; default
	// DefaultStatic.
	DefaultMode DefaultMode
	// DefaultName names the default backend (stats page, admin keys).
	// Default DefaultBackendName.
	DefaultName string
	// DefaultServers are static mode's configured servers.
	DefaultServers []StaticServer
	// DefaultServersPrefix holds static mode's servers from the store,
	// <prefix>/<name> = host:port; a name also configured in
	// DefaultServers takes the store's address. Default
	// DefaultServersPrefix; NoDefaultServerKeys turns the keys off.
	DefaultServersPrefix string
	NoDefaultServerKeys  bool

	// WeightsPrefix holds route weights, <prefix>/<id> = 0..256 (0 is
	// DRAIN; a missing or invalid key means 1). Default
	// DefaultWeightsPrefix; NoWeights turns the keys off.
	WeightsPrefix string
	NoWeights     bool

	// AdminPrefix, when set (usually to DefaultAdminPrefix), holds
	// persisted admin states, <prefix>/<backend>/<server> = ready, drain
	// or maint (spec D.6). Empty: off.
	AdminPrefix string

	// Logger gets the source's log lines; default slog.Default().
	Logger *slog.Logger

	// OnServerAdded is called for each new server before the first table
	// holding it is published, so that it can set the server's initial
	// health state and start its checks (proxy.Server.StartChecks).
	// backend is the server's backend: the route id, or DefaultName for a
	// static default server (in DefaultAll mode a route's server is also
	// in the default backend; it is announced once, with its route).
	// initial is true for the servers of the first table, which the
	// checker should stagger, and false for servers added later, which it
	// should check at once (spec D.3; proxy.Immediate). It runs on the
	// source's goroutine and must not block.
	OnServerAdded func(s *proxy.Server, backend string, initial bool)
	// OnServerRemoved is called for each server that is in no table any
	// more, after the swap and just before its Stop. It must not block.
	OnServerRemoved func(s *proxy.Server)
	// OnSwap is called after each table is published (time-to-route
	// measurements, metrics). It must not block.
	OnSwap func(t *proxy.Table)

	// ProbeInterval is how often a cheap read checks that the store is
	// still there while the watches wait: a store host that vanished
	// without closing its connections would otherwise leave a watch
	// waiting for minutes (until TCP keep-alive gives up) with Status
	// still saying connected. The probe also notices a member that lags
	// behind what was applied (a switch to a stale member) and re-reads.
	// Default DefaultProbeInterval; negative turns it off.
	ProbeInterval time.Duration
}

// Status is the source's state for the stats page and metrics.
type Status struct {
	// Connected is true while the store is followed live; false while it
	// is unreachable or answers errors, when the last table is kept
	// (fail-static).
	Connected bool
	// Since is when Connected last changed.
	Since time.Time
	// LastError is the last error that ended a read or a watch, and
	// LastErrorTime when it happened.
	LastError     string
	LastErrorTime time.Time
	// LastIndex is the highest store index applied.
	LastIndex uint64
	// LastChange is when the current table was published; Swaps counts
	// tables published.
	LastChange time.Time
	Swaps      uint64
	// Resyncs counts snapshots read after the first: after an index
	// cleared (401), a watcher cleared (400), a connection loss or a
	// lagging member.
	Resyncs uint64
	// Routes is the current table's route count; InvalidKeys and
	// Conflicts its skipped keys (Table.Invalid, Table.Conflicts).
	Routes      int
	InvalidKeys int
	Conflicts   int
}

// Source follows the store and publishes route tables. Create it with
// New and start it with Run.
type Source struct {
	cfg Config
	log *slog.Logger

	routes, weights, defaults, admin *space
	spaces                           []*space

	// Everything below up to mu belongs to Run's goroutine.

	// routeServers, routeBackends, defaultServers and defBackend are those
	// of the last table, by id or name, so that the next table can carry
	// unchanged ones over.
	routeServers   map[string]*proxy.Server
	routeBackends  map[string]*proxy.Backend
	defaultServers map[string]*proxy.Server
	defBackend     *proxy.Backend
	last           *proxy.Table
	// dirtyWeights and dirtyAdmin are the weight and admin keys changed
	// since the last table: only those are applied to servers that carry
	// over, so that a change on the stats page is not undone by an
	// unrelated store change.
	dirtyWeights, dirtyAdmin map[string]bool
	// loaded: a table from the store has been published.
	loaded bool
	// maxApplied is the highest index applied; applied is a copy for the
	// probe's goroutine.
	maxApplied uint64
	applied    atomic.Uint64
	clusterID  string
	staleSince time.Time
	// reported holds the invalid keys and conflicts already logged.
	reported     map[string]string
	emptyLogged  bool
	outageLogged bool // the store trouble under way has been logged
	snapshots    uint64

	// Tunables that tests shorten.
	retryMin, retryMax time.Duration
	staleGrace         time.Duration
	sessionOK          time.Duration
	// beforeWatch, when set (tests), runs before each watch request.
	beforeWatch func(ctx context.Context, prefix string, after uint64)

	running atomic.Bool
	ready   chan struct{}

	mu        sync.Mutex
	st        Status
	reflected uint64
	advanced  chan struct{} // closed and replaced when reflected grows
}

// New checks cfg and returns a Source; nothing is read until Run.
func New(cfg Config) (*Source, error) {
	if cfg.Client == nil {
		return nil, errors.New("source: no store client")
	}
	if cfg.Router == nil {
		return nil, errors.New("source: no router")
	}
	if cfg.Settle < 0 || cfg.SettleMax < 0 {
		return nil, errors.New("source: negative settle time")
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.SettleMax == 0 {
		cfg.SettleMax = DefaultSettleMax
	}
	cfg.SettleMax = max(cfg.SettleMax, cfg.Settle)
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	switch cfg.DefaultMode {
	case "":
		cfg.DefaultMode = DefaultStatic
	case DefaultStatic, DefaultAll, DefaultNone:
	default:
		return nil, fmt.Errorf("source: default backend mode %q: want static, all or none", cfg.DefaultMode)
	}
	if cfg.DefaultName == "" {
		cfg.DefaultName = DefaultBackendName
	}
	if err := CheckID(cfg.DefaultName); err != nil {
		return nil, fmt.Errorf("source: default backend name %q: %w", cfg.DefaultName, err)
	}
	// A copy: defaults are filled in below, and the caller's slice is
	// the caller's.
	cfg.DefaultServers = slices.Clone(cfg.DefaultServers)
	seen := map[string]bool{}
	for i, srv := range cfg.DefaultServers {
		if err := srv.check(); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		if seen[srv.Name] {
			return nil, fmt.Errorf("source: default server %q is configured twice", srv.Name)
		}
		seen[srv.Name] = true
		if srv.Weight == 0 {
			cfg.DefaultServers[i].Weight = 1
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Source{
		cfg:            cfg,
		log:            cfg.Logger.With("component", "proxy/source"),
		routeServers:   map[string]*proxy.Server{},
		routeBackends:  map[string]*proxy.Backend{},
		defaultServers: map[string]*proxy.Server{},
		dirtyWeights:   map[string]bool{},
		dirtyAdmin:     map[string]bool{},
		reported:       map[string]string{},
		retryMin:       100 * time.Millisecond,
		retryMax:       2 * time.Second,
		staleGrace:     time.Minute,
		sessionOK:      time.Second,
		ready:          make(chan struct{}),
		advanced:       make(chan struct{}),
	}
	clean := func(p, def string) string {
		if p == "" {
			p = def
		}
		return path.Clean("/" + p)
	}
	s.routes = newSpace("routes", clean(cfg.Prefix, DefaultPrefix), 1)
	s.spaces = []*space{s.routes}
	if !cfg.NoWeights {
		s.weights = newSpace("weights", clean(cfg.WeightsPrefix, DefaultWeightsPrefix), 1)
		s.spaces = append(s.spaces, s.weights)
	}
	if cfg.DefaultMode == DefaultStatic && !cfg.NoDefaultServerKeys {
		s.defaults = newSpace("default", clean(cfg.DefaultServersPrefix, DefaultServersPrefix), 1)
		s.spaces = append(s.spaces, s.defaults)
	}
	if cfg.AdminPrefix != "" {
		s.admin = newSpace("admin", clean(cfg.AdminPrefix, ""), 2)
		s.spaces = append(s.spaces, s.admin)
	}
	// One key space per prefix: a prefix shared by two kinds would make
	// every key both a route and, say, a weight.
	for i, a := range s.spaces {
		for _, b := range s.spaces[i+1:] {
			if a.prefix == b.prefix {
				return nil, fmt.Errorf("source: the %s and %s prefixes are both %s", a.name, b.name, a.prefix)
			}
		}
	}
	s.cfg.Prefix = s.routes.prefix
	return s, nil
}

// Status returns the current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Ready is closed once the first table built from the store is
// published.
func (s *Source) Ready() <-chan struct{} { return s.ready }

// WaitIndex returns once the published table reflects every change under
// the route prefix up to the store index index (for example the
// modifiedIndex a write of a route key returned), or with ctx's error.
// The index must be one of an event under the route prefix (or lower):
// the route watch never sees other keys' indexes, and changes of the
// metadata prefixes (weights, default servers, admin) are followed by
// watches of their own and are not covered. With the write's time it
// measures time-to-route: store, watch, settle and swap; OnSwap has run
// for the table by the time it returns.
func (s *Source) WaitIndex(ctx context.Context, index uint64) error {
	for {
		s.mu.Lock()
		ok, ch := s.reflected >= index, s.advanced
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// setReflected records that the published table reflects the route
// prefix up to index.
func (s *Source) setReflected(index uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index > s.reflected {
		s.reflected = index
		close(s.advanced)
		s.advanced = make(chan struct{})
	}
}

// Run follows the store until ctx ends; it may be called once. It reads
// a snapshot of every prefix, publishes a table, then follows the
// changes with watches; whenever following breaks (index cleared, a lost
// connection, a lagging member) it reads a new snapshot and goes on from
// there, keeping the last table meanwhile. It returns nil when ctx ends;
// the last table stays published and its servers are not stopped (the
// frontend may still be draining on them).
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("source: Run was already called")
	}
	fails := 0
	for {
		if d := s.backoff(fails); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		progress, err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if progress {
			fails = 0
		} else {
			fails++
		}
		s.noteError(err)
		if s.last == nil {
			// The store did not answer at start: serve the configured
			// default servers meanwhile rather than nothing at all.
			s.publish()
		}
	}
}

// backoff is the pause before the next snapshot after fails failed
// sessions: none after one that made progress (a 401 must be followed by
// a re-read at once), then doubling to retryMax, with jitter so that many
// proxies do not return to a recovering store in step.
func (s *Source) backoff(fails int) time.Duration {
	if fails == 0 {
		return 0
	}
	d := s.retryMax
	if fails < 20 {
		d = min(s.retryMin<<(fails-1), s.retryMax)
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// watchResult is one answer of a watch (or an error of a watch or the
// probe) for the session's loop.
type watchResult struct {
	sp   *space
	resp *client.Response
	err  error
}

// session reads a snapshot, publishes it if it changed anything, then
// applies watch events until one of the watches or the probe fails.
// progress says whether it got far enough for the next attempt to come
// without a pause: a snapshot and either an event or sessionOK of
// following.
func (s *Source) session(ctx context.Context) (progress bool, err error) {
	start := time.Now()
	if err := s.snapshot(ctx); err != nil {
		return false, err
	}

	sctx, cancel := context.WithCancel(ctx)
	results := make(chan watchResult)
	var wg sync.WaitGroup
	for _, sp := range s.spaces {
		after := sp.after
		wg.Go(func() { s.follow(sctx, sp, after, results) })
	}
	if s.cfg.ProbeInterval > 0 {
		wg.Go(func() { s.probe(sctx, results) })
	}
	// Stop and wait for the watches before the next snapshot, so that
	// no answer of this session can reach the next.
	defer func() {
		cancel()
		wg.Wait()
	}()

	settle := time.NewTimer(time.Hour)
	settle.Stop()
	var (
		pending       bool // a change waits for the next table
		routesPending bool // ... and it is a route change
		events        int
		first         time.Time
	)
	flush := func() {
		settle.Stop()
		pending, routesPending = false, false
		s.publish()
	}
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case <-settle.C:
			flush()
		case r := <-results:
			if r.err != nil {
				// What was gathered is valid store data: publish it
				// before the store is re-read (or found gone).
				if pending {
					flush()
				}
				return events > 0 || time.Since(start) >= s.sessionOK, r.err
			}
			events++
			if s.applyEvent(r.sp, r.resp) {
				// A table is published once the store has been quiet for
				// settleQuiet (a lone registration is routable within
				// milliseconds), and at the latest Settle after the first
				// change it holds (a burst of writes gives a table per
				// Settle, not one per write).
				now := time.Now()
				if !pending {
					pending, first = true, now
				}
				settle.Reset(max(0, min(settleQuiet, first.Add(s.cfg.Settle).Sub(now))))
				routesPending = routesPending || r.sp == s.routes
			}
			if r.sp == s.routes && !routesPending {
				// The event changed nothing the table shows (the same
				// value again, a hidden or deeper key): the published
				// table already reflects it.
				s.setReflected(s.routes.after)
			}
		}
	}
}

// snapshot reads every prefix with a recursive quorum GET and installs
// the result, publishing a table when anything changed (or when none has
// been published from the store yet).
func (s *Source) snapshot(ctx context.Context) error {
	type read struct {
		vals  map[string]string
		index uint64
	}
	reads := make([]read, len(s.spaces))
	var lowest, highest uint64
	cluster := ""
	for i, sp := range s.spaces {
		r, err := s.cfg.Client.Get(ctx, sp.prefix, client.GetOptions{Recursive: true, Quorum: true})
		var idx uint64
		switch {
		case err == nil:
			reads[i].vals = sp.load(r.Node)
			idx = r.Index
			cluster = r.ClusterID
		case client.IsKeyNotFound(err):
			// A missing prefix is an empty one (spec D.1), as of the
			// index the error carries.
			var ke *client.Error
			errors.As(err, &ke)
			reads[i].vals = map[string]string{}
			idx = ke.Index
		default:
			return fmt.Errorf("reading %s: %w", sp.prefix, err)
		}
		reads[i].index = idx
		if i == 0 || idx < lowest {
			lowest = idx
		}
		highest = max(highest, idx)
	}

	// Never go back to data older than what was applied (spec D.1): a
	// lower index means a member that lags (after a failover) and will
	// catch up; wait for it. A store that was replaced (restored from an
	// old backup, or wiped) never catches up: a new cluster id says so at
	// once; without one, the lower index is accepted after staleGrace.
	if lowest < s.maxApplied {
		replaced := cluster != "" && s.clusterID != "" && cluster != s.clusterID
		if !replaced {
			if s.staleSince.IsZero() {
				s.staleSince = time.Now()
			}
			if time.Since(s.staleSince) < s.staleGrace {
				return &staleError{index: lowest, applied: s.maxApplied}
			}
		}
		s.log.Warn("store index went back: taking the store's data as it is now",
			"index", lowest, "applied", s.maxApplied, "cluster_changed", replaced)
		s.maxApplied = 0
		// Indexes start over: WaitIndex must wait for the new ones.
		s.mu.Lock()
		s.reflected = 0
		s.mu.Unlock()
	}
	s.staleSince = time.Time{}
	if cluster != "" {
		s.clusterID = cluster
	}

	changed := false
	for i, sp := range s.spaces {
		names := sp.replace(reads[i].vals)
		sp.after = reads[i].index
		s.markDirty(sp, names)
		changed = changed || len(names) > 0
	}
	s.maxApplied = max(s.maxApplied, highest)
	s.applied.Store(s.maxApplied)
	s.snapshots++
	s.setConnected()

	if changed || !s.loaded {
		s.publish()
		if !s.loaded {
			s.loaded = true
			close(s.ready)
		}
		return nil
	}
	s.setReflected(s.routes.after)
	s.mu.Lock()
	s.st.LastIndex = s.maxApplied
	s.mu.Unlock()
	return nil
}

// staleError: the store answered with an index below the applied one.
type staleError struct{ index, applied uint64 }

func (e *staleError) Error() string {
	return fmt.Sprintf("the store is at index %d, behind the applied index %d (a lagging member?)", e.index, e.applied)
}

// errLagging: the probe found the member behind what was applied.
var errLagging = errors.New("the store member answers with an index behind the applied one; re-reading")

// follow chains recursive watches on sp's prefix from after+1 and hands
// each event to the session, until ctx ends or a watch fails.
func (s *Source) follow(ctx context.Context, sp *space, after uint64, out chan<- watchResult) {
	for {
		if s.beforeWatch != nil {
			s.beforeWatch(ctx, sp.prefix, after)
		}
		r, err := s.cfg.Client.Watch(ctx, sp.prefix, client.WatchOptions{AfterIndex: after, Recursive: true})
		if err == nil && (r.Node == nil || r.Node.ModifiedIndex <= after) {
			// Following an event that does not move forward could loop
			// for ever; re-read instead.
			var got uint64
			if r.Node != nil {
				got = r.Node.ModifiedIndex
			}
			err = fmt.Errorf("watch on %s after index %d answered an event at index %d", sp.prefix, after, got)
		}
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("watching %s: %w", sp.prefix, err)
		}
		select {
		case out <- watchResult{sp: sp, resp: r, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
		after = r.Node.ModifiedIndex
	}
}

// probe reads a key that does not exist below the route prefix every
// ProbeInterval: an answer of any kind shows the store is there, and
// its index must not be behind what was applied before the read was
// sent.
func (s *Source) probe(ctx context.Context, out chan<- watchResult) {
	t := time.NewTicker(s.cfg.ProbeInterval)
	defer t.Stop()
	key := s.routes.key("_hecd_probe")
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before := s.applied.Load()
		r, err := s.cfg.Client.Get(ctx, key, client.GetOptions{})
		var idx uint64
		var ke *client.Error
		switch {
		case err == nil:
			idx = r.Index
		case errors.As(err, &ke):
			if ke.Code != client.CodeKeyNotFound {
				// Another keys error is still an answer: the store is
				// there.
				continue
			}
			idx = ke.Index
		case ctx.Err() != nil:
			return
		default:
			err = fmt.Errorf("probing the store: %w", err)
		}
		if err == nil || ke != nil {
			if idx >= before {
				continue
			}
			err = errLagging
		}
		select {
		case out <- watchResult{err: err}:
		case <-ctx.Done():
		}
		return
	}
}

// applyEvent applies a watch event to its space and reports whether an
// entry changed.
func (s *Source) applyEvent(sp *space, r *client.Response) bool {
	names := sp.apply(r.Action, r.Node)
	sp.after = r.Node.ModifiedIndex
	s.maxApplied = max(s.maxApplied, sp.after)
	s.applied.Store(s.maxApplied)
	s.markDirty(sp, names)
	s.mu.Lock()
	s.st.LastIndex = s.maxApplied
	s.mu.Unlock()
	return len(names) > 0
}

func (s *Source) markDirty(sp *space, names []string) {
	var dirty map[string]bool
	switch sp {
	case s.weights:
		dirty = s.dirtyWeights
	case s.admin:
		dirty = s.dirtyAdmin
	default:
		return
	}
	for _, n := range names {
		dirty[n] = true
	}
}

// setConnected records a successful snapshot.
func (s *Source) setConnected() {
	s.mu.Lock()
	was := s.st.Connected
	s.st.Connected = true
	if !was {
		s.st.Since = time.Now()
	}
	if s.snapshots > 1 {
		s.st.Resyncs++
	}
	s.mu.Unlock()
	switch {
	case s.outageLogged:
		s.log.Info("store reachable again; following it", "index", s.maxApplied)
		s.outageLogged = false
	case s.snapshots == 1:
		s.log.Info("following the store", "prefix", s.routes.prefix, "index", s.maxApplied)
	}
}

// noteError records why a session ended. An index cleared or watcher
// cleared answer is routine (the snapshot is read again at once) and
// leaves Connected alone; anything else means the store is not followed
// any more, and the last table is kept.
func (s *Source) noteError(err error) {
	if err == nil {
		return
	}
	now := time.Now()
	var ke *client.Error
	routine := errors.As(err, &ke) && (ke.Code == client.CodeIndexCleared || ke.Code == 400)
	s.mu.Lock()
	s.st.LastError, s.st.LastErrorTime = err.Error(), now
	was := s.st.Connected
	if !routine && was {
		s.st.Connected, s.st.Since = false, now
	}
	routes := s.st.Routes
	s.mu.Unlock()

	var cluster *client.ClusterError
	var stale *staleError
	switch {
	case routine:
		s.log.Info("the store's event history moved past the watch; re-reading the snapshot", "error", err)
	case s.outageLogged:
		// Logged when the trouble began; the retries say nothing new.
		s.log.Debug("store still not followed", "error", err)
	case errors.Is(err, errLagging) || errors.As(err, &stale):
		s.outageLogged = true
		s.log.Warn("store answers older data than already applied; keeping the last route table", "routes", routes, "error", err)
	case errors.As(err, &cluster):
		s.outageLogged = true
		s.log.Warn("store unreachable; keeping the last route table", "routes", routes, "error", err)
	default:
		s.outageLogged = true
		s.log.Warn("store error; keeping the last route table", "routes", routes, "error", err)
	}
}

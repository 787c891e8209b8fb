package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"hecd/internal/proxy"
)

// ErrClosed is returned by Serve after Close or Shutdown.
var ErrClosed = errors.New("frontend: closed")

// Frontend is one HTTP frontend: it accepts client connections on its
// listeners, routes every request by the route header through the
// router's current table and forwards it.
type Frontend struct {
	cfg    Config
	router *proxy.Router
	log    *slog.Logger
	pages  map[int][]byte
	// routeKey is RouteHeader in Go's canonical form, the key of the
	// parsed header map.
	routeKey string

	counters proxy.Counters
	dialer   net.Dialer
	pools    pools
	// global is the maxconn semaphore shared by all listeners.
	global chan struct{}
	// actconn is the process-wide connection count shown in logs.
	actconn atomic.Int64

	logMu sync.Mutex
	// sessions are the requests being forwarded, by server.
	sessions sessions

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*clientConn]struct{}
	closing   atomic.Bool
	done      chan struct{}
	// ctx is cancelled by Close (not Shutdown): it ends connection
	// attempts and retry waits.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	// wg counts background goroutines (pool watchers, sweeper); connWG
	// counts client connections.
	wg     sync.WaitGroup
	connWG sync.WaitGroup
}

// New returns a frontend that routes through router. logger receives
// operational messages (nil discards them); access log lines go to
// cfg.AccessLog.
func New(cfg Config, router *proxy.Router, logger *slog.Logger) (*Frontend, error) {
	if router == nil {
		return nil, errors.New("frontend: nil router")
	}
	cfg = cfg.withDefaults()
	if !isToken(cfg.RouteHeader) {
		return nil, fmt.Errorf("frontend: invalid route header name %q", cfg.RouteHeader)
	}
	if !isToken(cfg.ForwardFor.Header) {
		return nil, fmt.Errorf("frontend: invalid forwardfor header name %q", cfg.ForwardFor.Header)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Frontend{
		cfg:       cfg,
		router:    router,
		log:       logger,
		pages:     buildPages(cfg.ErrorPages),
		routeKey:  canonicalKey(cfg.RouteHeader),
		dialer:    net.Dialer{Timeout: cfg.Timeouts.Connect, KeepAlive: 30 * time.Second},
		global:    make(chan struct{}, cfg.MaxConn),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*clientConn]struct{}{},
		done:      make(chan struct{}),
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.pools = pools{f: f, m: map[*proxy.Server]*pool{}}
	f.wg.Add(1)
	go f.pools.sweeper(max(f.cfg.Timeouts.UpstreamIdle/2, 100*time.Millisecond), f.cfg.Timeouts.UpstreamIdle)
	return f, nil
}

// Name is the frontend's name (logs, stats page).
func (f *Frontend) Name() string { return f.cfg.Name }

// Counters are the FRONTEND row's: Cur/Max/Total count client
// connections, Hrsp the responses, BytesIn/Out the client traffic, ErrReq
// the requests refused as invalid or incomplete.
func (f *Frontend) Counters() *proxy.Counters { return &f.counters }

// Config is the effective configuration, defaults applied.
func (f *Frontend) Config() Config { return f.cfg }

// Serve accepts connections on ln until Close or Shutdown; it always
// returns a non-nil error, ErrClosed after Close or Shutdown. At the
// listener's or the global connection limit it stops accepting, so new
// connections wait in the kernel's backlog as with HAProxy's maxconn.
func (f *Frontend) Serve(ln net.Listener) error {
	f.mu.Lock()
	if f.closing.Load() {
		f.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	f.listeners[ln] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.listeners, ln)
		f.mu.Unlock()
		ln.Close()
	}()

	slots := make(chan struct{}, f.cfg.ListenerMaxConn)
	var backoff time.Duration
	for {
		select {
		case slots <- struct{}{}:
		case <-f.done:
			return ErrClosed
		}
		select {
		case f.global <- struct{}{}:
		case <-f.done:
			return ErrClosed
		}
		nc, err := ln.Accept()
		if err != nil {
			<-f.global
			<-slots
			if f.closing.Load() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of descriptors and the like: wait and try again, as
				// a listener that gives up would take the site down.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				f.log.Warn("accept failed; retrying", "frontend", f.cfg.Name, "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-f.done:
					return ErrClosed
				}
				continue
			}
			return err
		}
		backoff = 0
		c := f.newConn(nc, slots)
		f.connWG.Add(1)
		go c.serve()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Close stops the listeners, closes every client connection at once and
// drops the upstream pools. In-flight requests are cut.
func (f *Frontend) Close() error {
	f.stopAccepting()
	f.cancel()
	f.mu.Lock()
	for c := range f.conns {
		c.nc.Close()
	}
	f.mu.Unlock()
	f.connWG.Wait()
	f.wg.Wait()
	return nil
}

// Shutdown stops the listeners, closes idle keep-alive connections and
// waits for the requests and tunnels in flight to end, or for ctx; then it
// closes what is left, like Close.
func (f *Frontend) Shutdown(ctx context.Context) error {
	f.stopAccepting()
	done := make(chan struct{})
	go func() { f.connWG.Wait(); close(done) }()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		f.mu.Lock()
		for c := range f.conns {
			if c.idle.Load() {
				c.nc.Close()
			}
		}
		f.mu.Unlock()
		select {
		case <-done:
			f.cancel()
			f.wg.Wait()
			return nil
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (f *Frontend) stopAccepting() {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closing.Store(true)
		close(f.done)
		for ln := range f.listeners {
			ln.Close()
		}
		f.mu.Unlock()
	})
}

package confd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"hecd/internal/confd/backend"
)

// Renderer runs template resources in one of the three modes.
type Renderer struct {
	cfg Config
	log *slog.Logger
	hup chan struct{}

	mu     sync.Mutex
	states map[string]*resourceState // by resource file
}

// New checks cfg and returns a renderer.
func New(cfg Config) (*Renderer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Renderer{
		cfg:    cfg,
		log:    cfg.Logger,
		hup:    make(chan struct{}, 1),
		states: make(map[string]*resourceState),
	}, nil
}

// Reread asks a running renderer to read its resource files again and
// render everything at once (hecd confd does this on SIGHUP; confd died).
func (rd *Renderer) Reread() {
	select {
	case rd.hup <- struct{}{}:
	default:
	}
}

// Run renders until ctx ends (or once, in Onetime mode). In Onetime mode
// the error is the last failure, as confd reports it; the daemon modes
// log failures and keep going, and return an error only when they cannot
// start.
func (rd *Renderer) Run(ctx context.Context) error {
	switch rd.cfg.Mode {
	case Onetime:
		return rd.pass(ctx)
	case Watch:
		return rd.runWatch(ctx)
	default:
		return rd.runInterval(ctx)
	}
}

func (rd *Renderer) state(r *Resource) *resourceState {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	st := rd.states[r.File]
	if st == nil {
		st = &resourceState{}
		rd.states[r.File] = st
	}
	return st
}

// load reads the resource files, reporting each bad one and keeping the
// rest. The error is the last problem found, for onetime's exit status.
func (rd *Renderer) load() ([]*Resource, error) {
	rd.log.Debug("Loading template resources from confdir " + rd.cfg.ConfDir)
	rs, loadErrs, err := LoadResources(LoadOptions{
		ConfDir: rd.cfg.ConfDir,
		Prefix:  rd.cfg.Prefix,
		UID:     rd.cfg.UID,
		GID:     rd.cfg.GID,
		Warn: func(file, msg string) {
			rd.log.Warn(fmt.Sprintf("%s: %s", file, msg))
		},
	})
	if errors.Is(err, ErrNoConfDir) {
		rd.log.Warn(err.Error())
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var last error
	for _, e := range loadErrs {
		rd.log.Error(e.Error())
		last = e
	}
	if len(rs) == 0 && len(loadErrs) == 0 {
		rd.log.Warn("Found no templates")
	}
	for _, r := range rs {
		rd.log.Debug("Found template: " + r.File)
	}
	return rs, last
}

// pass loads and processes every resource once, in order.
func (rd *Renderer) pass(ctx context.Context) error {
	rs, last := rd.load()
	if ctx.Err() != nil {
		return nil
	}
	for _, r := range rs {
		if _, _, err := rd.process(ctx, r, rd.state(r)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			rd.log.Error(err.Error())
			last = err
		}
	}
	return last
}

func (rd *Renderer) runInterval(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-rd.hup:
			rd.log.Info("Re-reading the template resources")
		}
		// Errors are logged by pass; a daemon keeps going (confd exited
		// on a bad resource file, taking every other resource down).
		_ = rd.pass(ctx)
		// The pause starts when the pass ends, as in confd.
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(rd.cfg.Interval)
	}
}

func (rd *Renderer) runWatch(ctx context.Context) error {
	rs, _ := rd.load()
	if len(rs) == 0 {
		// Nothing to watch yet; wait for a SIGHUP or the end.
		rd.log.Warn("No template resource to watch; waiting for SIGHUP")
	}
	for {
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rd.watchResource(wctx, r)
			}()
		}
		select {
		case <-ctx.Done():
		case <-rd.hup:
			rd.log.Info("Re-reading the template resources")
		}
		cancel()
		wg.Wait()
		if ctx.Err() != nil {
			return nil
		}
		rs, _ = rd.load()
	}
}

// watchResource renders r, then waits for changes from the index the
// render was read at, so that nothing written meanwhile is missed.
func (rd *Renderer) watchResource(ctx context.Context, r *Resource) {
	st := rd.state(r)
	var index uint64
	needRead := true
	backoff := rd.cfg.RetryMin
	grow := func() {
		backoff = min(2*backoff, rd.cfg.RetryMax)
	}
	for {
		if needRead {
			idx, fetched, err := rd.process(ctx, r, st)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				rd.log.Error(err.Error())
			}
			if !fetched {
				// The backend could not be read: try again after a pause,
				// keeping the files rendered last.
				if !sleep(ctx, backoff) {
					return
				}
				grow()
				continue
			}
			index, needRead = idx, false
			if err == nil {
				backoff = rd.cfg.RetryMin
			}
		}

		wctx, cancel := ctx, context.CancelFunc(func() {})
		if st.reloadPending {
			wctx, cancel = context.WithTimeout(ctx, backoff)
		}
		i, err := rd.cfg.Backend.WatchPrefix(wctx, r.Prefix, r.PrefixedKeys(), index)
		timedOut := wctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			rd.settle(ctx, r, i)
			needRead = true
		case errors.Is(err, backend.ErrIndexCleared):
			rd.log.Info(fmt.Sprintf("%s: %v", r.File, err))
			needRead = true
		case timedOut:
			// A failed reload is due for another try.
			needRead = true
			grow()
		default:
			rd.log.Error(fmt.Sprintf("watching %s: %v", r.Prefix, err))
			if !sleep(ctx, backoff) {
				return
			}
			grow()
		}
	}
}

// settle waits until the keys have been quiet for Settle (at most
// SettleMax), so that a burst of writes gives one render.
func (rd *Renderer) settle(ctx context.Context, r *Resource, from uint64) {
	if rd.cfg.Settle <= 0 {
		return
	}
	deadline := time.Now().Add(rd.cfg.SettleMax)
	for {
		wait := min(rd.cfg.Settle, time.Until(deadline))
		if wait <= 0 {
			return
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		i, err := rd.cfg.Backend.WatchPrefix(wctx, r.Prefix, r.PrefixedKeys(), from)
		cancel()
		if err != nil {
			return
		}
		from = i
	}
}

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

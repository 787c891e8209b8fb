package registrator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeProbe says which addresses accept connections, and counts probes.
type fakeProbe struct {
	mu    sync.Mutex
	open  map[string]bool
	calls map[string]int
}

func newFakeProbe() *fakeProbe {
	return &fakeProbe{open: map[string]bool{}, calls: map[string]int{}}
}

func (p *fakeProbe) probe(_ context.Context, addr string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[addr]++
	if p.open[addr] {
		return nil
	}
	return errors.New("connect: connection refused")
}

func (p *fakeProbe) set(addr string, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open[addr] = open
}

func (p *fakeProbe) count(addr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[addr]
}

// TestReadyGate: a container whose program does not listen yet is not
// registered until it does; then at once; a route once registered is not
// probed again; a container that never listens is registered anyway at
// the timeout; a container with a HEALTHCHECK is left to Docker's verdict.
func TestReadyGate(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	p := newFakeProbe()
	h.cfg.Probe = p.probe
	h.cfg.ReadyTimeout = time.Hour
	r := h.start()
	r.ready(t, h.docker)

	c := ctr(1)
	c.StartedAt = time.Now()
	h.docker.run(c)
	// Probed (repeatedly), not registered, with the reason in the status.
	waitFor(t, 5*time.Second, func() (bool, string) { return p.count(val(1)) >= 3, "fewer than 3 probes" })
	if got := h.routes(); len(got) != 0 {
		t.Fatalf("registered before the port accepted connections: %v", got)
	}
	s, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Entries) != 1 || s.Entries[0].State != "waiting" || s.Entries[0].Reason != "not accepting connections yet" {
		t.Errorf("status while waiting: %+v", s.Entries)
	}
	if h.logs.count("ignored: "+key(1)+" not accepting connections yet on "+val(1)) != 1 {
		t.Errorf("want one 'not accepting connections yet' line:\n%s", h.logs)
	}

	// It listens: registered within a few probe periods.
	opened := time.Now()
	p.set(val(1), true)
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
	if d := time.Since(opened); d > time.Second {
		t.Errorf("registered %v after the port opened", d)
	}
	r.quiesce(t)

	// Registered: a refusing port no longer matters to the registrator.
	p.set(val(1), false)
	n := p.count(val(1))
	h.docker.emit(c.ID, "start", nil)
	r.settled(t, 3)
	r.quiesce(t)
	h.waitRoutes(time.Second, map[string]string{key(1): val(1)})
	if m := p.count(val(1)); m != n {
		t.Errorf("a held route was probed %d more times", m-n)
	}

	// A HEALTHCHECK container is not probed: Docker's health decides.
	c2 := ctr(2)
	c2.StartedAt, c2.Health = time.Now(), "healthy"
	h.docker.run(c2)
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1), key(2): val(2)})
	if m := p.count(val(2)); m != 0 {
		t.Errorf("a HEALTHCHECK container was probed %d times", m)
	}
}

// startJustStarted runs a registrator with the fake probe and the given
// ReadyTimeout, then container 1 as if it had just started.
func startJustStarted(t *testing.T, timeout time.Duration) (*host, *running, *fakeProbe, *Container) {
	t.Helper()
	h := newHost(t, newStore(t), "h1")
	p := newFakeProbe()
	h.cfg.Probe = p.probe
	h.cfg.ReadyTimeout = timeout
	r := h.start()
	r.ready(t, h.docker)
	c := ctr(1)
	c.StartedAt = time.Now()
	h.docker.run(c)
	return h, r, p, c
}

func TestReadyGateTimeout(t *testing.T) {
	h, _, _, c := startJustStarted(t, 300*time.Millisecond)
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
	if d := time.Since(c.StartedAt); d < h.cfg.ReadyTimeout {
		t.Errorf("registered %v after the start, before the %v timeout", d, h.cfg.ReadyTimeout)
	}
	if h.logs.count("registered anyway") != 1 {
		t.Errorf("want one 'registered anyway' warning:\n%s", h.logs)
	}
}

// TestReadyGateOff: with ReadyTimeout 0 the route is written at once, as
// registrator did, and nothing is probed.
func TestReadyGateOff(t *testing.T) {
	h, _, p, _ := startJustStarted(t, 0)
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
	if n := p.count(val(1)); n != 0 {
		t.Errorf("probed %d times with the gate off", n)
	}
}

// TestReadyGateProberStops: a container that dies before it listens
// leaves no prober behind.
func TestReadyGateProberStops(t *testing.T) {
	h, r, p, c := startJustStarted(t, time.Hour)
	waitFor(t, 5*time.Second, func() (bool, string) { return p.count(val(1)) >= 3, "fewer than 3 probes" })
	h.docker.die(c.ID, 1)
	waitFor(t, 5*time.Second, func() (bool, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.probes) == 0, fmt.Sprintf("%d probers left", len(r.probes))
	})
	// A probe already under way when the prober was stopped may still
	// land; none may follow it.
	n := p.count(val(1))
	time.Sleep(50 * time.Millisecond)
	if m := p.count(val(1)); m > n+1 {
		t.Errorf("%d probes after the container died", m-n)
	}
	if got := h.routes(); len(got) != 0 {
		t.Errorf("routes %v", got)
	}
}

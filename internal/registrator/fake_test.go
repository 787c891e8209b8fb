package registrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fakeDocker is an in-memory Engine: containers the test changes, an
// event stream it controls (hold, reorder, break, refuse) and injected
// errors.
type fakeDocker struct {
	mu         sync.Mutex
	containers map[string]*Container
	subs       map[*fakeSub]bool
	hold       bool
	held       []Event
	clock      int64

	infoFails   int   // Info fails this many more times
	runningErr  error // Running fails while set
	inspectErr  map[string]error
	eventsFails int // Events fails at once this many more times
	// onSubscribe runs after a subscription is registered (outside the
	// lock), to act "between subscribe and list".
	onSubscribe func()

	sinces   []int64
	inspects atomic.Int64
}

type fakeSub struct {
	ch   chan Event
	errc chan error
}

func newFakeDocker() *fakeDocker {
	return &fakeDocker{
		containers: map[string]*Container{},
		subs:       map[*fakeSub]bool{},
		inspectErr: map[string]error{},
		clock:      time.Now().UnixNano(),
	}
}

func (f *fakeDocker) Info(ctx context.Context) (EngineInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.infoFails > 0 {
		f.infoFails--
		return EngineInfo{}, errors.New("fake: daemon not ready")
	}
	return EngineInfo{ServerVersion: "29.0.0-fake", APIVersion: "1.52"}, nil
}

func (f *fakeDocker) Running(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runningErr != nil {
		return nil, f.runningErr
	}
	var ids []string
	for id, c := range f.containers {
		if c.Running {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func (f *fakeDocker) Inspect(ctx context.Context, id string) (*Container, error) {
	f.inspects.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.inspectErr[id]; err != nil {
		return nil, err
	}
	c := f.containers[id]
	if c == nil {
		for _, x := range f.containers {
			if x.Name == id {
				c = x
			}
		}
	}
	if c == nil {
		return nil, ErrNoContainer
	}
	return cloneContainer(c), nil
}

func (f *fakeDocker) Events(ctx context.Context, since int64) (<-chan Event, <-chan error) {
	f.mu.Lock()
	f.sinces = append(f.sinces, since)
	s := &fakeSub{ch: make(chan Event, 100000), errc: make(chan error, 1)}
	if f.eventsFails > 0 {
		f.eventsFails--
		f.mu.Unlock()
		s.errc <- errors.New("fake: connection refused")
		return s.ch, s.errc
	}
	f.subs[s] = true
	hook := f.onSubscribe
	f.onSubscribe = nil
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}()
	if hook != nil {
		hook()
	}
	return s.ch, s.errc
}

// breakStream ends every open stream with err (io.EOF for a clean end).
func (f *fakeDocker) breakStream(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.errc <- err
		delete(f.subs, s)
	}
}

func (f *fakeDocker) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// emitLocked stamps and delivers (or holds) one event; f.mu is held.
func (f *fakeDocker) emitLocked(id, action string, attrs map[string]string) {
	f.clock += 1000
	ev := Event{ID: id, Action: action, Attributes: attrs, TimeNano: f.clock}
	if f.hold {
		f.held = append(f.held, ev)
		return
	}
	f.deliverLocked(ev)
}

func (f *fakeDocker) deliverLocked(ev Event) {
	for s := range f.subs {
		select {
		case s.ch <- ev:
		default: // the daemon skips slow subscribers
		}
	}
}

func (f *fakeDocker) emit(id, action string, attrs map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emitLocked(id, action, attrs)
}

// holdEvents queues events instead of delivering them.
func (f *fakeDocker) holdEvents() {
	f.mu.Lock()
	f.hold = true
	f.mu.Unlock()
}

// release delivers the held events in the order reorder gives.
func (f *fakeDocker) release(reorder func([]Event) []Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := f.held
	f.held, f.hold = nil, false
	if reorder != nil {
		evs = reorder(evs)
	}
	for _, ev := range evs {
		f.deliverLocked(ev)
	}
}

// put adds or replaces a container without an event.
func (f *fakeDocker) put(c *Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[c.ID] = cloneContainer(c)
}

// change edits a container without an event.
func (f *fakeDocker) change(id string, fn func(c *Container)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.containers[id])
}

// run creates and starts c, as docker run does.
func (f *fakeDocker) run(c *Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c = cloneContainer(c)
	c.Running = true
	f.containers[c.ID] = c
	f.emitLocked(c.ID, "create", nil)
	f.emitLocked(c.ID, "start", map[string]string{"name": c.Name})
}

// start starts an existing container again.
func (f *fakeDocker) start(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.Running, c.Paused, c.ExitCode = true, false, 0
	f.emitLocked(id, "start", nil)
}

// die ends a container's process with code.
func (f *fakeDocker) die(id string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.Running, c.Paused, c.ExitCode = false, false, code
	f.emitLocked(id, "die", map[string]string{"exitCode": strconv.Itoa(code)})
}

// kill sends sig (a number); 15, 2 and 9 do not end the process here:
// the test decides when it dies.
func (f *fakeDocker) kill(id string, sig int) {
	f.emit(id, "kill", map[string]string{"signal": strconv.Itoa(sig)})
}

// stop is docker stop of a process that exits on SIGTERM.
func (f *fakeDocker) stop(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emitLocked(id, "kill", map[string]string{"signal": "15"})
	c := f.containers[id]
	c.Running, c.ExitCode = false, 143
	f.emitLocked(id, "die", map[string]string{"exitCode": "143"})
	f.emitLocked(id, "stop", nil)
}

// remove is docker rm -f.
func (f *fakeDocker) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil && c.Running {
		f.emitLocked(id, "kill", map[string]string{"signal": "9"})
		f.emitLocked(id, "die", map[string]string{"exitCode": "137"})
	}
	delete(f.containers, id)
	f.emitLocked(id, "destroy", nil)
}

func (f *fakeDocker) setHealth(id, h string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[id].Health = h
	f.emitLocked(id, "health_status: "+h, nil)
}

func (f *fakeDocker) setPaused(id string, p bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[id].Paused = p
	if p {
		f.emitLocked(id, "pause", nil)
	} else {
		f.emitLocked(id, "unpause", nil)
	}
}

func cloneContainer(c *Container) *Container {
	x := *c
	x.Labels = maps.Clone(c.Labels)
	x.Env = slices.Clone(c.Env)
	x.Ports = slices.Clone(c.Ports)
	x.ExposedPorts = slices.Clone(c.ExposedPorts)
	x.Networks = maps.Clone(c.Networks)
	return &x
}

// ctr builds running container number n: published on 0.0.0.0 and ::
// at host port 30000+n, on the default bridge.
func ctr(n int) *Container {
	id := fmt.Sprintf("%012x%052x", 0xc0de00000000+n, n)
	return &Container{
		ID:           id,
		Name:         fmt.Sprintf("app%d", n),
		Image:        "example/app:1",
		Running:      true,
		Labels:       map[string]string{},
		ExposedPorts: []string{"80/tcp"},
		Ports: []PortBinding{
			{ContainerPort: 80, Proto: "tcp", HostIP: "0.0.0.0", HostPort: 30000 + n},
			{ContainerPort: 80, Proto: "tcp", HostIP: "::", HostPort: 30000 + n},
		},
		NetworkMode: "bridge",
		Networks:    map[string]Network{"bridge": {IP: fmt.Sprintf("172.17.%d.%d", n/250, n%250+2)}},
	}
}

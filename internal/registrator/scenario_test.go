package registrator

// The scenarios of registrator.md C.10, against the fake engine and an
// in-process store, through the real client.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"hecd/internal/client"
)

// ready waits for the first reconcile and an open event stream.
func (r *running) ready(t *testing.T, f *fakeDocker) {
	t.Helper()
	waitFor(t, 10*time.Second, func() (bool, string) {
		m := r.Metrics()
		return m.Reconciles >= 1 && f.subscribers() >= 1 && r.idle(), fmt.Sprintf("reconciles %d, subscribers %d", m.Reconciles, f.subscribers())
	})
}

func key(n int) string { return shortID(ctr(n).ID) }

// Scenario 1: containers already running, one started between subscribe
// and list: each registered exactly once.
func TestScenario1StartupEachOnce(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	for i := 1; i <= 3; i++ {
		h.docker.put(ctr(i))
	}
	h.docker.onSubscribe = func() { h.docker.run(ctr(4)) }
	r := h.start()
	want := map[string]string{}
	for i := 1; i <= 4; i++ {
		want[key(i)] = val(i)
	}
	h.waitRoutes(10*time.Second, want)
	r.settled(t, 2) // create and start of the fourth
	r.quiesce(t)
	h.waitRoutes(time.Second, want)
	for i := 1; i <= 4; i++ {
		k := "/app/servers/" + key(i)
		if n := h.cnt.get(h.cnt.creates, k); n != 1 {
			t.Errorf("%s created %d times, want 1", k, n)
		}
		if n := h.cnt.get(h.cnt.writes, k); n != 1 {
			t.Errorf("%s written %d times, want 1", k, n)
		}
		if n := h.logs.count("added: " + key(i) + " " + k + "=" + val(i)); n != 1 {
			t.Errorf("%d 'added' lines for %s, want 1:\n%s", n, k, h.logs)
		}
	}
	recs := h.records()
	if len(recs) != 4 {
		t.Fatalf("records %v", recs)
	}
	var rec ownerRecord
	if err := json.Unmarshal([]byte(recs[key(1)]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Key != "/app/servers/"+key(1) || rec.Value != val(1) || rec.Container != ctr(1).ID ||
		rec.Name != "app1" || rec.Image != "example/app:1" || rec.Registered.IsZero() {
		t.Errorf("record %+v", rec)
	}
}

// Scenario 2: start/die/start at once, in order and reversed: the final
// state wins; start/die reversed ends unregistered.
func TestScenario2FastSequences(t *testing.T) {
	reverse := func(evs []Event) []Event { slices.Reverse(evs); return evs }
	for _, tc := range []struct {
		name     string
		reorder  func([]Event) []Event
		restart  bool
		wantBack bool
	}{
		{"start-die-start", nil, true, true},
		{"start-die-start reversed", reverse, true, true},
		{"start-die", nil, false, false},
		{"start-die reversed", reverse, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			h := newHost(t, st, "h1")
			r := h.start()
			r.ready(t, h.docker)
			c := ctr(1)
			h.docker.holdEvents()
			h.docker.run(c)
			h.docker.die(c.ID, 0)
			n := uint64(3)
			if tc.restart {
				h.docker.change(c.ID, func(c *Container) {
					for i := range c.Ports {
						c.Ports[i].HostPort = 31001 // Docker gives a new port
					}
				})
				h.docker.start(c.ID)
				n++
			}
			h.docker.release(tc.reorder)
			r.settled(t, n)
			r.quiesce(t)
			want := map[string]string{}
			if tc.wantBack {
				want[key(1)] = "10.0.0.1:31001"
			}
			h.waitRoutes(time.Second, want)
		})
	}
}

// Scenario 3: 200 containers started, half removed, in one burst.
func TestScenario3Burst(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	r := h.start()
	r.ready(t, h.docker)
	want := map[string]string{}
	for i := 1; i <= 200; i++ {
		h.docker.run(ctr(i))
		if i%2 == 0 {
			want[key(i)] = val(i)
		}
	}
	for i := 1; i <= 200; i += 2 {
		h.docker.remove(ctr(i).ID)
	}
	h.waitRoutes(30*time.Second, want)
	r.quiesce(t)
	h.waitRoutes(time.Second, want)
	if recs := h.records(); len(recs) != 100 {
		t.Errorf("%d records, want 100", len(recs))
	}
	t.Logf("metrics: %+v", r.Metrics())
}

// Scenario 4: the stream ends, reconnecting fails for a while, more than
// 256 events are lost and containers changed: the reconcile after the
// reconnect repairs everything.
func TestScenario4StreamLoss(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	for i := 1; i <= 5; i++ {
		h.docker.put(ctr(i))
	}
	r := h.start()
	r.ready(t, h.docker)
	h.docker.mu.Lock()
	h.docker.eventsFails = 1 << 30
	h.docker.mu.Unlock()
	h.docker.breakStream(io.EOF)
	waitFor(t, 5*time.Second, func() (bool, string) {
		return r.Metrics().StreamReconnects >= 2, "no reconnect attempts"
	})
	// Lost: 300 short-lived containers, two removed, three new.
	for i := 1000; i < 1150; i++ {
		h.docker.run(ctr(i))
		h.docker.remove(ctr(i).ID)
	}
	h.docker.remove(ctr(1).ID)
	h.docker.remove(ctr(2).ID)
	for i := 6; i <= 8; i++ {
		h.docker.run(ctr(i))
	}
	h.docker.mu.Lock()
	h.docker.eventsFails = 0
	h.docker.mu.Unlock()
	want := map[string]string{}
	for i := 3; i <= 8; i++ {
		want[key(i)] = val(i)
	}
	h.waitRoutes(10*time.Second, want)
	h.docker.mu.Lock()
	sinces := slices.Clone(h.docker.sinces)
	h.docker.mu.Unlock()
	if sinces[0] != 0 || sinces[len(sinces)-1] == 0 {
		t.Errorf("since values %v: want 0 first, then the last event's time", sinces)
	}
	r.quiesce(t)
	if m := r.Metrics(); m.Removed != 2 || m.StreamReconnects < 2 {
		t.Errorf("metrics %+v: want 2 removed, 2+ reconnects", m)
	}
}

// Scenario 5a: restarted with the same owner id after a container stopped
// meanwhile: its key goes, the others stay untouched (no duplicate, no
// rewrite).
func TestScenario5RestartSameOwner(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.docker.put(ctr(1))
	h.docker.put(ctr(2))
	r1 := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1), key(2): val(2)})
	r1.stop(t)
	h.docker.change(ctr(2).ID, func(c *Container) { c.Running, c.ExitCode = false, 0 })
	r2 := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
	r2.quiesce(t)
	if recs := h.records(); len(recs) != 1 || recs[key(1)] == "" {
		t.Errorf("records %v", recs)
	}
	if n := h.cnt.get(h.cnt.writes, "/app/servers/"+key(1)); n != 1 {
		t.Errorf("%s written %d times over both runs, want 1", key(1), n)
	}
	if m := r2.Metrics(); m.Routes != 1 || m.Added != 0 || m.Removed != 1 {
		t.Errorf("second run: %+v", m)
	}
}

// Scenario 5b: restarted with a new owner id: the old owner's keys are
// someone else's; they expire after one TTL and the new owner takes the
// routes then.
func TestScenario5RestartNewOwner(t *testing.T) {
	t.Parallel() // waits for TTLs
	st := newStore(t)
	h1 := newHost(t, st, "h1")
	h1.cfg.TTL = 2 * time.Second
	h1.docker.put(ctr(1))
	r1 := h1.start()
	h1.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
	r1.stop(t)
	stopped := time.Now()

	h2 := newHost(t, st, "h2")
	h2.docker = h1.docker
	h2.cfg.Docker = h1.docker
	h2.cfg.TTL = 2 * time.Second
	r2 := h2.start()
	r2.ready(t, h2.docker)
	if n := h2.cnt.get(h2.cnt.writes, "/app/servers/"+key(1)); n != 0 {
		t.Fatalf("new owner wrote the old owner's key %d times", n)
	}
	if h2.logs.count("ignored: "+key(1)+" duplicate app id") != 1 {
		t.Errorf("no duplicate report:\n%s", h2.logs)
	}
	waitFor(t, 8*time.Second, func() (bool, string) {
		return len(h1.records()) == 0 && len(h2.records()) == 1 && h2.routes()[key(1)] == val(1),
			fmt.Sprintf("old %v, new %v, routes %v", h1.records(), h2.records(), h2.routes())
	})
	if d := time.Since(stopped); d < 2*time.Second {
		t.Errorf("taken over after %v, before the old TTL ran out", d)
	}
}

// Scenario 6: the host "crashes" (registrator gone without cleaning up):
// its keys are gone one TTL later; with DeregisterOnExit at once.
func TestScenario6Expiry(t *testing.T) {
	t.Parallel() // waits for TTLs
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.TTL = 2 * time.Second
	for i := 1; i <= 3; i++ {
		h.docker.put(ctr(i))
	}
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1), key(2): val(2), key(3): val(3)})
	// Refreshes keep the keys past their first TTL.
	time.Sleep(2500 * time.Millisecond)
	if len(h.routes()) != 3 {
		t.Fatalf("routes expired while refreshed: %v", h.routes())
	}
	if m := r.Metrics(); m.Refreshes == 0 {
		t.Fatal("no refresh")
	}
	r.stop(t)
	if len(h.routes()) != 3 {
		t.Fatal("keys removed on exit without DeregisterOnExit")
	}
	h.waitRoutes(5*time.Second, map[string]string{})
	waitFor(t, 2*time.Second, func() (bool, string) { return len(h.records()) == 0, "records left" })

	t.Run("DeregisterOnExit", func(t *testing.T) {
		h := newHost(t, st, "h2")
		h.cfg.Prefix = "/other"
		h.cfg.DeregisterOnExit = true
		h.cfg.Layout = LayoutHecd
		h.cfg.Client, _ = client.New(client.Config{Endpoints: []string{h.cnt.URL}})
		h.docker.put(ctr(1))
		h.docker.change(ctr(1).ID, func(c *Container) { c.Labels["hecd.weight"] = "7" })
		r := h.start()
		h.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
		r.stop(t)
		if got := h.routes(); len(got) != 0 {
			t.Errorf("routes after exit: %v", got)
		}
		if got := h.records(); len(got) != 0 {
			t.Errorf("records after exit: %v", got)
		}
		if got := st.tree(t, "/hecd/weights"); len(got) != 0 {
			t.Errorf("weights after exit: %v", got)
		}
	})
}

// Scenario 8: the host's name resolves to 127.0.1.1 and the store is on
// loopback: auto-detection finds the routable address; with nothing
// routable, nothing is written.
func TestScenario8Loopback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ifaces []string
		want   string
	}{
		{"routable interface", []string{"127.0.1.1", "169.254.3.4", "10.9.8.7"}, "10.9.8.7:30001"},
		{"loopback only", []string{"127.0.1.1", "::1", "fe80::1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			h := newHost(t, st, "h1")
			h.cfg.DetectHostAddrs = func(ctx context.Context, eps []string) (HostAddrs, error) {
				return detectHostAddrs(ctx, eps,
					func(context.Context, string, string) (netip.Addr, error) {
						return netip.MustParseAddr("127.0.0.1"), nil // toward the loopback store, and no default route
					},
					func() ([]netip.Addr, error) {
						var as []netip.Addr
						for _, s := range tc.ifaces {
							as = append(as, netip.MustParseAddr(s))
						}
						return as, nil
					})
			}
			h.docker.put(ctr(1))
			r := h.start()
			r.ready(t, h.docker)
			r.quiesce(t)
			want := map[string]string{}
			if tc.want != "" {
				want[key(1)] = tc.want
			}
			h.waitRoutes(time.Second, want)
			if tc.want == "" {
				if n := h.cnt.totalWrites(); n != 0 {
					t.Errorf("%d writes with no usable address", n)
				}
				if h.logs.count("ignored: "+key(1)+" no usable address") != 1 {
					t.Errorf("no 'ignored' line:\n%s", h.logs)
				}
			}
		})
	}
}

// Scenario 12: a HEALTHCHECK container is out while starting, in when
// healthy, out when unhealthy; paused out, unpaused back.
func TestScenario12HealthAndPause(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	r := h.start()
	r.ready(t, h.docker)
	c := ctr(1)
	c.Health = "starting"
	h.docker.run(c)
	r.settled(t, 2)
	h.waitRoutes(time.Second, map[string]string{})
	on := map[string]string{key(1): val(1)}
	off := map[string]string{}
	n := uint64(2)
	for _, step := range []struct {
		do   func()
		want map[string]string
	}{
		{func() { h.docker.setHealth(c.ID, "healthy") }, on},
		{func() { h.docker.setHealth(c.ID, "unhealthy") }, off},
		{func() { h.docker.setHealth(c.ID, "healthy") }, on},
		{func() { h.docker.setPaused(c.ID, true) }, off},
		{func() { h.docker.setPaused(c.ID, false) }, on},
	} {
		step.do()
		n++
		r.settled(t, n)
		h.waitRoutes(5*time.Second, step.want)
	}
	for _, reason := range []string{"health starting", "unhealthy", "paused"} {
		if h.logs.count("ignored: "+key(1)+" "+reason) == 0 {
			t.Errorf("no 'ignored: %s' line", reason)
		}
	}
}

// Scenario 13: --deregister=on-success: exit 0 and signal exits remove,
// exit 1 keeps the key (unrefreshed, through resyncs) until its TTL.
func TestScenario13OnSuccess(t *testing.T) {
	t.Parallel() // waits for TTLs
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.Deregister = DeregisterOnSuccess
	h.cfg.TTL = 3 * time.Second
	h.cfg.Resync = 100 * time.Millisecond
	for i := 1; i <= 4; i++ {
		h.docker.put(ctr(i))
	}
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1), key(2): val(2), key(3): val(3), key(4): val(4)})
	h.docker.die(ctr(1).ID, 0)
	h.docker.die(ctr(2).ID, 137)
	h.docker.die(ctr(3).ID, 143)
	h.docker.die(ctr(4).ID, 1)
	died := time.Now()
	h.waitRoutes(5*time.Second, map[string]string{key(4): val(4)})
	// Kept through resyncs...
	rec := r.Metrics().Reconciles
	waitFor(t, 5*time.Second, func() (bool, string) { return r.Metrics().Reconciles >= rec+3, "no resyncs" })
	if _, ok := h.routes()[key(4)]; !ok && time.Since(died) < 2*time.Second {
		t.Fatal("kept key removed early")
	}
	// ...until the TTL.
	h.waitRoutes(6*time.Second, map[string]string{})
	if d := time.Since(died); d < 2*time.Second {
		t.Errorf("kept key gone after %v, before its TTL", d)
	}
	waitFor(t, 3*time.Second, func() (bool, string) { return r.Metrics().Kept == 0, "kept entry not forgotten" })
}

// Scenario 15: one app id from two hosts: the first wins, the second is
// reported and never writes the key (no flapping); when the first host
// dies, the second takes over after the TTL.
func TestScenario15DuplicateAcrossHosts(t *testing.T) {
	t.Parallel() // waits for TTLs
	st := newStore(t)
	h1 := newHost(t, st, "h1")
	h2 := newHost(t, st, "h2")
	h2.cfg.DetectHostAddrs = func(context.Context, []string) (HostAddrs, error) {
		return HostAddrs{V4: netip.MustParseAddr("10.0.0.2")}, nil
	}
	for _, h := range []*host{h1, h2} {
		h.cfg.TTL = 2 * time.Second
		h.cfg.Resync = 50 * time.Millisecond
		c := ctr(1)
		c.Labels["hecd.appid"] = "web"
		h.docker.put(c)
	}
	r1 := h1.start()
	h1.waitRoutes(10*time.Second, map[string]string{"web": val(1)})
	r2 := h2.start()
	r2.ready(t, h2.docker)
	waitFor(t, 5*time.Second, func() (bool, string) { return r2.Metrics().Reconciles >= 10, "resyncs" })
	if got := h1.routes()["web"]; got != val(1) {
		t.Fatalf("web = %q, want the first host's %q", got, val(1))
	}
	if n := h2.cnt.get(h2.cnt.writes, "/app/servers/web"); n != 0 {
		t.Errorf("second host wrote the key %d times", n)
	}
	if n := h1.cnt.get(h1.cnt.writes, "/app/servers/web"); n != 1 {
		t.Errorf("first host wrote the key %d times, want 1", n)
	}
	if m := r2.Metrics(); m.Duplicates != 1 {
		t.Errorf("duplicates reported %d times, want once: %+v", m.Duplicates, m)
	}
	if h2.logs.count("ignored: "+key(1)+" duplicate app id web (held by another owner)") != 1 {
		t.Errorf("duplicate not logged once:\n%s", h2.logs)
	}
	r1.stop(t)
	waitFor(t, 8*time.Second, func() (bool, string) {
		got := h2.routes()["web"]
		return got == "10.0.0.2:30001", "web = " + got
	})
}

// Scenario 16: a resync with no change writes nothing (the store's index
// does not move).
func TestScenario16NoChangeResync(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.Resync = 30 * time.Millisecond
	want := map[string]string{}
	for i := 1; i <= 5; i++ {
		c := ctr(i)
		if i == 1 {
			c.Labels["hecd.weight"] = "5"
		}
		h.docker.put(c)
		want[key(i)] = val(i)
	}
	r := h.start()
	h.waitRoutes(10*time.Second, want)
	r.quiesce(t)
	writes, idx, m0 := h.cnt.totalWrites(), st.index(t), r.Metrics()
	waitFor(t, 5*time.Second, func() (bool, string) { return r.Metrics().Reconciles >= m0.Reconciles+5, "no resyncs" })
	if n := h.cnt.totalWrites(); n != writes {
		t.Errorf("%d writes during no-change resyncs", n-writes)
	}
	if i := st.index(t); i != idx {
		t.Errorf("store index moved from %d to %d", idx, i)
	}
	if m := r.Metrics(); m.ReconcileDiffs != m0.ReconcileDiffs || m.StoreWrites != m0.StoreWrites {
		t.Errorf("resyncs found %d diffs, made %d writes", m.ReconcileDiffs-m0.ReconcileDiffs, m.StoreWrites-m0.StoreWrites)
	}
}

// Scenario 17: kill -s HUP changes nothing; docker stop removes the route
// at the SIGTERM and resyncs in the grace period do not add it back.
func TestScenario17KillAndStop(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.Resync = 30 * time.Millisecond
	h.docker.put(ctr(1))
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
	r.quiesce(t)
	writes := h.cnt.totalWrites()

	h.docker.kill(ctr(1).ID, 1) // HUP
	r.settled(t, 1)
	r.quiesce(t)
	if n := h.cnt.totalWrites(); n != writes {
		t.Errorf("HUP caused %d writes", n-writes)
	}
	h.waitRoutes(time.Second, map[string]string{key(1): val(1)})

	// docker stop: SIGTERM, the process takes its grace period.
	h.docker.kill(ctr(1).ID, 15)
	h.waitRoutes(5*time.Second, map[string]string{})
	rec := r.Metrics().Reconciles
	waitFor(t, 5*time.Second, func() (bool, string) { return r.Metrics().Reconciles >= rec+5, "no resyncs" })
	if got := h.routes(); len(got) != 0 {
		t.Fatalf("re-added during the grace period: %v", got)
	}
	h.docker.die(ctr(1).ID, 143)
	h.docker.emit(ctr(1).ID, "stop", nil)
	r.settled(t, 4)
	r.quiesce(t)
	h.waitRoutes(time.Second, map[string]string{})
	if h.logs.count("removed: "+key(1)) != 1 {
		t.Errorf("want one 'removed' line:\n%s", h.logs)
	}
	// A later start registers it again.
	h.docker.start(ctr(1).ID)
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
}

// A SIGTERM the process survives: back after the drain timeout.
func TestDrainTimeout(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.DrainTimeout = 300 * time.Millisecond
	h.docker.put(ctr(1))
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
	h.docker.kill(ctr(1).ID, 15)
	h.waitRoutes(5*time.Second, map[string]string{})
	killed := time.Now()
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
	if d := time.Since(killed); d < 200*time.Millisecond {
		t.Errorf("back after %v, before the drain timeout", d)
	}
	_ = r
}

// A kill older than the latest start (events out of order) does not
// drain.
func TestStaleKillIgnored(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	r := h.start()
	r.ready(t, h.docker)
	h.docker.holdEvents()
	h.docker.run(ctr(1))
	h.docker.stop(ctr(1).ID)
	h.docker.start(ctr(1).ID)
	// Deliver: create, start(2), stop, die, kill: the kill and die are
	// older than the second start.
	h.docker.release(func(evs []Event) []Event {
		return []Event{evs[0], evs[5], evs[4], evs[3], evs[2], evs[1]}
	})
	r.settled(t, 6)
	r.quiesce(t)
	h.waitRoutes(time.Second, map[string]string{key(1): val(1)})
}

// A failed Docker listing skips the round; an inspect error leaves that
// container's keys alone; a store outage is retried.
func TestFailuresNeverDelete(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.Resync = 20 * time.Millisecond
	h.docker.infoFails = 2
	h.docker.put(ctr(1))
	h.docker.put(ctr(2))
	r := h.start()
	want := map[string]string{key(1): val(1), key(2): val(2)}
	h.waitRoutes(10*time.Second, want)
	writes := h.cnt.totalWrites()

	h.docker.mu.Lock()
	h.docker.runningErr = errors.New("fake: daemon busy")
	h.docker.inspectErr[ctr(2).ID] = errors.New("fake: timeout")
	h.docker.mu.Unlock()
	skipped := r.Metrics().ReconcileSkipped
	waitFor(t, 5*time.Second, func() (bool, string) {
		return r.Metrics().ReconcileSkipped >= skipped+3, "no skipped rounds"
	})
	h.docker.mu.Lock()
	h.docker.runningErr = nil
	h.docker.mu.Unlock()
	rec := r.Metrics().Reconciles
	waitFor(t, 5*time.Second, func() (bool, string) { return r.Metrics().Reconciles >= rec+3, "no rounds" })
	// An event for the container that cannot be inspected: retried, not
	// taken for "gone".
	h.docker.emit(ctr(2).ID, "die", nil)
	r.settled(t, 1)
	time.Sleep(100 * time.Millisecond)
	if n := h.cnt.totalWrites(); n != writes {
		t.Errorf("%d writes while Docker failed", n-writes)
	}
	h.waitRoutes(time.Second, want)
	if m := r.Metrics(); m.DockerErrors == 0 {
		t.Errorf("no docker errors counted: %+v", m)
	}
	// Once inspect works and the container is really dead, it goes.
	h.docker.mu.Lock()
	delete(h.docker.inspectErr, ctr(2).ID)
	h.docker.containers[ctr(2).ID].Running = false
	h.docker.mu.Unlock()
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
}

// A refresh that finds its key gone (deleted by hand, or expired during
// an outage) registers again; refreshes wake no watcher.
func TestRefresh(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.TTL = 3 * time.Second
	h.cfg.TTLRefresh = 100 * time.Millisecond
	h.docker.put(ctr(1))
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
	r.quiesce(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	idx := st.index(t)
	watched := make(chan *client.Response, 1)
	go func() {
		resp, err := st.cli.Watch(ctx, "/app/servers", client.WatchOptions{AfterIndex: idx, Recursive: true})
		if err == nil {
			watched <- resp
		}
	}()
	refreshes := r.Metrics().Refreshes
	waitFor(t, 5*time.Second, func() (bool, string) { return r.Metrics().Refreshes >= refreshes+5, "no refreshes" })
	select {
	case ev := <-watched:
		t.Fatalf("a refresh woke a watcher: %s %s", ev.Action, ev.Node.Key)
	default:
	}
	if _, err := st.cli.Delete(ctx, "/app/servers/"+key(1), client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-watched:
		if ev.Action != "delete" {
			t.Fatalf("watch saw %s", ev.Action)
		}
	case <-ctx.Done():
		t.Fatal("no watch event for the delete")
	}
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
}

// Two containers of one host claim one app id: the first keeps it, the
// second takes over as soon as the first is removed.
func TestLocalDuplicate(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	r := h.start()
	r.ready(t, h.docker)
	a, b := ctr(1), ctr(2)
	a.Labels["hecd.appid"] = "api"
	b.Labels["hecd.appid"] = "api"
	h.docker.run(a)
	h.waitRoutes(5*time.Second, map[string]string{"api": val(1)})
	h.docker.run(b)
	r.settled(t, 4)
	r.quiesce(t)
	h.waitRoutes(time.Second, map[string]string{"api": val(1)})
	if h.logs.count("ignored: "+key(2)+" duplicate app id api (held by container "+key(1)+")") != 1 {
		t.Errorf("local duplicate not reported:\n%s", h.logs)
	}
	h.docker.remove(a.ID)
	h.waitRoutes(5*time.Second, map[string]string{"api": val(2)})
}

// Keys without an ownership record are never touched, unless --adopt.
func TestAdopt(t *testing.T) {
	for _, adopt := range []bool{false, true} {
		t.Run(fmt.Sprint("adopt=", adopt), func(t *testing.T) {
			st := newStore(t)
			ctx := context.Background()
			if _, err := st.cli.Set(ctx, "/app/servers/"+key(1), "192.0.2.9:80", client.SetOptions{}); err != nil {
				t.Fatal(err)
			}
			h := newHost(t, st, "h1")
			h.cfg.Adopt = adopt
			h.docker.put(ctr(1))
			r := h.start()
			r.ready(t, h.docker)
			r.quiesce(t)
			want := "192.0.2.9:80"
			if adopt {
				want = val(1)
			}
			h.waitRoutes(time.Second, map[string]string{key(1): want})
			if adopt && h.logs.count("adopted, was 192.0.2.9:80") != 1 {
				t.Errorf("no adoption line:\n%s", h.logs)
			}
		})
	}
}

// Weights go to <meta>/weights/<app-id> and follow the route.
func TestWeight(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	r := h.start()
	r.ready(t, h.docker)
	c := ctr(1)
	c.Labels["hecd.weight"] = "42"
	h.docker.run(c)
	h.waitRoutes(5*time.Second, map[string]string{key(1): val(1)})
	waitFor(t, 5*time.Second, func() (bool, string) {
		w := st.tree(t, "/hecd/weights")
		return w[key(1)] == "42", fmt.Sprint(w)
	})
	h.docker.remove(c.ID)
	h.waitRoutes(5*time.Second, map[string]string{})
	// The weight goes right after the route (and before the record).
	waitFor(t, 5*time.Second, func() (bool, string) {
		w := st.tree(t, "/hecd/weights")
		return len(w) == 0, fmt.Sprintf("weights left: %v", w)
	})
}

// With --key-by name a rename re-keys the route; otherwise it updates the
// ownership record only.
func TestRename(t *testing.T) {
	for _, by := range []string{"name", "short-id"} {
		t.Run(by, func(t *testing.T) {
			st := newStore(t)
			h := newHost(t, st, "h1")
			h.cfg.KeyBy = by
			h.docker.put(ctr(1))
			r := h.start()
			k := "app1"
			if by != "name" {
				k = key(1)
			}
			h.waitRoutes(10*time.Second, map[string]string{k: val(1)})
			h.docker.change(ctr(1).ID, func(c *Container) { c.Name = "renamed" })
			h.docker.emit(ctr(1).ID, "rename", nil)
			if by == "name" {
				h.waitRoutes(5*time.Second, map[string]string{"renamed": val(1)})
				return
			}
			waitFor(t, 5*time.Second, func() (bool, string) {
				rec := parseRecord(h.records()[k])
				return rec.Name == "renamed", "record name " + rec.Name
			})
			_ = r
		})
	}
}

// Dry-run logs the writes and makes none.
func TestDryRun(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.DryRun = true
	h.docker.put(ctr(1))
	r := h.start()
	r.ready(t, h.docker)
	r.quiesce(t)
	if n := h.cnt.totalWrites(); n != 0 {
		t.Errorf("%d writes in dry-run", n)
	}
	if h.logs.count("dry-run: would set /app/servers/"+key(1)+"="+val(1)) != 1 {
		t.Errorf("no dry-run line:\n%s", h.logs)
	}
}

// Status shows desired against actual.
func TestStatus(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.docker.put(ctr(1))
	c := ctr(2)
	c.Labels["hecd.ignore"] = "true"
	h.docker.put(c)
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
	s, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range s.Entries {
		lines = append(lines, fmt.Sprintf("%s %s %s %s %s %s", e.Container, e.State, e.Key, e.Desired, e.Actual, e.Reason))
	}
	want := []string{
		key(1) + " ok /app/servers/" + key(1) + " " + val(1) + " " + val(1) + " ",
		key(2) + " ignored    ignored by label hecd.ignore",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("status:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// The registrator layout end to end: two-level keys, one per port, with
// their records; all removed with the container.
func TestRegistratorLayoutStore(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.cfg.Layout = LayoutRegistrator
	h.cfg.Prefix = "/services"
	c := ctr(1)
	c.ExposedPorts = []string{"80/tcp", "443/tcp"}
	c.Ports = []PortBinding{pb(80, "0.0.0.0", 30080), pb(443, "0.0.0.0", 30443)}
	h.docker.put(c)
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{
		"app-80/h1:app1:80":   "10.0.0.1:30080",
		"app-443/h1:app1:443": "10.0.0.1:30443",
	})
	r.quiesce(t)
	if recs := h.records(); len(recs) != 2 || parseRecord(recs["app-80/h1:app1:80"]).Key != "/services/app-80/h1:app1:80" {
		t.Errorf("records %v", recs)
	}
	h.docker.remove(c.ID)
	h.waitRoutes(5*time.Second, map[string]string{})
	waitFor(t, 5*time.Second, func() (bool, string) { return len(h.records()) == 0, "records left" })
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run did not fail")
	}
}

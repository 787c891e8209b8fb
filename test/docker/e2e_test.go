package docker_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hecd/test/dockerimg"
)

// Times the spec promises (registrator.md C.4, C.2) and this test holds
// the real thing to.
const (
	// routeWithin bounds the time from "docker start" (or stop, kill)
	// returning to the route being there (or gone) through the proxy.
	routeWithin = time.Second
	// ttl and resync are short so that expiry and periodic reconciles
	// happen within the test.
	ttl    = 3 * time.Second
	resync = 2 * time.Second
	// expirySlack is how late after its TTL a key may still be seen: the
	// store expires keys on a periodic tick.
	expirySlack = 1500 * time.Millisecond
)

// TestEndToEnd follows containers on the real Docker Engine through
// "hecd up": start, stop and kill route and unroute within a second
// without disturbing other routes; a crashed hecd restarted on its data
// dir reconciles with no write for what did not change; and the routes
// of a stopped hecd expire one TTL later.
func TestEndToEnd(t *testing.T) {
	began := time.Now()
	e := newEnv(t)
	owner := "e2e-" + e.run
	p := ports(t, 5)
	obs, obsArgs := observeArgs(t, t.TempDir(), p[3:])
	cfg := upConfig{name: "e2e", dataDir: filepath.Join(t.TempDir(), "data"), owner: owner,
		client: p[0], peer: p[1], proxy: p[2], ttl: ttl.String(), resync: resync.String(), extraArgs: obsArgs}
	h := e.startUp(t, cfg)
	if !h.waitLog("registrator: owner", 10*time.Second) {
		t.Fatalf("the registrator did not start:\n%s", h.Log.String())
	}
	c := newClient()

	startRoutable := func(h *hecd, b backend) {
		t.Helper()
		dockerimg.Docker(t, "start", b.id)
		d := waitRoutable(t, c, h.proxyURL, b, time.Now(), 5*time.Second)
		t.Logf("docker start %s: routable through the proxy %v after the command returned", b.appID, d.Round(time.Millisecond))
		if d > routeWithin {
			t.Errorf("docker start %s: routable only %v after the command returned, want within %v", b.appID, d, routeWithin)
		}
	}

	// 1. Three containers, each routable by its short id.
	bs := []backend{e.create(t), e.create(t), e.create(t)}
	for _, b := range bs {
		startRoutable(h, b)
	}
	e.routes(t, h.storeURL, owner, bs...)
	if t.Failed() {
		return
	}
	// What the status command and the metrics say about them.
	obs.checkObserved(t, e, h, owner, bs...)

	// 2. docker stop and docker kill: the route goes within a second while
	// requests to the other containers never fail.
	end := func(verb string, b backend, others ...backend) {
		t.Helper()
		load := startLoad(h.proxyURL, others...)
		// Let the load run before the change, so that it covers the
		// whole of it.
		time.Sleep(100 * time.Millisecond)
		issued := time.Now()
		dockerimg.Docker(t, verb, b.id)
		took := time.Since(issued)
		storeGone, proxyGone := waitGone(t, h, b, issued, 5*time.Second)
		time.Sleep(200 * time.Millisecond)
		n, failures := load.stop()
		t.Logf("docker %s %s: the command took %v; the route left the store %v and the proxy answered 503 %v after it was issued; %d requests to the %d other containers meanwhile, %d failed",
			verb, b.appID, took.Round(time.Millisecond), storeGone.Round(time.Millisecond), proxyGone.Round(time.Millisecond), n, len(others), len(failures))
		if late := max(storeGone, proxyGone) - took; late > routeWithin {
			t.Errorf("docker %s %s: still routed %v after the command returned, want at most %v", verb, b.appID, late, routeWithin)
		}
		if len(failures) > 0 {
			t.Errorf("docker %s %s: %d of %d requests to the other containers failed; first: %s",
				verb, b.appID, len(failures), n, strings.Join(failures[:min(len(failures), 5)], "; "))
		}
		if n == 0 {
			t.Errorf("docker %s %s: the load loop sent no request", verb, b.appID)
		}
	}
	end("stop", bs[0], bs[1], bs[2])
	// Started again: the "draining" mark of the stop must not keep it out.
	startRoutable(h, bs[0])
	end("kill", bs[1], bs[0], bs[2])
	e.routes(t, h.storeURL, owner, bs[0], bs[2])
	if t.Failed() {
		return
	}

	// 3. kill -9 hecd; meanwhile one container stops; hecd restarts on the
	// same data dir and a new container starts. The restart's reconcile
	// removes the stopped one, adds the new one and writes nothing for
	// the two that did not change, unless their TTL ran out while hecd
	// was down (then writing them again is right).
	bs = append(bs, e.create(t), e.create(t))
	startRoutable(h, bs[3])
	before := e.routes(t, h.storeURL, owner, bs[0], bs[2], bs[3])
	from := storeIndex(t, h.storeURL) + 1
	h.kill9(t)
	killed := time.Now()
	stopped := make(chan error, 1)
	// Concurrently with the restart, to keep the downtime (and so the
	// chance that the unchanged keys expire meanwhile) small.
	go func() { _, err := dockerimg.Try("stop", bs[2].id); stopped <- err }()
	h = e.startUp(t, cfg)
	back := time.Now()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	t.Logf("hecd up was down %v (kill -9 to store and proxy answering again)", back.Sub(killed).Round(time.Millisecond))
	startRoutable(h, bs[4])
	waitGone(t, h, bs[2], time.Now(), ttl+resync+expirySlack)
	// One more periodic reconcile, which must not write either.
	time.Sleep(resync + 500*time.Millisecond)
	after := e.routes(t, h.storeURL, owner, bs[0], bs[3], bs[4])
	events, err := eventsSince(h.storeURL, from, 500*time.Millisecond)
	if err != nil {
		t.Fatalf("reading the store's history since the kill: %v", err)
	}
	// The keys of the containers that ran all along, and whether each
	// had enough TTL left at the kill to outlive the downtime with some
	// time to spare for the restarted registrator to refresh it.
	const spare = 300 * time.Millisecond
	unchanged := map[string]bool{} // key -> must not be written
	var strict, lenient []string
	for _, b := range []backend{bs[0], bs[3]} {
		for _, k := range []string{"/app/servers/" + b.appID, "/hecd/owners/" + owner + "/" + b.appID} {
			n := before[k]
			if n == nil || n.Expiration == nil {
				t.Errorf("%s had no TTL before the kill: %+v", k, n)
				continue
			}
			left := n.Expiration.Sub(killed)
			if n.Expiration.After(back.Add(spare)) {
				unchanged[k] = true
				strict = append(strict, fmt.Sprintf("%s (%v left)", k, left.Round(time.Millisecond)))
				if after[k] != nil && n.CreatedIndex != after[k].CreatedIndex {
					t.Errorf("%s was written again by the restart: createdIndex %d before, %d after", k, n.CreatedIndex, after[k].CreatedIndex)
				}
			} else {
				unchanged[k] = false
				lenient = append(lenient, fmt.Sprintf("%s (%v left)", k, left.Round(time.Millisecond)))
			}
		}
	}
	t.Logf("unchanged keys that had to survive the restart: %v; that could expire while hecd was down: %v", strict, lenient)
	var log []string
	for _, ev := range events {
		k := ev.Node.Key
		log = append(log, ev.Action+" "+k)
		must, known := unchanged[k]
		switch {
		case must && ev.Action == "expire":
			t.Errorf("%s expired after the restart although it had %v of TTL left when hecd was killed and hecd was back after %v: the restart must refresh the keys it finds in place before their TTL runs out",
				k, before[k].Expiration.Sub(killed).Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond))
		case must:
			t.Errorf("the restart wrote %s (%s) although its container did not change", k, ev.Action)
		case known:
			// Expired while hecd was down: removing and writing it again
			// is right.
		case strings.HasSuffix(k, "/"+bs[2].appID):
			if ev.Action != "delete" && ev.Action != "compareAndDelete" && ev.Action != "expire" {
				t.Errorf("stopped container's key %s: %s, want it removed", k, ev.Action)
			}
		case strings.HasSuffix(k, "/"+bs[4].appID):
		case strings.HasPrefix(k, "/app/servers/") || strings.HasPrefix(k, "/hecd/owners/"):
			t.Errorf("unexpected write after the restart: %s %s", ev.Action, k)
		}
	}
	t.Logf("writes (no refreshes) since the kill -9: %d: %s", len(events), strings.Join(log, ", "))
	if t.Failed() {
		return
	}

	// 4. hecd stopped for longer than the TTL: its routes expire. The
	// store runs on its own here ("hecd store" on the same data dir, then
	// "hecd up -store"), so that the expiry can be watched.
	h.stop(t)
	s := startStore(t, "e2e", cfg.dataDir, cfg.client, cfg.peer)
	up := cfg
	up.store, up.proxy = s.storeURL, ports(t, 1)[0]
	h = e.startUp(t, up)
	for _, b := range []backend{bs[0], bs[3], bs[4]} {
		waitRoutable(t, c, h.proxyURL, b, time.Now(), ttl+resync+time.Second)
	}
	e.routes(t, s.storeURL, owner, bs[0], bs[3], bs[4])
	// One refresh by this process, so that the keys' TTLs are its own.
	time.Sleep(ttl/3 + 200*time.Millisecond)
	signalled, exited := h.stop(t)
	// SIGINT lets the keys live on (no -deregister-on-exit): a restart
	// must not flap every route.
	if keys, _ := leaves(t, s.storeURL, "/app/servers"); len(keys) != 3 {
		t.Errorf("right after hecd up stopped: %d routes, want the 3 it held (they go by TTL, not on exit)", len(keys))
	}
	var gone time.Duration
	for deadline := exited.Add(ttl + expirySlack + time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		routes, _ := leaves(t, s.storeURL, "/app/servers")
		recs, _ := leaves(t, s.storeURL, "/hecd/owners/"+owner)
		if len(routes)+len(recs) == 0 {
			gone = time.Since(exited)
			break
		}
	}
	sinceSignal := gone + exited.Sub(signalled)
	switch {
	case gone == 0:
		t.Errorf("routes of the stopped hecd still in the store %v after it stopped (TTL %v)", ttl+expirySlack+time.Second, ttl)
	case gone > ttl+expirySlack:
		t.Errorf("routes of the stopped hecd expired %v after it stopped, want within the TTL (%v) + %v", gone, ttl, expirySlack)
	case sinceSignal < ttl-ttl/3-300*time.Millisecond:
		// Refreshed at most ttl/3 before the signal, a key has at least
		// ttl-ttl/3 left: going sooner means it was deleted, not expired.
		t.Errorf("routes of the stopped hecd went %v after SIGINT, before their TTL (%v, refreshed every %v) could have run out", sinceSignal, ttl, ttl/3)
	default:
		t.Logf("routes and ownership records of the stopped hecd expired %v after it exited, %v after SIGINT (TTL %v, refreshed every %v)",
			gone.Round(time.Millisecond), sinceSignal.Round(time.Millisecond), ttl, ttl/3)
	}

	took := time.Since(began)
	t.Logf("the whole test took %v", took.Round(time.Millisecond))
	if took > 3*time.Minute {
		t.Errorf("the test took %v, more than its 3 minute budget", took)
	}
}

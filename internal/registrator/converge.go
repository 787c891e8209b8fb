package registrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"hecd/internal/client"
)

// detectHosts refreshes the host addresses (not needed with --ip), and
// logs when they change.
func (r *Registrator) detectHosts(ctx context.Context) {
	if r.cfg.IP != "" {
		return
	}
	h, err := r.cfg.DetectHostAddrs(ctx, r.cfg.Client.Endpoints())
	r.mu.Lock()
	changed := !r.hostSet || h != r.hosts || (err == nil) != (r.hostErr == nil)
	r.hosts, r.hostErr, r.hostSet = h, err, true
	r.mu.Unlock()
	switch {
	case !changed:
	case err != nil:
		r.log.Error("host address: " + err.Error() + "; routes of published ports are not written")
	default:
		r.log.Info(fmt.Sprintf("host address: ipv4 %s, ipv6 %s", addrOrNone(h.V4), addrOrNone(h.V6)))
	}
}

func addrOrNone(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

// input is the verdict input for ct as of now.
func (r *Registrator) input(ctx context.Context, ct *Container, known map[string]*Container) desireInput {
	r.mu.Lock()
	hosts, hostErr := r.hosts, r.hostErr
	r.mu.Unlock()
	return desireInput{
		hosts:    hosts,
		hostErr:  hostErr,
		draining: r.draining(ct.ID),
		lookup: func(id string) (*Container, error) {
			if c := known[id]; c != nil {
				return c, nil
			}
			for _, c := range known {
				if strings.HasPrefix(c.ID, id) || c.Name == id {
					return c, nil
				}
			}
			c, err := r.cfg.Docker.Inspect(ctx, id)
			if err == nil {
				r.dockerContact()
			}
			return c, err
		},
	}
}

// keepStopped reports whether a stopped container's routes are kept (not
// deleted, not refreshed) under the --deregister mode (A.7, C.4).
func (r *Registrator) keepStopped(ct *Container) bool {
	switch r.cfg.Deregister {
	case DeregisterNever:
		return true
	case DeregisterOnSuccess:
		return ct.ExitCode != 0 && ct.ExitCode&128 == 0
	}
	return false
}

// converge is one pass over a container: inspect it now, then bring each
// route name it wants, holds or was hinted at to that state.
func (r *Registrator) converge(ctx context.Context, id string, hints map[string]bool) error {
	ct, err := r.cfg.Docker.Inspect(ctx, id)
	gone := errors.Is(err, ErrNoContainer)
	if err != nil && !gone {
		// Cannot tell: never take "cannot inspect" for "gone".
		r.m.dockerErrors.Add(1)
		return fmt.Errorf("inspect: %w", err)
	}
	r.dockerContact()
	var v Verdict
	keep := false
	c := ident{id: id}
	if !gone {
		c.name, c.image = strings.TrimPrefix(ct.Name, "/"), ct.Image
		v = r.cfg.desired(ct, r.input(ctx, ct, nil))
		v = r.gateReady(ctx, ct, v)
		keep = !ct.Running && r.keepStopped(ct)
		r.note(id, v.Notes)
	}
	want := map[string]*Route{}
	for i := range v.Routes {
		want[v.Routes[i].Rel] = &v.Routes[i]
	}
	rels := maps.Clone(hints)
	if rels == nil {
		rels = map[string]bool{}
	}
	for rel := range want {
		rels[rel] = true
	}
	r.mu.Lock()
	for rel, g := range r.regs {
		if g.container == id {
			rels[rel] = true
		}
	}
	r.mu.Unlock()
	var dups []string
	for _, rel := range sortedKeys(rels) {
		dup, err := r.settle(ctx, c, rel, want[rel], keep)
		if err != nil {
			return err
		}
		if dup != "" {
			dups = append(dups, dup)
		}
	}
	switch {
	case len(dups) > 0:
		r.setReason(id, strings.Join(dups, "; "), true)
	case v.Reason != "":
		r.setReason(id, v.Reason, false)
	default:
		r.setReason(id, "", false)
	}
	if gone {
		r.forgetContainer(id)
	}
	return nil
}

// gateReady holds back the routes of a just-started container without a
// HEALTHCHECK whose address does not accept connections yet (see
// Config.ReadyTimeout), and leaves a prober watching the address. A route
// already held for the container is never probed: once registered, the
// proxy's health checks judge it.
func (r *Registrator) gateReady(ctx context.Context, ct *Container, v Verdict) Verdict {
	if r.cfg.ReadyTimeout <= 0 || !ct.Running || ct.Health != "" || ct.StartedAt.IsZero() || len(v.Routes) == 0 {
		r.stopProbe(ct.ID)
		return v
	}
	deadline := ct.StartedAt.Add(r.cfg.ReadyTimeout)
	var kept []Route
	var waiting []string
	for _, rt := range v.Routes {
		if rt.UDP || r.holds(ct.ID, rt) {
			kept = append(kept, rt)
			continue
		}
		err := r.cfg.Probe(ctx, rt.Value)
		switch {
		case err == nil:
			kept = append(kept, rt)
		case time.Now().Before(deadline):
			waiting = append(waiting, rt.Value)
		default:
			kept = append(kept, rt)
			v.Notes = append(v.Notes, fmt.Sprintf("%s still refuses connections %v after the start (%v); registered anyway", rt.Value, r.cfg.ReadyTimeout, err))
		}
	}
	if len(waiting) == 0 {
		r.stopProbe(ct.ID)
		return v
	}
	r.startProbe(ct.ID, waiting, deadline)
	v.Routes = kept
	if len(kept) == 0 {
		v.Reason = "not accepting connections yet on " + strings.Join(waiting, ", ")
	}
	return v
}

// Readiness probes: every probeFast for the first probeFastFor (most
// programs listen within tens of milliseconds, and each wait adds to the
// time to route), then every probeSlow. A probe is one TCP connect; no
// Docker call is made until the address answers.
const (
	probeFast    = 5 * time.Millisecond
	probeFastFor = 500 * time.Millisecond
	probeSlow    = 100 * time.Millisecond
)

// prober is one running readiness prober.
type prober struct {
	cancel context.CancelFunc
	addrs  string // what it probes, joined, to tell whether it is current
}

// startProbe runs a prober for container id unless one runs for the same
// addresses: it connects to addrs until all accept, or until deadline,
// then schedules a pass.
func (r *Registrator) startProbe(id string, addrs []string, deadline time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	joined := strings.Join(addrs, " ")
	if r.ctx == nil || r.ctx.Err() != nil {
		return
	}
	if old := r.probes[id]; old != nil {
		if old.addrs == joined {
			return
		}
		r.stopProbeLocked(id) // the container's address changed
	}
	ctx, cancel := context.WithCancel(r.ctx)
	p := &prober{cancel: cancel, addrs: joined}
	r.probes[id] = p
	r.wg.Go(func() {
		defer cancel()
		started := time.Now()
		for {
			wait := probeSlow
			if time.Since(started) < probeFastFor {
				wait = probeFast
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(wait, max(time.Until(deadline), 0))):
			}
			ready := true
			for _, a := range addrs {
				if ctx.Err() != nil {
					return
				}
				if r.cfg.Probe(ctx, a) != nil {
					ready = false
					break
				}
			}
			if !ready && time.Now().Before(deadline) {
				continue
			}
			// Done: leave the map before the pass, so that a pass that
			// still finds the address closed can start a new prober.
			r.mu.Lock()
			mine := r.probes[id] == p
			if mine {
				delete(r.probes, id)
			}
			r.mu.Unlock()
			if mine {
				r.schedule(id)
			}
			return
		}
	})
}

func (r *Registrator) stopProbe(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopProbeLocked(id)
}

func (r *Registrator) stopProbeLocked(id string) {
	if p := r.probes[id]; p != nil {
		p.cancel()
		delete(r.probes, id)
	}
}

// holds reports whether route rt is held for container id with its value.
func (r *Registrator) holds(id string, rt Route) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.regs[rt.Rel]
	return ok && g.container == id && g.value == rt.Value
}

// settle brings one route name of container c to its wanted state. It
// returns a duplicate report when another holder keeps it. A write that
// loses a race (the key appeared, or changed, since it was read) reads
// again and decides once more.
func (r *Registrator) settle(ctx context.Context, c ident, rel string, want *Route, keep bool) (string, error) {
	for attempt := 0; ; attempt++ {
		t, err := r.truth(ctx, rel)
		if err != nil {
			return "", err
		}
		a := decide(c, want, keep, t, r.cfg.Adopt, r.routeKey(rel))
		if a.kind == actAdopt {
			other, err := r.claimedByOther(ctx, rel)
			if err != nil {
				return "", err
			}
			if other {
				a = action{kind: actDuplicate, holder: "another owner"}
			}
		}
		raced, dup, err := r.apply(ctx, c, rel, want, t, a)
		if err != nil || !raced {
			return dup, err
		}
		if attempt == 2 {
			return "", fmt.Errorf("%s changed under every attempt", r.routeKey(rel))
		}
	}
}

// apply carries out one decision. raced reports a conditional write that
// failed because the key changed since it was read.
func (r *Registrator) apply(ctx context.Context, c ident, rel string, want *Route, t keyTruth, a action) (raced bool, dup string, err error) {
	key := r.routeKey(rel)
	switch a.kind {
	case actNone:
		r.track(rel, c.id, want.Value, want.Weight, true)
	case actTrack:
		w := 0
		if t.Record != nil {
			w = t.Record.Weight
		}
		r.track(rel, c.id, t.Route, w, false)
	case actForget:
		r.forget(rel, c.id)
	case actDropRecord:
		if err := r.del(ctx, r.recordKey(rel), ""); err != nil && !client.IsKeyNotFound(err) {
			return false, "", err
		}
		r.forget(rel, c.id)
	case actDuplicate:
		r.forget(rel, c.id)
		if a.dropRecord {
			if err := r.del(ctx, r.recordKey(rel), ""); err != nil && !client.IsKeyNotFound(err) {
				return false, "", err
			}
		}
		r.duplicateOf(c.id, rel, t.RouteTTL)
		return false, "duplicate app id " + rel + " (held by " + a.holder + ")", nil
	case actCreate:
		// The record first: a route must never exist without the record
		// that proves it is ours, or a crash between the two writes would
		// leave a key this owner no longer recognises.
		if err := r.writeRecord(ctx, c, rel, want, t.Record); err != nil {
			return false, "", err
		}
		err := r.set(ctx, key, want.Value, client.SetOptions{PrevExist: client.MustNotExist})
		if client.IsKeyExists(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		if err := r.syncWeight(ctx, rel, want, t); err != nil {
			return false, "", err
		}
		r.added(c, rel, want, "")
	case actUpdate, actAdopt:
		// The route first: until the record follows, the route holding
		// the wanted value is still recognised as ours.
		err := r.set(ctx, key, want.Value, client.SetOptions{PrevExist: client.MustExist, PrevValue: a.prev})
		if client.IsCompareFailed(err) || client.IsKeyNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		var old *ownerRecord
		if a.kind == actUpdate {
			old = t.Record
		}
		if err := r.writeRecord(ctx, c, rel, want, old); err != nil {
			return false, "", err
		}
		if err := r.syncWeight(ctx, rel, want, t); err != nil {
			return false, "", err
		}
		how := " (was " + a.prev + ")"
		if a.kind == actAdopt {
			how = " (adopted, was " + a.prev + ")"
		}
		r.added(c, rel, want, how)
	case actSync:
		if !recordCurrent(t.Record, c, want, key) {
			if err := r.writeRecord(ctx, c, rel, want, t.Record); err != nil {
				return false, "", err
			}
		}
		if err := r.syncWeight(ctx, rel, want, t); err != nil {
			return false, "", err
		}
		r.track(rel, c.id, want.Value, want.Weight, true)
	case actRemove:
		err := r.del(ctx, key, a.prev)
		if err != nil && !client.IsKeyNotFound(err) && !client.IsCompareFailed(err) {
			return false, "", err
		}
		if w := t.Record.Weight; w > 0 && t.WeightExists && t.Weight == itoa(w) {
			err := r.del(ctx, r.weightKey(rel), t.Weight)
			if err != nil && !client.IsKeyNotFound(err) && !client.IsCompareFailed(err) {
				return false, "", err
			}
		}
		// The record last: while it exists, a retry still knows the
		// route was ours.
		if err := r.del(ctx, r.recordKey(rel), ""); err != nil && !client.IsKeyNotFound(err) {
			return false, "", err
		}
		r.forget(rel, c.id)
		r.m.removed.Add(1)
		r.log.Info("removed: " + shortID(c.id) + " " + key + "=" + a.prev)
		r.wake(rel)
	}
	return false, "", nil
}

func (r *Registrator) added(c ident, rel string, want *Route, how string) {
	r.track(rel, c.id, want.Value, want.Weight, true)
	r.m.added.Add(1)
	r.log.Info("added: " + shortID(c.id) + " " + r.routeKey(rel) + "=" + want.Value + how)
	r.mu.Lock()
	if ws := r.waiting[rel]; ws != nil {
		delete(ws, c.id)
		if len(ws) == 0 {
			delete(r.waiting, rel)
		}
	}
	r.mu.Unlock()
}

// writeRecord writes the ownership record of rel; an existing record's
// registration time is kept.
func (r *Registrator) writeRecord(ctx context.Context, c ident, rel string, want *Route, old *ownerRecord) error {
	rec := ownerRecord{
		Key: r.routeKey(rel), Value: want.Value, Weight: want.Weight,
		Container: c.id, Name: c.name, Image: c.image, Registered: time.Now().UTC().Truncate(time.Second),
	}
	if old != nil && old.Container == c.id && !old.Registered.IsZero() {
		rec.Registered = old.Registered
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return r.set(ctx, r.recordKey(rel), string(b), client.SetOptions{})
}

// syncWeight writes or removes <meta>/weights/<app-id> as wanted. A
// weight is removed only with the value this owner wrote.
func (r *Registrator) syncWeight(ctx context.Context, rel string, want *Route, t keyTruth) error {
	if r.cfg.Layout != LayoutHecd {
		return nil
	}
	if want.Weight > 0 {
		if t.WeightExists && t.Weight == itoa(want.Weight) {
			return nil
		}
		return r.set(ctx, r.weightKey(rel), itoa(want.Weight), client.SetOptions{})
	}
	if t.WeightExists && t.Record != nil && t.Record.Weight > 0 && t.Weight == itoa(t.Record.Weight) {
		err := r.del(ctx, r.weightKey(rel), t.Weight)
		if err != nil && !client.IsKeyNotFound(err) && !client.IsCompareFailed(err) {
			return err
		}
	}
	return nil
}

// track records that rel is held (refresh) or kept (no refresh) for
// container id.
func (r *Registrator) track(rel, id, value string, weight int, refresh bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.regs[rel] = &reg{container: id, value: value, weight: weight, refresh: refresh}
}

// forget drops rel if container id holds it.
func (r *Registrator) forget(rel, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.regs[rel]; g != nil && g.container == id {
		delete(r.regs, rel)
	}
}

// duplicateOf notes that container id waits for rel: it is woken when a
// local holder removes it, or when the holder's TTL would have run out
// (an expired key of a dead host is taken at once, not at the next
// resync).
func (r *Registrator) duplicateOf(id, rel string, ttl time.Duration) {
	r.mu.Lock()
	if r.waiting[rel] == nil {
		r.waiting[rel] = map[string]bool{}
	}
	r.waiting[rel][id] = true
	r.mu.Unlock()
	if ttl > 0 {
		// Expiry runs on the leader's sweep (every 500 ms in hecd).
		r.later(id, ttl+time.Second, map[string]bool{rel: true})
	}
}

// wake schedules the containers waiting for rel.
func (r *Registrator) wake(rel string) {
	r.mu.Lock()
	ws := sortedKeys(r.waiting[rel])
	delete(r.waiting, rel)
	r.mu.Unlock()
	for _, id := range ws {
		r.schedule(id, rel)
	}
}

// refreshAll resets the TTLs of the held routes, their records and
// weights, with refresh=true (no watch event) and prevExist=true. The
// route's refresh also carries prevValue, so that a key someone else
// took after ours expired is never kept alive by us. A refresh that
// finds a key gone or changed hands the container to its worker, which
// reads the store and registers again.
func (r *Registrator) refreshAll(ctx context.Context) {
	r.mu.Lock()
	type item struct {
		rel string
		g   reg
	}
	var items []item
	for rel, g := range r.regs {
		if g.refresh {
			items = append(items, item{rel, *g})
		}
	}
	r.mu.Unlock()
	if len(items) == 0 {
		return
	}
	var wg sync.WaitGroup
	ch := make(chan item)
	for range min(r.cfg.Parallel, len(items)) {
		wg.Go(func() {
			for it := range ch {
				if ctx.Err() == nil {
					r.refreshOne(ctx, it.rel, it.g)
				}
			}
		})
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
}

func (r *Registrator) refreshOne(ctx context.Context, rel string, g reg) {
	r.m.refreshes.Add(1)
	lost := func(err error) bool { return client.IsKeyNotFound(err) || client.IsCompareFailed(err) }
	err := r.set(ctx, r.routeKey(rel), "", client.SetOptions{Refresh: true, PrevExist: client.MustExist, PrevValue: g.value})
	if lost(err) {
		r.log.Info(fmt.Sprintf("refresh: %s is gone or changed (%v); registering again", r.routeKey(rel), err))
		r.schedule(g.container, rel)
		return
	}
	if err != nil {
		r.log.Warn(fmt.Sprintf("refresh %s: %v", r.routeKey(rel), err))
		return
	}
	err = r.set(ctx, r.recordKey(rel), "", client.SetOptions{Refresh: true, PrevExist: client.MustExist})
	if lost(err) {
		r.schedule(g.container, rel)
		return
	}
	if g.weight > 0 && err == nil {
		err = r.set(ctx, r.weightKey(rel), "", client.SetOptions{Refresh: true, PrevExist: client.MustExist, PrevValue: itoa(g.weight)})
		if lost(err) {
			r.schedule(g.container, rel)
			return
		}
	}
	if err != nil {
		r.log.Warn(fmt.Sprintf("refresh %s: %v", r.recordKey(rel), err))
	}
}

// removeAll deletes this owner's routes (--deregister-on-exit). It works
// from the ownership records in the store rather than from memory, so
// that a write cut short by the shutdown is removed too; each route goes
// only with the value its record names.
func (r *Registrator) removeAll(ctx context.Context) {
	recs, err := r.leaves(ctx, r.recordDir(), r.routeDepth())
	if err != nil {
		r.log.Warn("deregister on exit: reading records: " + err.Error())
		return
	}
	for _, rel := range sortedKeys(recs) {
		rec := parseRecord(recs[rel].Value)
		key := r.routeKey(rel)
		if rec.Value != "" {
			err := r.del(ctx, key, rec.Value)
			switch {
			case err == nil:
				r.m.removed.Add(1)
				r.log.Info("removed: " + shortID(rec.Container) + " " + key + "=" + rec.Value)
			case client.IsKeyNotFound(err) || client.IsCompareFailed(err):
			default:
				r.log.Warn(fmt.Sprintf("deregister on exit: %s: %v", key, err))
				continue // keep the record: the route may still be ours
			}
		}
		if rec.Weight > 0 {
			r.del(ctx, r.weightKey(rel), itoa(rec.Weight))
		}
		r.del(ctx, r.recordKey(rel), "")
		r.forget(rel, rec.Container)
	}
}

// ---- observation, reconcile, status ----

// observation is a consistent-enough picture of both sides: Docker's
// running containers and the store's routes and this owner's records.
type observation struct {
	containers map[string]*Container
	// unknown are listed containers that could not be inspected: their
	// keys are left alone this round.
	unknown  map[string]bool
	verdicts map[string]Verdict
	routes   map[string]string
	records  map[string]*ownerRecord
	weights  map[string]string
}

// observe lists and inspects the running containers and reads the store.
// Any listing failure fails the whole observation: "cannot list" is never
// "nothing runs" (C.5).
func (r *Registrator) observe(ctx context.Context) (*observation, error) {
	ids, err := r.cfg.Docker.Running(ctx)
	if err != nil {
		r.m.dockerErrors.Add(1)
		return nil, fmt.Errorf("docker: listing containers: %w", err)
	}
	r.dockerContact()
	o := &observation{
		containers: map[string]*Container{},
		unknown:    map[string]bool{},
		verdicts:   map[string]Verdict{},
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.Parallel)
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ct, err := r.cfg.Docker.Inspect(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				o.containers[ct.ID] = ct
			case errors.Is(err, ErrNoContainer):
			default:
				r.m.dockerErrors.Add(1)
				o.unknown[id] = true
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r.detectHosts(ctx)
	nodes, err := r.leaves(ctx, r.cfg.Prefix, r.routeDepth())
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", r.cfg.Prefix, err)
	}
	o.routes = map[string]string{}
	for rel, n := range nodes {
		o.routes[rel] = n.Value
	}
	nodes, err = r.leaves(ctx, r.recordDir(), r.routeDepth())
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", r.recordDir(), err)
	}
	o.records = map[string]*ownerRecord{}
	for rel, n := range nodes {
		o.records[rel] = parseRecord(n.Value)
	}
	o.weights = map[string]string{}
	if r.cfg.Layout == LayoutHecd {
		nodes, err = r.leaves(ctx, r.cfg.MetaPrefix+"/weights", 1)
		if err != nil {
			return nil, fmt.Errorf("store: reading weights: %w", err)
		}
		for rel, n := range nodes {
			o.weights[rel] = n.Value
		}
	}
	for id, ct := range o.containers {
		o.verdicts[id] = r.cfg.desired(ct, r.input(ctx, ct, o.containers))
	}
	return o, nil
}

// reconcile compares desired and actual and hands every container whose
// routes are not in place to its worker, waiting for them (C.5). Routes
// that are in place cost no write: a resync with no change writes nothing.
func (r *Registrator) reconcile(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, passTimeout)
	o, err := r.observe(octx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.m.reconcileSkipped.Add(1)
			r.log.Warn("reconcile skipped: " + err.Error())
		}
		return err
	}
	r.m.reconciles.Add(1)
	jobs := map[string]map[string]bool{}
	need := func(id, rel string) {
		if jobs[id] == nil {
			jobs[id] = map[string]bool{}
		}
		jobs[id][rel] = true
	}
	r.mu.Lock()
	regs := map[string]reg{}
	for rel, g := range r.regs {
		regs[rel] = *g
	}
	r.mu.Unlock()

	wanted := map[string]string{} // rel → container that wants it
	for _, id := range sortedKeys(o.containers) {
		ct, v := o.containers[id], o.verdicts[id]
		r.note(id, v.Notes)
		if len(v.Routes) == 0 && v.Reason != "" {
			r.setReason(id, v.Reason, false)
		}
		c := ident{id: id, name: strings.TrimPrefix(ct.Name, "/"), image: ct.Image}
		for i := range v.Routes {
			rt := &v.Routes[i]
			wanted[rt.Rel] = id
			if !r.inPlace(c, rt, o, regs) {
				need(id, rt.Rel)
			}
		}
	}
	for rel, g := range regs {
		switch {
		case o.unknown[g.container]:
		case !g.refresh:
			// Kept after death: left alone while it lasts, forgotten once
			// it expired.
			if _, ok := o.routes[rel]; !ok {
				need(g.container, rel)
			}
		case wanted[rel] != g.container:
			need(g.container, rel)
		}
	}
	for rel, rec := range o.records {
		if wanted[rel] != "" && wanted[rel] == rec.Container {
			continue
		}
		if o.unknown[rec.Container] {
			continue
		}
		if g, ok := regs[rel]; ok && !g.refresh && g.container == rec.Container {
			continue // kept after death: left to expire
		}
		if rec.Container == "" {
			// Not a record this registrator could have written; it is in
			// our namespace, so it goes.
			if err := r.del(ctx, r.recordKey(rel), ""); err != nil && !client.IsKeyNotFound(err) {
				r.log.Warn(fmt.Sprintf("removing broken record %s: %v", r.recordKey(rel), err))
			}
			continue
		}
		need(rec.Container, rel)
	}
	var dones []chan struct{}
	for _, id := range sortedKeys(jobs) {
		dones = append(dones, r.enqueue(id, sortedKeys(jobs[id]), true))
	}
	for _, d := range dones {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.m.reconcileDiffs.Add(uint64(len(jobs)))
	if len(jobs) > 0 {
		r.log.Debug(fmt.Sprintf("reconcile: %d container(s) converged", len(jobs)))
	}
	return nil
}

// inPlace reports whether route rt of container c is in the store
// exactly as a pass would leave it, and held (refreshed) here.
func (r *Registrator) inPlace(c ident, rt *Route, o *observation, regs map[string]reg) bool {
	v, ok := o.routes[rt.Rel]
	rec := o.records[rt.Rel]
	if !ok || v != rt.Value || rec == nil || !recordCurrent(rec, c, rt, r.routeKey(rt.Rel)) {
		return false
	}
	if rt.Weight > 0 && o.weights[rt.Rel] != itoa(rt.Weight) {
		return false
	}
	g, ok := regs[rt.Rel]
	return ok && g.refresh && g.container == c.id && g.value == rt.Value && g.weight == rt.Weight
}

// StatusEntry is one line of the desired-versus-actual table.
type StatusEntry struct {
	Container string `json:"container"` // short id
	Name      string `json:"name,omitempty"`
	// Key is the route key; empty for a container with no route.
	Key string `json:"key,omitempty"`
	// Desired is the value wanted, empty when none; Actual the value in
	// the store, empty when absent.
	Desired string `json:"desired,omitempty"`
	Actual  string `json:"actual,omitempty"`
	// Owner is "self" when this owner's record proves the route ours,
	// "other" when the key exists otherwise, "" when it is absent.
	Owner string `json:"owner,omitempty"`
	// State is "ok", "missing", "waiting" (not accepting connections
	// yet), "differs", "duplicate", "stale" (ours, not wanted) or
	// "ignored".
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Status is the registrator's view of desired versus actual.
type Status struct {
	Owner   string
	Time    time.Time
	Entries []StatusEntry
	Metrics Metrics
}

// Status observes both sides now (no write) and reports them side by
// side. It does not need Run.
func (r *Registrator) Status(ctx context.Context) (*Status, error) {
	o, err := r.observe(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Owner: r.cfg.OwnerID, Time: time.Now(), Metrics: r.Metrics()}
	seen := map[string]bool{}
	for _, id := range sortedKeys(o.containers) {
		ct, v := o.containers[id], o.verdicts[id]
		name := strings.TrimPrefix(ct.Name, "/")
		if len(v.Routes) == 0 {
			if v.Reason != "" {
				st.Entries = append(st.Entries, StatusEntry{Container: shortID(id), Name: name, State: "ignored", Reason: v.Reason})
			}
			continue
		}
		for _, rt := range v.Routes {
			seen[rt.Rel] = true
			e := StatusEntry{Container: shortID(id), Name: name, Key: r.routeKey(rt.Rel), Desired: rt.Value}
			actual, exists := o.routes[rt.Rel]
			e.Actual = actual
			rec := o.records[rt.Rel]
			ours := exists && rec != nil && rec.Container == id && (rec.Value == actual || actual == rt.Value)
			switch {
			case !exists && ct.Running && ct.Health == "" && !rt.UDP && r.cfg.Probe(ctx, rt.Value) != nil:
				// Held back by the readiness gate (or about to be).
				e.State, e.Reason = "waiting", "not accepting connections yet"
			case !exists:
				e.State = "missing"
			case ours && actual == rt.Value:
				e.Owner, e.State = "self", "ok"
			case ours:
				e.Owner, e.State = "self", "differs"
			default:
				e.Owner, e.State = "other", "duplicate"
			}
			st.Entries = append(st.Entries, e)
		}
	}
	for _, rel := range sortedKeys(o.records) {
		if seen[rel] {
			continue
		}
		rec := o.records[rel]
		e := StatusEntry{Container: shortID(rec.Container), Name: rec.Name, Key: r.routeKey(rel), State: "stale"}
		if v, ok := o.routes[rel]; ok {
			e.Actual = v
			if v == rec.Value {
				e.Owner = "self"
			} else {
				e.Owner = "other"
			}
		}
		st.Entries = append(st.Entries, e)
	}
	return st, nil
}

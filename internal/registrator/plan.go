package registrator

// actionKind is what converging one route name needs.
type actionKind int

const (
	actNone       actionKind = iota // in place: keep refreshing, no write
	actCreate                       // absent: record, then create the route (prevExist=false)
	actUpdate                       // ours with another value: swap (prevValue), then record
	actAdopt                        // --adopt and nobody's: swap (prevValue), then record
	actSync                         // route right; rewrite the record and/or the weight
	actRemove                       // ours and not wanted: delete (prevValue), record, weight
	actDropRecord                   // our record for a route we do not hold: delete the record
	actDuplicate                    // wanted but held by someone else: report, no write
	actTrack                        // kept after death (on-success/never): no write, no refresh
	actForget                       // nothing of ours: forget it
)

var actionNames = [...]string{"none", "create", "update", "adopt", "sync", "remove", "drop-record", "duplicate", "track", "forget"}

func (k actionKind) String() string { return actionNames[k] }

// action is the decision for one route name.
type action struct {
	kind actionKind
	// prev is the route's current value, the compare of an update, adopt
	// or remove.
	prev string
	// holder says who holds a duplicate: "container <short id>" (another
	// container of this host), "another owner" or "a key without an
	// ownership record".
	holder string
	// dropRecord: a duplicate for which this owner still has a stale
	// record, which must not keep claiming the route.
	dropRecord bool
}

// ident is what the ownership record says of the container besides the
// route.
type ident struct {
	id, name, image string
}

// decide is the store side of C.1, C.2 and C.5 for one route name: given
// what the container should have (want nil: nothing; keep: leave what is
// there, unrefreshed) and what the store holds, what to do. A route is
// this container's when this owner's record names the container and the
// route holds the recorded value, or the wanted one (a crash between the
// two writes of an update leaves the route ahead of the record). A key
// that is not ours is never written or deleted, except by --adopt when no
// owner records it.
func decide(c ident, want *Route, keep bool, t keyTruth, adopt bool, routeKey string) action {
	mine := t.Record != nil && t.Record.Container == c.id
	routeMine := mine && t.RouteExists &&
		(t.Route == t.Record.Value || (want != nil && t.Route == want.Value))
	switch {
	case keep:
		if routeMine {
			return action{kind: actTrack, prev: t.Route}
		}
		return action{kind: actForget}
	case want == nil:
		if routeMine {
			return action{kind: actRemove, prev: t.Route}
		}
		if mine {
			return action{kind: actDropRecord}
		}
		return action{kind: actForget}
	case !t.RouteExists:
		return action{kind: actCreate}
	case routeMine:
		if t.Route != want.Value {
			return action{kind: actUpdate, prev: t.Route}
		}
		if !recordCurrent(t.Record, c, want, routeKey) || !weightCurrent(t, want) {
			return action{kind: actSync, prev: t.Route}
		}
		return action{kind: actNone, prev: t.Route}
	case t.Record != nil && !mine:
		// Our own record names another container of this host: two
		// local containers claim the app id, the first one keeps it.
		return action{kind: actDuplicate, holder: "container " + shortID(t.Record.Container)}
	case adopt && t.Record == nil:
		return action{kind: actAdopt, prev: t.Route}
	case mine:
		// Our record, but the route holds a value we neither recorded nor
		// want: someone took the key after ours expired.
		return action{kind: actDuplicate, holder: "another owner", dropRecord: true}
	}
	return action{kind: actDuplicate, holder: "another owner"}
}

// recordCurrent reports whether the record says what a fresh one would,
// the registration time aside.
func recordCurrent(rec *ownerRecord, c ident, want *Route, routeKey string) bool {
	return rec.Key == routeKey && rec.Value == want.Value && rec.Weight == want.Weight &&
		rec.Container == c.id && rec.Name == c.name && rec.Image == c.image
}

// weightCurrent reports whether the weight key is as wanted: present with
// the value when a weight is wanted; when none is, a weight this owner
// wrote earlier (the record says so) must be gone.
func weightCurrent(t keyTruth, want *Route) bool {
	if want.Weight > 0 {
		return t.WeightExists && t.Weight == itoa(want.Weight)
	}
	return !(t.WeightExists && t.Record != nil && t.Record.Weight > 0 && t.Weight == itoa(t.Record.Weight))
}

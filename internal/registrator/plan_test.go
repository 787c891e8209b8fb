package registrator

import "testing"

func TestDecide(t *testing.T) {
	c := ident{id: "c1", name: "app1", image: "img"}
	const key = "/app/servers/web"
	want := &Route{Rel: "web", Value: "10.0.0.1:1"}
	weighted := &Route{Rel: "web", Value: "10.0.0.1:1", Weight: 5}
	rec := func(container, value string, weight int) *ownerRecord {
		return &ownerRecord{Key: key, Value: value, Weight: weight, Container: container, Name: "app1", Image: "img"}
	}
	route := func(v string) keyTruth { return keyTruth{Route: v, RouteExists: true} }
	withRec := func(t keyTruth, r *ownerRecord) keyTruth { t.Record = r; return t }
	withWeight := func(t keyTruth, w string) keyTruth { t.Weight, t.WeightExists = w, true; return t }

	for _, tc := range []struct {
		name  string
		want  *Route
		keep  bool
		adopt bool
		t     keyTruth
		kind  actionKind
		prev  string
		drop  bool
	}{
		{"absent: create", want, false, false, keyTruth{}, actCreate, "", false},
		{"absent with our stale record: create", want, false, false, withRec(keyTruth{}, rec("c1", "old", 0)), actCreate, "", false},
		{"ours and equal: nothing", want, false, false, withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:1", 0)), actNone, "10.0.0.1:1", false},
		{"ours, other value: update", want, false, false, withRec(route("10.0.0.1:2"), rec("c1", "10.0.0.1:2", 0)), actUpdate, "10.0.0.1:2", false},
		{"route ahead of record: sync record", want, false, false, withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:2", 0)), actSync, "10.0.0.1:1", false},
		{"renamed: sync record", want, false, false,
			withRec(route("10.0.0.1:1"), &ownerRecord{Key: key, Value: "10.0.0.1:1", Container: "c1", Name: "old", Image: "img"}), actSync, "10.0.0.1:1", false},
		{"weight missing: sync", weighted, false, false, withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:1", 5)), actSync, "10.0.0.1:1", false},
		{"weight right: nothing", weighted, false, false, withWeight(withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:1", 5)), "5"), actNone, "10.0.0.1:1", false},
		{"weight dropped: sync", want, false, false, withWeight(withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:1", 5)), "5"), actSync, "10.0.0.1:1", false},
		{"foreign weight left alone", want, false, false, withWeight(withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:1", 0)), "9"), actNone, "10.0.0.1:1", false},
		{"held without our record: duplicate", want, false, false, route("10.0.0.2:1"), actDuplicate, "", false},
		{"held, same value, no record: duplicate", want, false, false, route("10.0.0.1:1"), actDuplicate, "", false},
		{"held by another local container: duplicate", want, false, false, withRec(route("10.0.0.1:9"), rec("c2", "10.0.0.1:9", 0)), actDuplicate, "", false},
		{"taken after our expiry: duplicate, drop record", want, false, false, withRec(route("10.0.0.2:1"), rec("c1", "10.0.0.1:7", 0)), actDuplicate, "", true},
		{"adopt unowned", want, false, true, route("10.0.0.2:1"), actAdopt, "10.0.0.2:1", false},
		{"adopt never takes a local duplicate", want, false, true, withRec(route("10.0.0.1:9"), rec("c2", "10.0.0.1:9", 0)), actDuplicate, "", false},
		{"unwanted, ours: remove", nil, false, false, withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:1", 0)), actRemove, "10.0.0.1:1", false},
		{"unwanted, route changed hands: drop record only", nil, false, false, withRec(route("10.0.0.2:1"), rec("c1", "10.0.0.1:1", 0)), actDropRecord, "", false},
		{"unwanted, route gone: drop record", nil, false, false, withRec(keyTruth{}, rec("c1", "10.0.0.1:1", 0)), actDropRecord, "", false},
		{"unwanted, someone else's: forget", nil, false, false, route("10.0.0.2:1"), actForget, "", false},
		{"unwanted, other local container's: forget", nil, false, false, withRec(route("10.0.0.1:9"), rec("c2", "10.0.0.1:9", 0)), actForget, "", false},
		{"kept: track", nil, true, false, withRec(route("10.0.0.1:1"), rec("c1", "10.0.0.1:1", 0)), actTrack, "10.0.0.1:1", false},
		{"kept, expired: forget", nil, true, false, withRec(keyTruth{}, rec("c1", "10.0.0.1:1", 0)), actForget, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := decide(c, tc.want, tc.keep, tc.t, tc.adopt, key)
			if a.kind != tc.kind || a.prev != tc.prev || a.dropRecord != tc.drop {
				t.Errorf("got %v prev=%q drop=%v, want %v prev=%q drop=%v", a.kind, a.prev, a.dropRecord, tc.kind, tc.prev, tc.drop)
			}
		})
	}
}

package store

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildRichStore returns a store with keys, directories, hidden nodes,
// TTLs on keys and directories, deletions, refreshes, internal events and
// some reads, so that every part of the state is non-trivial.
func buildRichStore(t testing.TB) *Store {
	t.Helper()
	s := newBootstrapped(t)
	for _, r := range []*Request{
		rSet("/a", "1"),
		rSet("/dir/x", "x"),
		rSet("/dir/sub/y", "héllo\x00\xff"),
		rSet("/dir/_hidden", "h"),
		rSet("/_top/k", "k"),
		withTTL(rSet("/ttl", "t"), 30),
		withTTL(rSetDir("/tdir"), 60),
		rSet("/tdir/child", "c"),
		withTTL(rUpdate("/tdir", ""), 90), // dir modifiedIndex quirk
		refresh(withTTL(rSet("/ttl", ""), 40)),
		rCAS("/a", "2", "1", 0),
		rPost("/queue", "job"),
		rPostDir("/queue"),
		rSet("/gone", "g"),
		rDel("/gone", false, false),
		rSet("/cad", "c"),
		rCAD("/cad", "c", 0),
		rSetDir("/emptydir"),
		{Op: OpMemberStart},
		rSet("/a", "3"),
	} {
		mustApply(t, s, r)
	}
	s.Get("/a", false, t0)
	s.Get("/nope", false, t0)
	s.Apply(&Request{Op: OpCreate, Key: "/a", Time: t0}) // a failure counter
	return s
}

func saveBytes(t testing.TB, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Save(&buf); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return buf.Bytes()
}

// historyDump lists, for every waitIndex from 1 to the current index + 1,
// what a recursive watch on key would get from the history.
func historyDump(t testing.TB, s *Store, key string) string {
	t.Helper()
	var b strings.Builder
	for i := uint64(1); i <= s.Index()+1; i++ {
		w, err := s.Watch(key, true, false, i)
		if err != nil {
			fmt.Fprintf(&b, "%d: %s", i, err.AppendJSON(nil))
			continue
		}
		select {
		case ev := <-w.Events:
			fmt.Fprintf(&b, "%d: %s", i, ev.JSON())
		default:
			fmt.Fprintf(&b, "%d: waits\n", i)
		}
		w.Remove()
	}
	return b.String()
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := buildRichStore(t)
	open := mustWatch(t, s, "/a", false, true, 0) // not part of the state
	data := saveBytes(t, s)

	r := New()
	if err := r.Restore(bytes.NewReader(data)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for _, now := range []int64{t0, t0 + 35*sec, t0 + 100*sec} {
		if a, b := dumpStore(t, s, now), dumpStore(t, r, now); a != b {
			t.Errorf("tree differs after restore (now %d):\n%s\n---\n%s", now, a, b)
		}
	}
	if s.Index() != r.Index() || s.NextExpiration() != r.NextExpiration() {
		t.Errorf("index %d/%d, next expiration %d/%d", s.Index(), r.Index(), s.NextExpiration(), r.NextExpiration())
	}
	if a, b := fmt.Sprint(s.Stats().snapshot()), fmt.Sprint(r.Stats().snapshot()); a != b {
		t.Errorf("stats differ: %s vs %s", a, b)
	}
	if got := r.Stats().Watchers.Load(); got != 0 {
		t.Errorf("restored store has %d watchers", got)
	}
	for _, key := range []string{"/", "/a", "/dir", "/ttl", "/tdir/child", "/gone", "/_top"} {
		if a, b := historyDump(t, s, key), historyDump(t, r, key); a != b {
			t.Errorf("history for %s differs:\n%s\n---\n%s", key, a, b)
		}
	}
	// Listings (hidden filtering, TTL fields) are identical.
	for _, key := range []string{"/", "/dir", "/tdir", "/_top", "/queue"} {
		e1, _, _ := s.Get(key, true, t0+sec)
		e2, _, _ := r.Get(key, true, t0+sec)
		if a, b := string(e1.JSON()), string(e2.JSON()); a != b {
			t.Errorf("get %s: %s vs %s", key, a, b)
		}
	}
	// Both stores evolve identically, TTL schedule included.
	for _, req := range []Request{
		{Op: OpSet, Key: "/new", Value: "n", Time: t0 + sec},
		{Op: OpExpire, Time: t0 + 45*sec}, // /ttl (refreshed to 40 s)
		{Op: OpCreateInOrder, Key: "/queue", Time: t0 + 46*sec},
		{Op: OpExpire, Time: t0 + 95*sec}, // /tdir and its child
		{Op: OpDelete, Key: "/dir", Recursive: true, Time: t0 + 96*sec},
	} {
		r1, r2 := req, req
		ev1, err1 := s.Apply(&r1)
		ev2, err2 := r.Apply(&r2)
		if fmt.Sprint(err1) != fmt.Sprint(err2) || (ev1 == nil) != (ev2 == nil) || (ev1 != nil && string(ev1.JSON()) != string(ev2.JSON())) {
			t.Errorf("%s %s diverged: %v %v / %v %v", opName(req.Op), req.Key, ev1, err1, ev2, err2)
		}
	}
	if a, b := dumpStore(t, s, t0+100*sec), dumpStore(t, r, t0+100*sec); a != b {
		t.Errorf("tree differs after further writes:\n%s\n---\n%s", a, b)
	}
	if a, b := historyDump(t, s, "/"), historyDump(t, r, "/"); a != b {
		t.Errorf("history differs after further writes:\n%s\n---\n%s", a, b)
	}
	// The saving store's watcher was not disturbed by Save.
	expectNone(t, open)
	ev := mustApply(t, s, rSet("/a", "4"))
	if got := drain(open.Events, 2); len(got) != 1 || got[0] != ev {
		t.Errorf("watcher on the saved store got %d events", len(got))
	}
	// A second generation round trip gives the same state again.
	r2 := New()
	if err := r2.Restore(bytes.NewReader(saveBytes(t, r))); err != nil {
		t.Fatal(err)
	}
	if a, b := dumpStore(t, r, t0), dumpStore(t, r2, t0); a != b {
		t.Errorf("second round trip differs")
	}
}

// TestSnapshotHistoryWindow: a full (wrapped) history survives and still
// answers 401 with the same oldest index.
func TestSnapshotHistoryWindow(t *testing.T) {
	s := newBootstrapped(t)
	for i := 0; i < 1100; i++ {
		mustApply(t, s, rSet(fmt.Sprintf("/k%d", i%7), fmt.Sprint(i)))
	}
	r := New()
	if err := r.Restore(bytes.NewReader(saveBytes(t, s))); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []uint64{1, 103, 104, 105, 600, 1103, 1104} {
		for _, key := range []string{"/", "/k3"} {
			w1, e1 := s.Watch(key, true, false, wait)
			w2, e2 := r.Watch(key, true, false, wait)
			if (e1 == nil) != (e2 == nil) {
				t.Fatalf("wait %d: %v vs %v", wait, e1, e2)
			}
			if e1 != nil {
				if a, b := string(e1.AppendJSON(nil)), string(e2.AppendJSON(nil)); a != b {
					t.Errorf("wait %d: %s vs %s", wait, a, b)
				}
				continue
			}
			a, b := drain(w1.Events, 1), drain(w2.Events, 1)
			if len(a) != len(b) || (len(a) == 1 && string(a[0].JSON()) != string(b[0].JSON())) {
				t.Errorf("wait %d key %s: history differs", wait, key)
			}
			w1.Remove()
			w2.Remove()
		}
	}
	// 1103 events: the oldest retained one is 1103-999 = 104.
	if w, err := r.Watch("/", true, false, 104); err != nil {
		t.Errorf("waitIndex 104 after restore: %v", err)
	} else {
		w.Remove()
	}
	if _, err := r.Watch("/", true, false, 103); err == nil || err.Cause != "the requested history has been cleared [104/103]" || err.Index != 1103 {
		t.Errorf("waitIndex 103 after restore: %v", err)
	}
}

// TestSnapshotRestoreClosesWatchers: Restore ends every open watch and the
// watcher count drops to 0; new watches work on the new state.
func TestSnapshotRestoreClosesWatchers(t *testing.T) {
	src := buildRichStore(t)
	data := saveBytes(t, src)

	s := newBootstrapped(t)
	ws := []*Watcher{
		mustWatch(t, s, "/a", false, false, 0),
		mustWatch(t, s, "/a", false, true, 0),
		mustWatch(t, s, "/", true, true, 0),
		mustWatch(t, s, "/x/y", true, false, 50),
	}
	if s.Stats().Watchers.Load() != 4 {
		t.Fatalf("watchers %d", s.Stats().Watchers.Load())
	}
	if err := s.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		select {
		case ev, ok := <-w.Events:
			if ok {
				t.Errorf("watcher %d got %s instead of being closed", i, ev.JSON())
			}
		default:
			t.Errorf("watcher %d still open after Restore", i)
		}
		w.Remove() // harmless after the close
	}
	if got := s.Stats().Watchers.Load(); got != 0 {
		t.Errorf("watchers = %d after Restore", got)
	}
	// The restored state is live: watches and writes work.
	w := mustWatch(t, s, "/a", false, false, 0)
	if w.StartIndex != src.Index() {
		t.Errorf("StartIndex %d, want %d", w.StartIndex, src.Index())
	}
	ev := mustApply(t, s, rSet("/a", "after"))
	if ev.Index != src.Index()+1 {
		t.Errorf("first write after restore has index %d, want %d", ev.Index, src.Index()+1)
	}
	if got := drain(w.Events, 2); len(got) != 1 || got[0] != ev {
		t.Errorf("watch after restore got %d events", len(got))
	}
}

// corruptSnapshot gob-encodes the given values as a snapshot stream.
func corruptSnapshot(t testing.TB, vals ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	for _, v := range vals {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestSnapshotRestoreCorrupt: garbage, truncated and inconsistent
// snapshots fail with ErrCorruptSnapshot and leave the store (and its
// watchers) as they were.
func TestSnapshotRestoreCorrupt(t *testing.T) {
	good := saveBytes(t, buildRichStore(t))
	hdr := func(nodes, events int) *snapshotHeader {
		return &snapshotHeader{Version: snapshotVersion, Index: 9, Nodes: nodes, Events: events}
	}
	ev := &snapshotEvent{Action: "set", Node: &NodeView{Key: "/a", HasValue: true}, Index: 9}
	cases := map[string][]byte{
		"empty":           nil,
		"garbage":         []byte("garbage, not a snapshot at all"),
		"zeros":           make([]byte, 64),
		"version":         corruptSnapshot(t, &snapshotHeader{Version: snapshotVersion + 1}),
		"negative nodes":  corruptSnapshot(t, hdr(-1, 0)),
		"negative events": corruptSnapshot(t, hdr(0, -1)),
		"too many events": corruptSnapshot(t, hdr(0, historyCapacity+1)),
		"missing nodes":   corruptSnapshot(t, hdr(2, 0), &snapshotNode{Key: "/a"}),
		"missing events":  corruptSnapshot(t, hdr(0, 2), ev),
		"orphan":          corruptSnapshot(t, hdr(1, 0), &snapshotNode{Key: "/no/parent"}),
		"parent is a key": corruptSnapshot(t, hdr(2, 0), &snapshotNode{Key: "/a"}, &snapshotNode{Key: "/a/b"}),
		"duplicate":       corruptSnapshot(t, hdr(2, 0), &snapshotNode{Key: "/a"}, &snapshotNode{Key: "/a"}),
		"root node":       corruptSnapshot(t, hdr(1, 0), &snapshotNode{Key: "/", Dir: true}),
		"relative key":    corruptSnapshot(t, hdr(1, 0), &snapshotNode{Key: "a"}),
		"empty key":       corruptSnapshot(t, hdr(1, 0), &snapshotNode{Key: ""}),
		"trailing slash":  corruptSnapshot(t, hdr(2, 0), &snapshotNode{Key: "/d", Dir: true}, &snapshotNode{Key: "/d/"}),
		"event no node":   corruptSnapshot(t, hdr(0, 1), &snapshotEvent{Action: "set", Index: 9}),
		"wrong type":      corruptSnapshot(t, hdr(1, 0), ev),
	}
	for i := 0; i < len(good); i++ {
		cases[fmt.Sprintf("truncated at %d", i)] = good[:i]
	}
	s := buildRichStore(t)
	w := mustWatch(t, s, "/a", false, true, 0)
	before := dumpStore(t, s, t0)
	hist := historyDump(t, s, "/")
	stats := fmt.Sprint(s.Stats().snapshot())
	for name, data := range cases {
		err := s.Restore(bytes.NewReader(data))
		if err == nil {
			t.Errorf("%s: Restore succeeded", name)
			continue
		}
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: error %v does not wrap ErrCorruptSnapshot", name, err)
		}
	}
	if after := dumpStore(t, s, t0); after != before {
		t.Errorf("failed restores changed the tree")
	}
	if historyDump(t, s, "/") != hist || fmt.Sprint(s.Stats().snapshot()) != stats {
		t.Errorf("failed restores changed the history or the stats")
	}
	// The watcher survived every failed restore.
	mustApply(t, s, rSet("/a", "still watched"))
	if evs := drain(w.Events, 2); len(evs) != 1 {
		t.Errorf("watcher got %d events after failed restores", len(evs))
	}
	// And a good snapshot still restores.
	if err := s.Restore(bytes.NewReader(good)); err != nil {
		t.Errorf("good snapshot after failures: %v", err)
	}
}

// TestSnapshotRestoreMutated flips bytes of a valid snapshot: Restore must
// never panic, and whatever it accepts must leave a usable store.
func TestSnapshotRestoreMutated(t *testing.T) {
	good := saveBytes(t, buildRichStore(t))
	for i := 0; i < len(good); i++ {
		for _, mut := range []func(byte) byte{
			func(b byte) byte { return b ^ 0xff },
			func(b byte) byte { return b + 1 },
			func(b byte) byte { return 0x7f },
		} {
			data := append([]byte(nil), good...)
			data[i] = mut(data[i])
			s := New()
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("Restore panicked with byte %d = %#x: %v", i, data[i], p)
					}
				}()
				if err := s.Restore(bytes.NewReader(data)); err != nil {
					if !errors.Is(err, ErrCorruptSnapshot) {
						t.Errorf("byte %d: error %v does not wrap ErrCorruptSnapshot", i, err)
					}
					if s.Index() != 0 {
						t.Errorf("byte %d: failed restore changed the index", i)
					}
					return
				}
				s.Get("/", true, t0)
				if w, err := s.Watch("/", true, false, 1); err == nil {
					w.Remove()
				}
				s.Apply(&Request{Op: OpSet, Key: "/dir/zz", Value: "v", Time: t0})
				s.Apply(&Request{Op: OpExpire, Time: t0 + 1000*sec})
				s.Apply(&Request{Op: OpDelete, Key: "/dir", Recursive: true, Time: t0})
				var buf bytes.Buffer
				if err := s.Save(&buf); err != nil {
					t.Errorf("byte %d: Save after an accepted restore: %v", i, err)
				}
			}()
		}
	}
}

// TestSnapshotRestoreUnderLoad restores repeatedly while readers and
// watchers run (raft serialises Apply and Restore; reads and watches are
// concurrent with both). Meant for -race: no race, no panic, no send on a
// closed channel, and the watcher count returns to 0.
func TestSnapshotRestoreUnderLoad(t *testing.T) {
	snap := saveBytes(t, buildRichStore(t))
	s := newBootstrapped(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			keys := []string{"/", "/a", "/dir", "/dir/x", "/tdir/child"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w, err := s.Watch(keys[(g+i)%len(keys)], i%2 == 0, i%3 == 0, 0)
				if err != nil {
					t.Errorf("watch: %v", err)
					return
				}
				select {
				case <-w.Events:
				case <-time.After(time.Millisecond):
				}
				w.Remove()
				s.Get("/", true, t0)
			}
		}(g)
	}
	for i := 0; i < 200; i++ {
		if i%20 == 0 {
			if err := s.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
		}
		s.Apply(&Request{Op: OpSet, Key: "/a", Value: fmt.Sprint(i), Time: t0})
		s.Apply(&Request{Op: OpSet, Key: "/dir/x", Value: fmt.Sprint(i), Time: t0})
	}
	close(stop)
	wg.Wait()
	if got := s.Stats().Watchers.Load(); got != 0 {
		t.Errorf("watchers = %d after all were removed", got)
	}
}

// TestFreezeIsAMoment: writes after Freeze do not reach what it encodes
// later, which restores to what Save gave at the moment of Freeze (the
// bytes differ: children are walked in map order).
func TestFreezeIsAMoment(t *testing.T) {
	s := buildRichStore(t)
	want := saveBytes(t, s)
	frozen := s.Freeze()
	for _, r := range []*Request{
		rSet("/a", "changed"),
		rSet("/new/key", "n"),
		rDel("/dir", true, true),
		rSetDir("/another"),
	} {
		mustApply(t, s, r)
	}
	var got bytes.Buffer
	if err := frozen.Encode(&got); err != nil {
		t.Fatal(err)
	}
	restored := func(data []byte) string {
		r := New()
		if err := r.Restore(bytes.NewReader(data)); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		return dumpStore(t, r, t0) + fmt.Sprint(r.Index(), r.Stats().snapshot())
	}
	if a, b := restored(got.Bytes()), restored(want); a != b {
		t.Fatalf("a frozen state encoded after later writes differs from Save at the moment of Freeze:\n%s\n---\n%s", a, b)
	}
	if restored(saveBytes(t, s)) == restored(want) {
		t.Fatal("the later writes changed nothing: the test proves nothing")
	}
}

package store

import (
	"fmt"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mustApply applies r at t0 (unless r.Time is set) and returns the event.
func mustApply(t testing.TB, s *Store, r *Request) *Event {
	t.Helper()
	if r.Time == 0 {
		r.Time = t0
	}
	ev, err := s.Apply(r)
	if err != nil {
		t.Fatalf("%s %s: %v", opName(r.Op), r.Key, err)
	}
	return ev
}

func mustWatch(t testing.TB, s *Store, key string, recursive, stream bool, waitIndex uint64) *Watcher {
	t.Helper()
	w, err := s.Watch(key, recursive, stream, waitIndex)
	if err != nil {
		t.Fatalf("watch %s from %d: %v", key, waitIndex, err)
	}
	return w
}

// expectEvent checks that exactly the event with JSON want is queued on w
// (events are delivered during Apply, so no waiting is needed).
func expectEvent(t testing.TB, w *Watcher, want string) *Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events:
		if !ok {
			t.Fatalf("watcher closed, want %s", want)
		}
		if got := strings.TrimSuffix(string(ev.JSON()), "\n"); got != want {
			t.Fatalf("watch event:\n got %s\nwant %s", got, want)
		}
		return ev
	default:
		t.Fatalf("no event queued, want %s", want)
	}
	return nil
}

func expectNone(t testing.TB, w *Watcher) {
	t.Helper()
	select {
	case ev, ok := <-w.Events:
		if !ok {
			t.Fatalf("watcher closed, want it open and empty")
		}
		t.Fatalf("unexpected event %s", ev.JSON())
	default:
	}
}

// TestWatchNext follows watch.txt 001-011: waitIndex 0 waits for the next
// event; a past waitIndex returns the first match at or after it at once; a
// future one waits for an event at or after it.
func TestWatchNext(t *testing.T) {
	s := newBootstrapped(t)
	mustApply(t, s, rSet("/foo", "1"))
	w1 := mustWatch(t, s, "/foo", false, false, 0)
	if w1.StartIndex != 4 {
		t.Errorf("StartIndex = %d, want 4", w1.StartIndex)
	}
	expectNone(t, w1)
	ev := mustApply(t, s, rSet("/foo", "2"))
	got := expectEvent(t, w1, `{"action":"set","node":{"key":"/foo","value":"2","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/foo","value":"1","modifiedIndex":4,"createdIndex":4}}`)
	if got != ev {
		t.Errorf("watcher got a different event object than the writer")
	}
	// A non-stream watcher is done after one event.
	mustApply(t, s, rSet("/foo", "2b"))
	expectNone(t, w1)

	wm := mustWatch(t, s, "/missing", false, false, 0)
	mustApply(t, s, rSet("/missing", "now"))
	expectEvent(t, wm, `{"action":"set","node":{"key":"/missing","value":"now","modifiedIndex":7,"createdIndex":7}}`)

	// History: first matching event at or after waitIndex, StartIndex is
	// still the current index.
	w := mustWatch(t, s, "/foo", false, false, 4)
	if w.StartIndex != 7 {
		t.Errorf("StartIndex = %d, want 7", w.StartIndex)
	}
	expectEvent(t, w, `{"action":"set","node":{"key":"/foo","value":"1","modifiedIndex":4,"createdIndex":4}}`)
	expectEvent(t, mustWatch(t, s, "/foo", false, false, 5), `{"action":"set","node":{"key":"/foo","value":"2","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/foo","value":"1","modifiedIndex":4,"createdIndex":4}}`)
	expectEvent(t, mustWatch(t, s, "/foo", false, false, 6), `{"action":"set","node":{"key":"/foo","value":"2b","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/foo","value":"2","modifiedIndex":5,"createdIndex":5}}`)
	// waitIndex at the current index with no match there: waits.
	w7 := mustWatch(t, s, "/foo", false, false, 7)
	expectNone(t, w7)
	// Future waitIndex: the write at 8 is below it, the one at 9 fires.
	wf := mustWatch(t, s, "/foo", false, false, 9)
	if wf.StartIndex != 7 {
		t.Errorf("StartIndex = %d, want 7", wf.StartIndex)
	}
	mustApply(t, s, rSet("/foo", "3"))
	expectEvent(t, w7, `{"action":"set","node":{"key":"/foo","value":"3","modifiedIndex":8,"createdIndex":8},"prevNode":{"key":"/foo","value":"2b","modifiedIndex":6,"createdIndex":6}}`)
	expectNone(t, wf)
	mustApply(t, s, rSet("/foo", "4"))
	expectEvent(t, wf, `{"action":"set","node":{"key":"/foo","value":"4","modifiedIndex":9,"createdIndex":9},"prevNode":{"key":"/foo","value":"3","modifiedIndex":8,"createdIndex":8}}`)
	// Failed writes produce no events (watch-031..033).
	wc := mustWatch(t, s, "/foo", false, false, 0)
	if _, err := s.Apply(&Request{Op: OpCompareAndSwap, Key: "/foo", Value: "x", PrevValue: "zzz", Time: t0}); err == nil {
		t.Fatal("CAS should fail")
	}
	expectNone(t, wc)
	mustApply(t, s, rCAD("/foo", "4", 0))
	expectEvent(t, wc, `{"action":"compareAndDelete","node":{"key":"/foo","modifiedIndex":10,"createdIndex":9},"prevNode":{"key":"/foo","value":"4","modifiedIndex":9,"createdIndex":9}}`)
}

// TestWatchHistoryWindow: 1000 events are kept (internal ones included);
// older waitIndexes fail with 401.
func TestWatchHistoryWindow(t *testing.T) {
	s := newBootstrapped(t)
	for i := 1; i <= 997; i++ {
		mustApply(t, s, rSet("/flood", strconv.Itoa(i)))
	}
	// Index 1000: the window holds 1..1000, the internal events included.
	if s.Index() != 1000 {
		t.Fatalf("index %d", s.Index())
	}
	expectEvent(t, mustWatch(t, s, "/flood", false, false, 1), `{"action":"set","node":{"key":"/flood","value":"1","modifiedIndex":4,"createdIndex":4}}`)
	mustApply(t, s, rSet("/flood", "998"))
	_, err := s.Watch("/flood", false, false, 1)
	if err == nil {
		t.Fatal("waitIndex 1 at index 1001: no error")
	}
	if got := string(err.AppendJSON(nil)); got != `{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [2/1]","index":1001}`+"\n" {
		t.Errorf("401 = %s", got)
	}
	if err.StatusCode() != 400 {
		t.Errorf("401 status %d", err.StatusCode())
	}
	mustWatch(t, s, "/flood", false, false, 2) // the oldest retained (internal): no 401
	for i := 999; i <= 1010; i++ {
		mustApply(t, s, rSet("/flood", strconv.Itoa(i)))
	}
	// Index 1013, oldest 14.
	w0 := s.Stats().Watchers.Load()
	for _, c := range []struct {
		wait uint64
		want string
	}{
		{5, `{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [14/5]","index":1013}`},
		{13, `{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [14/13]","index":1013}`},
		{14, `{"action":"set","node":{"key":"/flood","value":"11","modifiedIndex":14,"createdIndex":14},"prevNode":{"key":"/flood","value":"10","modifiedIndex":13,"createdIndex":13}}`},
		{1013, `{"action":"set","node":{"key":"/flood","value":"1010","modifiedIndex":1013,"createdIndex":1013},"prevNode":{"key":"/flood","value":"1009","modifiedIndex":1012,"createdIndex":1012}}`},
	} {
		w, err := s.Watch("/flood", false, true, c.wait)
		if err != nil {
			if got := strings.TrimSuffix(string(err.AppendJSON(nil)), "\n"); got != c.want {
				t.Errorf("waitIndex %d:\n got %s\nwant %s", c.wait, got, c.want)
			}
			continue
		}
		if w.StartIndex != 1013 {
			t.Errorf("StartIndex %d", w.StartIndex)
		}
		expectEvent(t, w, c.want)
	}
	if got := s.Stats().Watchers.Load(); got != w0 {
		t.Errorf("history-satisfied and failed watches changed the watcher count %d -> %d", w0, got)
	}
	// A watch from the future waits.
	w := mustWatch(t, s, "/flood", false, false, 1014)
	expectNone(t, w)
	mustApply(t, s, rSet("/flood", "x"))
	expectEvent(t, w, `{"action":"set","node":{"key":"/flood","value":"x","modifiedIndex":1014,"createdIndex":1014},"prevNode":{"key":"/flood","value":"1010","modifiedIndex":1013,"createdIndex":1013}}`)
}

// TestWatchRecursive follows watch.txt 016-022.
func TestWatchRecursive(t *testing.T) {
	s := newBootstrapped(t)
	for i := 4; i <= 8; i++ {
		mustApply(t, s, rSet("/pad", strconv.Itoa(i)))
	}
	mustApply(t, s, rSet("/dir/a", "a")) // 9
	rec := mustWatch(t, s, "/dir", true, false, 0)
	flat := mustWatch(t, s, "/dir", false, false, 0)
	mustApply(t, s, rSet("/dir/a", "a2"))
	expectEvent(t, rec, `{"action":"set","node":{"key":"/dir/a","value":"a2","modifiedIndex":10,"createdIndex":10},"prevNode":{"key":"/dir/a","value":"a","modifiedIndex":9,"createdIndex":9}}`)
	expectNone(t, flat)
	mustApply(t, s, rUpdate("/dir", ""))
	expectEvent(t, flat, `{"action":"update","node":{"key":"/dir","dir":true,"modifiedIndex":11,"createdIndex":9},"prevNode":{"key":"/dir","dir":true,"modifiedIndex":9,"createdIndex":9}}`)
	root := mustWatch(t, s, "/", true, false, 0)
	rootFlat := mustWatch(t, s, "/", false, false, 0)
	mustApply(t, s, rSet("/some/deep/key", "x"))
	expectEvent(t, root, `{"action":"set","node":{"key":"/some/deep/key","value":"x","modifiedIndex":12,"createdIndex":12}}`)
	expectNone(t, rootFlat)
	expectEvent(t, mustWatch(t, s, "/", true, false, 1), `{"action":"set","node":{"key":"/pad","value":"4","modifiedIndex":4,"createdIndex":4}}`)
	// A recursive history scan matches the watched key itself too, and
	// does not match a sibling sharing the prefix.
	expectEvent(t, mustWatch(t, s, "/dir", true, false, 11), `{"action":"update","node":{"key":"/dir","dir":true,"modifiedIndex":11,"createdIndex":9},"prevNode":{"key":"/dir","dir":true,"modifiedIndex":9,"createdIndex":9}}`)
	mustApply(t, s, rSet("/dirx", "sibling")) // 13
	sib := mustWatch(t, s, "/dir", true, false, 12)
	expectNone(t, sib)
	liveSib := mustWatch(t, s, "/dir", true, false, 0)
	mustApply(t, s, rSet("/dirx", "sibling2"))
	expectNone(t, liveSib)
	expectNone(t, sib)
	mustApply(t, s, rSet("/dir/b", "b"))
	expectEvent(t, sib, `{"action":"set","node":{"key":"/dir/b","value":"b","modifiedIndex":15,"createdIndex":15}}`)
	expectEvent(t, liveSib, `{"action":"set","node":{"key":"/dir/b","value":"b","modifiedIndex":15,"createdIndex":15}}`)
	rootFlat.Remove()
}

// TestWatchDeletes follows watch.txt 023-026: a watcher on a child of a
// deleted directory gets the directory's event, live and from history; the
// history match is a plain string prefix (quirk).
func TestWatchDeletes(t *testing.T) {
	s := newBootstrapped(t)
	for i := 4; i <= 12; i++ {
		mustApply(t, s, rSet("/pad", strconv.Itoa(i)))
	}
	mustApply(t, s, rSet("/tree/leaf", "l")) // 13
	leaf := mustWatch(t, s, "/tree/leaf", false, false, 0)
	mustApply(t, s, rDel("/tree", false, true)) // 14
	del := `{"action":"delete","node":{"key":"/tree","dir":true,"modifiedIndex":14,"createdIndex":13},"prevNode":{"key":"/tree","dir":true,"modifiedIndex":13,"createdIndex":13}}`
	expectEvent(t, leaf, del)
	expectEvent(t, mustWatch(t, s, "/tree/leaf", false, false, 14), del)
	// Also for paths that never existed below the directory (history only).
	expectEvent(t, mustWatch(t, s, "/tree/never/was", false, false, 14), del)
	mustApply(t, s, rSetDir("/w/fo")) // 15
	liveFoo := mustWatch(t, s, "/w/foo", false, false, 0)
	mustApply(t, s, rDel("/w/fo", true, false)) // 16
	expectEvent(t, mustWatch(t, s, "/w/foo", false, false, 16), `{"action":"delete","node":{"key":"/w/fo","dir":true,"modifiedIndex":16,"createdIndex":15},"prevNode":{"key":"/w/fo","dir":true,"modifiedIndex":15,"createdIndex":15}}`)
	// Live notification follows the tree: /w/foo was not below /w/fo.
	expectNone(t, liveFoo)
	// A deleted key (not a directory) does not match by prefix.
	mustApply(t, s, rSet("/k", "v"))          // 17
	mustApply(t, s, rDel("/k", false, false)) // 18
	mustApply(t, s, rSet("/pad", "after"))    // 19
	w := mustWatch(t, s, "/kx", false, false, 17)
	expectNone(t, w)
	// Expired directories match like deleted ones in history.
	mustApply(t, s, withTTL(rSetDir("/e"), 1)) // 20
	mustApply(t, s, rSet("/e/x", "x"))         // 21
	s.Apply(rExpire(t0 + sec))                 // 22
	expectEvent(t, mustWatch(t, s, "/e/x/y", false, false, 22), `{"action":"expire","node":{"key":"/e","dir":true,"modifiedIndex":22,"createdIndex":20},"prevNode":{"key":"/e","dir":true,"expiration":"2026-11-22T04:22:51Z","modifiedIndex":20,"createdIndex":20}}`)
	liveFoo.Remove()
	w.Remove()
}

// TestWatchHidden: live notification hides events below a hidden name
// from watchers above it; history scans do not (inorder-hidden 025-031).
func TestWatchHidden(t *testing.T) {
	s := newBootstrapped(t)
	mustApply(t, s, rSet("/app/_private/token", "t")) // 4
	mustApply(t, s, rSet("/app/visible", "v"))        // 5
	app := mustWatch(t, s, "/app", true, false, 0)
	root := mustWatch(t, s, "/", true, true, 0)
	private := mustWatch(t, s, "/app/_private", true, true, 0)
	direct := mustWatch(t, s, "/app/_h", false, false, 0)
	mustApply(t, s, rSet("/app/_private/token", "t2")) // 6
	mustApply(t, s, rSet("/app/_h", "h"))              // 7
	mustApply(t, s, rSet("/_top", "x"))                // 8
	expectNone(t, app)
	expectNone(t, root)
	expectEvent(t, private, `{"action":"set","node":{"key":"/app/_private/token","value":"t2","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/app/_private/token","value":"t","modifiedIndex":4,"createdIndex":4}}`)
	expectEvent(t, direct, `{"action":"set","node":{"key":"/app/_h","value":"h","modifiedIndex":7,"createdIndex":7}}`)
	mustApply(t, s, rSet("/app/visible", "v2")) // 9
	v2 := `{"action":"set","node":{"key":"/app/visible","value":"v2","modifiedIndex":9,"createdIndex":9},"prevNode":{"key":"/app/visible","value":"v","modifiedIndex":5,"createdIndex":5}}`
	expectEvent(t, app, v2)
	expectEvent(t, root, v2)
	// A name with '_' inside is not hidden.
	mustApply(t, s, rSet("/app/not_hidden", "n")) // 10
	expectEvent(t, root, `{"action":"set","node":{"key":"/app/not_hidden","value":"n","modifiedIndex":10,"createdIndex":10}}`)
	// History scans do not filter.
	expectEvent(t, mustWatch(t, s, "/app/_private/token", false, false, 1), `{"action":"set","node":{"key":"/app/_private/token","value":"t","modifiedIndex":4,"createdIndex":4}}`)
	expectEvent(t, mustWatch(t, s, "/app/_private", true, false, 1), `{"action":"set","node":{"key":"/app/_private/token","value":"t","modifiedIndex":4,"createdIndex":4}}`)
	expectEvent(t, mustWatch(t, s, "/app", true, false, 6), `{"action":"set","node":{"key":"/app/_private/token","value":"t2","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/app/_private/token","value":"t","modifiedIndex":4,"createdIndex":4}}`)
	expectEvent(t, mustWatch(t, s, "/", true, false, 8), `{"action":"set","node":{"key":"/_top","value":"x","modifiedIndex":8,"createdIndex":8}}`)
	// Deleting the hidden directory: the watcher on it (recursive, stream)
	// gets the event; watchers above it do not.
	mustApply(t, s, rDel("/app/_private", false, true)) // 11
	expectEvent(t, private, `{"action":"delete","node":{"key":"/app/_private","dir":true,"modifiedIndex":11,"createdIndex":4},"prevNode":{"key":"/app/_private","dir":true,"modifiedIndex":4,"createdIndex":4}}`)
	expectNone(t, root)
	// Deleting a visible directory that contains hidden nodes notifies
	// watchers of those hidden nodes.
	tok := mustWatch(t, s, "/app/_x/tok", false, false, 0)
	mustApply(t, s, rSet("/app/_x/tok", "1")) // 12
	expectEvent(t, tok, `{"action":"set","node":{"key":"/app/_x/tok","value":"1","modifiedIndex":12,"createdIndex":12}}`)
	tok = mustWatch(t, s, "/app/_x/tok", false, false, 0)
	mustApply(t, s, rDel("/app", false, true)) // 13
	appDel := `{"action":"delete","node":{"key":"/app","dir":true,"modifiedIndex":13,"createdIndex":4},"prevNode":{"key":"/app","dir":true,"modifiedIndex":4,"createdIndex":4}}`
	expectEvent(t, tok, appDel)
	expectEvent(t, root, appDel)
	root.Remove()
	private.Remove()
}

// TestWatchRefreshSkipped: refreshes are not delivered live and are
// skipped by history scans (ttl.txt 032, 033).
func TestWatchRefreshSkipped(t *testing.T) {
	s := newBootstrapped(t)
	mustApply(t, s, withTTL(rSet("/r", "keep"), 5)) // 4
	w := mustWatch(t, s, "/r", false, false, 0)
	rw := mustWatch(t, s, "/", true, true, 0)
	mustApply(t, s, refresh(withTTL(rSet("/r", ""), 100)))          // 5
	mustApply(t, s, refresh(withTTL(rUpdate("/r", ""), 200)))       // 6
	mustApply(t, s, refresh(withTTL(rCAS("/r", "", "keep", 0), 9))) // 7
	expectNone(t, w)
	expectNone(t, rw)
	mustApply(t, s, rSet("/r", "changed")) // 8
	want := `{"action":"set","node":{"key":"/r","value":"changed","modifiedIndex":8,"createdIndex":8},"prevNode":{"key":"/r","value":"keep","expiration":"2026-11-22T04:22:59Z","ttl":9,"modifiedIndex":7,"createdIndex":5}}`
	expectEvent(t, w, want)
	expectEvent(t, rw, want)
	expectEvent(t, mustWatch(t, s, "/r", false, false, 5), want)
	expectEvent(t, mustWatch(t, s, "/", true, false, 5), want)
	rw.Remove()
}

// TestWatchStream follows watch.txt 034-039, and checks that no watcher
// is ever delivered an event twice, wherever it sits relative to a deleted
// directory.
func TestWatchStream(t *testing.T) {
	s := newBootstrapped(t)
	for i := 4; i <= 21; i++ {
		mustApply(t, s, rSet("/pad", strconv.Itoa(i)))
	}
	st := mustWatch(t, s, "/stream", true, true, 0)
	mustApply(t, s, rSet("/stream/a", "1"))          // 22
	mustApply(t, s, rSet("/stream/b", "2"))          // 23
	mustApply(t, s, rDel("/stream/a", false, false)) // 24
	expectEvent(t, st, `{"action":"set","node":{"key":"/stream/a","value":"1","modifiedIndex":22,"createdIndex":22}}`)
	expectEvent(t, st, `{"action":"set","node":{"key":"/stream/b","value":"2","modifiedIndex":23,"createdIndex":23}}`)
	expectEvent(t, st, `{"action":"delete","node":{"key":"/stream/a","modifiedIndex":24,"createdIndex":22},"prevNode":{"key":"/stream/a","value":"1","modifiedIndex":22,"createdIndex":22}}`)
	expectNone(t, st)
	// A stream watch satisfied from history gets that one event only.
	n := s.Stats().Watchers.Load()
	hist := mustWatch(t, s, "/stream/b", false, true, 1)
	expectEvent(t, hist, `{"action":"set","node":{"key":"/stream/b","value":"2","modifiedIndex":23,"createdIndex":23}}`)
	if got := s.Stats().Watchers.Load(); got != n {
		t.Errorf("a history-satisfied stream watch was registered (%d -> %d)", n, got)
	}
	mustApply(t, s, rSet("/stream/b", "3")) // 25
	expectNone(t, hist)
	hist.Remove() // harmless
	expectEvent(t, st, `{"action":"set","node":{"key":"/stream/b","value":"3","modifiedIndex":25,"createdIndex":25},"prevNode":{"key":"/stream/b","value":"2","modifiedIndex":23,"createdIndex":23}}`)
	st.Remove()

	// Never twice.
	mustApply(t, s, rSet("/s/d/x", "x"))
	mustApply(t, s, rSet("/s/d/y/z", "z"))
	type wt struct {
		name string
		w    *Watcher
		n    int // events expected from the delete and the re-create
	}
	ws := []wt{
		{"flat dir", mustWatch(t, s, "/s/d", false, true, 0), 1},
		{"rec dir", mustWatch(t, s, "/s/d", true, true, 0), 2},
		{"flat child dir", mustWatch(t, s, "/s/d/y", false, true, 0), 1},
		{"rec child dir", mustWatch(t, s, "/s/d/y", true, true, 0), 1},
		{"grandchild", mustWatch(t, s, "/s/d/y/z", false, true, 0), 1},
		{"rec grandchild", mustWatch(t, s, "/s/d/y/z", true, true, 0), 1},
		{"rec parent", mustWatch(t, s, "/s", true, true, 0), 2},
		{"flat parent", mustWatch(t, s, "/s", false, true, 0), 0},
		{"rec root", mustWatch(t, s, "/", true, true, 0), 2},
	}
	mustApply(t, s, rDel("/s/d", false, true))
	mustApply(t, s, rSet("/s/d/x", "again"))
	for _, c := range ws {
		evs := drain(c.w.Events, 10)
		if len(evs) != c.n {
			var b []string
			for _, e := range evs {
				b = append(b, e.Action+"@"+strconv.FormatUint(e.Index, 10))
			}
			t.Errorf("%s: %d events %v, want %d", c.name, len(evs), b, c.n)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Index <= evs[i-1].Index {
				t.Errorf("%s: events out of order", c.name)
			}
		}
		c.w.Remove()
	}
	if got := s.Stats().Watchers.Load(); got != 0 {
		t.Errorf("watchers = %d after removing all", got)
	}
}

// TestWatchSlowWatcher: a stream watcher that does not read is dropped
// when its 100-event buffer overflows; its channel is closed.
func TestWatchSlowWatcher(t *testing.T) {
	s := newBootstrapped(t)
	slow := mustWatch(t, s, "/slow", true, true, 0)
	other := mustWatch(t, s, "/other", false, false, 0)
	for i := 0; i < watcherBuffer; i++ {
		mustApply(t, s, rSet("/slow/k", strconv.Itoa(i)))
	}
	if got := s.Stats().Watchers.Load(); got != 2 {
		t.Fatalf("watchers = %d with a full (not overflowed) buffer, want 2", got)
	}
	mustApply(t, s, rSet("/slow/k", "overflow"))
	if got := s.Stats().Watchers.Load(); got != 1 {
		t.Errorf("watchers = %d after the overflow, want 1", got)
	}
	var n int
	last := uint64(3)
	for ev := range slow.Events { // ends: the channel is closed
		n++
		if ev.Index != last+1 {
			t.Fatalf("event %d has index %d after %d", n, ev.Index, last)
		}
		last = ev.Index
	}
	if n != watcherBuffer {
		t.Errorf("slow watcher got %d events before being closed, want %d", n, watcherBuffer)
	}
	slow.Remove() // after the drop: harmless
	mustApply(t, s, rSet("/slow/k", "more"))
	mustApply(t, s, rSet("/other", "o"))
	expectEvent(t, other, `{"action":"set","node":{"key":"/other","value":"o","modifiedIndex":106,"createdIndex":106}}`)
	if got := s.Stats().Watchers.Load(); got != 0 {
		t.Errorf("watchers = %d, want 0", got)
	}
}

// TestWatchersStat: the counter follows registrations, deliveries to
// non-stream watchers and Remove.
func TestWatchersStat(t *testing.T) {
	s := newBootstrapped(t)
	count := func() int64 { return s.Stats().Watchers.Load() }
	a := mustWatch(t, s, "/a", false, false, 0)
	b := mustWatch(t, s, "/a", false, true, 0)
	c := mustWatch(t, s, "/", true, false, 0)
	d := mustWatch(t, s, "/a", false, false, 100)
	if count() != 4 {
		t.Fatalf("watchers = %d, want 4", count())
	}
	mustApply(t, s, rSet("/a", "1")) // a and c done, b streams, d waits for 100
	if count() != 2 {
		t.Errorf("watchers = %d after one event, want 2", count())
	}
	a.Remove()
	c.Remove()
	if count() != 2 {
		t.Errorf("Remove of delivered watchers changed the count: %d", count())
	}
	b.Remove()
	b.Remove()
	if count() != 1 {
		t.Errorf("watchers = %d, want 1", count())
	}
	d.Remove()
	if count() != 0 {
		t.Errorf("watchers = %d, want 0", count())
	}
	// Removed watchers get nothing more.
	mustApply(t, s, rSet("/a", "2"))
	expectEvent(t, b, `{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}`)
	expectNone(t, b)
	if !strings.Contains(string(s.Stats().AppendJSON(nil)), `"watchers":0}`) {
		t.Errorf("stats JSON %s", s.Stats().AppendJSON(nil))
	}
}

// TestWatchConcurrent runs many watchers against a stream of writes
// (meant for -race): every stream watcher sees strictly increasing indexes
// of events that match its key, and the watcher count returns to 0.
func TestWatchConcurrent(t *testing.T) {
	s := newBootstrapped(t)
	keys := []string{"/", "/a", "/a/b", "/a/b/c", "/a/_h", "/x", "/a/bb"}
	const writes = 3000
	var wg sync.WaitGroup
	var cycles, delivered atomic.Int64
	stop := make(chan struct{})
	errs := make(chan string, 100)
	report := func(format string, args ...any) {
		select {
		case errs <- fmt.Sprintf(format, args...):
		default:
		}
	}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				key := keys[rnd.Intn(len(keys))]
				rec, stream := rnd.Intn(2) == 0, rnd.Intn(2) == 0
				var wait uint64
				if cur := s.Index(); rnd.Intn(3) == 0 && cur > 50 {
					wait = cur - uint64(rnd.Intn(50))
				}
				w, err := s.Watch(key, rec, stream, wait)
				if err != nil {
					if err.Code != EcodeEventIndexCleared {
						report("watch error %v", err)
					}
					continue
				}
				var last uint64
				deadline := time.After(time.Duration(rnd.Intn(3)) * time.Millisecond)
			read:
				for {
					select {
					case ev, ok := <-w.Events:
						if !ok {
							break read // dropped as slow
						}
						if ev.Index <= last {
							report("watch %s: index %d after %d", key, ev.Index, last)
						}
						if wait != 0 && ev.Index < wait {
							report("watch %s from %d got %d", key, wait, ev.Index)
						}
						last = ev.Index
						delivered.Add(1)
						k := ev.Node.Key
						ok = k == key || (rec && (key == "/" || strings.HasPrefix(k, key+"/"))) ||
							(ev.Node.Dir && (ev.Action == ActionDelete || ev.Action == ActionExpire) && strings.HasPrefix(key, k))
						if !ok {
							report("watch %s (rec %v) got event for %s", key, rec, k)
						}
						_ = ev.JSON()
						if !stream {
							break read
						}
					case <-deadline:
						break read
					}
				}
				w.Remove()
				cycles.Add(1)
			}
		}(int64(g))
	}
	// Readers alongside.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.Get("/", true, t0)
			s.Stats().AppendJSON(nil)
			s.NextExpiration()
		}
	}()
	rnd := rand.New(rand.NewSource(99))
	limit := time.Now().Add(3 * time.Second)
	for i := 0; i < writes || (cycles.Load() < 2000 && time.Now().Before(limit)); i++ {
		if i%16 == 0 {
			runtime.Gosched()
		}
		key := keys[1+rnd.Intn(len(keys)-1)]
		var r *Request
		switch rnd.Intn(6) {
		case 0:
			r = rDel(key, true, true)
		case 1:
			r = withTTL(rSetDir(key), 0)
		case 2:
			r = rExpire(t0)
		case 3:
			r = rPost(key, "p")
		default:
			r = rSet(key, strconv.Itoa(i))
		}
		r.Time = t0
		s.Apply(r)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := s.Stats().Watchers.Load(); got != 0 {
		t.Errorf("watchers = %d after every watcher was removed", got)
	}
	if delivered.Load() == 0 {
		t.Errorf("no watcher received anything (%d watch cycles)", cycles.Load())
	}
	t.Logf("%d watch cycles, %d events delivered, index %d", cycles.Load(), delivered.Load(), s.Index())
}

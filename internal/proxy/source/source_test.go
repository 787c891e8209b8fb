package source

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hecd/internal/client"
	"hecd/internal/proxy"
	"hecd/internal/server/servertest"
)

func TestSnapshot(t *testing.T) {
	m := startStore(t)
	seed(t, m.URL, map[string]string{
		"/app/servers/web1":    "10.0.0.1:8080",
		"/app/servers/Api":     "[2001:db8::1]:443",
		"/app/servers/db.x":    "db.internal:5432",
		"/app/servers/_hidden": "10.0.0.9:80",
		"/app/servers/deep/er": "10.0.0.9:80",
		"/app/other":           "10.0.0.9:80",
	})
	h := start(t, m.URL, nil)
	h.ready()
	tb := h.table()
	if got := h.ids(); got != "Api db.x web1" {
		t.Fatalf("ids %q", got)
	}
	if h.addr("web1") != "10.0.0.1:8080" || h.addr("api") != "[2001:db8::1]:443" || h.addr("DB.X") != "db.internal:5432" {
		t.Fatalf("addresses %q %q %q", h.addr("web1"), h.addr("api"), h.addr("db.x"))
	}
	if len(tb.Invalid) != 0 {
		t.Fatalf("hidden and deeper keys are not invalid, just not routes: %+v", tb.Invalid)
	}
	if tb.Default == nil || tb.Default.Name != DefaultBackendName || len(tb.Default.Servers) != 0 {
		t.Fatalf("default backend %+v", tb.Default)
	}
	for _, s := range tb.Servers() {
		if added, initial := h.wasAdded(s); !added || !initial {
			t.Fatalf("server %s: added %v initial %v", s.ID, added, initial)
		}
	}
	st := h.src.Status()
	if !st.Connected || st.Routes != 3 || st.Swaps != 1 || st.LastIndex == 0 || st.LastIndex < tb.Index || st.Resyncs != 0 {
		t.Fatalf("status %+v", st)
	}
	if h.logs.count("route table loaded") != 1 {
		t.Fatalf("log:\n%s", h.logs)
	}
}

func TestMissingPrefixIsAnEmptyTable(t *testing.T) {
	m := startStore(t)
	h := start(t, m.URL, func(c *Config) { c.Prefix = "/no/such/prefix/" })
	h.ready()
	if tb := h.table(); len(tb.IDs) != 0 || tb.Index == 0 {
		t.Fatalf("table %+v", tb)
	}
	i := h.put("/no/such/prefix/a", "127.0.0.1:1")
	h.wait(i)
	if h.ids() != "a" {
		t.Fatalf("ids %q", h.ids())
	}
}

func TestAddChangeDeleteExpire(t *testing.T) {
	m := startStore(t)
	h := start(t, m.URL, nil)
	h.ready()

	// Time to route: the write's answer to the new table.
	began := time.Now()
	i := h.put("/app/servers/a", "127.0.0.1:1001")
	h.wait(i)
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("a new route took %v to be routable (settle %v)", took, h.src.cfg.Settle)
	}
	a := h.server("a")
	if a == nil || a.Addr != "127.0.0.1:1001" || h.table().Index < i {
		t.Fatalf("route a: %+v, table index %d < %d", a, h.table().Index, i)
	}
	if added, initial := h.wasAdded(a); !added || initial {
		t.Fatalf("a later server is announced as not initial: added %v initial %v", added, initial)
	}

	// A new address is a new server; the old one is retired.
	h.wait(h.put("/app/servers/a", "127.0.0.1:1002"))
	a2 := h.server("a")
	if a2 == a || a2.Addr != "127.0.0.1:1002" {
		t.Fatalf("changed address kept the server: %p %p %s", a, a2, a2.Addr)
	}
	if !stopped(a) || !h.wasRemoved(a) || stopped(a2) {
		t.Fatalf("old server stopped %v removed %v; new stopped %v", stopped(a), h.wasRemoved(a), stopped(a2))
	}

	// compareAndSwap and create upsert too.
	h.wait(h.set("/app/servers/a", "127.0.0.1:1003", client.SetOptions{PrevValue: "127.0.0.1:1002"}))
	h.wait(h.set("/app/servers/b", "127.0.0.1:2001", client.SetOptions{PrevExist: client.MustNotExist}))
	if h.addr("a") != "127.0.0.1:1003" || h.addr("b") != "127.0.0.1:2001" {
		t.Fatalf("after CAS and create: %q %q", h.addr("a"), h.addr("b"))
	}

	// Delete and compareAndDelete.
	b := h.server("b")
	h.wait(h.del("/app/servers/b", false))
	r, err := h.w.Delete(testCtx(t), "/app/servers/a", client.DeleteOptions{PrevValue: "127.0.0.1:1003"})
	if err != nil {
		t.Fatal(err)
	}
	h.wait(r.Node.ModifiedIndex)
	if h.ids() != "" || !stopped(b) {
		t.Fatalf("after deletes: %q, b stopped %v", h.ids(), stopped(b))
	}

	// A TTL that runs out removes the route.
	h.wait(h.set("/app/servers/ttl", "127.0.0.1:3001", client.SetOptions{TTL: time.Second}))
	if h.addr("ttl") == "" {
		t.Fatal("ttl route missing")
	}
	waitFor(t, "the TTL route to expire", func() bool { return h.server("ttl") == nil })
}

func TestContinuity(t *testing.T) {
	m := startStore(t)
	h := start(t, m.URL, nil)
	h.ready()
	h.put("/app/servers/a", "127.0.0.1:1001")
	h.wait(h.put("/app/servers/b", "127.0.0.1:1002"))
	a, b := h.server("a"), h.server("b")
	ba := h.table().Routes["a"]
	// What the frontend, the checker and the stats page would have done.
	a.Counters.Total.Add(5)
	ba.Counters.Total.Add(7)
	a.SetAdmin(proxy.Drain)
	a.SetWeight(9)

	// An unrelated route comes, and the same value is written again.
	swaps := h.swaps.Load()
	h.wait(h.put("/app/servers/c", "127.0.0.1:1003"))
	h.wait(h.put("/app/servers/a", "127.0.0.1:1001"))
	if h.swaps.Load() != swaps+1 {
		t.Errorf("rewriting an unchanged value published a table (%d swaps, want %d)", h.swaps.Load(), swaps+1)
	}
	if h.server("a") != a || h.server("b") != b || h.table().Routes["a"] != ba {
		t.Fatal("unchanged routes got new server or backend objects")
	}
	if a.Counters.Total.Load() != 5 || ba.Counters.Total.Load() != 7 || a.Admin() != proxy.Drain || a.Weight() != 9 || stopped(a) {
		t.Fatalf("carried-over server lost its state: total %d/%d admin %v weight %d stopped %v",
			a.Counters.Total.Load(), ba.Counters.Total.Load(), a.Admin(), a.Weight(), stopped(a))
	}

	// The route's address changes: a fresh server, fresh state; the
	// backend row keeps counting.
	h.wait(h.put("/app/servers/a", "127.0.0.1:2001"))
	a2, ba2 := h.server("a"), h.table().Routes["a"]
	if a2 == a || a2.Counters.Total.Load() != 0 || a2.Admin() != proxy.Ready || a2.Weight() != 1 {
		t.Fatalf("new address: same %v total %d admin %v weight %d", a2 == a, a2.Counters.Total.Load(), a2.Admin(), a2.Weight())
	}
	if ba2 == ba || ba2.Counters.Total.Load() != 7 {
		t.Fatalf("backend after a server change: same %v total %d", ba2 == ba, ba2.Counters.Total.Load())
	}
	if h.server("b") != b || stopped(b) {
		t.Fatal("b was disturbed by a's change")
	}
}

func TestBurstMakesFewTables(t *testing.T) {
	m := startStore(t)
	h := start(t, m.URL, func(c *Config) {
		c.Settle = 100 * time.Millisecond
		c.SettleMax = time.Second
	})
	h.ready()
	before := h.swaps.Load()

	const n = 1000
	began := time.Now()
	var highest atomic.Uint64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				r, err := h.w.Set(testCtx(t), fmt.Sprintf("/app/servers/app%04d", i), fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256), client.SetOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				for {
					old := highest.Load()
					if r.Node.ModifiedIndex <= old || highest.CompareAndSwap(old, r.Node.ModifiedIndex) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	written := time.Since(began)
	h.wait(highest.Load())
	took := time.Since(began)
	if got := len(h.table().IDs); got != n {
		t.Fatalf("%d routes, want %d", got, n)
	}
	swaps := h.swaps.Load() - before
	// A table whenever the store was quiet for 20 ms (rare in a burst,
	// more frequent on a loaded machine), and at least one per Settle:
	// a few tables, never one per write.
	limit := int64(took/(50*time.Millisecond)) + 3
	t.Logf("%d writes in %v, routable after %v, made %d tables (limit %d)", n, written, took, swaps, limit)
	if swaps < 1 || swaps > limit {
		t.Fatalf("%d tables for a burst of %d writes over %v, want 1..%d", swaps, n, took, limit)
	}
	h.mu.Lock()
	added := len(h.added)
	h.mu.Unlock()
	if added != n {
		t.Fatalf("%d servers announced, want %d", added, n)
	}
	if !strings.Contains(h.logs.String(), "in all)") {
		t.Fatalf("a burst's log line should be shortened:\n%.2000s", h.logs)
	}
}

func TestInvalidKeys(t *testing.T) {
	m := startStore(t)
	seed(t, m.URL, map[string]string{
		"/app/servers/good":     "127.0.0.1:8080",
		"/app/servers/v6":       "[::1]:8081",
		"/app/servers/named":    "web-1.example.com:80",
		"/app/servers/notaddr":  "not-an-address",
		"/app/servers/newline":  "127.0.0.1:80\n",
		"/app/servers/scheme":   "http://127.0.0.1:80",
		"/app/servers/-bad":     "127.0.0.1:80",
		"/app/servers/bad id":   "127.0.0.1:80",
		"/app/servers/port0":    "127.0.0.1:0",
		"/app/servers/_hidden":  "junk",
		"/app/servers/deep/key": "junk",
	})
	h := start(t, m.URL, nil)
	h.ready()
	const wantInvalid = "/app/servers/-bad /app/servers/bad id /app/servers/newline /app/servers/notaddr /app/servers/port0 /app/servers/scheme"
	if h.ids() != "good named v6" || invalidKeys(h.table()) != wantInvalid {
		t.Fatalf("ids %q invalid %q", h.ids(), invalidKeys(h.table()))
	}
	for _, in := range h.table().Invalid {
		if in.Reason == "" || (in.Key == "/app/servers/newline" && in.Value != "127.0.0.1:80\n") {
			t.Fatalf("invalid entry %+v", in)
		}
	}
	if st := h.src.Status(); st.InvalidKeys != 6 {
		t.Fatalf("status %+v", st)
	}
	if got := h.logs.count("skipping invalid key"); got != 6 {
		t.Fatalf("%d invalid-key log lines, want 6:\n%s", got, h.logs)
	}

	// Another change: the same invalid keys are not logged again.
	h.wait(h.put("/app/servers/other", "127.0.0.1:9000"))
	if got := h.logs.count("skipping invalid key"); got != 6 || len(h.table().Invalid) != 6 {
		t.Fatalf("after an unrelated change: %d log lines, %d invalid", got, len(h.table().Invalid))
	}
	// Fixing one makes it a route; breaking one differently logs once.
	h.wait(h.put("/app/servers/newline", "127.0.0.1:80"))
	h.wait(h.put("/app/servers/notaddr", "still not one"))
	if h.addr("newline") != "127.0.0.1:80" || len(h.table().Invalid) != 5 {
		t.Fatalf("after fixing: %q, invalid %q", h.addr("newline"), invalidKeys(h.table()))
	}
	if got := h.logs.count("skipping invalid key"); got != 7 {
		t.Fatalf("%d invalid-key log lines, want 7", got)
	}

	// Ids equal but for case: the first in byte order wins.
	h.put("/app/servers/Dup", "127.0.0.1:7001")
	h.wait(h.put("/app/servers/dup", "127.0.0.1:7002"))
	if h.addr("dup") != "127.0.0.1:7001" || strings.Join(h.table().Conflicts, ",") != "dup" || h.src.Status().Conflicts != 1 {
		t.Fatalf("conflict: %q %v", h.addr("dup"), h.table().Conflicts)
	}
	if h.logs.count("differs from another only in case") != 1 {
		t.Fatalf("conflict not logged once:\n%s", h.logs)
	}
}

func TestDirectoryRemoval(t *testing.T) {
	m := startStore(t)
	armed, blocked, release, hold := holdRouteWatch()
	h := startWith(t, m.URL, nil, hold)
	h.ready()
	h.put("/app/servers/a", "127.0.0.1:1")
	h.put("/app/servers/sub/x", "127.0.0.1:2")
	h.wait(h.put("/app/servers/b", "127.0.0.1:3"))
	if h.ids() != "a b" {
		t.Fatalf("ids %q", h.ids())
	}
	a := h.server("a")

	// A deeper directory's removal touches no route.
	h.wait(h.del("/app/servers/sub", true))
	if h.ids() != "a b" || h.server("a") != a {
		t.Fatalf("after removing a deeper directory: %q", h.ids())
	}
	// The prefix's removal empties the table: an empty table, not the
	// old one.
	h.wait(h.del("/app/servers", true))
	if h.ids() != "" || !stopped(a) {
		t.Fatalf("after removing the prefix: %q", h.ids())
	}
	// An ancestor's removal too.
	h.wait(h.put("/app/servers/c", "127.0.0.1:4"))
	h.wait(h.del("/app", true))
	if h.ids() != "" {
		t.Fatalf("after removing /app: %q", h.ids())
	}
	// A watch answered from the store's history matches the removal of
	// /app/serv for /app/servers (an etcd quirk); it must remove
	// nothing. Hold the watch so that the event comes from the history.
	h.wait(h.put("/app/servers/d", "127.0.0.1:5"))
	h.put("/app/serv/x", "1")
	armed.Store(true)
	h.wait(h.put("/app/servers/e", "127.0.0.1:6"))
	select {
	case <-blocked:
	case <-time.After(testTimeout):
		t.Fatal("the watch was not held")
	}
	h.del("/app/serv", true)
	close(release)
	h.wait(h.put("/app/servers/f", "127.0.0.1:7"))
	if h.ids() != "d e f" {
		t.Fatalf("after removing /app/serv: %q", h.ids())
	}
	// A directory that expires takes its routes with it.
	h.wait(h.set("/app/servers", "", client.SetOptions{Dir: true, PrevExist: client.MustExist, TTL: time.Second}))
	if h.ids() != "d e f" {
		t.Fatalf("a directory TTL update changed routes: %q", h.ids())
	}
	waitFor(t, "the prefix directory to expire", func() bool { return h.ids() == "" })
}

func TestIndexClearedRereads(t *testing.T) {
	m := startStore(t)
	armed, blocked, release, hold := holdRouteWatch()
	h := startWith(t, m.URL, nil, hold)
	h.ready()
	h.put("/app/servers/a", "127.0.0.1:1")
	h.wait(h.put("/app/servers/b", "127.0.0.1:2"))
	armed.Store(true)
	h.wait(h.put("/app/servers/c", "127.0.0.1:3"))
	var after uint64
	select {
	case after = <-blocked:
	case <-time.After(testTimeout):
		t.Fatal("the watch was not held")
	}
	b, c := h.server("b"), h.server("c")

	// Changes that the held watch misses, then more than the store's
	// 1000 events of history of unrelated writes.
	h.put("/app/servers/a", "127.0.0.1:11")
	h.del("/app/servers/b", false)
	h.put("/app/servers/d", "127.0.0.1:4")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 140 {
				if _, err := h.w.Set(testCtx(t), fmt.Sprintf("/unrelated/%d-%d", w, i), "x", client.SetOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	last := h.put("/app/servers/e", "127.0.0.1:5")
	close(release)

	h.wait(last)
	if h.ids() != "a c d e" || h.addr("a") != "127.0.0.1:11" {
		t.Fatalf("after the re-read: %q, a at %q", h.ids(), h.addr("a"))
	}
	if h.server("c") != c || !stopped(b) {
		t.Fatal("the re-read did not carry c over or did not retire b")
	}
	st := h.src.Status()
	if st.Resyncs < 1 || !st.Connected || !strings.Contains(st.LastError, "401") {
		t.Fatalf("status %+v (watch held after %d)", st, after)
	}
	if h.logs.count("event history moved past") < 1 || h.logs.count("store unreachable") != 0 {
		t.Fatalf("log:\n%s", h.logs)
	}
}

// holdRouteWatch returns a tuning that, once armed is set, holds the next
// route watch request back (as a slow or cut connection would) until
// release is closed, sending its index on blocked first.
func holdRouteWatch() (armed *atomic.Bool, blocked chan uint64, release chan struct{}, tune func(*Source)) {
	armed, blocked, release = &atomic.Bool{}, make(chan uint64, 1), make(chan struct{})
	return armed, blocked, release, func(s *Source) {
		s.beforeWatch = func(ctx context.Context, prefix string, after uint64) {
			if prefix != DefaultPrefix || !armed.CompareAndSwap(true, false) {
				return
			}
			blocked <- after
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}
}

func TestStoreDownKeepsTableThenCatchesUp(t *testing.T) {
	cfg := servertest.Config(t, t.TempDir())
	m := servertest.Start(t, cfg)
	h := start(t, m.URL, nil)
	h.ready()
	h.put("/app/servers/a", "127.0.0.1:1")
	h.wait(h.put("/app/servers/b", "127.0.0.1:2"))
	tb := h.table()
	a := h.server("a")

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Status to say disconnected", func() bool { return !h.src.Status().Connected })
	// Retries fail meanwhile; the table stays, and the outage is logged
	// once.
	waitFor(t, "retries", func() bool { return h.logs.count("store still not followed") >= 2 })
	if h.table() != tb || stopped(a) {
		t.Fatal("the table was not kept while the store was down")
	}
	st := h.src.Status()
	if st.LastError == "" || st.Since.IsZero() || st.Routes != 2 {
		t.Fatalf("status %+v", st)
	}
	if n := h.logs.count("store unreachable"); n != 1 {
		t.Fatalf("%d 'store unreachable' lines, want 1:\n%s", n, h.logs)
	}
	if h.logs.count("backend has no servers") != 1 {
		t.Fatalf("an empty default backend is its own log line:\n%s", h.logs)
	}

	// The member comes back on the same data and ports.
	servertest.Start(t, cfg)
	waitFor(t, "Status to say connected", func() bool { return h.src.Status().Connected })
	h.wait(h.put("/app/servers/c", "127.0.0.1:3"))
	if h.ids() != "a b c" || h.server("a") != a || stopped(a) {
		t.Fatalf("after reconnecting: %q, a carried over %v", h.ids(), h.server("a") == a)
	}
	if st := h.src.Status(); st.Resyncs < 1 {
		t.Fatalf("status %+v", st)
	}
	if h.logs.count("store reachable again") != 1 {
		t.Fatalf("log:\n%s", h.logs)
	}
}

func TestStoreNotThereAtStart(t *testing.T) {
	cfg := servertest.Config(t, t.TempDir())
	url := "http://" + cfg.ListenClientURLs[0].Host
	h := start(t, url, func(c *Config) {
		c.DefaultServers = []StaticServer{{Name: "fallback", Addr: "127.0.0.1:9"}}
	})
	// Until the store answers, the configured default servers serve.
	waitFor(t, "a table with the default servers", func() bool {
		d := h.table().Default
		return d != nil && len(d.Servers) == 1 && d.Servers[0].ID == "fallback"
	})
	fb := h.table().Default.Servers[0]
	if st := h.src.Status(); st.Connected || st.LastError == "" {
		t.Fatalf("status %+v", st)
	}
	select {
	case <-h.src.Ready():
		t.Fatal("Ready before the store answered")
	default:
	}
	m := servertest.Start(t, cfg)
	seed(t, m.URL, map[string]string{"/app/servers/a": "127.0.0.1:1"})
	h.ready()
	waitFor(t, "route a", func() bool { return h.server("a") != nil })
	if h.table().Default.Servers[0] != fb {
		t.Fatal("the default server was replaced")
	}
	if added, initial := h.wasAdded(fb); !added || !initial {
		t.Fatalf("the default server before the store: added %v initial %v", added, initial)
	}
}

func TestStoreGoesBackInIndex(t *testing.T) {
	cfg := servertest.Config(t, t.TempDir())
	m := servertest.Start(t, cfg)
	h := startWith(t, m.URL, nil, func(s *Source) { s.staleGrace = 500 * time.Millisecond })
	h.ready()
	for i := range 30 {
		h.put(fmt.Sprintf("/app/servers/r%d", i), "127.0.0.1:1")
	}
	h.wait(h.put("/app/servers/last", "127.0.0.1:2"))
	old, err := h.w.Get(testCtx(t), "/", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// A fresh member on the same ports: its index is far behind.
	cfg.DataDir = t.TempDir()
	servertest.Start(t, cfg)
	fresh, err := h.w.Get(testCtx(t), "/", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ClusterID == old.ClusterID {
		// Nothing says the store was replaced: the old table is kept
		// for the grace time, in case it is a member catching up.
		waitFor(t, "the source to refuse the older data", func() bool {
			return strings.Contains(h.src.Status().LastError, "behind the applied index")
		})
		if len(h.table().IDs) != 31 {
			t.Fatalf("the table changed before the grace time: %q", h.ids())
		}
	}
	waitFor(t, "the source to take the new store's data", func() bool { return len(h.table().IDs) == 0 && h.src.Status().Connected })
	h.wait(h.put("/app/servers/new", "127.0.0.1:3"))
	if h.ids() != "new" {
		t.Fatalf("ids %q", h.ids())
	}
	if h.logs.count("store index went back") != 1 {
		t.Fatalf("log:\n%s", h.logs)
	}
}

func TestWeights(t *testing.T) {
	m := startStore(t)
	seed(t, m.URL, map[string]string{
		"/app/servers/a":    "127.0.0.1:1",
		"/app/servers/b":    "127.0.0.1:2",
		"/app/servers/c":    "127.0.0.1:3",
		"/hecd/weights/a":   "3",
		"/hecd/weights/b":   "0",
		"/hecd/weights/c":   "300",
		"/hecd/weights/new": "5",
	})
	h := start(t, m.URL, func(c *Config) { c.DefaultMode = DefaultAll })
	h.ready()
	a := h.server("a")
	if a.Weight() != 3 || h.server("b").Weight() != 0 || h.server("c").Weight() != 1 {
		t.Fatalf("weights %d %d %d", a.Weight(), h.server("b").Weight(), h.server("c").Weight())
	}
	if invalidKeys(h.table()) != "/hecd/weights/c" {
		t.Fatalf("invalid %q", invalidKeys(h.table()))
	}
	// Weight 0 drains in the default backend: b is never picked.
	for range 30 {
		if s := h.table().Default.Pick(nil); s == nil || s.ID == "b" {
			t.Fatalf("picked %v", s)
		}
	}

	// A new route takes its weight key at creation; a weight set on the
	// stats page survives unrelated changes.
	a.SetWeight(9)
	h.wait(h.put("/app/servers/new", "127.0.0.1:4"))
	if h.server("new").Weight() != 5 || a.Weight() != 9 {
		t.Fatalf("weights new %d a %d", h.server("new").Weight(), a.Weight())
	}
	// A weight key's change applies to the same server; its removal
	// restores 1.
	h.put("/hecd/weights/a", "4")
	waitFor(t, "weight 4", func() bool { return a.Weight() == 4 })
	h.del("/hecd/weights/a", false)
	waitFor(t, "weight 1", func() bool { return a.Weight() == 1 })
	h.put("/hecd/weights/c", "7")
	waitFor(t, "the fixed weight", func() bool { return h.server("c").Weight() == 7 && len(h.table().Invalid) == 0 })
	if h.server("a") != a {
		t.Fatal("a weight change replaced the server")
	}
}

func TestWeightsOff(t *testing.T) {
	m := startStore(t)
	h := start(t, m.URL, func(c *Config) { c.NoWeights = true })
	h.ready()
	h.put("/hecd/weights/a", "5")
	h.wait(h.put("/app/servers/a", "127.0.0.1:1"))
	if h.server("a").Weight() != 1 {
		t.Fatalf("weight %d", h.server("a").Weight())
	}
}

func TestDefaultBackendStatic(t *testing.T) {
	m := startStore(t)
	seed(t, m.URL, map[string]string{
		"/hecd/default/s2":  "127.0.0.1:9002",
		"/hecd/default/bad": "nope",
	})
	h := start(t, m.URL, func(c *Config) {
		c.DefaultName = "default_pool"
		c.DefaultServers = []StaticServer{{Name: "s1", Addr: "127.0.0.1:9001", Weight: 2}, {Name: "s0", Addr: "127.0.0.1:9000"}}
	})
	h.ready()
	names := func() string {
		var out []string
		for _, s := range h.table().Default.Servers {
			out = append(out, fmt.Sprintf("%s=%s/%d", s.ID, s.Addr, s.Weight()))
		}
		return strings.Join(out, " ")
	}
	if d := h.table().Default; d.Name != "default_pool" || names() != "s0=127.0.0.1:9000/1 s1=127.0.0.1:9001/2 s2=127.0.0.1:9002/1" {
		t.Fatalf("default backend %s: %s", d.Name, names())
	}
	if invalidKeys(h.table()) != "/hecd/default/bad" {
		t.Fatalf("invalid %q", invalidKeys(h.table()))
	}
	s0, s1, s2 := h.table().Default.Servers[0], h.table().Default.Servers[1], h.table().Default.Servers[2]
	def := h.table().Default
	def.Counters.Total.Add(3)

	// The store moves a configured server; a key goes away.
	h.put("/hecd/default/s1", "127.0.0.1:9011")
	waitFor(t, "s1 to move", func() bool { return strings.Contains(names(), "s1=127.0.0.1:9011/2") })
	h.del("/hecd/default/s2", false)
	waitFor(t, "s2 to go", func() bool { return !strings.Contains(names(), "s2") })
	if h.table().Default.Servers[0] != s0 || !stopped(s1) || !stopped(s2) || stopped(s0) {
		t.Fatal("continuity of the default servers")
	}
	if got := h.table().Default.Counters.Total.Load(); got != 3 {
		t.Fatalf("the default backend's counters were not carried over: %d", got)
	}
	// Routes do not join a static default backend.
	h.wait(h.put("/app/servers/a", "127.0.0.1:1"))
	if len(h.table().Default.Servers) != 2 {
		t.Fatalf("default servers: %s", names())
	}
}

func TestDefaultBackendAllAndNone(t *testing.T) {
	m := startStore(t)
	h := start(t, m.URL, func(c *Config) { c.DefaultMode = DefaultAll })
	h.ready()
	if d := h.table().Default; d == nil || len(d.Servers) != 0 {
		t.Fatalf("default %+v", d)
	}
	if h.logs.count("backend has no servers") != 1 {
		t.Fatalf("log:\n%s", h.logs)
	}
	h.put("/hecd/default/s1", "127.0.0.1:9") // not read in mode all
	h.put("/app/servers/b", "127.0.0.1:2")
	h.wait(h.put("/app/servers/a", "127.0.0.1:1"))
	d := h.table().Default
	if len(d.Servers) != 2 || d.Servers[0] != h.server("a") || d.Servers[1] != h.server("b") {
		t.Fatalf("default servers %+v", d.Servers)
	}
	if h.logs.count("backend has servers again") != 1 {
		t.Fatalf("log:\n%s", h.logs)
	}

	m2 := startStore(t)
	hn := start(t, m2.URL, func(c *Config) { c.DefaultMode = DefaultNone })
	hn.ready()
	hn.wait(hn.put("/app/servers/a", "127.0.0.1:1"))
	if hn.table().Default != nil || hn.logs.count("backend has no servers") != 0 {
		t.Fatalf("mode none: %+v", hn.table().Default)
	}
}

func TestAdminPersistence(t *testing.T) {
	m := startStore(t)
	seed(t, m.URL, map[string]string{
		"/app/servers/a":                 "127.0.0.1:1",
		"/app/servers/b":                 "127.0.0.1:2",
		"/hecd/admin/a/a":                "maint",
		"/hecd/admin/default_backend/s1": "drain",
		"/hecd/admin/x/y/deeper":         "maint",
		"/hecd/admin/a/_hidden":          "maint",
		"/hecd/admin/b/x":                "sleep",
	})
	h := start(t, m.URL, func(c *Config) {
		c.AdminPrefix = DefaultAdminPrefix
		c.DefaultServers = []StaticServer{{Name: "s1", Addr: "127.0.0.1:9001"}}
	})
	h.ready()
	a, b := h.server("a"), h.server("b")
	s1 := h.table().Default.Servers[0]
	if a.Admin() != proxy.Maint || b.Admin() != proxy.Ready || s1.Admin() != proxy.Drain {
		t.Fatalf("admin %v %v %v", a.Admin(), b.Admin(), s1.Admin())
	}
	if invalidKeys(h.table()) != "/hecd/admin/b/x" {
		t.Fatalf("invalid %q", invalidKeys(h.table()))
	}

	h.put("/hecd/admin/b/b", "drain")
	waitFor(t, "b drained", func() bool { return b.Admin() == proxy.Drain })
	h.put("/hecd/admin/b/b", "READY")
	waitFor(t, "b ready", func() bool { return b.Admin() == proxy.Ready })
	// An in-memory action (stats page without persistence) is left alone
	// by unrelated changes.
	b.SetAdmin(proxy.Maint)
	h.wait(h.put("/app/servers/c", "127.0.0.1:3"))
	if b.Admin() != proxy.Maint {
		t.Fatal("an unrelated change reset b's admin state")
	}
	// A removed key means ready.
	h.del("/hecd/admin/a/a", false)
	waitFor(t, "a ready", func() bool { return a.Admin() == proxy.Ready })
	// A key written before its route exists applies when it comes.
	h.put("/hecd/admin/d/d", "maint")
	h.wait(h.put("/app/servers/d", "127.0.0.1:4"))
	waitFor(t, "d in maintenance", func() bool { return h.server("d") != nil && h.server("d").Admin() == proxy.Maint })
	// Removing a backend's directory readies its servers.
	h.del("/hecd/admin/default_backend", true)
	waitFor(t, "s1 ready", func() bool { return s1.Admin() == proxy.Ready })
	if h.server("a") != a || h.server("b") != b {
		t.Fatal("admin changes replaced servers")
	}
}

func TestAdminPersistenceOff(t *testing.T) {
	m := startStore(t)
	h := start(t, m.URL, nil)
	h.ready()
	h.put("/hecd/admin/a/a", "maint")
	h.wait(h.put("/app/servers/a", "127.0.0.1:1"))
	if h.server("a").Admin() != proxy.Ready {
		t.Fatal("admin keys applied with persistence off")
	}
}

func TestProbeNoticesALostStore(t *testing.T) {
	m := startStore(t)
	seed(t, m.URL, map[string]string{"/app/servers/a": "127.0.0.1:1"})
	h := startWith(t, m.URL, func(c *Config) { c.ProbeInterval = 50 * time.Millisecond }, func(s *Source) {
		// No watch is ever sent, as if they hung on a dead network
		// path: closing the store cuts nothing, only the probe can tell.
		s.beforeWatch = func(ctx context.Context, _ string, _ uint64) { <-ctx.Done() }
	})
	h.ready()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the probe to notice", func() bool { return !h.src.Status().Connected })
	if h.logs.count("store unreachable") != 1 || !strings.Contains(h.logs.String(), "probing the store") || h.ids() != "a" {
		t.Fatalf("status %+v, ids %q", h.src.Status(), h.ids())
	}
}

func TestNewChecksConfig(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1")
	r := proxy.NewRouter()
	for name, cfg := range map[string]Config{
		"no client":       {Router: r},
		"no router":       {Client: c},
		"bad mode":        {Client: c, Router: r, DefaultMode: "some"},
		"bad name":        {Client: c, Router: r, DefaultName: "a b"},
		"same prefix":     {Client: c, Router: r, WeightsPrefix: "/app/servers/"},
		"bad server":      {Client: c, Router: r, DefaultServers: []StaticServer{{Name: "x", Addr: "nope"}}},
		"twice":           {Client: c, Router: r, DefaultServers: []StaticServer{{Name: "x", Addr: "h:1"}, {Name: "x", Addr: "h:2"}}},
		"negative settle": {Client: c, Router: r, Settle: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	s, err := New(Config{Client: c, Router: r, Settle: 2 * time.Second, DefaultServers: []StaticServer{{Name: "x", Addr: "h:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.SettleMax != 2*time.Second || s.cfg.DefaultServers[0].Weight != 1 || s.admin != nil || s.weights == nil || s.defaults == nil {
		t.Fatalf("defaults: %+v", s.cfg)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run with an ended context: %v", err)
	}
	if err := s.Run(ctx); err == nil {
		t.Fatal("a second Run did not fail")
	}
}

package registrator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"hecd/internal/client"
	"hecd/internal/server/servertest"
)

// testStore is an in-process hecd store and a client that reaches it
// directly (not through a host's counting proxy).
type testStore struct {
	url string
	cli *client.Client
}

// newStore starts an in-process store for t.
func newStore(t *testing.T) *testStore {
	t.Helper()
	m := servertest.StartNew(t)
	cli, err := client.New(client.Config{Endpoints: []string{m.URL}})
	if err != nil {
		t.Fatal(err)
	}
	return &testStore{url: m.URL, cli: cli}
}

// counter is a proxy in front of the store that counts the write
// requests going through it, per key; refreshes are counted apart.
type counter struct {
	URL string
	mu  sync.Mutex
	// writes and creates (prevExist=false) by key; refreshes by key.
	writes, creates, refreshes map[string]int
}

func newCounter(t *testing.T, target string) *counter {
	t.Helper()
	u, _ := url.Parse(target)
	c := &counter{writes: map[string]int{}, creates: map[string]int{}, refreshes: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // requests cut off by a stopping registrator
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			key := strings.TrimPrefix(r.URL.Path, "/v2/keys")
			c.mu.Lock()
			switch {
			case form.Get("refresh") == "true":
				c.refreshes[key]++
			default:
				c.writes[key]++
				if form.Get("prevExist") == "false" {
					c.creates[key]++
				}
			}
			c.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *counter) totalWrites() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.writes {
		n += v
	}
	return n
}

func (c *counter) get(m map[string]int, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[key]
}

// logBuf collects log lines.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count is how many lines contain s.
func (l *logBuf) count(s string) int {
	n := 0
	for line := range strings.SplitSeq(l.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// host is one simulated Docker host: a fake engine, a registrator
// config and the proxy its store traffic goes through.
type host struct {
	t      *testing.T
	store  *testStore
	docker *fakeDocker
	cnt    *counter
	logs   *logBuf
	cfg    Config
}

var hostAddr = HostAddrs{V4: netip.MustParseAddr("10.0.0.1"), V6: netip.MustParseAddr("fd00::1")}

func newHost(t *testing.T, st *testStore, owner string) *host {
	t.Helper()
	h := &host{t: t, store: st, docker: newFakeDocker(), cnt: newCounter(t, st.url), logs: &logBuf{}}
	cli, err := client.New(client.Config{Endpoints: []string{h.cnt.URL}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Client = cli
	cfg.Docker = h.docker
	cfg.OwnerID = owner
	cfg.Hostname = owner
	cfg.TTL = 30 * time.Second
	cfg.Resync = time.Hour
	cfg.BackoffMin = 10 * time.Millisecond
	cfg.BackoffMax = 100 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(h.logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.DetectHostAddrs = func(context.Context, []string) (HostAddrs, error) { return hostAddr, nil }
	// The fake containers' addresses are not test hosts: never dial them.
	cfg.Probe = func(context.Context, string) error { return nil }
	h.cfg = cfg
	return h
}

// testWriter sends log lines to t.Log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// running is a registrator started by start.
type running struct {
	*Registrator
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs a registrator with h.cfg until stop or the test ends.
func (h *host) start() *running {
	h.t.Helper()
	r, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{Registrator: r, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	h.t.Cleanup(func() { run.stop(h.t) })
	return run
}

// stop ends Run and waits for it (bounded).
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of cancel")
		}
	})
}

// idle reports whether no container work is pending or running and every
// event read has been dispatched.
func (r *Registrator) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.work) == 0 && r.m.eventsApplied.Load() == r.m.eventsReceived.Load()
}

// settled waits until r has read n events in total, dispatched them and
// finished the work they caused.
func (r *running) settled(t *testing.T, events uint64) {
	t.Helper()
	waitFor(t, 10*time.Second, func() (bool, string) {
		got := r.m.eventsReceived.Load()
		return got >= events && r.idle(), fmt.Sprintf("events %d/%d, idle %v", got, events, r.idle())
	})
}

// quiesce waits until r is idle at two looks 50 ms apart.
func (r *running) quiesce(t *testing.T) {
	t.Helper()
	waitFor(t, 10*time.Second, func() (bool, string) {
		if !r.idle() {
			return false, "busy"
		}
		time.Sleep(50 * time.Millisecond)
		return r.idle(), "busy"
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tree reads the leaves below dir (relative keys → values).
func (s *testStore) tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	resp, err := s.cli.Get(context.Background(), dir, client.GetOptions{Recursive: true})
	if client.IsKeyNotFound(err) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		if !n.Dir {
			out[strings.TrimPrefix(n.Key, dir+"/")] = n.Value
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	return out
}

// index is the store's X-Etcd-Index.
func (s *testStore) index(t *testing.T) uint64 {
	t.Helper()
	resp, err := s.cli.Get(context.Background(), "/", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Index
}

func (h *host) routes() map[string]string { return h.store.tree(h.t, h.cfg.Prefix) }
func (h *host) records() map[string]string {
	return h.store.tree(h.t, h.cfg.MetaPrefix+"/owners/"+h.cfg.OwnerID)
}

// waitRoutes waits until the routes are exactly want.
func (h *host) waitRoutes(d time.Duration, want map[string]string) {
	h.t.Helper()
	waitFor(h.t, d, func() (bool, string) {
		got := h.routes()
		return mapsEqual(got, want), fmt.Sprintf("routes %v, want %v", got, want)
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// val is the route value of ctr(n) on the test host.
func val(n int) string { return fmt.Sprintf("10.0.0.1:%d", 30000+n) }

package source

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hecd/internal/client"
	"hecd/internal/proxy"
	"hecd/internal/proxy/proxytest"
	"hecd/internal/server/servertest"
)

// testTimeout bounds every wait of a test: the store, the watch and the
// settle time take milliseconds, so anything near this is a hang.
const testTimeout = 15 * time.Second

// logBuf collects a source's log lines for assertions.
type logBuf struct{ proxytest.Buffer }

func (l *logBuf) count(s string) int { return strings.Count(l.String(), s) }

// harness is a running Source against a store, with a second client for
// the test's writes and a record of the callbacks.
type harness struct {
	t      *testing.T
	w      *client.Client
	src    *Source
	router *proxy.Router
	logs   *logBuf

	mu      sync.Mutex
	added   map[*proxy.Server]bool // server -> initial
	removed []*proxy.Server
	swaps   atomic.Int64
}

// start runs a Source on the store at url. setup may change the config
// and the source's tunables before Run.
func start(t *testing.T, url string, setup func(*Config)) *harness {
	t.Helper()
	return startWith(t, url, setup, nil)
}

func startWith(t *testing.T, url string, setup func(*Config), tune func(*Source)) *harness {
	t.Helper()
	h := &harness{t: t, w: newClient(t, url), router: proxy.NewRouter(), logs: &logBuf{}, added: map[*proxy.Server]bool{}}
	cfg := Config{
		Client:    newClient(t, url),
		Router:    h.router,
		Settle:    20 * time.Millisecond,
		SettleMax: 200 * time.Millisecond,
		Logger:    slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnServerAdded: func(s *proxy.Server, backend string, initial bool) {
			if backend != s.ID && backend != h.src.cfg.DefaultName {
				t.Errorf("server %s announced in backend %q", s.ID, backend)
			}
			h.mu.Lock()
			h.added[s] = initial
			h.mu.Unlock()
		},
		OnServerRemoved: func(s *proxy.Server) {
			select {
			case <-s.Stopped():
				t.Errorf("server %s %s was stopped before its removal was announced", s.ID, s.Addr)
			default:
			}
			h.mu.Lock()
			h.removed = append(h.removed, s)
			h.mu.Unlock()
		},
		OnSwap: func(*proxy.Table) { h.swaps.Add(1) },
	}
	if setup != nil {
		setup(&cfg)
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src.retryMin, src.retryMax = 20*time.Millisecond, 200*time.Millisecond
	if tune != nil {
		tune(src)
	}
	h.src = src
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testTimeout):
			t.Errorf("Run did not return after its context ended")
		}
		if t.Failed() {
			t.Logf("source log:\n%s", h.logs)
		}
	})
	return h
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	proxytest.WaitFor(t, testTimeout, what, cond)
}

// seed writes the keys to the store at url, before a source follows it.
func seed(t *testing.T, url string, kv map[string]string) {
	t.Helper()
	c := newClient(t, url)
	for k, v := range kv {
		if _, err := c.Set(testCtx(t), k, v, client.SetOptions{}); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

func (h *harness) ready() {
	h.t.Helper()
	select {
	case <-h.src.Ready():
	case <-time.After(testTimeout):
		h.t.Fatalf("no table from the store; log:\n%s", h.logs)
	}
}

// put writes key and returns its modifiedIndex.
func (h *harness) put(key, value string) uint64 {
	h.t.Helper()
	return h.set(key, value, client.SetOptions{})
}

func (h *harness) set(key, value string, opts client.SetOptions) uint64 {
	h.t.Helper()
	r, err := h.w.Set(testCtx(h.t), key, value, opts)
	if err != nil {
		h.t.Fatalf("set %s: %v", key, err)
	}
	return r.Node.ModifiedIndex
}

func (h *harness) del(key string, recursive bool) uint64 {
	h.t.Helper()
	r, err := h.w.Delete(testCtx(h.t), key, client.DeleteOptions{Recursive: recursive})
	if err != nil {
		h.t.Fatalf("delete %s: %v", key, err)
	}
	return r.Node.ModifiedIndex
}

// wait returns once the published table reflects the routes up to index.
func (h *harness) wait(index uint64) {
	h.t.Helper()
	if err := h.src.WaitIndex(testCtx(h.t), index); err != nil {
		h.t.Fatalf("table never reached index %d (status %+v)", index, h.src.Status())
	}
}

func (h *harness) table() *proxy.Table { return h.router.Table() }

// server is the route id's server in the current table, or nil.
func (h *harness) server(id string) *proxy.Server {
	b := h.table().Routes[strings.ToLower(id)]
	if b == nil {
		return nil
	}
	return b.Servers[0]
}

func (h *harness) addr(id string) string {
	if s := h.server(id); s != nil {
		return s.Addr
	}
	return ""
}

func (h *harness) ids() string { return strings.Join(h.table().IDs, " ") }

func (h *harness) wasAdded(s *proxy.Server) (added, initial bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	initial, added = h.added[s]
	return added, initial
}

func (h *harness) wasRemoved(s *proxy.Server) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.removed {
		if r == s {
			return true
		}
	}
	return false
}

func invalidKeys(t *proxy.Table) string {
	var ks []string
	for _, in := range t.Invalid {
		ks = append(ks, in.Key)
	}
	return strings.Join(ks, " ")
}

func stopped(s *proxy.Server) bool {
	select {
	case <-s.Stopped():
		return true
	default:
		return false
	}
}

func startStore(t *testing.T) *servertest.Member { return servertest.StartNew(t) }

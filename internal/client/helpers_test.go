package client

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hecd/internal/server/servertest"
	"hecd/test/hecdproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	reference.stop()
	os.Exit(code)
}

// testServer is a store a test talks to, and the key prefix the test owns
// there (the reference etcd is shared by all tests of the package).
type testServer struct {
	kind   string // "hecd" or "etcd"
	url    string
	prefix string
}

// forEachServer runs f against a fresh in-process hecd and against the
// package's reference etcd 3.4 (skipped when etcd is not installed).
func forEachServer(t *testing.T, f func(t *testing.T, s testServer)) {
	t.Helper()
	t.Run("hecd", func(t *testing.T) {
		m := startHecd(t)
		f(t, testServer{kind: "hecd", url: m.URL, prefix: "/" + t.Name()})
	})
	t.Run("etcd", func(t *testing.T) {
		u := reference.start(t)
		// The etcd outlives a test (and -count runs): a new prefix each time.
		f(t, testServer{kind: "etcd", url: u, prefix: fmt.Sprintf("/%s/%d", t.Name(), etcdRuns.Add(1))})
	})
}

// etcdRuns numbers the uses of the shared reference etcd.
var etcdRuns atomic.Int64

// startHecd starts a fresh in-process single member.
func startHecd(t testing.TB) *servertest.Member {
	t.Helper()
	return servertest.StartNew(t)
}

// reference is one etcd 3.4 for the whole package, started on first use
// with the shared spec's etcd-reference.sh and stopped by TestMain.
var reference refEtcd

type refEtcd struct {
	once sync.Once
	ref  *hecdproc.Reference
	skip string
	err  error
}

func (r *refEtcd) start(t testing.TB) string {
	t.Helper()
	r.once.Do(func() {
		if _, err := exec.LookPath("etcd"); err != nil {
			r.skip = "etcd is not installed, so the compatibility check against a real etcd 3.4 is skipped " +
				"(install Debian's etcd-server, or run ../shared/spec/etcd-reference.sh once: it installs it)"
			return
		}
		script, err := hecdproc.ReferenceScript()
		if err != nil {
			r.skip = "no reference etcd script in the shared spec directory beside the repository: " + err.Error()
			return
		}
		r.ref, r.err = hecdproc.StartReference(script)
	})
	if r.skip != "" {
		t.Skip(r.skip)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.ref.URL
}

func (r *refEtcd) stop() {
	if r.ref != nil {
		if err := r.ref.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}

// newClient returns a client for endpoints that is closed when the test
// ends.
func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testContext is the test's context with a deadline, so that a hung
// request fails the test instead of the whole run.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// closedPortURL returns the URL of a loopback port that nothing listens on.
func closedPortURL(t testing.TB) string {
	t.Helper()
	return "http://127.0.0.1:" + strconv.Itoa(servertest.FreePort(t))
}

// brokenListener accepts connections and closes them at once (hang=false)
// or holds them without answering (hang=true), counting them.
type brokenListener struct {
	URL string
	ln  net.Listener
	mu  sync.Mutex
	n   int
}

func newBrokenListener(t testing.TB, hang bool) *brokenListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &brokenListener{URL: "http://" + ln.Addr().String(), ln: ln}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			b.mu.Lock()
			b.n++
			b.mu.Unlock()
			if hang {
				held = append(held, conn)
			} else {
				conn.Close()
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return b
}

func (b *brokenListener) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// waitWatchers waits until url's store counts a waiting watcher more
// than before.
func waitWatchers(t testing.TB, url string, before int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hecdproc.WaitWatchers(ctx, url, func(n int) bool { return n > before }); err != nil {
		t.Fatal(err)
	}
}

func watchers(t testing.TB, url string) int {
	t.Helper()
	n, err := hecdproc.Watchers(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

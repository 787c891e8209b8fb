package frontend

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"hecd/internal/proxy"
)

// TestShutdownSessions: cutting a server's sessions ends the requests
// being forwarded to it, and only those: the client's connection closes
// without a response, another server's request is untouched, and the
// server still takes new requests.
func TestShutdownSessions(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	defer close(release)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Wait") != "" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	fast := named(t, "fast")
	slowBE, fastBE := route("slow", addrOf(slow)), route("fast", addrOf(fast))
	addr, fe := startFrontend(t, Config{}, router([]*proxy.Backend{slowBE, fastBE}, nil))
	slowSrv, fastSrv := slowBE.Servers[0], fastBE.Servers[0]

	// Two requests held by the slow server.
	type result struct{ err error }
	results := make(chan result, 2)
	for range 2 {
		c := rawConn(t, addr)
		go func() {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: slow\r\nX-Wait: 1\r\n\r\n")
			_, err := http.ReadResponse(bufio.NewReader(c), nil)
			results <- result{err: err}
		}()
	}
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(testTimeout):
			t.Fatal("the slow server did not get both requests")
		}
	}

	if n := fe.ShutdownSessions(fastSrv); n != 0 {
		t.Errorf("cut %d sessions of an idle server", n)
	}
	cutAt := time.Now()
	if n := fe.ShutdownSessions(slowSrv); n != 2 {
		t.Errorf("cut %d sessions, want 2", n)
	}
	for range 2 {
		select {
		case r := <-results:
			if r.err == nil {
				t.Error("a cut request got a response")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("a cut request still waits 2s after the shutdown")
		}
	}
	t.Logf("both requests ended %v after the shutdown", time.Since(cutAt).Round(time.Millisecond))

	// Nothing else changed: both servers answer.
	if _, body := do(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: fast\r\n\r\n"); body != "fast" {
		t.Errorf("fast answered %q", body)
	}
	if _, body := do(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nAPPID: slow\r\n\r\n"); body != "slow" {
		t.Errorf("slow answered %q after the shutdown", body)
	}
	// Finished requests are no longer sessions. The cut ones leave once
	// their handlers have seen the closed connections, a moment after
	// the clients did.
	count := func() int {
		fe.sessions.mu.Lock()
		defer fe.sessions.mu.Unlock()
		return len(fe.sessions.bySrv[slowSrv])
	}
	for end := time.Now().Add(2 * time.Second); count() != 0 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if n := fe.ShutdownSessions(slowSrv); n != 0 {
		t.Errorf("cut %d sessions after the requests ended", n)
	}
}

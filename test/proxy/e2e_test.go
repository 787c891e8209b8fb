package proxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// waitRoute waits until a request with APPID id gets want (a body, or a
// status like "503") and returns how long that took.
func waitRoute(t *testing.T, proxyAddr, id, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < timeout {
		code, body, err := get(proxyAddr, id)
		switch {
		case err != nil:
			last = err.Error()
		case code == 200:
			last = body
		default:
			last = fmt.Sprint(code)
		}
		if last == want {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("APPID %q: still %q after %v, want %q", id, last, timeout, want)
	return 0
}

// TestRoutesFollowTheStore runs the seed's flow through the real binaries:
// keys written with the seed's requests become routes at once, changes and
// deletes follow, bad values are skipped without harm, a request in flight
// on a deleted route completes, and the last table keeps serving while the
// store is down.
func TestRoutesFollowTheStore(t *testing.T) {
	store := hecdproc.StartStore(t, "routes-test")
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	put(t, store.URL, "/app/servers/acdea7a876c8", a.addr)
	proxyAddr, proxyProc := startProxy(t, store.URL, "-default-backend", "none", "-check-inter", "100ms")

	// Routing is case-insensitive on the value; an unknown id has no
	// default backend here.
	waitRoute(t, proxyAddr, "acdea7a876c8", "a", 10*time.Second)
	waitRoute(t, proxyAddr, "ACDEA7A876C8", "a", time.Second)
	waitRoute(t, proxyAddr, "nope", "503", time.Second)

	// A new key is routable within a second; so are a change and a delete.
	put(t, store.URL, "/app/servers/web2", b.addr)
	t.Logf("added key routable after %v", waitRoute(t, proxyAddr, "web2", "b", time.Second))
	put(t, store.URL, "/app/servers/web2", c.addr)
	t.Logf("changed key routed after %v", waitRoute(t, proxyAddr, "web2", "c", time.Second))
	del(t, store.URL, "/app/servers/web2")
	t.Logf("deleted key gone after %v", waitRoute(t, proxyAddr, "web2", "503", time.Second))

	// Bad values are skipped and the other routes keep working.
	put(t, store.URL, "/app/servers/bad1", "not-an-address")
	put(t, store.URL, "/app/servers/bad2", a.addr+"\nbackup")
	put(t, store.URL, "/app/servers/web3", b.addr)
	waitRoute(t, proxyAddr, "web3", "b", time.Second)
	waitRoute(t, proxyAddr, "bad1", "503", time.Second)
	waitRoute(t, proxyAddr, "bad2", "503", time.Second)
	waitRoute(t, proxyAddr, "acdea7a876c8", "a", time.Second)
	if !strings.Contains(proxyProc.Log.String(), "bad1") {
		t.Errorf("the invalid key bad1 was not reported:\n%s", proxyProc.Log.String())
	}

	// A slow request in flight on a route that is deleted completes.
	release := make(chan struct{})
	slow := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Slow") != "" {
			<-release
		}
		io.WriteString(w, "slow done")
	})
	put(t, store.URL, "/app/servers/slow", slow)
	waitRoute(t, proxyAddr, "slow", "slow done", time.Second)
	var wg sync.WaitGroup
	var slowCode int
	var slowBody string
	var slowErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequest(http.MethodGet, "http://"+proxyAddr+"/", nil)
		req.Header.Set("APPID", "slow")
		req.Header.Set("X-Slow", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slowErr = err
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slowCode, slowBody = resp.StatusCode, string(b)
	}()
	time.Sleep(200 * time.Millisecond)
	del(t, store.URL, "/app/servers/slow")
	waitRoute(t, proxyAddr, "slow", "503", time.Second)
	close(release)
	wg.Wait()
	if slowErr != nil || slowCode != 200 || slowBody != "slow done" {
		t.Errorf("the request in flight on the deleted route: %d %q %v", slowCode, slowBody, slowErr)
	}

	// The store goes away: the proxy keeps routing on its last table.
	store.Cmd.Process.Signal(syscall.SIGTERM)
	<-store.Exited
	for i := 0; i < 20; i++ {
		if code, body, err := get(proxyAddr, "acdea7a876c8"); err != nil || code != 200 || body != "a" {
			t.Fatalf("request %d with the store down: %d %q %v", i, code, body, err)
		}
	}
}

// TestHealthChecksFollowTheBackend stops a backend and starts it again on
// the same address: with the seed's fall 1 rise 2 the route answers 503
// after one failed check and comes back after two good ones.
func TestHealthChecksFollowTheBackend(t *testing.T) {
	store := hecdproc.StartStore(t, "health-test")
	port, err := hecdproc.FreePort() // outside the ephemeral range, so it can be listened on again
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, ln, answer("up"))
	put(t, store.URL, "/app/servers/h1", addr)
	proxyAddr, _ := startProxy(t, store.URL, "-default-backend", "none", "-check-inter", "100ms", "-retries", "0")
	waitRoute(t, proxyAddr, "h1", "up", 10*time.Second)

	srv.Close()
	// Several checks fail meanwhile: the server is DOWN (fall 1).
	time.Sleep(500 * time.Millisecond)

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s again: %v", addr, err)
	}
	serve(t, ln2, answer("back"))
	// The backend answers again, but the proxy keeps it DOWN until two
	// checks in a row succeed (rise 2).
	if code, body, err := get(proxyAddr, "h1"); err != nil || code != 503 {
		t.Errorf("right after the backend returned: %d %q %v, want 503 (still DOWN)", code, body, err)
	}
	d := waitRoute(t, proxyAddr, "h1", "back", 5*time.Second)
	if d < 80*time.Millisecond {
		t.Errorf("back UP after %v: rise 2 with inter 100ms needs two checks", d)
	}
	t.Logf("UP again %v after the backend returned", d)
}

// TestPassiveHealth turns active checks off and passive ones on: two
// failed connections within the window take the server out for the
// window, even after it answers again.
func TestPassiveHealth(t *testing.T) {
	store := hecdproc.StartStore(t, "passive-test")
	port, err := hecdproc.FreePort() // outside the ephemeral range: nothing takes it meanwhile
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port) // nothing listens yet: connections are refused
	put(t, store.URL, "/app/servers/p1", addr)
	// A route written after p1: once it answers, the proxy's table holds
	// p1 too (a 503 alone could also mean "no such route yet").
	put(t, store.URL, "/app/servers/marker", startHandler(t, answer("marker")))
	proxyAddr, _ := startProxy(t, store.URL, "-default-backend", "none", "-check=false",
		"-max-fails", "2", "-fail-window", "1s", "-retries", "0")
	waitRoute(t, proxyAddr, "marker", "marker", 10*time.Second)
	for i := 1; i <= 2; i++ { // two failed connections within the window
		if code, _, err := get(proxyAddr, "p1"); err != nil || code != 503 {
			t.Fatalf("request %d to the refusing server: %d %v, want 503", i, code, err)
		}
	}

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	serve(t, ln2, answer("ok"))
	// The backend answers, but the server is held down for the window.
	if code, _, err := get(proxyAddr, "p1"); err != nil || code != 503 {
		t.Errorf("right after two failures: %d %v, want 503 (passively DOWN)", code, err)
	}
	d := waitRoute(t, proxyAddr, "p1", "ok", 5*time.Second)
	t.Logf("back after %v (fail window 1s)", d)
	if d < 500*time.Millisecond {
		t.Errorf("the server came back after %v, before its fail window ended", d)
	}
}

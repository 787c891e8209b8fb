package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestFailover checks which failures move a request on to the next
// endpoint: reads move on after any connection-level failure, writes only
// when they never got a connection.
func TestFailover(t *testing.T) {
	m := startHecd(t)
	ctx := testContext(t)
	const short = time.Second // generous: it also bounds the live endpoint's fsynced write under a loaded CI
	tests := []struct {
		name  string
		first func(t testing.TB) string // the broken first endpoint
		write bool
		// wantOK: the request reaches the live second endpoint.
		wantOK bool
	}{
		{"read, first port closed", closedPortURL, false, true},
		{"write, first port closed", closedPortURL, true, true},
		{"read, first closes the connection", func(t testing.TB) string { return newBrokenListener(t, false).URL }, false, true},
		{"write, first closes the connection", func(t testing.TB) string { return newBrokenListener(t, false).URL }, true, false},
		{"read, first never answers", func(t testing.TB) string { return newBrokenListener(t, true).URL }, false, true},
		{"write, first never answers", func(t testing.TB) string { return newBrokenListener(t, true).URL }, true, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := tt.first(t)
			c := newClient(t, Config{Endpoints: []string{first, m.URL}, HeaderTimeout: short})
			key := fmt.Sprintf("/failover/%d", i)
			var err error
			if tt.write {
				_, err = c.Set(ctx, key, "v", SetOptions{})
			} else {
				_, err = c.Get(ctx, "/", GetOptions{})
			}
			if tt.wantOK {
				if err != nil {
					t.Fatalf("want the second endpoint's answer, got %v", err)
				}
				return
			}
			var ce *ClusterError
			if !errors.As(err, &ce) || !ce.MaybeApplied || len(ce.Errors) != 1 {
				t.Fatalf("want a ClusterError saying the write may have been applied, after one endpoint; got %v", err)
			}
			// A network error names the address as etcd's client does
			// ("read tcp ...->127.0.0.1:P: connection reset by peer");
			// any other names the endpoint URL. Which one a failure gives
			// depends on timing (reset or EOF), so accept the address.
			if addr := strings.TrimPrefix(first, "http://"); !strings.Contains(err.Error(), addr) {
				t.Errorf("the error does not name %s: %v", addr, err)
			}
			// The write went nowhere else.
			if _, err := newClient(t, Config{Endpoints: []string{m.URL}}).Get(ctx, key, GetOptions{}); !IsKeyNotFound(err) {
				t.Fatalf("the write reached the second endpoint: %v", err)
			}
		})
	}
}

// TestFailoverPins checks that the endpoint that answered is tried first
// next time, so a dead endpoint is not dialled on every request.
func TestFailoverPins(t *testing.T) {
	m := startHecd(t)
	ctx := testContext(t)
	broken := newBrokenListener(t, false)
	c := newClient(t, Config{Endpoints: []string{broken.URL, m.URL}})
	for i := range 3 {
		if _, err := c.Get(ctx, "/", GetOptions{}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := broken.accepted(); n != 1 {
		t.Fatalf("the broken endpoint was tried %d times, want once", n)
	}
}

// TestAllEndpointsDown checks the error users see, in etcd's wording.
func TestAllEndpointsDown(t *testing.T) {
	a, b := closedPortURL(t), closedPortURL(t)
	c := newClient(t, Config{Endpoints: []string{a, b}})
	_, err := c.Get(testContext(t), "/k", GetOptions{})
	want := fmt.Sprintf("client: etcd cluster is unavailable or misconfigured; "+
		"error #0: dial tcp %s: connect: connection refused; error #1: dial tcp %s: connect: connection refused",
		strings.TrimPrefix(a, "http://"), strings.TrimPrefix(b, "http://"))
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Error("errors.Is(err, ECONNREFUSED) is false")
	}
	var ce *ClusterError
	if !errors.As(err, &ce) || ce.MaybeApplied {
		t.Errorf("got %#v", err)
	}
}

// TestHTTPAnswerIsNotRetried checks that an error answer is returned as
// it is, not tried on the next endpoint.
func TestHTTPAnswerIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Etcd-Index", "0")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, `{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}`)
	}))
	defer failing.Close()
	m := startHecd(t)
	c := newClient(t, Config{Endpoints: []string{failing.URL, m.URL}})
	_, err := c.Get(testContext(t), "/k", GetOptions{Quorum: true})
	if want := "300: Raft Internal Error (etcdserver: request timed out) [0]"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d hits", hits.Load())
	}
}

// TestErrorAnswers decodes answers that are not keys errors.
func TestErrorAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		path   string
		want   string
	}{
		{"v2 disabled", 404, "text/plain; charset=utf-8", "404 page not found\n", "/v2/keys/k",
			"client: /v2/keys/k: 404 Not Found: 404 page not found (does the server serve the etcd v2 API? etcd 3.4 needs --enable-v2=true)"},
		{"members message", 503, "application/json", `{"message":"During election"}`, "/v2/members/leader",
			"client: /v2/members/leader: 503 Service Unavailable: During election"},
		{"proxy page", 502, "text/html", "<html><body>Bad Gateway</body></html>", "/v2/keys/k",
			"client: /v2/keys/k: 502 Bad Gateway: <html><body>Bad Gateway</body></html>"},
		{"keys error", 404, "application/json", `{"errorCode":100,"message":"Key not found","cause":"/k","index":9}` + "\n", "/v2/keys/k",
			"100: Key not found (/k) [9]"},
		{"success without action", 200, "application/json", `{}`, "/v2/keys/k",
			"client: /v2/keys/k: the answer has no action: \"{}\""},
		{"success not JSON", 200, "text/plain", `ok`, "/v2/keys/k",
			"client: /v2/keys/k: decoding the answer: invalid character 'o' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			c := newClient(t, Config{Endpoints: []string{srv.URL}})
			var err error
			if strings.HasPrefix(tt.path, "/v2/keys") {
				_, err = c.Get(testContext(t), strings.TrimPrefix(tt.path, "/v2/keys"), GetOptions{})
			} else {
				_, err = c.Leader(testContext(t))
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestRedirectRules covers what the live servers never do: redirects to
// another server, loops, and credentials across a redirect.
func TestRedirectRules(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect to another server was followed: %s %s", r.Method, r.URL)
	}))
	defer other.Close()
	var sawAuth atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "root" && p == "pw" {
			sawAuth.Add(1)
		}
		switch r.URL.Path {
		case "/v2/keys/elsewhere":
			http.Redirect(w, r, other.URL+"/v2/keys/x", http.StatusTemporaryRedirect)
		case "/v2/keys/loop":
			http.Redirect(w, r, "/v2/keys/loop", http.StatusMovedPermanently)
		case "/v2/keys/a/./b":
			http.Redirect(w, r, "/v2/keys/a/b?"+r.URL.RawQuery, http.StatusMovedPermanently)
		case "/v2/keys/a/b":
			r.ParseForm()
			if r.Method != http.MethodPut || r.Form.Get("value") != "v" || r.Form.Get("prevExist") != "false" {
				t.Errorf("after the redirect: %s form %v", r.Method, r.Form)
			}
			w.Header().Set("X-Etcd-Index", "5")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintln(w, `{"action":"create","node":{"key":"/a/b","value":"v","modifiedIndex":5,"createdIndex":5}}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	}))
	defer srv.Close()
	c := newClient(t, Config{Endpoints: []string{srv.URL}, Username: "root", Password: "pw"})
	ctx := testContext(t)

	ans, err := c.do(ctx, &call{method: http.MethodPut, path: "/v2/keys/a/./b", form: map[string][]string{"value": {"v"}, "prevExist": {"false"}}})
	if err != nil || ans.status != http.StatusCreated {
		t.Fatalf("redirected PUT: %v %v", ans, err)
	}
	if n := sawAuth.Load(); n != 2 {
		t.Errorf("credentials on %d of 2 requests", n)
	}
	if _, err := c.Get(ctx, "/elsewhere", GetOptions{}); err == nil || !strings.Contains(err.Error(), "not following a redirect to another server") {
		t.Errorf("redirect to another server: %v", err)
	}
	if _, err := c.Get(ctx, "/loop", GetOptions{}); err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("redirect loop: %v", err)
	}
}

// TestHeaderTimeout checks that the header timeout applies to requests but
// not to watches.
func TestHeaderTimeout(t *testing.T) {
	const delay = 400 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("X-Etcd-Index", "8")
		fmt.Fprintln(w, `{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":8,"createdIndex":8}}`)
	}))
	defer srv.Close()
	c := newClient(t, Config{Endpoints: []string{srv.URL}, HeaderTimeout: 100 * time.Millisecond})
	ctx := testContext(t)
	_, err := c.Get(ctx, "/k", GetOptions{})
	if want := srv.URL + ": no response within 100ms"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("get: %v, want an error containing %q", err, want)
	}
	r, err := c.Watch(ctx, "/k", WatchOptions{})
	if err != nil || r.Node.ModifiedIndex != 8 {
		t.Fatalf("watch: %+v %v", r, err)
	}
}

// TestMembersVersionHealth checks the non-keys endpoints on both servers.
func TestMembersVersionHealth(t *testing.T) {
	forEachServer(t, func(t *testing.T, s testServer) {
		ctx := testContext(t)
		c := newClient(t, Config{Endpoints: []string{s.url}})
		ms, err := c.Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].ID == "" || ms[0].Name == "" || len(ms[0].PeerURLs) != 1 || len(ms[0].ClientURLs) != 1 || ms[0].ClientURLs[0] != s.url {
			t.Fatalf("members %+v", ms)
		}
		l, err := c.Leader(ctx)
		if err != nil || l.ID != ms[0].ID {
			t.Fatalf("leader %+v %v, members %+v", l, err, ms)
		}
		v, err := c.Version(ctx)
		if err != nil || v.Server != "3.4.23" || v.Cluster != "3.4.0" {
			t.Fatalf("version %+v %v", v, err)
		}
		ok, err := c.Health(ctx)
		if err != nil || !ok {
			t.Fatalf("health %v %v", ok, err)
		}
	})
}

func TestHealthAnswers(t *testing.T) {
	tests := []struct {
		status  int
		body    string
		want    bool
		wantErr string
	}{
		{200, `{"health":"true"}`, true, ""},
		{200, `{"health":true}`, true, ""},
		{200, `{"health":"false"}`, false, ""},
		{503, `{"health":"false"}` + "\n", false, ""},
		{404, "404 page not found\n", false, "404 Not Found"},
		{200, `healthy`, false, "decoding"},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			fmt.Fprint(w, tt.body)
		}))
		c := newClient(t, Config{Endpoints: []string{srv.URL}})
		ok, err := c.Health(testContext(t))
		if ok != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%d %q: got %v %v, want %v %q", tt.status, tt.body, ok, err, tt.want, tt.wantErr)
		}
		srv.Close()
	}
}

// TestContextEnds checks that a caller's cancellation is returned as
// such, not as an endpoint failure, and that the other endpoints are not
// tried.
func TestContextEnds(t *testing.T) {
	hang := newBrokenListener(t, true)
	c := newClient(t, Config{Endpoints: []string{hang.URL, closedPortURL(t)}, HeaderTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx, "/k", GetOptions{})
	if err != context.DeadlineExceeded {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

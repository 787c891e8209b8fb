package backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hecd/internal/client"
	"hecd/internal/server/servertest"
	"hecd/test/hecdproc"
)

// etcdFixture is an in-process hecd store, a client to change it and the
// backend under test.
type etcdFixture struct {
	url     string
	c       *client.Client
	backend *Etcd
	ctx     context.Context
}

func newEtcdFixture(t *testing.T) *etcdFixture {
	t.Helper()
	m := servertest.StartNew(t)
	c, err := client.New(client.Config{Endpoints: []string{m.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b, err := NewEtcd(EtcdConfig{Nodes: []string{m.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return &etcdFixture{url: m.URL, c: c, backend: b, ctx: ctx}
}

// set writes key and returns the index of the write.
func (f *etcdFixture) set(t *testing.T, key, value string) uint64 {
	t.Helper()
	r, err := f.c.Set(f.ctx, key, value, client.SetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Node.ModifiedIndex
}

// watchAsync runs WatchPrefix in the background and waits until the store
// counts n more waiting watches, so that the next write is a live event.
func (f *etcdFixture) watchAsync(t *testing.T, ctx context.Context, prefix string, keys []string, index uint64, n int) <-chan etcdWatchResult {
	t.Helper()
	before, err := hecdproc.Watchers(f.ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan etcdWatchResult, 1)
	go func() {
		i, err := f.backend.WatchPrefix(ctx, prefix, keys, index)
		ch <- etcdWatchResult{i, err}
	}()
	wctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	if err := hecdproc.WaitWatchers(wctx, f.url, func(w int) bool { return w >= before+n }); err != nil {
		t.Fatal(err)
	}
	return ch
}

type etcdWatchResult struct {
	index uint64
	err   error
}

func TestEtcdGetValues(t *testing.T) {
	f := newEtcdFixture(t)
	for _, kv := range [][2]string{
		{"/app/a", "1"},
		{"/app/dir/b", "2"},
		{"/app/dir/deeper/c", "3"},
		{"/app/dir/_h2", "h2"},
		{"/app/_hidden", "h"},
		{"/app/_hdir/x", "hx"},
		{"/app/serversX/y", "string-prefix sibling"},
		{"/other", "o"},
	} {
		f.set(t, kv[0], kv[1])
	}
	if _, err := f.c.Set(f.ctx, "/app/emptydir", "", client.SetOptions{Dir: true}); err != nil {
		t.Fatal(err)
	}
	last, err := f.c.Get(f.ctx, "/", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		keys    []string
		want    map[string]string
		wantErr string
	}{
		{name: "a leaf itself", keys: []string{"/app/a"}, want: map[string]string{"/app/a": "1"}},
		{name: "nested directories, hidden names left out", keys: []string{"/app"}, want: map[string]string{
			"/app/a": "1", "/app/dir/b": "2", "/app/dir/deeper/c": "3", "/app/serversX/y": "string-prefix sibling"}},
		{name: "a directory", keys: []string{"/app/dir"}, want: map[string]string{"/app/dir/b": "2", "/app/dir/deeper/c": "3"}},
		{name: "overlapping keys", keys: []string{"/app/dir", "/app/dir/b"}, want: map[string]string{"/app/dir/b": "2", "/app/dir/deeper/c": "3"}},
		{name: "a missing key is absent", keys: []string{"/app/nope", "/app/a", "/nope/deeper"}, want: map[string]string{"/app/a": "1"}},
		{name: "only missing keys", keys: []string{"/nope"}, want: map[string]string{}},
		{name: "a hidden key listed explicitly", keys: []string{"/app/_hidden"}, want: map[string]string{"/app/_hidden": "h"}},
		{name: "below a hidden directory", keys: []string{"/app/_hdir"}, want: map[string]string{"/app/_hdir/x": "hx"}},
		{name: "an empty directory", keys: []string{"/app/emptydir"}, want: map[string]string{}},
		{name: "no keys", keys: nil, want: map[string]string{}},
		{name: "a path through a leaf is an error", keys: []string{"/app/a/x"}, wantErr: "104: Not a directory (/app/a)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, index, err := f.backend.GetValues(f.ctx, tt.keys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("values %v, want %v", got, tt.want)
			}
			// Nothing changes during the test: every read reports the
			// last write's index.
			if index != last.Index {
				t.Errorf("index %d, want %d", index, last.Index)
			}
		})
	}
}

// TestEtcdGetValuesIndex checks that reads at different indexes return
// the smallest (see GetValues), with a server that answers each key at a
// different index.
func TestEtcdGetValuesIndex(t *testing.T) {
	index := map[string]string{"/v2/keys/a": "12", "/v2/keys/b": "10", "/v2/keys/c": "11"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("recursive") != "true" || q.Get("sorted") != "true" || q.Get("quorum") != "true" {
			t.Errorf("request %s", r.URL)
		}
		w.Header().Set("X-Etcd-Index", index[r.URL.Path])
		if r.URL.Path == "/v2/keys/c" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, `{"errorCode":100,"message":"Key not found","cause":"/c","index":11}`)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, "/v2/keys")
		fmt.Fprintf(w, `{"action":"get","node":{"key":%q,"value":"v","modifiedIndex":3,"createdIndex":3}}`+"\n", key)
	}))
	defer srv.Close()
	b, err := NewEtcd(EtcdConfig{Nodes: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tests := []struct {
		keys []string
		want uint64
	}{
		{[]string{"/a", "/b", "/c"}, 10},
		{[]string{"/a", "/c"}, 11},
		{[]string{"/a"}, 12},
	}
	for _, tt := range tests {
		_, got, err := b.GetValues(context.Background(), tt.keys)
		if err != nil || got != tt.want {
			t.Errorf("%v: index %d %v, want %d", tt.keys, got, err, tt.want)
		}
	}
}

func TestEtcdWatchPrefix(t *testing.T) {
	f := newEtcdFixture(t)
	f.set(t, "/app/a", "0")
	f.set(t, "/app/servers/s1", "0")
	f.set(t, "/app/_h/x", "0")

	// shortCtx is for watches that must not return.
	shortCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(f.ctx, 300*time.Millisecond)
	}
	getIndex := func(t *testing.T, keys []string) uint64 {
		t.Helper()
		_, i, err := f.backend.GetValues(f.ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}

	t.Run("index 0 returns at once with the current index", func(t *testing.T) {
		cur := f.set(t, "/app/other", "x")
		got, err := f.backend.WatchPrefix(f.ctx, "/app", []string{"/app/a"}, 0)
		if err != nil || got != cur {
			t.Fatalf("got %d %v, want %d", got, err, cur)
		}
	})
	t.Run("a change between GetValues and WatchPrefix is seen", func(t *testing.T) {
		i := getIndex(t, []string{"/app/a"})
		w := f.set(t, "/app/a", "changed while rendering")
		got, err := f.backend.WatchPrefix(f.ctx, "/app", []string{"/app/a"}, i)
		if err != nil || got != w {
			t.Fatalf("got %d %v, want %d", got, err, w)
		}
	})
	t.Run("unrelated keys are skipped", func(t *testing.T) {
		i := getIndex(t, []string{"/app/a"})
		f.set(t, "/app/b", "unrelated")
		f.set(t, "/app/servers/s2", "unrelated")
		w := f.set(t, "/app/a", "related")
		f.set(t, "/app/b", "after")
		got, err := f.backend.WatchPrefix(f.ctx, "/app", []string{"/app/a"}, i)
		if err != nil || got != w {
			t.Fatalf("got %d %v, want %d", got, err, w)
		}
	})
	t.Run("only unrelated changes: waits until ctx ends", func(t *testing.T) {
		i := getIndex(t, []string{"/app/a"})
		f.set(t, "/app/b", "unrelated")
		ctx, cancel := shortCtx()
		defer cancel()
		got, err := f.backend.WatchPrefix(ctx, "/app", []string{"/app/a"}, i)
		if err != context.DeadlineExceeded {
			t.Fatalf("got %d %v, want context.DeadlineExceeded", got, err)
		}
	})
	t.Run("live change", func(t *testing.T) {
		i := getIndex(t, []string{"/app/servers"})
		ch := f.watchAsync(t, f.ctx, "/app", []string{"/app/servers"}, i, 1)
		f.set(t, "/app/b", "unrelated")
		w := f.set(t, "/app/servers/s3", "new")
		if r := <-ch; r.err != nil || r.index != w {
			t.Fatalf("got %+v, want %d", r, w)
		}
	})
	t.Run("string prefix match, as confd", func(t *testing.T) {
		i := getIndex(t, []string{"/app/serv"})
		w := f.set(t, "/app/servers/s4", "x")
		got, err := f.backend.WatchPrefix(f.ctx, "/app", []string{"/app/serv"}, i)
		if err != nil || got != w {
			t.Fatalf("got %d %v, want %d", got, err, w)
		}
	})
	t.Run("a directory removed above a key", func(t *testing.T) {
		f.set(t, "/app/servers/s5", "x")
		i := getIndex(t, []string{"/app/servers/s5"})
		r, err := f.c.Delete(f.ctx, "/app/servers", client.DeleteOptions{Recursive: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.backend.WatchPrefix(f.ctx, "/app", []string{"/app/servers/s5"}, i)
		if err != nil || got != r.Node.ModifiedIndex {
			t.Fatalf("got %d %v, want %d", got, err, r.Node.ModifiedIndex)
		}
	})
	t.Run("a hidden key listed explicitly, live", func(t *testing.T) {
		keys := []string{"/app/a", "/app/_h/x"}
		i := getIndex(t, keys)
		// Two watches: /app and /app/_h/x, which /app's would not report.
		ch := f.watchAsync(t, f.ctx, "/app", keys, i, 2)
		w := f.set(t, "/app/_h/x", "hidden change")
		if r := <-ch; r.err != nil || r.index != w {
			t.Fatalf("got %+v, want %d", r, w)
		}
		// Both watches are gone.
		etcdWait(t, func() bool { n, _ := hecdproc.Watchers(f.ctx, f.url); return n == 0 })
	})
	t.Run("cancelled", func(t *testing.T) {
		i := getIndex(t, []string{"/app/a"})
		ctx, cancel := context.WithCancel(f.ctx)
		ch := f.watchAsync(t, ctx, "/app", []string{"/app/a"}, i, 1)
		cancel()
		if r := <-ch; r.err != context.Canceled {
			t.Fatalf("got %+v, want context.Canceled", r)
		}
	})
	t.Run("history cleared after more than 1000 events", func(t *testing.T) {
		i := getIndex(t, []string{"/app/a"})
		for n := range 1001 {
			f.set(t, "/other/many", fmt.Sprint(n))
		}
		got, err := f.backend.WatchPrefix(f.ctx, "/app", []string{"/app/a"}, i)
		if err != ErrIndexCleared || !errors.Is(err, ErrIndexCleared) {
			t.Fatalf("got %d %v, want ErrIndexCleared", got, err)
		}
	})
}

// etcdWait polls cond for up to 5 s.
func etcdWait(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEtcdWatchRoots(t *testing.T) {
	tests := []struct {
		prefix string
		keys   []string
		want   []string
	}{
		{"/app", []string{"/app/a", "/app/b/c"}, []string{"/app"}},
		{"/", []string{"/a", "/b"}, []string{"/"}},
		{"/app", []string{"/app/_h/x", "/app/_h", "/app/a"}, []string{"/app", "/app/_h"}},
		{"/app", []string{"/app/x/_y/z"}, []string{"/app", "/app/x/_y/z"}},
		{"/_app", []string{"/_app/a"}, []string{"/_app"}},
		{"/app", []string{"/appx/a"}, []string{"/app", "/appx/a"}},
	}
	for _, tt := range tests {
		if got := etcdWatchRoots(tt.prefix, tt.keys); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("etcdWatchRoots(%q, %q) = %q, want %q", tt.prefix, tt.keys, got, tt.want)
		}
	}
}

func TestEtcdUnreachable(t *testing.T) {
	port := servertest.FreePort(t)
	b, err := NewEtcd(EtcdConfig{Nodes: []string{fmt.Sprintf("http://127.0.0.1:%d", port)}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := fmt.Sprintf("client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:%d: connect: connection refused", port)
	if _, _, err := b.GetValues(context.Background(), []string{"/app"}); err == nil || err.Error() != want {
		t.Errorf("GetValues: %v\nwant %s", err, want)
	}
	if _, err := b.WatchPrefix(context.Background(), "/app", []string{"/app"}, 5); err == nil || err.Error() != want {
		t.Errorf("WatchPrefix: %v\nwant %s", err, want)
	}
}

func TestNewEtcdErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	tests := []struct {
		name string
		cfg  EtcdConfig
		want string
	}{
		{"node without a scheme", EtcdConfig{Nodes: []string{"127.0.0.1:2379"}}, `invalid endpoint "127.0.0.1:2379"`},
		{"certificate without key", EtcdConfig{CertFile: notPEM}, "needs both"},
		{"missing CA file", EtcdConfig{CAFile: filepath.Join(dir, "nope.pem")}, "CA file"},
		{"CA file without certificates", EtcdConfig{CAFile: notPEM}, "no PEM certificate"},
		{"bad key pair", EtcdConfig{CertFile: notPEM, KeyFile: notPEM}, "client certificate"},
	}
	for _, tt := range tests {
		if _, err := NewEtcd(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestEtcdTLS checks that the certificate files reach the connection: a
// server that requires a client certificate signed by a test CA.
func TestEtcdTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testCert(t, nil, nil, "test CA")
	serverCert, serverKey := testCert(t, ca, caKey, "127.0.0.1")
	clientCert, clientKey := testCert(t, ca, caKey, "confd")
	caFile := testWritePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	certFile := testWritePEM(t, dir, "client.pem", "CERTIFICATE", clientCert.Raw)
	keyFile := testWriteKey(t, dir, "client-key.pem", clientKey)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Etcd-Index", "5")
		fmt.Fprintln(w, `{"action":"get","node":{"key":"/app","value":"over tls","modifiedIndex":5,"createdIndex":5}}`)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	// The refused handshakes are the point of two cases, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	tests := []struct {
		name    string
		cfg     EtcdConfig
		wantErr string
	}{
		{"CA, certificate and key", EtcdConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, ""},
		{"no client certificate", EtcdConfig{CAFile: caFile}, "certificate required"},
		{"no CA", EtcdConfig{CertFile: certFile, KeyFile: keyFile}, "certificate signed by unknown authority"},
		{"no CA, verification off", EtcdConfig{CertFile: certFile, KeyFile: keyFile, InsecureSkipVerify: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Nodes = []string{srv.URL}
			b, err := NewEtcd(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			values, index, err := b.GetValues(context.Background(), []string{"/app"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || values["/app"] != "over tls" || index != 5 {
				t.Fatalf("got %v %d %v", values, index, err)
			}
		})
	}
}

var _ Backend = (*Etcd)(nil)

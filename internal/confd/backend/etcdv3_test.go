package backend

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"hecd/test/hecdproc"
)

// startEtcdV3 starts a real etcd 3.4 and returns its client address.
func startEtcdV3(t *testing.T) string {
	t.Helper()
	return hecdproc.StartReferenceEtcd(t)
}

func TestEtcdV3(t *testing.T) {
	node := startEtcdV3(t)
	ctx := context.Background()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{node}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	put := func(k, v string) uint64 {
		t.Helper()
		resp, err := cli.Put(ctx, k, v)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(resp.Header.Revision)
	}
	del := func(k string) uint64 {
		t.Helper()
		resp, err := cli.Delete(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(resp.Header.Revision)
	}
	b, err := NewEtcdV3(EtcdV3Config{Nodes: []string{node}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	t.Run("GetValues", func(t *testing.T) {
		put("/app/servers", "root")
		put("/app/servers/a", "1")
		put("/app/servers/b/c", "2")
		put("/app/serversX/y", "sibling")
		put("/app/servers-x", "dash")
		put("/app/servers.x/y", "dot")
		put("/app/other", "o")
		last := put("/_hidden/x", "h")
		servers := map[string]string{
			"/app/servers":     "root",
			"/app/servers/a":   "1",
			"/app/servers/b/c": "2",
		}
		tests := []struct {
			name string
			keys []string
			want map[string]string
		}{
			{"path boundary", []string{"/app/servers"}, servers},
			{"trailing slash", []string{"/app/servers/"}, servers},
			{"a leaf", []string{"/app/servers/a"}, map[string]string{"/app/servers/a": "1"}},
			{"several, one missing", []string{"/app/servers/b", "/app/other", "/missing"}, map[string]string{
				"/app/servers/b/c": "2",
				"/app/other":       "o",
			}},
			{"missing", []string{"/missing", "/app/serv"}, map[string]string{}},
			{"no keys", nil, map[string]string{}},
			{"root", []string{"/"}, map[string]string{
				"/app/servers":     "root",
				"/app/servers/a":   "1",
				"/app/servers/b/c": "2",
				"/app/serversX/y":  "sibling",
				"/app/servers-x":   "dash",
				"/app/servers.x/y": "dot",
				"/app/other":       "o",
				"/_hidden/x":       "h",
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, index, err := b.GetValues(ctx, tt.keys)
				if err != nil {
					t.Fatal(err)
				}
				if len(tt.keys) > 0 && index != last {
					t.Errorf("index = %d, want the revision %d", index, last)
				}
				if !maps.Equal(got, tt.want) {
					t.Errorf("GetValues(%q) =\n%v\nwant\n%v", tt.keys, got, tt.want)
				}
			})
		}
	})

	t.Run("many keys at one revision", func(t *testing.T) {
		// 300 keys and 20 missing ones make 640 ranges: five
		// transactions, of which the first and the last hold the two
		// keys a writer keeps equal.
		var keys []string
		want := make(map[string]string)
		for i := range 300 {
			k := fmt.Sprintf("/many/k%03d", i)
			keys = append(keys, k)
			want[k] = "v"
			put(k, "v")
		}
		for i := range 20 {
			keys = append(keys, fmt.Sprintf("/many/missing%02d", i))
		}
		got, _, err := b.GetValues(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("GetValues returned %d keys, want %d", len(got), len(want))
		}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v := strconv.Itoa(n)
				if _, err := cli.Txn(ctx).Then(clientv3.OpPut("/many/k000", v), clientv3.OpPut("/many/k299", v)).Commit(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for range 30 {
			got, _, err := b.GetValues(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			if got["/many/k000"] != got["/many/k299"] {
				t.Fatalf("one read saw /many/k000=%s and /many/k299=%s: not one revision", got["/many/k000"], got["/many/k299"])
			}
		}
		close(stop)
		wg.Wait()
	})

	t.Run("WatchPrefix", func(t *testing.T) {
		keys := []string{"/w/servers"}
		put("/w/servers/a", "1")
		_, index, err := b.GetValues(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}

		// Index 0 asks for the current revision.
		if i, err := b.WatchPrefix(ctx, "/w", keys, 0); err != nil || i != index {
			t.Fatalf("WatchPrefix from 0 = %d, %v; want %d", i, err, index)
		}

		// Writes beside the keys, including across the path boundary,
		// do not wake the watch.
		put("/w/serversX/y", "no")
		put("/w/servers-y", "no")
		put("/w/other", "no")
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		i, err := b.WatchPrefix(tctx, "/w", keys, index)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WatchPrefix after unrelated writes = %d, %v; want to wait", i, err)
		}

		// A change made after GetValues but before WatchPrefix is seen.
		rev := put("/w/servers/b", "2")
		put("/w/servers/c", "3")
		if i, err := b.WatchPrefix(ctx, "/w", keys, index); err != nil || i != rev {
			t.Fatalf("WatchPrefix = %d, %v; want the revision %d of the first change", i, err, rev)
		}
		_, index, err = b.GetValues(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}

		// A change made while it waits wakes it: a delete, and a change
		// to the key itself.
		for _, change := range []struct {
			name string
			do   func() uint64
		}{
			{"delete", func() uint64 { return del("/w/servers/a") }},
			{"the key itself", func() uint64 { return put("/w/servers", "self") }},
		} {
			w := testWatchAsync(ctx, b, keys, index)
			testWatchQuiet(t, w, 200*time.Millisecond, "nothing")
			rev := change.do()
			if r := testWatchWoken(t, w, change.name); r.index != rev {
				t.Fatalf("after %s: WatchPrefix = %d, want %d", change.name, r.index, rev)
			}
			index = rev
		}

		// The context ends a watch.
		cctx, cancel := context.WithCancel(ctx)
		w := testWatchAsync(cctx, b, keys, index)
		cancel()
		if r := <-w; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("watch after cancel: %v, want %v", r.err, context.Canceled)
		}
	})

	t.Run("compaction", func(t *testing.T) {
		keys := []string{"/c/servers"}
		put("/c/servers/a", "1")
		_, index, err := b.GetValues(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		put("/c/servers/a", "2")
		rev := put("/c/servers/a", "3")
		if _, err := cli.Compact(ctx, int64(rev)); err != nil {
			t.Fatal(err)
		}
		if i, err := b.WatchPrefix(ctx, "/c", keys, index); !errors.Is(err, ErrIndexCleared) {
			t.Fatalf("WatchPrefix from a compacted revision = %d, %v; want %v", i, err, ErrIndexCleared)
		}
		got, index, err := b.GetValues(ctx, keys)
		if err != nil || index != rev || got["/c/servers/a"] != "3" {
			t.Fatalf("GetValues after compaction = %v, %d, %v", got, index, err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		b, err := NewEtcdV3(EtcdV3Config{Nodes: []string{"http://" + node}})
		if err != nil {
			t.Fatal(err)
		}
		_, index, err := b.GetValues(ctx, []string{"/x"})
		if err != nil {
			t.Fatal(err)
		}
		w := testWatchAsync(ctx, b, []string{"/x"}, index)
		testWatchQuiet(t, w, 100*time.Millisecond, "nothing")
		b.Close()
		select {
		case r := <-w:
			if r.err == nil {
				t.Fatalf("watch after Close returned %d and no error", r.index)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not end the watch")
		}
		if _, _, err := b.GetValues(ctx, []string{"/x"}); !errors.Is(err, errClosedBackend) {
			t.Fatalf("GetValues after Close: %v, want %v", err, errClosedBackend)
		}
	})

	// Last: it turns authentication on for the whole instance.
	t.Run("basic auth", func(t *testing.T) {
		put("/auth/k", "v")
		if _, err := cli.RoleAdd(ctx, "root"); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.UserAdd(ctx, "root", "secret"); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.AuthEnable(ctx); err != nil {
			t.Fatal(err)
		}

		good, err := NewEtcdV3(EtcdV3Config{Nodes: []string{node}, Username: "root", Password: "secret"})
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		got, _, err := good.GetValues(ctx, []string{"/auth"})
		if err != nil || !maps.Equal(got, map[string]string{"/auth/k": "v"}) {
			t.Fatalf("GetValues with the password = %v, %v", got, err)
		}

		for _, tt := range []struct {
			name, user, password, want string
		}{
			{"no user", "", "", "etcdv3: reading from " + node + ": etcdserver: user name is empty"},
			{"wrong password", "root", "wrong", "etcdv3: connecting to " + node + ": etcdserver: authentication failed, invalid user ID or password"},
		} {
			bad, err := NewEtcdV3(EtcdV3Config{Nodes: []string{node}, Username: tt.user, Password: tt.password})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = bad.GetValues(ctx, []string{"/auth"})
			bad.Close()
			if err == nil || err.Error() != tt.want {
				t.Errorf("%s: error = %v\nwant %s", tt.name, err, tt.want)
			}
		}
	})
}

func TestEtcdV3Unreachable(t *testing.T) {
	port, err := hecdproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	node := fmt.Sprintf("127.0.0.1:%d", port)
	b, err := NewEtcdV3(EtcdV3Config{Nodes: []string{node}, RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewEtcdV3 must not need the cluster: %v", err)
	}
	defer b.Close()
	_, _, err = b.GetValues(context.Background(), []string{"/a"})
	want := "etcdv3: reading from " + node + ": no answer within 300ms (dial tcp " + node + ": connect: connection refused)"
	if err == nil || err.Error() != want {
		t.Fatalf("GetValues = %v, want %s", err, want)
	}
}

func TestEtcdV3Config(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		cfg  EtcdV3Config
		want string
	}{
		{"CA file missing", EtcdV3Config{CAFile: missing},
			"etcdv3: CA file: open " + missing + ": no such file or directory"},
		{"CA file without a certificate", EtcdV3Config{CAFile: notPEM},
			"etcdv3: no PEM certificate in CA file " + notPEM},
		{"certificate without key", EtcdV3Config{CertFile: notPEM},
			"etcdv3: a client certificate needs both the certificate file and the key file"},
		{"key without certificate", EtcdV3Config{KeyFile: notPEM},
			"etcdv3: a client certificate needs both the certificate file and the key file"},
		{"certificate missing", EtcdV3Config{CertFile: missing, KeyFile: missing},
			"etcdv3: client certificate: open " + missing + ": no such file or directory"},
		{"empty node", EtcdV3Config{Nodes: []string{"127.0.0.1:2379", " "}},
			"etcdv3: an empty node address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEtcdV3(tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("NewEtcdV3 error = %v\nwant %s", err, tt.want)
			}
		})
	}

	b, err := NewEtcdV3(EtcdV3Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.clientCfg.Endpoints; len(got) != 1 || got[0] != DefaultEtcdV3Node {
		t.Errorf("default endpoints = %q, want %q", got, DefaultEtcdV3Node)
	}
	if b.clientCfg.DialTimeout != 5*time.Second || b.clientCfg.TLS != nil || b.clientCfg.Username != "" {
		t.Errorf("default config: dial timeout %v, TLS %v, user %q", b.clientCfg.DialTimeout, b.clientCfg.TLS, b.clientCfg.Username)
	}
}

func TestEtcdV3TLS(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd is not installed (Debian package etcd-server): skipping the tests against a real etcd")
	}
	dir := t.TempDir()
	ca, caKey := testCert(t, nil, nil, "test CA")
	serverCert, serverKey := testCert(t, ca, caKey, "127.0.0.1")
	clientCert, clientKey := testCert(t, ca, caKey, "confd")
	caFile := testWritePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	serverFile := testWritePEM(t, dir, "server.pem", "CERTIFICATE", serverCert.Raw)
	serverKeyFile := testWriteKey(t, dir, "server-key.pem", serverKey)
	certFile := testWritePEM(t, dir, "client.pem", "CERTIFICATE", clientCert.Raw)
	keyFile := testWriteKey(t, dir, "client-key.pem", clientKey)

	// The reference script has no TLS options: start etcd directly, on
	// loopback only, requiring client certificates.
	ports, err := hecdproc.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	node := fmt.Sprintf("127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	logFile, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("etcd", "--name", "tls", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", "https://"+node, "--advertise-client-urls", "https://"+node,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "tls="+peer, "--initial-cluster-state", "new",
		"--cert-file", serverFile, "--key-file", serverKeyFile,
		"--client-cert-auth", "--trusted-ca-file", caFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	good := EtcdV3Config{Nodes: []string{node}, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := NewEtcdV3(good)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = b.GetValues(context.Background(), []string{"/a"})
		b.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("etcd with TLS did not answer: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}

	tests := []struct {
		name    string
		cfg     EtcdV3Config
		wantErr string
	}{
		{"CA, certificate and key", good, ""},
		{"https URL", EtcdV3Config{Nodes: []string{"https://" + node}, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, ""},
		{"no CA, verification off", EtcdV3Config{Nodes: []string{node}, CertFile: certFile, KeyFile: keyFile, InsecureSkipVerify: true}, ""},
		{"no client certificate", EtcdV3Config{Nodes: []string{node}, CAFile: caFile, RequestTimeout: time.Second}, "bad certificate"},
		{"no CA", EtcdV3Config{Nodes: []string{node}, CertFile: certFile, KeyFile: keyFile, RequestTimeout: time.Second}, "certificate signed by unknown authority"},
		{"no TLS", EtcdV3Config{Nodes: []string{node}, RequestTimeout: time.Second}, "no answer within 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewEtcdV3(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			_, index, err := b.GetValues(context.Background(), []string{"/a"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil || index == 0 {
				t.Fatalf("GetValues over TLS: index %d, %v", index, err)
			}
		})
	}
}

// Package confd_test runs the real hecd binary as confd against real
// stores: the etcdv3 backend against a real etcd 3.4's v3 key space, the
// etcd backend against the same etcd's v2 API and against hecd, and watch
// mode against hecd, where confd 0.16 loses changes and reloads once per
// write.
package confd_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"hecd/test/hecdproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	hecdproc.Cleanup()
	os.Exit(code)
}

// The HAProxy example of the confd spec (section 15): its template, its
// keys and the file confd 0.16 renders from them, byte for byte.
var (
	specKeys = map[string]string{
		"/app/servers/app1": "10.0.0.11:8080",
		"/app/servers/app2": "10.0.0.12:8080",
		"/app/servers/app3": "10.0.0.13:8081",
	}
	specTemplate = filepath.Join("..", "..", "internal", "confd", "tmplfunc", "testdata", "haproxy.cfg.tmpl")
	specGolden   = filepath.Join("..", "..", "internal", "confd", "tmplfunc", "testdata", "haproxy.cfg.golden")
)

// confdDir makes a confdir with the spec's template and one resource
// rendering it to dest with extra resource lines.
func confdDir(t *testing.T, dest, extra string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"conf.d", "templates"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := os.ReadFile(specTemplate)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "templates", "haproxy.cfg.tmpl"), string(tmpl))
	write(t, filepath.Join(dir, "conf.d", "haproxy.toml"), fmt.Sprintf(
		"[template]\nsrc = \"haproxy.cfg.tmpl\"\ndest = %q\nkeys = [\"/app/servers\"]\n%s", dest, extra))
	return dir
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func binary(t *testing.T) string {
	t.Helper()
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// confdOnce runs "hecd confd -onetime" with args and returns its output.
func confdOnce(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"confd", "-onetime", "-config-file", "/nonexistent/confd.toml"}, args...)...)
	cmd.Env = hecdproc.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hecd confd %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func putV2(t *testing.T, base, key, value string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/keys"+key, strings.NewReader(url.Values{"value": {value}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s", key, resp.Status)
	}
}

func golden(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(specGolden)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSameFileFromEveryStore renders the spec's example from the same keys
// held in a real etcd's v3 key space (etcdv3 backend), in the same etcd's
// v2 key space (etcd backend), and in hecd: all three give confd 0.16's
// file byte for byte.
func TestSameFileFromEveryStore(t *testing.T) {
	etcdAddr := hecdproc.StartReferenceEtcd(t)

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdAddr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for k, v := range specKeys {
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
		putV2(t, "http://"+etcdAddr, k, v)
	}
	// A sibling that must not be read as part of /app/servers.
	if _, err := cli.Put(ctx, "/app/serversX/y", "nope"); err != nil {
		t.Fatal(err)
	}

	hecdURL := hecdproc.StartStore(t, "confd-test").URL
	for k, v := range specKeys {
		putV2(t, hecdURL, k, v)
	}

	want := golden(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"etcdv3 backend, real etcd v3 key space", []string{"-backend", "etcdv3", "-node", etcdAddr}},
		{"etcd backend, real etcd v2 API", []string{"-backend", "etcd", "-node", "http://" + etcdAddr}},
		{"etcd backend, hecd store", []string{"-backend", "etcd", "-node", hecdURL}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "haproxy.cfg")
			dir := confdDir(t, dest, "reload_cmd = \"true\"\n")
			out := confdOnce(t, append(c.args, "-confdir", dir)...)
			if got := readFile(t, dest); got != want {
				t.Errorf("rendered:\n%s\nwant:\n%s\nlog:\n%s", got, want, out)
			}
			if !strings.Contains(out, "INFO Target config "+dest+" has been updated") {
				t.Errorf("log lacks the update line:\n%s", out)
			}
			// A second run finds it in sync and logs nothing more.
			again := confdOnce(t, append(c.args, "-confdir", dir)...)
			if strings.Contains(again, "out of sync") {
				t.Errorf("second run re-rendered:\n%s", again)
			}
		})
	}
}

// TestWatchLosesNothingAndCoalesces runs "hecd confd -watch" against hecd
// with a slow reload command. confd 0.16 loses a write made while it
// reloads (until some later write) and reloads once per write; hecd must
// render every write and turn a burst into one reload.
func TestWatchLosesNothingAndCoalesces(t *testing.T) {
	store := hecdproc.StartStore(t, "confd-test").URL
	putV2(t, store, "/app/servers/app1", "10.0.0.11:8080")

	work := t.TempDir()
	dest := filepath.Join(work, "haproxy.cfg")
	reloads := filepath.Join(work, "reloads")
	// The reload takes a second, during which the test writes again.
	dir := confdDir(t, dest, fmt.Sprintf("reload_cmd = \"echo r >> %s; sleep 1\"\n", reloads))
	cmd := exec.Command(binary(t), "confd", "-watch", "-config-file", "/nonexistent/confd.toml",
		"-backend", "etcd", "-node", store, "-confdir", dir, "-settle", "150ms")
	logs := hecdproc.Start(t, "hecd confd", cmd).Log

	reloadCount := func() int {
		b, _ := os.ReadFile(reloads)
		return strings.Count(string(b), "r\n")
	}
	waitFor(t, 10*time.Second, "the first render and reload", logs, func() bool { return reloadCount() == 1 })

	// While the first reload sleeps, write app2: it must be rendered without
	// any later write.
	putV2(t, store, "/app/servers/app2", "10.0.0.12:8080")
	waitFor(t, 10*time.Second, "app2 rendered", logs, func() bool {
		b, _ := os.ReadFile(dest)
		return strings.Contains(string(b), "server app2 10.0.0.12:8080")
	})
	waitFor(t, 10*time.Second, "its reload", logs, func() bool { return reloadCount() == 2 })
	time.Sleep(1200 * time.Millisecond) // the second reload's sleep

	// Ten quick writes: one render, one reload.
	for i := 0; i < 10; i++ {
		putV2(t, store, "/app/servers/app3", fmt.Sprintf("10.0.0.13:%d", 8000+i))
	}
	waitFor(t, 10*time.Second, "the burst rendered", logs, func() bool {
		b, _ := os.ReadFile(dest)
		return strings.Contains(string(b), "server app3 10.0.0.13:8009")
	})
	time.Sleep(2 * time.Second) // room for any further (wrong) reloads
	if n := reloadCount(); n != 3 {
		t.Errorf("%d reloads in all, want 3 (initial, app2, one for the burst of ten)\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "INFO Starting confd") {
		t.Errorf("no confd log lines on stdout:\n%s", logs.String())
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, logs *hecdproc.SyncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; log:\n%s", timeout, what, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

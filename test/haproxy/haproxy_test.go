// Package haproxy_test runs examples/haproxy for real: hecd store, hecd
// confd following it, and HAProxy in master-worker mode, all on loopback
// ports, with three small HTTP servers as the containers. It checks that
// registrations reach HAProxy's routing quickly and that nothing bad ever
// reaches the running configuration.
package haproxy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	hecdproc.Cleanup()
	os.Exit(code)
}

// Routing must follow a change of the keys within this time.
const routeDeadline = time.Second

func TestHAProxyExample(t *testing.T) {
	haproxy := hecdproc.FindHAProxy()
	if haproxy == "" {
		t.Skip("haproxy is not installed (Debian package haproxy; not on the PATH nor in /usr/sbin): this test runs examples/haproxy with the real HAProxy")
	}
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	root, err := hecdproc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()
	work := t.TempDir()

	// The store.
	clientURL := hecdproc.StartStore(t, "haproxytest").URL

	ports, err := hecdproc.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	statsAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])

	// The containers, each answering its own name.
	alpha, beta, gamma := newBackend(t, "alpha"), newBackend(t, "beta"), newBackend(t, "gamma")
	put(t, clientURL, "a", alpha.addr)
	put(t, clientURL, "b", beta.addr)

	// The example, moved to the temporary directory: only the paths of its
	// resource change, the ports come from the environment it documents.
	confdir := filepath.Join(work, "confd")
	cfg := filepath.Join(work, "haproxy.cfg")
	pidfile := filepath.Join(work, "haproxy.pid")
	copyExample(t, filepath.Join(root, "examples", "haproxy"), confdir, cfg, pidfile)
	tmplPath := filepath.Join(confdir, "templates", "haproxy.cfg.tmpl")
	goodTmpl, err := os.ReadFile(tmplPath)
	if err != nil {
		t.Fatal(err)
	}

	password := randomHex(t)
	// The resource's check_cmd runs "haproxy" through the shell: make sure
	// it finds the same one.
	confdEnv := append(hecdproc.Env(),
		"PATH="+filepath.Dir(haproxy)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HAPROXY_HTTP_BIND="+httpAddr,
		"HAPROXY_STATS_BIND="+statsAddr,
		"HAPROXY_STATS_PASSWORD="+password)
	confdArgs := []string{"confd", "-backend", "etcd", "-node", clientURL, "-confdir", confdir}

	// A first file without commands, then HAProxy on it, then the daemon:
	// the order of a first installation (README.md).
	onetime := exec.Command(bin, append(confdArgs, "-onetime", "-sync-only")...)
	onetime.Env = confdEnv
	if out, err := onetime.CombinedOutput(); err != nil {
		t.Fatalf("hecd confd -onetime -sync-only: %v\n%s", err, out)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c rejects the first rendered file: %v\n%s\nfile:\n%s", err, out, readFile(t, cfg))
	}

	masterSock := filepath.Join(work, "master.sock")
	hap := hecdproc.Start(t, "haproxy", exec.Command(haproxy, "-W", "-db", "-f", cfg, "-p", pidfile, "-S", masterSock))
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	waitRoute(t, client, httpAddr, "a", "alpha", 10*time.Second, "HAProxy start")

	confdWatch := exec.Command(bin, append(confdArgs, "-watch")...)
	confdWatch.Env = confdEnv
	confd := hecdproc.Start(t, "confd", confdWatch)
	// hecd confd has its watch in place once the store counts a watcher.
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = hecdproc.WaitWatchers(wctx, clientURL, func(n int) bool { return n >= 1 })
	wcancel()
	if err != nil {
		t.Fatalf("hecd confd -watch never watched the store: %v\n%s", err, confd.Log.String())
	}
	reloads0 := reloads(t, masterSock)

	t.Run("routing", func(t *testing.T) {
		for appid, want := range map[string]string{"a": "alpha", "b": "beta", "A": "alpha"} {
			if got, err := route(client, httpAddr, appid); err != nil || got != want {
				t.Errorf("APPID %s: got %q, %v; want %q", appid, got, err, want)
			}
		}
		// No APPID, or an unknown one: round robin over every server.
		seen := map[string]int{}
		for i := 0; i < 4; i++ {
			appid := ""
			if i%2 == 1 {
				appid = "nosuchapp"
			}
			got, err := route(client, httpAddr, appid)
			if err != nil {
				t.Fatalf("default backend: %v", err)
			}
			seen[got]++
		}
		if seen["alpha"] != 2 || seen["beta"] != 2 {
			t.Errorf("default backend answers %v, want alpha and beta twice each (round robin)", seen)
		}
		if xff := alpha.lastXFF(); xff != "127.0.0.1" {
			t.Errorf("X-Forwarded-For at the server: %q, want 127.0.0.1", xff)
		}
		// The statistics page exists, behind the password.
		if code := statsStatus(t, statsAddr, ""); code != http.StatusUnauthorized {
			t.Errorf("statistics page without credentials: status %d, want 401", code)
		}
		if code := statsStatus(t, statsAddr, password); code != http.StatusOK {
			t.Errorf("statistics page with the password: status %d, want 200", code)
		}
	})

	t.Run("add", func(t *testing.T) {
		put(t, clientURL, "c", gamma.addr)
		waitRoute(t, client, httpAddr, "c", "gamma", routeDeadline, "a new key")
	})
	t.Run("change", func(t *testing.T) {
		put(t, clientURL, "a", gamma.addr)
		waitRoute(t, client, httpAddr, "a", "gamma", routeDeadline, "a changed key")
	})
	t.Run("delete", func(t *testing.T) {
		del(t, clientURL, "b")
		// "b" now has no rule: the default pool answers, and beta is no
		// longer in it (a and c both point at gamma).
		waitRoute(t, client, httpAddr, "b", "gamma", routeDeadline, "a deleted key")
		for i := 0; i < 4; i++ {
			if got, _ := route(client, httpAddr, ""); got == "beta" {
				t.Errorf("the default pool still sends requests to the deleted server")
			}
		}
	})
	if n := reloads(t, masterSock); n <= reloads0 {
		t.Errorf("HAProxy reloads: %d before the changes, %d after", reloads0, n)
	} else {
		t.Logf("HAProxy reloaded %d times for three changes", n-reloads0)
	}

	// Each of the following must leave the running configuration as it is.
	steady := func(t *testing.T) {
		t.Helper()
		for appid, want := range map[string]string{"a": "gamma", "c": "gamma"} {
			if got, err := route(client, httpAddr, appid); err != nil || got != want {
				t.Errorf("APPID %s: got %q, %v; want %q", appid, got, err, want)
			}
		}
	}

	t.Run("bad values", func(t *testing.T) {
		before := readFile(t, cfg)
		reloadsBefore := reloads(t, masterSock)
		updatesBefore := updates(confd)
		// Values and ids that would add directives if pasted into the file.
		evil := []struct{ id, value string }{
			{"evil1", "127.0.0.1:" + port(alpha.addr) + "\nbackend injected1"},
			{"evil2", "127.0.0.1:" + port(alpha.addr) + " backup\n"},
			{"evil3", "127.0.0.1:" + port(alpha.addr) + " # injected3"},
			{"ev il4", alpha.addr},
			{"ev#il5", alpha.addr},
			{"-evil6", alpha.addr},
		}
		for _, e := range evil {
			put(t, clientURL, e.id, e.value)
		}
		// hecd confd has seen them all once the file marks six skipped
		// entries; only those comment lines may differ.
		mark := "# skipped an entry of /app/servers"
		var after string
		begin := time.Now()
		deadline := begin.Add(5 * time.Second)
		for {
			after = readFile(t, cfg)
			if strings.Count(after, mark) == len(evil) {
				t.Logf("the file marked the bad entries as skipped after %v", time.Since(begin).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after writing %d bad entries, the file has %d %q lines, want %d:\n%s\nconfd log:\n%s",
					len(evil), strings.Count(after, mark), mark, len(evil), after, tail(confd.Log.String()))
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, s := range []string{"injected", "evil", "ev il", "ev#il", "backup"} {
			if strings.Contains(after, s) {
				t.Errorf("the rendered file contains %q:\n%s", s, after)
			}
		}
		if withoutComments(after) != withoutComments(before) {
			t.Errorf("bad entries changed the configuration:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		// The comments changed the file, so a reload is expected; it is
		// harmless.
		waitUpdates(t, confd, updatesBefore)
		t.Logf("HAProxy reloaded %d times for the bad entries", reloads(t, masterSock)-reloadsBefore)
		steady(t)
		if got, err := route(client, httpAddr, "evil1"); err != nil || got != "gamma" {
			t.Errorf("APPID evil1 (skipped): got %q, %v; want the default pool (gamma)", got, err)
		}
		updatesBefore = updates(confd)
		for _, e := range evil {
			del(t, clientURL, e.id)
		}
		waitFile(t, cfg, func(s string) bool { return !strings.Contains(s, mark) }, 5*time.Second, "the skipped-entry comments to go")
		// The next test counts reloads: this one must be over.
		waitUpdates(t, confd, updatesBefore)
	})

	// A template that does not parse, and one that renders a file HAProxy
	// refuses (the seed's srvtimeout): hecd confd must log an error and
	// leave both the file and HAProxy alone.
	broken := []struct {
		name string
		tmpl []byte
	}{
		{"template syntax error", bytes.Replace(goodTmpl, []byte("{{- range gets"), []byte("{{- range gets ("), 1)},
		{"config haproxy -c refuses", bytes.Replace(goodTmpl, []byte("    timeout server 50s\n"), []byte("    srvtimeout 50000\n"), 1)},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			if bytes.Equal(b.tmpl, goodTmpl) {
				t.Fatal("the broken copy equals the template: the template changed, update the test")
			}
			before := readFile(t, cfg)
			reloadsBefore := reloads(t, masterSock)
			errorsBefore := strings.Count(confd.Log.String(), "ERROR")
			writeFile(t, tmplPath, b.tmpl)
			// A change that would move "a" back to alpha.
			put(t, clientURL, "a", alpha.addr)
			begin := time.Now()
			deadline := begin.Add(5 * time.Second)
			for strings.Count(confd.Log.String(), "ERROR") == errorsBefore {
				if time.Now().After(deadline) {
					t.Fatalf("hecd confd logged no ERROR within 5s of a change with a broken template; log:\n%s", tail(confd.Log.String()))
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("after %v hecd confd: %s", time.Since(begin).Round(time.Millisecond), lastLine(confd.Log.String(), "ERROR"))
			if after := readFile(t, cfg); after != before {
				t.Errorf("the installed file changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if n := reloads(t, masterSock); n != reloadsBefore {
				t.Errorf("HAProxy was reloaded (%d times)", n-reloadsBefore)
			}
			if got, err := route(client, httpAddr, "a"); err != nil || got != "gamma" {
				t.Errorf("APPID a: got %q, %v; want the old route (gamma)", got, err)
			}
			// Repaired, the next change goes through.
			writeFile(t, tmplPath, goodTmpl)
			put(t, clientURL, "a", gamma.addr)
			put(t, clientURL, "c", alpha.addr)
			waitRoute(t, client, httpAddr, "c", "alpha", routeDeadline, "a change after the template was repaired")
			put(t, clientURL, "c", gamma.addr)
			waitRoute(t, client, httpAddr, "c", "gamma", routeDeadline, "a change after the template was repaired")
		})
	}

	if hap.HasExited() {
		t.Errorf("HAProxy exited:\n%s", tail(hap.Log.String()))
	}
	if confd.HasExited() {
		t.Errorf("hecd confd exited:\n%s", tail(confd.Log.String()))
	}
	if t.Failed() {
		t.Logf("rendered file:\n%s", readFile(t, cfg))
		t.Logf("hecd confd log:\n%s", tail(confd.Log.String()))
		t.Logf("HAProxy log:\n%s", tail(hap.Log.String()))
	}
	t.Logf("whole test: %v", time.Since(testStart).Round(time.Millisecond))
}

// copyExample copies the example's conf.d and templates into confdir and
// points the resource at the test's own file and HAProxy.
func copyExample(t *testing.T, example, confdir, cfg, pidfile string) {
	t.Helper()
	for _, sub := range []string{"conf.d", "templates"} {
		if err := os.MkdirAll(filepath.Join(confdir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	toml := readFile(t, filepath.Join(example, "conf.d", "haproxy.toml"))
	for _, r := range [][2]string{
		{`dest = "/etc/haproxy/haproxy.cfg"`, fmt.Sprintf("dest = %q", cfg)},
		{`reload_cmd = "kill -USR2 $(cat /run/haproxy.pid)"`, fmt.Sprintf("reload_cmd = %q", "kill -USR2 $(cat "+pidfile+")")},
	} {
		if !strings.Contains(toml, r[0]) {
			t.Fatalf("examples/haproxy/conf.d/haproxy.toml has no line %s: update the test", r[0])
		}
		toml = strings.Replace(toml, r[0], r[1], 1)
	}
	writeFile(t, filepath.Join(confdir, "conf.d", "haproxy.toml"), []byte(toml))

	tmpl := readFile(t, filepath.Join(example, "templates", "haproxy.cfg.tmpl"))
	if os.Geteuid() != 0 {
		// Only root can switch HAProxy's workers to the haproxy user.
		for _, l := range []string{"    user haproxy\n", "    group haproxy\n"} {
			if !strings.Contains(tmpl, l) {
				t.Fatalf("the template has no line %q: update the test", l)
			}
			tmpl = strings.Replace(tmpl, l, "", 1)
		}
	}
	writeFile(t, filepath.Join(confdir, "templates", "haproxy.cfg.tmpl"), []byte(tmpl))
}

// ------------------------------------------------------------------ processes

// updates counts hecd confd's log lines that end an update: it logs them
// after the reload command has finished.
func updates(confd *hecdproc.Proc) int {
	return strings.Count(confd.Log.String(), " has been updated")
}

// waitUpdates waits until hecd confd has finished an update after the
// count was n.
func waitUpdates(t *testing.T, confd *hecdproc.Proc, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); updates(confd) <= n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hecd confd logged no \"has been updated\" within 5s; log:\n%s", tail(confd.Log.String()))
		}
	}
}

// reloads is the reload count of HAProxy's master, from "show proc" on
// the master socket.
func reloads(t *testing.T, sock string) int {
	t.Helper()
	// The master re-executes itself on every reload; for that moment its
	// socket refuses connections or closes them without an answer.
	var last string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n, answer, err := showProcReloads(sock)
		if err == nil {
			return n
		}
		last = fmt.Sprintf("%v (answer %q)", err, answer)
	}
	t.Fatalf("reload count from the master socket: %s", last)
	return 0
}

func showProcReloads(sock string) (int, string, error) {
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show proc\n"); err != nil {
		return 0, "", err
	}
	// The master answers and closes only once it sees the end of input.
	conn.(*net.UnixConn).CloseWrite()
	out, _ := io.ReadAll(conn)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "master" {
			n, err := strconv.Atoi(f[2])
			return n, string(out), err
		}
	}
	return 0, string(out), fmt.Errorf("no master line")
}

// ------------------------------------------------------------------ the store

func keyURL(base, id string) string {
	return base + "/v2/keys/app/servers/" + url.PathEscape(id)
}

// put writes a key the way the seed's curl -XPUT ... -d value=... does.
func put(t *testing.T, base, id, value string) {
	t.Helper()
	storeDo(t, http.MethodPut, keyURL(base, id), "value="+url.QueryEscape(value))
}

func del(t *testing.T, base, id string) {
	t.Helper()
	storeDo(t, http.MethodDelete, keyURL(base, id), "")
}

func storeDo(t *testing.T, method, u, body string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, u, resp.Status, b)
	}
}

// ------------------------------------------------------------------ traffic

type backend struct {
	name string
	addr string
	mu   sync.Mutex
	xff  string
}

// newBackend starts a container stand-in on a loopback port that answers
// its own name.
func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.xff = r.Header.Get("X-Forwarded-For")
		b.mu.Unlock()
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	b.addr = srv.Listener.Addr().String()
	return b
}

func (b *backend) lastXFF() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.xff
}

// route sends one request through HAProxy with the given APPID ("" for
// none) and returns the name of the server that answered.
func route(client *http.Client, addr, appid string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return "", err
	}
	if appid != "" {
		req.Header.Set("APPID", appid)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %q", resp.Status, b)
	}
	return string(b), err
}

// waitRoute polls until APPID appid reaches want, and then reaches it
// three times in a row (an old worker may still answer once during a
// reload). Slower than deadline fails the test; it keeps polling a while
// longer to tell "slow" from "never".
func waitRoute(t *testing.T, client *http.Client, addr, appid, want string, deadline time.Duration, what string) {
	t.Helper()
	begin := time.Now()
	giveUp := begin.Add(deadline + 5*time.Second)
	var got string
	var err error
	for {
		if got, err = route(client, addr, appid); err == nil && got == want {
			elapsed := time.Since(begin)
			stable := true
			for i := 0; i < 3; i++ {
				if g, e := route(client, addr, appid); e != nil || g != want {
					stable = false
				}
			}
			if stable {
				t.Logf("%s: APPID %s reaches %s after %v", what, appid, want, elapsed.Round(time.Millisecond))
				if elapsed > deadline {
					t.Errorf("%s: APPID %s reached %s only after %v, want within %v", what, appid, want, elapsed.Round(time.Millisecond), deadline)
				}
				return
			}
		}
		if time.Now().After(giveUp) {
			t.Fatalf("%s: APPID %s still gets %q (%v) after %v, want %q", what, appid, got, err, time.Since(begin).Round(time.Millisecond), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func statsStatus(t *testing.T, addr, password string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/admin-status", nil)
	if password != "" {
		req.SetBasicAuth("admin", password)
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("statistics page: %v", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// ------------------------------------------------------------------ files

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path string, ok func(string) bool, timeout time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok(readFile(t, path)) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s:\n%s", timeout, what, readFile(t, path))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withoutComments drops the lines that are only a comment.
func withoutComments(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func randomHex(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func lastLine(s, containing string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], containing) {
			return lines[i]
		}
	}
	return ""
}

func tail(s string) string {
	return hecdproc.Tail(s, 6000)
}

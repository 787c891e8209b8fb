package proxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	hecdproc.Cleanup()
	os.Exit(code)
}

// backend is a test server that answers every request with its name.
type backend struct {
	name string
	addr string
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	return &backend{name: name, addr: startHandler(t, answer(name))}
}

// answer is a handler that answers every request with body.
func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }
}

// startHandler serves h on a free loopback port and returns its address.
func startHandler(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, h)
	return ln.Addr().String()
}

// serve serves h on ln until the test ends, or until the caller closes
// the server it returns.
func serve(t *testing.T, ln net.Listener, h http.HandlerFunc) *http.Server {
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// storeDo sends a request for key to the store's v2 keys API, with form
// as its body when not nil, and fails the test unless it succeeds.
func storeDo(t *testing.T, method, store, key string, form url.Values) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, store+"/v2/keys"+key, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s", method, key, resp.Status)
	}
}

func put(t *testing.T, store, key, value string) {
	t.Helper()
	storeDo(t, http.MethodPut, store, key, url.Values{"value": {value}})
}

func del(t *testing.T, store, key string) {
	t.Helper()
	storeDo(t, http.MethodDelete, store, key, nil)
}

// get sends one request through the proxy, with an APPID header when id
// is not empty, and returns the status and body.
func get(proxyAddr, id string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+proxyAddr+"/", nil)
	if id != "" {
		req.Header.Set("APPID", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ports, err := hecdproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0])
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startProxy runs "hecd proxy" with args on a free listen address and
// returns that address.
func startProxy(t *testing.T, storeURL string, args ...string) (string, *hecdproc.Proc) {
	t.Helper()
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	all := append([]string{"proxy", "-store", storeURL, "-listen", listen, "-access-log", "off"}, args...)
	p := hecdproc.Start(t, "hecd proxy", exec.Command(bin, all...))
	waitFor(t, 10*time.Second, "the proxy to listen", func() bool {
		if p.HasExited() {
			t.Fatalf("hecd proxy exited:\n%s", p.Log.String())
		}
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return listen, p
}

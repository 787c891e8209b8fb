// Package docker_test runs hecd against the real Docker Engine: the
// registrator follows real containers, the proxy routes to them, and the
// image built from the repository's Dockerfile runs the whole stack.
//
// The tests skip when no Docker Engine answers, unless HECD_REQUIRE_DOCKER=1
// (then that is a failure). Everything they create carries the label
// hecd-test=1 and a label unique to the run, hecd-e2e=<run>, and is removed
// by that second label when the test ends, so that tests running at the
// same time on the same engine never touch each other's containers.
package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hecd/test/dockerimg"
	"hecd/test/hecdproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	hecdproc.Cleanup()
	os.Exit(code)
}

// runLabelKey is the label that tells one run's Docker objects apart from
// everybody else's (dockerimg.Label is shared by all tests).
const runLabelKey = "hecd-e2e"

// needDocker skips the test when no Docker Engine answers, or fails it
// when HECD_REQUIRE_DOCKER=1 says one must.
func needDocker(t testing.TB) {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		if os.Getenv("HECD_REQUIRE_DOCKER") == "1" {
			t.Fatalf("%s, and HECD_REQUIRE_DOCKER=1 requires the Docker Engine", why)
		}
		t.Skipf("%s; skipping the tests against the real Docker Engine (HECD_REQUIRE_DOCKER=1 makes this a failure)", why)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		missing("the docker CLI is not installed")
	}
	// Bounded: a wedged daemon must not hang the suite.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}} API {{.Server.APIVersion}}").CombinedOutput()
	if err != nil {
		missing(fmt.Sprintf("no Docker Engine answers (%v: %s)", err, strings.TrimSpace(string(out))))
	}
	t.Logf("Docker Engine %s", strings.TrimSpace(string(out)))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// env is one run's Docker world: a private network, the backend image and
// the labels that mark what belongs to this run.
type env struct {
	run   string // random, in every name and in the run label
	net   string // the private network
	image string // the backend image (dockerimg.EchoServer)
}

func (e *env) runLabel() string { return runLabelKey + "=" + e.run }

// newEnv creates the run's network and backend image, and registers the
// sweep that removes every container, network and image of the run.
func newEnv(t *testing.T) *env {
	t.Helper()
	needDocker(t)
	sweepStale(t)
	e := &env{run: randomHex(4)}
	// Registered first, so it runs last: after the hecd processes have
	// stopped and after dockerimg's own clean-ups.
	t.Cleanup(func() { sweep(t, e.runLabel()) })
	e.net = "hecd-e2e-" + e.run
	dockerimg.Docker(t, "network", "create", "--label", dockerimg.Label, "--label", e.runLabel(), e.net)
	// The backend answers every request with its hostname, which Docker
	// sets to the 12-character short id: the app id the registrator uses.
	e.image = dockerimg.BuildScratchImage(t, "e2e-echo", dockerimg.EchoServer)
	// Registered after the image's removal, so it runs before it: an
	// image that a container (even a stopped one) still uses is only
	// untagged by "rmi --force", and would stay behind unlabelled.
	t.Cleanup(func() { removeContainers(t, e.runLabel()) })
	return e
}

// sweep removes the containers, networks and images labelled label, in
// that order (an image in use or a network with endpoints cannot go).
func sweep(t testing.TB, label string) {
	removeContainers(t, label)
	if ids := list(t, "network", "ls", "--quiet", "--filter", "label="+label); len(ids) > 0 {
		if _, err := dockerimg.Try(append([]string{"network", "rm"}, ids...)...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
	if ids := list(t, "images", "--all", "--quiet", "--filter", "label="+label); len(ids) > 0 {
		if _, err := dockerimg.Try(append([]string{"rmi", "--force"}, dedupe(ids)...)...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}

// staleAfter is the age after which a run's objects are certainly left
// over from a test binary that died (a time-out panics past t.Cleanup):
// no run takes nearly that long.
const staleAfter = 30 * time.Minute

// sweepStale removes the containers, networks and images of earlier runs
// that were never cleaned up, going by their age.
func sweepStale(t testing.TB) {
	runs := map[string]bool{}
	for _, kind := range []struct{ list, inspect []string }{
		{[]string{"ps", "--all"}, []string{"container", "inspect", "--format", `{{.Created}}|{{index .Config.Labels "` + runLabelKey + `"}}`}},
		{[]string{"network", "ls"}, []string{"network", "inspect", "--format", `{{.Created}}|{{index .Labels "` + runLabelKey + `"}}`}},
		{[]string{"images", "--all"}, []string{"image", "inspect", "--format", `{{.Created}}|{{index .Config.Labels "` + runLabelKey + `"}}`}},
	} {
		ids, err := dockerimg.Try(append(kind.list, "--quiet", "--filter", "label="+runLabelKey)...)
		if err != nil || ids == "" {
			continue
		}
		out, err := dockerimg.Try(append(kind.inspect, dedupe(strings.Fields(ids))...)...)
		if err != nil {
			// Removed meanwhile by their own run, most likely.
			continue
		}
		for l := range strings.Lines(out) {
			created, run, _ := strings.Cut(strings.TrimSpace(l), "|")
			at, err := parseCreated(created)
			if err == nil && run != "" && time.Since(at) > staleAfter {
				runs[run] = true
			}
		}
	}
	for run := range runs {
		t.Logf("removing the Docker objects of stale run %s", run)
		sweep(t, runLabelKey+"="+run)
	}
}

// parseCreated reads a Created time of docker inspect: RFC 3339 for
// containers and images, Go's time.String format for networks.
func parseCreated(s string) (time.Time, error) {
	if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return at, nil
	}
	return time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", s)
}

// list runs a docker command that lists ids.
func list(t testing.TB, args ...string) []string {
	out, err := dockerimg.Try(args...)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return nil
	}
	return strings.Fields(out)
}

// removeContainers removes the containers labelled label, running or
// not, with their anonymous volumes.
func removeContainers(t testing.TB, label string) {
	if ids := list(t, "ps", "--all", "--quiet", "--filter", "label="+label); len(ids) > 0 {
		if _, err := dockerimg.Try(append([]string{"rm", "--force", "--volumes"}, ids...)...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// backend is one container of the backend image on the run's network.
type backend struct {
	id    string // full id
	appID string // 12-character short id = hostname = app id
}

// create creates (does not start) a backend container on the network,
// with port 8080 exposed: in internal mode that is the port registered.
func (e *env) create(t testing.TB) backend {
	t.Helper()
	id := dockerimg.Docker(t, "create", "--network", e.net, "--expose", "8080",
		"--label", dockerimg.Label, "--label", e.runLabel(), e.image)
	if i := strings.LastIndexByte(id, '\n'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) != 64 {
		t.Fatalf("docker create printed %q, not a container id", id)
	}
	return backend{id: id, appID: id[:12]}
}

// ip is the container's address on the run's network.
func (e *env) ip(t testing.TB, b backend) string {
	t.Helper()
	return dockerimg.Docker(t, "inspect", "--format",
		`{{(index .NetworkSettings.Networks "`+e.net+`").IPAddress}}`, b.id)
}

// hecd is a running "hecd up" (or "hecd store") child process.
type hecd struct {
	*hecdproc.Proc
	storeURL string
	proxyURL string // empty without a proxy
}

// upConfig says how to start "hecd up".
type upConfig struct {
	name      string
	dataDir   string
	owner     string
	client    int    // store client port (embedded store)
	peer      int    // store peer port (embedded store)
	proxy     int    // proxy port
	store     string // an external store's URL instead of the embedded one
	ttl       string
	resync    string
	extraArgs []string
}

// startUp runs "hecd up" on loopback with the registrator in internal
// mode on the run's network, so that only this run's containers are
// routed, and waits until its store and proxy answer.
func (e *env) startUp(t testing.TB, c upConfig) *hecd {
	t.Helper()
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	h := &hecd{proxyURL: fmt.Sprintf("http://127.0.0.1:%d", c.proxy)}
	args := []string{"up", "-listen", fmt.Sprintf("127.0.0.1:%d", c.proxy),
		"-default-backend", "none", "-register", "true",
		"-internal", "-network", e.net, "-owner-id", c.owner,
		"-ttl", c.ttl, "-resync", c.resync, "-log-level", "debug", "-access-log", "off"}
	if c.store != "" {
		h.storeURL = c.store
		args = append(args, "-store", c.store)
	} else {
		h.storeURL = fmt.Sprintf("http://127.0.0.1:%d", c.client)
		args = append(args, "-name", c.name, "-data-dir", c.dataDir,
			"-listen-client-urls", h.storeURL,
			"-listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", c.peer))
	}
	args = append(args, c.extraArgs...)
	name := "hecd up " + c.owner
	// Registered before Start's own clean-up, so it runs after it: the log
	// is then complete.
	t.Cleanup(func() {
		if t.Failed() && h.Proc != nil {
			t.Logf("%s: the registrator's log:\n%s", name, registratorLines(h.Log.String()))
			t.Logf("%s log (the end):\n%s", name, hecdproc.Tail(h.Log.String(), 4000))
		}
	})
	h.Proc = hecdproc.Start(t, name, exec.Command(bin, args...))
	if err := hecdproc.WaitHealthy(context.Background(), h.storeURL, h.Exited, 20*time.Second); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, hecdproc.Tail(h.Log.String(), 4000))
	}
	if err := waitProxy(h.proxyURL, h.Exited, 10*time.Second); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, hecdproc.Tail(h.Log.String(), 4000))
	}
	return h
}

// registratorLines are the lines of a "hecd up" log that the registrator
// wrote: the proxy's debug lines would drown them.
func registratorLines(log string) string {
	var out []string
	for l := range strings.Lines(log) {
		if strings.Contains(l, "component=registrator") {
			out = append(out, l)
		}
	}
	return hecdproc.Tail(strings.Join(out, ""), 12000)
}

// startStore runs a plain "hecd store" on the given data dir and ports.
func startStore(t testing.TB, name, dataDir string, client, peer int) *hecd {
	t.Helper()
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	h := &hecd{storeURL: fmt.Sprintf("http://127.0.0.1:%d", client)}
	args := hecdproc.StoreArgs(name, dataDir, h.storeURL, fmt.Sprintf("http://127.0.0.1:%d", peer))
	t.Cleanup(func() {
		if t.Failed() && h.Proc != nil {
			t.Logf("hecd store log (the end):\n%s", hecdproc.Tail(h.Log.String(), 4000))
		}
	})
	h.Proc = hecdproc.Start(t, "hecd store", exec.Command(bin, args...))
	if err := hecdproc.WaitHealthy(context.Background(), h.storeURL, h.Exited, 20*time.Second); err != nil {
		t.Fatalf("hecd store: %v\n%s", err, hecdproc.Tail(h.Log.String(), 4000))
	}
	return h
}

// kill9 ends the process with SIGKILL, as a crash would.
func (h *hecd) kill9(t testing.TB) {
	t.Helper()
	if err := h.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-h.Exited
}

// stop ends the process with SIGINT (a clean shutdown) and waits up to
// 10 s; it returns when the signal was sent and when the process ended.
func (h *hecd) stop(t testing.TB) (signalled, exited time.Time) {
	t.Helper()
	signalled = time.Now()
	if err := h.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not end within 10 s of SIGINT", h.Name)
	}
	if code := h.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited with status %d after SIGINT, want 0", h.Name, code)
	}
	return signalled, time.Now()
}

// waitLog waits until the process's log contains s.
func (h *hecd) waitLog(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(h.Log.String(), s) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// waitProxy waits until the proxy answers HTTP at all.
func waitProxy(proxyURL string, exited <-chan struct{}, timeout time.Duration) error {
	c := newClient()
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, _, err := get(c, proxyURL, "hecd-e2e-nobody"); err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("it exited during start-up")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("the proxy at %s did not answer within %v", proxyURL, timeout)
}

// newClient is an HTTP client for the proxy. The proxy closes every
// connection (option httpclose), so nothing is pooled.
func newClient() *http.Client {
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// get sends GET / to the proxy for the app id and returns the status and
// the body.
func get(c *http.Client, proxyURL, appID string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, proxyURL+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("APPID", appID)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// answersAs reports whether a proxy answer came from the backend: 200 and
// the container's hostname (its short id) first in the body.
func answersAs(status int, body string, b backend) bool {
	return status == http.StatusOK && strings.HasPrefix(body, b.appID+" ")
}

// waitRoutable polls the proxy until the backend answers through it and
// returns how long that took from since.
func waitRoutable(t testing.TB, c *http.Client, proxyURL string, b backend, since time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	var last string
	for deadline := since.Add(timeout); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		status, body, err := get(c, proxyURL, b.appID)
		if err == nil && answersAs(status, body, b) {
			return time.Since(since)
		}
		last = fmt.Sprintf("status %d body %q err %v", status, body, err)
	}
	t.Fatalf("%s not routable through the proxy within %v (last answer: %s)", b.appID, timeout, last)
	return 0
}

// waitGone polls until the store has no route for the backend and the
// proxy answers 503 for it; it returns the time each took from since.
// The two are polled independently, and the proxy with a short time-out:
// a request that reached the backend just as it died waits for the
// proxy's retry (HAProxy's turn-around of up to a second after a refused
// connection) or for a vanished address to time out, and must not hide
// the moment new requests get 503.
func waitGone(t testing.TB, h *hecd, b backend, since time.Time, timeout time.Duration) (store, proxy time.Duration) {
	t.Helper()
	deadline := since.Add(timeout)
	storeDone := make(chan time.Duration, 1)
	go func() {
		for ; time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			resp, err := storeClient.Get(h.storeURL + "/v2/keys/app/servers/" + b.appID)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				storeDone <- time.Since(since)
				return
			}
		}
		storeDone <- 0
	}()
	c := &http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	var last string
	for ; time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		status, body, err := get(c, h.proxyURL, b.appID)
		if err == nil && status == http.StatusServiceUnavailable {
			proxy = time.Since(since)
			break
		}
		last = fmt.Sprintf("status %d body %q err %v", status, body, err)
	}
	store = <-storeDone
	if store == 0 || proxy == 0 {
		t.Fatalf("%s still routed %v after it stopped (store key gone after %v, proxy 503 after %v; 0 = not seen; last proxy answer: %s)",
			b.appID, timeout, store, proxy, last)
	}
	return store, proxy
}

// loadLoop sends requests through the proxy to the backends, round
// robin, until stopped, and counts the requests and the failures (any
// answer that did not come from the backend asked for).
type loadLoop struct {
	stopc    chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	requests int
	failures []string
}

func startLoad(proxyURL string, backends ...backend) *loadLoop {
	l := &loadLoop{stopc: make(chan struct{})}
	// One goroutine per backend, so that a slow answer for one does not
	// hide a failure of the other.
	for _, b := range backends {
		l.wg.Go(func() {
			c := newClient()
			for {
				select {
				case <-l.stopc:
					return
				default:
				}
				status, body, err := get(c, proxyURL, b.appID)
				l.mu.Lock()
				l.requests++
				if err != nil || !answersAs(status, body, b) {
					l.failures = append(l.failures, fmt.Sprintf("%s: status %d body %q err %v", b.appID, status, body, err))
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *loadLoop) stop() (requests int, failures []string) {
	close(l.stopc)
	l.wg.Wait()
	return l.requests, l.failures
}

// storeNode is a node of the store's v2 keys API.
type storeNode struct {
	Key           string       `json:"key"`
	Value         string       `json:"value"`
	Dir           bool         `json:"dir"`
	Nodes         []*storeNode `json:"nodes"`
	TTL           int64        `json:"ttl"`
	Expiration    *time.Time   `json:"expiration"`
	CreatedIndex  uint64       `json:"createdIndex"`
	ModifiedIndex uint64       `json:"modifiedIndex"`
}

type storeEvent struct {
	Action   string     `json:"action"`
	Node     storeNode  `json:"node"`
	PrevNode *storeNode `json:"prevNode"`
}

var storeClient = &http.Client{Timeout: 5 * time.Second}

// leaves returns the keys (not directories) below dir, by full key, and
// the store's index at the time of the read. A missing dir is empty.
func leaves(t testing.TB, storeURL, dir string) (map[string]*storeNode, uint64) {
	t.Helper()
	resp, err := storeClient.Get(storeURL + "/v2/keys" + dir + "?recursive=true")
	if err != nil {
		t.Fatalf("GET %s: %v", dir, err)
	}
	defer resp.Body.Close()
	index, _ := strconv.ParseUint(resp.Header.Get("X-Etcd-Index"), 10, 64)
	out := map[string]*storeNode{}
	if resp.StatusCode == http.StatusNotFound {
		return out, index
	}
	var ev storeEvent
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", dir, resp.Status, err)
	}
	var walk func(n *storeNode)
	walk = func(n *storeNode) {
		if !n.Dir {
			out[n.Key] = n
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(&ev.Node)
	return out, index
}

// storeIndex is the store's current X-Etcd-Index.
func storeIndex(t testing.TB, storeURL string) uint64 {
	t.Helper()
	_, index := leaves(t, storeURL, "/")
	return index
}

// eventsSince returns the events a recursive watch on "/" sees from
// index from on: every write since then except TTL refreshes, which the
// store keeps from watchers. It stops at the first watch that waits
// longer than quiet for a new event.
func eventsSince(storeURL string, from uint64, quiet time.Duration) ([]storeEvent, error) {
	var out []storeEvent
	c := &http.Client{Timeout: quiet}
	for {
		resp, err := c.Get(storeURL + "/v2/keys/?wait=true&recursive=true&waitIndex=" + strconv.FormatUint(from, 10))
		if isTimeout(err) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		// The store answers a waiting watch's headers at once; the body
		// comes with the event, so the time-out may strike here.
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if isTimeout(err) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if resp.StatusCode != http.StatusOK {
			return out, fmt.Errorf("watch from %d: %s %s", from, resp.Status, body)
		}
		var ev storeEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return out, fmt.Errorf("watch from %d: %v: %s", from, err, body)
		}
		out = append(out, ev)
		from = ev.Node.ModifiedIndex + 1
	}
}

// follow watches the whole store from index from on until the returned
// function is called, which returns every event seen: every write but
// the TTL refreshes. Following live, rather than reading the history
// afterwards, keeps up when refreshes would push the writes out of the
// store's 1000-event history.
func follow(storeURL string, from uint64) func() ([]storeEvent, error) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu     sync.Mutex
		events []storeEvent
		ferr   error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
				storeURL+"/v2/keys/?wait=true&recursive=true&waitIndex="+strconv.FormatUint(from, 10), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
				}
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("watch from %d: %s %s", from, resp.Status, body)
			}
			var ev storeEvent
			if err == nil {
				err = json.Unmarshal(body, &ev)
			}
			if err != nil {
				if ctx.Err() == nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
				}
				return
			}
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			from = ev.Node.ModifiedIndex + 1
		}
	}()
	return func() ([]storeEvent, error) {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return events, ferr
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ownerRecord is the part of an ownership record the tests check.
type ownerRecord struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Container string `json:"container"`
}

// routes checks that the store holds exactly one route per backend given,
// each with its container's address and port 8080 and a matching
// ownership record of owner, and nothing else under /app/servers or the
// owner's records. It returns the route and record nodes by key.
func (e *env) routes(t testing.TB, storeURL, owner string, running ...backend) map[string]*storeNode {
	t.Helper()
	got, _ := leaves(t, storeURL, "/app/servers")
	recs, _ := leaves(t, storeURL, "/hecd/owners/"+owner)
	want := map[string]bool{}
	for _, b := range running {
		key := "/app/servers/" + b.appID
		want[key] = true
		value := e.ip(t, b) + ":8080"
		n, ok := got[key]
		switch {
		case !ok:
			t.Errorf("no route %s for running container %s", key, b.appID)
			continue
		case n.Value != value:
			t.Errorf("route %s = %q, want %q", key, n.Value, value)
		}
		rk := "/hecd/owners/" + owner + "/" + b.appID
		r, ok := recs[rk]
		if !ok {
			t.Errorf("no ownership record %s", rk)
			continue
		}
		var rec ownerRecord
		if err := json.Unmarshal([]byte(r.Value), &rec); err != nil {
			t.Errorf("ownership record %s = %q: %v", rk, r.Value, err)
			continue
		}
		if rec.Key != key || rec.Value != value || rec.Container != b.id {
			t.Errorf("ownership record %s = %q, want key %s, value %s, container %s", rk, r.Value, key, value, b.id)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("unexpected route %s = %q (running: %d containers)", k, got[k].Value, len(running))
		}
	}
	for k := range recs {
		if !want["/app/servers/"+strings.TrimPrefix(k, "/hecd/owners/"+owner+"/")] {
			t.Errorf("unexpected ownership record %s = %q", k, recs[k].Value)
		}
	}
	all := map[string]*storeNode{}
	for k, v := range got {
		all[k] = v
	}
	for k, v := range recs {
		all[k] = v
	}
	return all
}

// ports returns n free loopback ports.
func ports(t testing.TB, n int) []int {
	t.Helper()
	p, err := hecdproc.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// repoFile is the path of a file at the repository's root.
func repoFile(t testing.TB, name string) string {
	t.Helper()
	root, err := hecdproc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, name)
}

// percentile is the nearest-rank p-th percentile of d (sorted in place).
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := int(float64(len(d))*p/100 + 0.999999)
	rank = max(rank, 1)
	return d[min(rank, len(d))-1]
}

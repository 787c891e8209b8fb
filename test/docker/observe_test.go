package docker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hecd/test/hecdproc"
)

// observe is where a "hecd up" of the end-to-end test shows what its
// registrator does (spec registrator.md C.9): its own metrics listener,
// and the stats page's /metrics, which carries the registrator's series
// beside the proxy's.
type observe struct {
	metricsURL, statsURL string
	user, pass           string
}

// observeArgs returns the flags that turn both on, on ports[0] and
// ports[1], with a stats user whose bcrypt entry lives in dir.
func observeArgs(t testing.TB, dir string, ports []int) (observe, []string) {
	t.Helper()
	o := observe{
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		statsURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		user:       "ops", pass: "e2e-" + randomHex(8),
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(o.pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "stats.htpasswd")
	if err := os.WriteFile(htpasswd, []byte(o.user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return o, []string{
		"-metrics-listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"-stats-listen", fmt.Sprintf("127.0.0.1:%d", ports[1]), "-stats-htpasswd", htpasswd,
	}
}

// statusEntry is one row of "hecd register status -json".
type statusEntry struct {
	Container, Name, Key, Desired, Actual, Owner, State, Reason string
}

// checkObserved asserts that the status command, the registrator's
// metrics and the stats page's metrics all agree that exactly the given
// containers are registered by owner, in place.
func (o observe) checkObserved(t *testing.T, e *env, h *hecd, owner string, running ...backend) {
	t.Helper()
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"register", "status", "-store", h.storeURL, "-internal", "-network", e.net,
		"-owner-id", owner, "-log-level", "error"}

	// The status command, as JSON: one "ok" row per running container,
	// owned by this host, with the value in the store.
	out, err := exec.Command(bin, append(args, "-json")...).Output()
	if err != nil {
		t.Fatalf("hecd register status -json: %v\n%s", err, exitStderr(err))
	}
	var st struct {
		Owner   string
		Entries []statusEntry
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("hecd register status -json printed %q: %v", out, err)
	}
	if st.Owner != owner {
		t.Errorf("status owner %q, want %q", st.Owner, owner)
	}
	byKey := map[string]statusEntry{}
	for _, en := range st.Entries {
		if en.Key != "" {
			byKey[en.Key] = en
		}
	}
	for _, b := range running {
		key := "/app/servers/" + b.appID
		value := e.ip(t, b) + ":8080"
		want := statusEntry{Container: b.appID, Key: key, Desired: value, Actual: value, Owner: "self", State: "ok"}
		got := byKey[key]
		got.Name = "" // the container's random name
		if got != want {
			t.Errorf("status of %s: %+v, want %+v", b.appID, got, want)
		}
		delete(byKey, key)
	}
	for k, en := range byKey {
		t.Errorf("status has an unexpected route row %s: %+v", k, en)
	}

	// The table: a header, and a summary that counts the same.
	out, err = exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("hecd register status: %v\n%s", err, exitStderr(err))
	}
	table := string(out)
	if !strings.HasPrefix(table, "CONTAINER ") || !strings.Contains(table, fmt.Sprintf("owner %s: %d ok", owner, len(running))) {
		t.Errorf("hecd register status printed:\n%s", table)
	}

	// The running registrator's metrics and /status.
	routes := fmt.Sprintf("hecd_registrator_routes %d\n", len(running))
	if body := httpGet(t, o.metricsURL+"/metrics", "", ""); !strings.Contains(body, routes) {
		t.Errorf("-metrics-listen /metrics lacks %q:\n%s", routes, body)
	}
	var live struct {
		Entries []statusEntry
		Metrics struct{ Routes int }
	}
	if err := json.Unmarshal([]byte(httpGet(t, o.metricsURL+"/status", "", "")), &live); err != nil {
		t.Errorf("-metrics-listen /status: %v", err)
	} else if live.Metrics.Routes != len(running) {
		t.Errorf("-metrics-listen /status: %d routes held, want %d", live.Metrics.Routes, len(running))
	}
	// The stats page's metrics carry both parts.
	body := httpGet(t, o.statsURL+"/metrics", o.user, o.pass)
	for _, want := range []string{routes, fmt.Sprintf("hecd_proxy_routes %d\n", len(running))} {
		if !strings.Contains(body, want) {
			t.Errorf("the stats page's /metrics lacks %q", want)
		}
	}
}

func httpGet(t testing.TB, url, user, pass string) string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return string(b)
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// Package diskfull shows that a member whose disk fills up fails the write
// that cannot be stored with a v2 error, keeps serving reads, loses nothing
// it acknowledged, and comes back after a restart once there is space.
//
// The data directory is a small tmpfs mounted in a private mount namespace:
// the test re-executes itself under `unshare -m`.
package diskfull

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

const childEnv = "HECD_DISKFULL_CHILD"

func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("needs unshare -m and a tmpfs mount")
	}
	if os.Getenv(childEnv) != "" {
		runScenario(t)
		return
	}
	bin, err := hecdproc.Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", self, "-test.run", "^TestDiskFull$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "HECD_BIN="+bin, "HECD_DISKFULL_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("scenario output:\n%s", out)
	if err != nil {
		t.Fatalf("scenario failed (unshare -m must be permitted: run as root): %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestDiskFull") {
		t.Fatal("scenario did not report a pass")
	}
}

type member struct {
	cmd    *exec.Cmd
	exited chan struct{}
	url    string
	log    *os.File
}

func start(t *testing.T, bin, dataDir string, logPath string) *member {
	ports, err := hecdproc.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	cu := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	pu := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{url: cu, log: lf}
	m.cmd = exec.Command(bin, hecdproc.StoreArgs("full", dataDir, cu, pu)...)
	m.cmd.Stdout, m.cmd.Stderr = lf, lf
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.exited = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.exited) }()
	t.Cleanup(func() { m.cmd.Process.Kill(); <-m.exited; lf.Close() })
	if err := hecdproc.WaitHealthy(context.Background(), cu, m.exited, 20*time.Second); err == nil {
		return m
	}
	logText, _ := os.ReadFile(logPath)
	if len(logText) > 4000 {
		logText = logText[len(logText)-4000:]
	}
	t.Fatalf("member did not become healthy; its log ends:\n%s", logText)
	return nil
}

func (m *member) stop() {
	m.cmd.Process.Signal(syscall.SIGTERM)
	<-m.exited
}

type answer struct {
	status int
	body   map[string]any
}

func put(t *testing.T, base, key, value string) answer {
	req, _ := http.NewRequest("PUT", base+"/v2/keys"+key, strings.NewReader(url.Values{"value": {value}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", key, err)
	}
	defer r.Body.Close()
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	return answer{r.StatusCode, body}
}

func get(t *testing.T, base, key string) answer {
	r, err := http.Get(base + "/v2/keys" + key)
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	defer r.Body.Close()
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	return answer{r.StatusCode, body}
}

func runScenario(t *testing.T) {
	bin, base := os.Getenv("HECD_BIN"), os.Getenv("HECD_DISKFULL_DIR")
	mnt := filepath.Join(base, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// Room for the first 64 MiB log segment and its metadata, not for a
	// second segment.
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=100m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	dataDir := filepath.Join(mnt, "data")
	logPath := filepath.Join(base, "hecd.log")
	m := start(t, bin, dataDir, logPath)

	value := strings.Repeat("v", 1<<20)
	acked := map[string]bool{}
	var failure answer
	for i := 0; i < 200; i++ {
		key := "/big/" + strconv.Itoa(i)
		a := put(t, m.url, key, value)
		if a.status == 200 || a.status == 201 {
			acked[key] = true
			continue
		}
		failure = a
		break
	}
	if failure.status == 0 {
		t.Fatalf("200 MiB of writes all succeeded on a 100 MiB disk")
	}
	if failure.status != 500 || failure.body["errorCode"] != float64(300) {
		t.Fatalf("write on a full disk answered %d %v, want 500 with errorCode 300", failure.status, failure.body)
	}
	t.Logf("%d writes acknowledged before the disk filled; the failing write got %d %v", len(acked), failure.status, failure.body)

	// Later writes are refused too (nothing half-stored), reads go on.
	if a := put(t, m.url, "/after", "x"); a.status != 500 {
		t.Fatalf("write after the failure answered %d %v, want 500", a.status, a.body)
	}
	for key := range acked {
		a := get(t, m.url, key)
		node, _ := a.body["node"].(map[string]any)
		if a.status != 200 || node["value"] != value {
			t.Fatalf("acknowledged %s unreadable after the failure: %d", key, a.status)
		}
	}
	m.stop()

	// Free space by moving the data to a roomier place, as an operator
	// would, and restart: every acknowledged write is there.
	roomy := filepath.Join(base, "data")
	if out, err := exec.Command("cp", "-a", dataDir, roomy).CombinedOutput(); err != nil {
		t.Fatalf("copy data dir: %v %s", err, out)
	}
	m2 := start(t, bin, roomy, logPath)
	for key := range acked {
		a := get(t, m2.url, key)
		node, _ := a.body["node"].(map[string]any)
		if a.status != 200 || node["value"] != value {
			t.Fatalf("acknowledged %s lost across the restart: %d", key, a.status)
		}
	}
	if a := put(t, m2.url, "/after", "x"); a.status != 201 {
		t.Fatalf("write after restart with space answered %d %v", a.status, a.body)
	}
	m2.stop()
}

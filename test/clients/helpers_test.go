package clients

// Shared helpers: locating the repository and the shared spec directory,
// building hecd once, starting hecd and a reference etcd as separate
// processes on free loopback ports.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// sharedDir is $HECD_SHARED or <repo>/../shared.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, err := hecdproc.SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// freePorts returns two loopback ports, for a client and a peer URL.
func freePorts(t testing.TB) (int, int) {
	t.Helper()
	ps, err := hecdproc.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	return ps[0], ps[1]
}

// server is a store running as a separate process.
type server struct {
	Kind       string // "hecd" or "etcd"
	Name       string // member name
	ClientPort int
	PeerPort   int
	URL        string // client URL
	PeerURL    string
	ID         string // member id, as /v2/members reports it
}

// startHecd runs the built hecd as "hecd store" on free loopback ports,
// exactly as the brief's command line, and stops it when the test ends.
func startHecd(t testing.TB) *server {
	t.Helper()
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp, pp := freePorts(t)
	s := &server{Kind: "hecd", Name: "t", ClientPort: cp, PeerPort: pp,
		URL: fmt.Sprintf("http://127.0.0.1:%d", cp), PeerURL: fmt.Sprintf("http://127.0.0.1:%d", pp)}
	logf, err := os.Create(filepath.Join(dir, "hecd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, hecdproc.StoreArgs("t", filepath.Join(dir, "data"), s.URL, s.PeerURL)...)
	cmd.Env = hecdproc.Env()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("hecd log (last 3000 bytes):\n%s", tail(b, 3000))
			}
		}
	})
	if err := hecdproc.WaitHealthy(context.Background(), s.URL, exited, 20*time.Second); err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("hecd: %v\nlog:\n%s", err, tail(b, 3000))
	}
	s.ID = memberID(t, s.URL)
	return s
}

// startReference starts a real etcd 3.4 with <shared>/spec/etcd-reference.sh.
func startReference(t testing.TB) *server {
	t.Helper()
	script := filepath.Join(sharedDir(t), "spec", "etcd-reference.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("reference etcd script: %v", err)
	}
	cp, pp := freePorts(t)
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script, strconv.Itoa(cp), strconv.Itoa(pp))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("etcd-reference.sh %d %d: %v\n%s", cp, pp, err, stderr.String())
	}
	pid := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "stop", pid).CombinedOutput(); err != nil {
			t.Logf("etcd-reference.sh stop %s: %v\n%s", pid, err, out)
		}
	})
	s := &server{Kind: "etcd", Name: "ref", ClientPort: cp, PeerPort: pp,
		URL: fmt.Sprintf("http://127.0.0.1:%d", cp), PeerURL: fmt.Sprintf("http://127.0.0.1:%d", pp)}
	s.ID = memberID(t, s.URL)
	return s
}

// memberID returns the id of the only member.
func memberID(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/v2/members")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ms struct {
		Members []struct {
			ID string `json:"id"`
		} `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		t.Fatalf("GET %s/v2/members: %v", url, err)
	}
	if len(ms.Members) != 1 || ms.Members[0].ID == "" {
		t.Fatalf("GET %s/v2/members: %+v, want one member", url, ms)
	}
	return ms.Members[0].ID
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

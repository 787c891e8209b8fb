package hecdproc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ReferenceScript is the shared spec's etcd-reference.sh, which starts and
// stops a real etcd 3.4 (Debian's etcd-server, v2 API enabled).
func ReferenceScript() (string, error) {
	shared, err := SharedDir()
	if err != nil {
		return "", err
	}
	script := filepath.Join(shared, "spec", "etcd-reference.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("the etcd start script: %w", err)
	}
	return script, nil
}

// Reference is a real etcd started by StartReference.
type Reference struct {
	Addr    string // client address, 127.0.0.1:PORT
	URL     string // client URL, http://Addr
	PeerURL string
	script  string
	pid     string
}

// StartReference runs script (see ReferenceScript) on two free loopback
// ports, a single member named "ref", configured by its command line alone
// (Env). Stop it with Stop.
func StartReference(script string) (*Reference, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script, strconv.Itoa(ports[0]), strconv.Itoa(ports[1]))
	cmd.Env = Env()
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %d %d: %v\n%s", script, ports[0], ports[1], err, stderr.Bytes())
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	return &Reference{Addr: addr, URL: "http://" + addr, PeerURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		script: script, pid: strings.TrimSpace(string(out))}, nil
}

// Stop stops the etcd.
func (r *Reference) Stop() error {
	if out, err := exec.Command("bash", r.script, "stop", r.pid).CombinedOutput(); err != nil {
		return fmt.Errorf("stopping etcd %s: %v\n%s", r.pid, err, out)
	}
	return nil
}

// StartReferenceEtcd starts a real etcd 3.4 with StartReference, stops it
// when the test ends, and returns its client address as host:port. It
// skips the test when etcd is not installed.
func StartReferenceEtcd(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd is not installed (Debian package etcd-server): skipping the comparison with a real etcd")
	}
	script, err := ReferenceScript()
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartReference(script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	return r.Addr
}

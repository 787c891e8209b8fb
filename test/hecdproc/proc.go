package hecdproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that a child process (or a goroutine) can
// write to while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail is the last n bytes of s, after "...\n" when s was cut.
func Tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// ExitCode is the exit status of a command that ended with err: 0 for nil,
// the code of an *exec.ExitError, and -1 for any other error.
func ExitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		return -1
	}
}

// Proc is a child process started by Start.
type Proc struct {
	Name   string
	Cmd    *exec.Cmd
	Log    *SyncBuffer   // its stdout and stderr
	Exited chan struct{} // closed once it has ended
}

// HasExited reports whether the process has ended.
func (p *Proc) HasExited() bool {
	select {
	case <-p.Exited:
		return true
	default:
		return false
	}
}

// Start starts cmd with its stdout and stderr in the returned Proc's Log,
// and with the environment Env() unless cmd.Env is set. If the test binary
// dies, the child is killed with it (Pdeathsig); when the test ends it is
// stopped: SIGTERM, then SIGKILL if it has not ended within 5 s.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Name: name, Cmd: cmd, Log: &SyncBuffer{}, Exited: make(chan struct{})}
	if cmd.Env == nil {
		cmd.Env = Env()
	}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.Exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.Exited
		}
	})
	return p
}

// Store is a single-member hecd store started by StartStore.
type Store struct {
	*Proc
	Name    string // member name
	URL     string // client URL, http://127.0.0.1:PORT
	PeerURL string
}

// StartStore runs the built hecd (Binary) as "hecd store", a single member
// called name, on free loopback ports with its data in a temporary
// directory, and waits up to 20 s until it is healthy; otherwise the test
// fails. When the test ends the store is stopped (see Start) and, if the
// test failed, the end of its log is logged.
func StartStore(t testing.TB, name string) *Store {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Name: name,
		URL:     fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1])}
	dataDir := filepath.Join(t.TempDir(), "data")
	// Registered before Start's clean-up, so it runs after it: the log is
	// then complete.
	t.Cleanup(func() {
		if t.Failed() && s.Proc != nil {
			t.Logf("hecd store %s log (the end):\n%s", name, Tail(s.Log.String(), 4000))
		}
	})
	s.Proc = Start(t, "hecd store "+name, exec.Command(bin, StoreArgs(name, dataDir, s.URL, s.PeerURL)...))
	if err := WaitHealthy(context.Background(), s.URL, s.Exited, 20*time.Second); err != nil {
		t.Fatalf("hecd store %s: %v (its log follows)", name, err)
	}
	return s
}

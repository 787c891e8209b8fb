package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"hecd/cmd/internal/benchkit"
	"hecd/test/hecdproc"
)

// server is one running store under test: a hecd started by exec.Cmd, or a
// real etcd started by the reference script.
type server struct {
	name string // "etcd" or "hecd"
	url  string // client URL, http://127.0.0.1:PORT
	pid  int
	log  string // where the server writes its log, when known

	stopOnce sync.Once
	stopErr  error
	stopFn   func() error
}

// stop ends the server and removes its data; it is safe to call more than once.
func (s *server) stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stopFn() })
	return s.stopErr
}

// alive reports whether the server process still runs.
func (s *server) alive() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		return false
	}
	// A zombie (state Z) has exited but is not reaped yet.
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	return i < 0 || i+2 >= len(st) || st[i+2] != 'Z'
}

// fleet keeps every server started so far so that all of them are stopped at
// the end, on error and on Ctrl-C.
type fleet struct {
	mu      sync.Mutex
	servers []*server
}

func (f *fleet) add(s *server) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers = append(f.servers, s)
}

// stopAll stops every server not stopped yet, in parallel.
func (f *fleet) stopAll() {
	f.mu.Lock()
	list := append([]*server(nil), f.servers...)
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.stop(); err != nil {
				fmt.Fprintf(os.Stderr, "hecd-bench: stopping %s (pid %d): %v\n", s.name, s.pid, err)
			}
		}()
	}
	wg.Wait()
}

// launcher starts fresh server instances.
type launcher struct {
	hecdBin    string
	etcdScript string
	tmp        string // everything the servers write goes below here
	fleet      *fleet
	verbose    bool
}

func (l *launcher) start(ctx context.Context, name string) (*server, error) {
	var (
		s   *server
		err error
	)
	// A port picked as free may be taken before the server binds it: retry.
	for attempt := 0; attempt < 3; attempt++ {
		if name == "hecd" {
			s, err = l.startHecd(ctx)
		} else {
			s, err = l.startEtcd(ctx)
		}
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	if l.verbose {
		fmt.Fprintf(os.Stderr, "hecd-bench: %s pid %d on %s (log %s)\n", s.name, s.pid, s.url, s.log)
	}
	return s, nil
}

// startHecd runs "hecd store" with etcd's flags on fresh loopback ports and a
// fresh data directory, and waits until /health reports true.
func (l *launcher) startHecd(ctx context.Context) (*server, error) {
	ports, err := hecdproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(l.tmp, "hecd-")
	if err != nil {
		return nil, err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	logPath := filepath.Join(dir, "hecd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(l.hecdBin, hecdproc.StoreArgs("bench", filepath.Join(dir, "data"), clientURL, peerURL)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: Ctrl-C in the terminal reaches only the bench, which
	// then stops the server itself. Pdeathsig kills hecd if the bench dies hard.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s := &server{name: "hecd", url: clientURL, pid: cmd.Process.Pid, log: logPath}
	s.stopFn = func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return os.RemoveAll(dir)
	}
	l.fleet.add(s)
	if err := hecdproc.WaitHealthy(ctx, clientURL, exited, 60*time.Second); err != nil {
		err = fmt.Errorf("%w\n%s", err, benchkit.Tail(logPath, 15))
		s.stop()
		return nil, err
	}
	return s, nil
}

// startEtcd runs the reference script, which starts a real etcd, waits for
// its health and prints its PID.
func (l *launcher) startEtcd(ctx context.Context) (*server, error) {
	ports, err := hecdproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", l.etcdScript, strconv.Itoa(ports[0]), strconv.Itoa(ports[1]))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The script's mktemp then puts etcd's data and log below our temp dir.
	cmd.Env = append(os.Environ(), "TMPDIR="+l.tmp)
	// Own process group, shared with the etcd it starts: Ctrl-C does not
	// reach them, and a cancelled start can kill both at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", l.etcdScript, err, strings.TrimSpace(stderr.String()))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(stdout.String()))
	if err != nil {
		return nil, fmt.Errorf("%s printed %q, not a PID", l.etcdScript, stdout.String())
	}
	s := &server{name: "etcd", url: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), pid: pid}
	if i := strings.LastIndex(stderr.String(), ", log "); i >= 0 {
		s.log = strings.TrimSpace(stderr.String()[i+len(", log "):])
	}
	s.stopFn = func() error {
		if !s.alive() {
			return nil
		}
		out, err := exec.Command("bash", l.etcdScript, "stop", strconv.Itoa(pid)).CombinedOutput()
		if err != nil && s.alive() {
			syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("%s stop: %v: %s", l.etcdScript, err, bytes.TrimSpace(out))
		}
		return nil
	}
	l.fleet.add(s)
	return s, nil
}

// cpuTime is the CPU time (user+system) the process has used so far, all
// its threads included.
func cpuTime(pid int) (time.Duration, error) {
	ticks, err := hecdproc.CPUTicks(pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(ticks) * time.Second / time.Duration(userHZ), nil
}

// userHZ is the unit of the kernel's CPU times, read once.
var userHZ, _ = hecdproc.ClockTicks()

// rssBytes is the process's resident set size (VmRSS).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

// proc is one child process: a backend, the store, a proxy.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string // file with its stdout and stderr
	exited chan struct{}

	stopOnce sync.Once
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and, if the process has not ended within 10 s,
// SIGKILL. It is safe to call more than once.
func (p *proc) stop() {
	p.stopOnce.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// fleet keeps every child started so that all of them are stopped at the
// end, on error and on Ctrl-C.
type fleet struct {
	mu    sync.Mutex
	procs []*proc
	dir   string // logs go here
}

// start runs cmd with its output in a log file below the fleet's directory.
// The child gets its own process group, so Ctrl-C in the terminal reaches
// only the bench, which then stops the children itself; Pdeathsig kills
// the child if the bench dies hard.
func (f *fleet) start(name string, cmd *exec.Cmd) (*proc, error) {
	logPath := filepath.Join(f.dir, strings.ReplaceAll(name, " ", "-")+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = logf
	}
	cmd.Stderr = logf
	if cmd.Env == nil {
		cmd.Env = hecdproc.Env()
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	return p, nil
}

// stopAll stops every child not stopped yet, in parallel.
func (f *fleet) stopAll() {
	f.mu.Lock()
	list := append([]*proc(nil), f.procs...)
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range list {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// backendArg is the hidden first argument that turns the bench binary
// into one of the test backends: hecd-proxybench <backendArg> NAME.
const backendArg = "__hecd-proxybench-backend"

// backend is a running test backend.
type backend struct {
	*proc
	name string // also the route id and the body it answers
	addr string // 127.0.0.1:PORT
}

// startBackend re-executes this binary as a backend. The backend binds
// 127.0.0.1:0 itself and prints the address it got, so no port can be
// taken between picking and binding.
func (f *fleet) startBackend(ctx context.Context, name string) (*backend, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, backendArg, name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := f.start("backend "+name, cmd)
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, out) // nothing more is expected; never block the child
	}()
	select {
	case addr := <-line:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			p.stop()
			return nil, fmt.Errorf("backend %s printed %q, not its address\n%s", name, addr, benchkit.Tail(p.log, 10))
		}
		return &backend{proc: p, name: name, addr: addr}, nil
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, fmt.Errorf("backend %s did not start within 10s\n%s", name, benchkit.Tail(p.log, 10))
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// serveBackend is the backend mode: a plain net/http server answering
// every request with 200 and its name. It is kept as small as possible so
// that the proxies, not the backends, are what the bench compares.
func serveBackend(name string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "backend %s: %v\n", name, err)
		return 1
	}
	body := []byte(name + "\n")
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Setting the map entries directly avoids the canonicalisation of
		// Header.Set on every request.
		hdr := w.Header()
		hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
		hdr["Content-Length"] = []string{length}
		w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	fmt.Println(l.Addr().String())
	os.Stdout.Close()
	// SIGTERM ends the process with Go's default handling: nothing to flush.
	err = srv.Serve(l)
	fmt.Fprintf(os.Stderr, "backend %s: %v\n", name, err)
	return 1
}

// store is the hecd store the proxies read their routes from.
type store struct {
	*proc
	url string
}

// startStore runs "hecd store" on free loopback ports with its data below
// dir, and waits until it is healthy. A port picked as free may be taken
// before hecd binds it, so a failed start is retried.
func (f *fleet) startStore(ctx context.Context, hecdBin, dir string) (*store, error) {
	var lastErr error
	for attempt := range 3 {
		ports, err := hecdproc.FreePorts(2)
		if err != nil {
			return nil, err
		}
		clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		data := filepath.Join(dir, fmt.Sprintf("store-data-%d", attempt))
		p, err := f.start("hecd store", exec.Command(hecdBin, hecdproc.StoreArgs("bench", data, clientURL, peerURL)...))
		if err != nil {
			return nil, err
		}
		if err := hecdproc.WaitHealthy(ctx, clientURL, p.exited, 60*time.Second); err != nil {
			p.stop()
			lastErr = fmt.Errorf("hecd store: %w\n%s", err, benchkit.Tail(p.log, 15))
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		return &store{proc: p, url: clientURL}, nil
	}
	return nil, lastErr
}

// target is one of the three things wrk is pointed at.
type target struct {
	name string // "hecd", "haproxy" or "direct"
	url  string // http://127.0.0.1:PORT/
	proc *proc  // the proxy whose CPU is measured; nil for direct
}

// startHecdProxy runs "hecd proxy" on a free port with the given default
// backend mode and waits until it routes every id in want to the backend
// of that name.
func (f *fleet) startHecdProxy(ctx context.Context, cfg *config, name, storeURL, defaultMode string, want []*backend) (*target, error) {
	var lastErr error
	for range 3 {
		port, err := hecdproc.FreePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args := []string{"proxy", "-store", storeURL, "-listen", addr,
			"-default-backend", defaultMode, "-access-log", "off",
			"-httpclose=" + strconv.FormatBool(cfg.httpclose)}
		args = append(args, cfg.proxyArgs...)
		p, err := f.start(name, exec.Command(cfg.hecd, args...))
		if err != nil {
			return nil, err
		}
		t := &target{name: "hecd", url: "http://" + addr + "/", proc: p}
		if err := waitRoutes(ctx, t, want, defaultMode != "none", 30*time.Second); err != nil {
			p.stop()
			lastErr = fmt.Errorf("%s: %w\n%s", name, err, benchkit.Tail(p.log, 15))
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		return t, nil
	}
	return nil, lastErr
}

// startHAProxy writes the equivalent HAProxy configuration and runs
// HAProxy in the foreground (-db) as one process without a master, so
// that its CPU time is that of one pid.
func (f *fleet) startHAProxy(ctx context.Context, cfg *config, dir string, backends []*backend) (*target, error) {
	var lastErr error
	for range 3 {
		port, err := hecdproc.FreePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		path := filepath.Join(dir, "haproxy.cfg")
		text := haproxyConfig(addr, backends, haproxyThreads(), cfg.httpclose)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return nil, err
		}
		if cfg.verbose {
			fmt.Fprint(os.Stderr, "hecd-proxybench: HAProxy configuration:\n"+indent(text))
		}
		p, err := f.start("haproxy", exec.Command(cfg.haproxy, "-db", "-f", path))
		if err != nil {
			return nil, err
		}
		t := &target{name: "haproxy", url: "http://" + addr + "/", proc: p}
		if err := waitRoutes(ctx, t, backends, true, 30*time.Second); err != nil {
			p.stop()
			lastErr = fmt.Errorf("haproxy: %w\n%s", err, benchkit.Tail(p.log, 15))
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		return t, nil
	}
	return nil, lastErr
}

// waitRoutes polls the proxy until a request with APPID: <name> reaches
// the backend <name> for every backend in want and, when withDefault, a
// request without the header is answered 200: the proxy has then bound its
// port and loaded its routes.
func waitRoutes(ctx context.Context, t *target, want []*backend, withDefault bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := newProbeClient()
	defer c.CloseIdleConnections()
	var last string
	for {
		ok := true
		for _, b := range want {
			code, body, err := probe(ctx, c, t.url, b.name)
			if err != nil || code != http.StatusOK || body != b.name+"\n" {
				ok, last = false, fmt.Sprintf("APPID %s: status %d, body %q, error %v", b.name, code, body, err)
				break
			}
		}
		if ok && withDefault {
			if code, body, err := probe(ctx, c, t.url, ""); err != nil || code != http.StatusOK {
				ok, last = false, fmt.Sprintf("no APPID: status %d, body %q, error %v", code, body, err)
			}
		}
		if ok {
			return nil
		}
		if t.proc != nil && t.proc.hasExited() {
			return errors.New("the proxy exited during start-up")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not route as expected within %v (last: %s)", t.url, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func newProbeClient() *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4,
			DisableCompression:  true,
		},
	}
}

// probe sends one GET with the APPID header (none when appid is empty)
// and returns the status and body.
func probe(ctx context.Context, c *http.Client, url, appid string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if appid != "" {
		req.Header["APPID"] = []string{appid}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), err
}

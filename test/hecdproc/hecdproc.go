// Package hecdproc runs hecd as a separate process for the out-of-process
// tests and the benchmark: it finds the repository and the shared
// directory beside it, builds the binary once, picks free loopback ports
// and waits for a server's /health. For tests it also starts and stops
// child processes (Start, StartStore) and the reference etcd
// (StartReference), and holds the small helpers they share (SyncBuffer,
// Tail, ExitCode).
package hecdproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"hecd/internal/freeport"
)

// RepoRoot walks up from the working directory to the go.mod of module
// hecd.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module hecd\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module hecd in the working directory or above")
		}
		dir = parent
	}
}

// SharedDir is $HECD_SHARED, or the directory "shared" beside the
// repository.
func SharedDir() (string, error) {
	if d := os.Getenv("HECD_SHARED"); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), "shared"), nil
}

// Build builds hecd/cmd/hecd into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hecd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "hecd/cmd/hecd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build hecd/cmd/hecd: %v\n%s", err, out)
	}
	return bin, nil
}

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary builds hecd once per process into a temporary directory that
// Cleanup removes (call it from TestMain after m.Run).
func Binary() (string, error) {
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "hecd-build-")
		if built.err == nil {
			built.bin, built.err = Build(context.Background(), built.dir)
		}
	})
	return built.bin, built.err
}

// Cleanup removes what Binary built.
func Cleanup() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// FreePort returns a loopback port that is free now (see package freeport
// for why it is not simply one the kernel picked).
func FreePort() (int, error) { return freeport.One() }

// FreePorts returns n distinct loopback ports that are free now.
func FreePorts(n int) ([]int, error) { return freeport.Get(n) }

// WaitHealthy polls baseURL/health until it answers {"health":"true"},
// the process exits (exited is closed; nil means never) or timeout passes.
func WaitHealthy(ctx context.Context, baseURL string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/health", nil)
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"health":"true"`)) {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("the server exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("%s/health did not report healthy within %v", baseURL, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StoreArgs are the arguments that start a single-member store called
// name on the given client and peer URLs, with its data in dataDir.
func StoreArgs(name, dataDir, clientURL, peerURL string) []string {
	return []string{"store", "--name", name, "--data-dir", dataDir,
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", name + "=" + peerURL}
}

// Env is this process's environment without the variables that configure
// etcd, etcdctl or hecd (ETCD_*, ETCDCTL_*, HECD_*): a child started with
// it is configured by its command line alone.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ETCD_") || strings.HasPrefix(kv, "ETCDCTL_") || strings.HasPrefix(kv, "HECD_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Watchers returns the "watchers" count of baseURL/v2/stats/store.
func Watchers(ctx context.Context, baseURL string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v2/stats/store", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Watchers *int `json:"watchers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	if st.Watchers == nil {
		return 0, errors.New("/v2/stats/store has no watchers field")
	}
	return *st.Watchers, nil
}

// WaitWatchers waits until the server's count of waiting watchers
// satisfies ok, or ctx ends.
func WaitWatchers(ctx context.Context, baseURL string, ok func(n int) bool) error {
	for {
		n, err := Watchers(ctx, baseURL)
		if err != nil {
			return err
		}
		if ok(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the watcher count on %s (now %d): %w", baseURL, n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Package dockerimg builds and runs throw-away containers for tests
// against the real Docker Engine. There is no registry to pull from, so
// images are built FROM scratch around a static Go binary compiled from a
// source text the test supplies. Everything created carries the label
// hecd-test=1 and is removed when the test ends, so a stray one is easy to
// find (docker ps -a --filter label=hecd-test=1).
package dockerimg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Label marks every image and container these helpers create.
const Label = "hecd-test=1"

// EchoServer is a ready-made source for BuildScratchImage: an HTTP server
// on :8080 (or $PORT) answering every request with the container's
// hostname and, if set, $REPLY. Run as "/srv -check" it GETs its own
// server and exits 0 or 1, for a HEALTHCHECK (see BuildScratchImage);
// "/srv -exit N" exits with code N at once.
const EchoServer = `package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-check":
			r, err := http.Get("http://127.0.0.1:" + port + "/")
			if err != nil || r.StatusCode != 200 {
				os.Exit(1)
			}
			return
		case "-exit":
			n, _ := strconv.Atoi(os.Args[2])
			os.Exit(n)
		}
	}
	host, _ := os.Hostname()
	http.ListenAndServe(":"+port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", host, os.Getenv("REPLY"))
	}))
}
`

// commandTimeout bounds every docker and go command run here.
const commandTimeout = 2 * time.Minute

// Available skips the test unless the docker CLI is installed and its
// daemon ($DOCKER_HOST or the default socket) answers.
func Available(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not installed; skipping tests against the real Docker Engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		t.Skipf("Docker Engine not reachable (%v: %s); skipping tests against the real Docker Engine",
			err, strings.TrimSpace(string(out)))
	}
}

// Docker runs the docker CLI, fails the test on error, and returns its
// standard output, trimmed.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := Try(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Try runs the docker CLI and returns its trimmed standard output, or an
// error carrying its standard error.
func Try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

var nameChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// BuildScratchImage compiles goSource (a main package using the standard
// library only) into a static binary, builds an image FROM scratch with
// it as /srv and entrypoint, and returns the image's unique tag
// ("hecd-test-<name>:<random>"). The image is removed when the test ends.
//
// dockerfile lines are appended to the Dockerfile, for example
// `HEALTHCHECK --interval=1s CMD ["/srv", "-check"]`: a scratch image has
// no shell, so a health check must use the exec form, which docker run's
// --health-cmd (always shell form) cannot give.
func BuildScratchImage(t testing.TB, name, goSource string, dockerfile ...string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not on PATH; cannot build a test image")
	}
	dir := t.TempDir()
	write := func(file, content string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module srv\n\ngo 1.24\n")
	write("main.go", goSource)
	write("Dockerfile", "FROM scratch\nCOPY srv /srv\nENTRYPOINT [\"/srv\"]\n"+strings.Join(append(dockerfile, ""), "\n"))
	// Only the binary goes into the build context.
	write(".dockerignore", "*\n!srv\n")

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", "srv", ".")
	build.Dir = dir
	// Static (no cgo), for the daemon's platform (assumed to be this
	// machine's), with this toolchain and no workspace of the caller's.
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		"GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build test image binary: %v\n%s", err, out)
	}

	tag := "hecd-test-" + nameChars.ReplaceAllString(strings.ToLower(name), "-") + ":" + randomHex(6)
	Docker(t, "build", "--quiet", "--label", Label, "--tag", tag, dir)
	t.Cleanup(func() {
		if _, err := Try("rmi", "--force", tag); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return tag
}

// Run starts a detached container (docker run -d --label hecd-test=1
// args...) and returns its full id; it is removed, with its anonymous
// volumes, when the test ends. Publish ports on 127.0.0.1 only
// ("-p 127.0.0.1::8080").
func Run(t testing.TB, args ...string) string {
	t.Helper()
	id := Docker(t, append([]string{"run", "--detach", "--label", Label}, args...)...)
	// With --detach the id is the last line (pull progress may precede it).
	if i := strings.LastIndexByte(id, '\n'); i >= 0 {
		id = id[i+1:]
	}
	t.Cleanup(func() {
		if _, err := Try("rm", "--force", "--volumes", id); err != nil && !strings.Contains(err.Error(), "No such container") {
			t.Logf("cleanup: %v", err)
		}
	})
	return id
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

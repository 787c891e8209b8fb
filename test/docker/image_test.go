package docker_test

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hecd/test/dockerimg"
	"hecd/test/hecdproc"
)

// buildImage builds the repository's Dockerfile the way its comment says
// (a static binary built on the host, then docker build) in a copy of the
// context, so that the repository is left as it was, and returns the tag.
func buildImage(t *testing.T, e *env) string {
	t.Helper()
	root, err := hecdproc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "hecd"), "./cmd/hecd")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build of hecd: %v\n%s", err, out)
	}
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tag := "hecd-test-image:" + e.run
	out := dockerimg.Docker(t, "build", "--label", dockerimg.Label, "--label", e.runLabel(), "--tag", tag, dir)
	t.Cleanup(func() {
		if _, err := dockerimg.Try("rmi", "--force", tag); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	// The legacy builder keeps the image of the first stage (the empty
	// /data) as an untagged image without the build's labels. Remove it
	// if this build made it; one taken from the cache is somebody else's.
	if id := newStageImage(out); id != "" {
		t.Cleanup(func() {
			if _, err := dockerimg.Try("rmi", id); err != nil && !strings.Contains(err.Error(), "No such image") {
				t.Logf("cleanup: %v", err)
			}
		})
	}
	return tag
}

// newStageImage reads the legacy builder's output and returns the id of
// the first stage's image when this build created it (not "Using cache"),
// "" otherwise (also with BuildKit, which keeps no stage images).
func newStageImage(out string) string {
	froms, cached, id := 0, false, ""
	for l := range strings.Lines(out) {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "Step "):
			if strings.Contains(l, " : FROM ") {
				froms++
			}
			if froms == 2 {
				if cached {
					return ""
				}
				return id
			}
			// What matters is the stage's last step, which made its image.
			cached, id = false, ""
		case l == "---> Using cache":
			cached = true
		case strings.HasPrefix(l, "---> ") && !strings.HasPrefix(l, "---> Running in"):
			if f := strings.Fields(l); len(f) == 2 && len(f[1]) >= 12 && strings.Trim(f[1], "0123456789abcdef") == "" {
				id = f[1]
			}
		}
	}
	return ""
}

// TestImage builds the image from the repository's Dockerfile, checks
// what it promises (static binary on scratch, non-root, entrypoint, data
// volume, never routing to itself) and runs the stack in it the way
// docker-compose.yml does: "up" with the Docker socket read-only, the
// socket's group added, in internal mode on the apps' network.
func TestImage(t *testing.T) {
	e := newEnv(t)
	tag := buildImage(t, e)

	out := dockerimg.Docker(t, "run", "--rm", "--label", dockerimg.Label, "--label", e.runLabel(), tag, "version")
	if !strings.Contains(out, "hecd Version:") {
		t.Errorf("docker run %s version printed %q", tag, out)
	}
	var cfg struct {
		User         string
		WorkingDir   string
		Entrypoint   []string
		Cmd          []string
		Volumes      map[string]struct{}
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	}
	if err := json.Unmarshal([]byte(dockerimg.Docker(t, "image", "inspect", "--format", "{{json .Config}}", tag)), &cfg); err != nil {
		t.Fatal(err)
	}
	if uid, _, _ := strings.Cut(cfg.User, ":"); uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
		t.Errorf("image user %q, want a numeric non-root uid (scratch has no /etc/passwd)", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/hecd"}) || !slices.Equal(cfg.Cmd, []string{"up"}) {
		t.Errorf("entrypoint %q cmd %q, want [/hecd] [up]", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.Volumes["/data"]; !ok || cfg.WorkingDir != "/data" {
		t.Errorf("volumes %v, working dir %q: want the data dir (./hecd.data) in the volume /data", cfg.Volumes, cfg.WorkingDir)
	}
	if _, ok := cfg.ExposedPorts["8000/tcp"]; !ok {
		t.Errorf("exposed ports %v lack the proxy's 8000/tcp", cfg.ExposedPorts)
	}
	if cfg.Labels["hecd.ignore"] != "true" {
		t.Errorf("labels %v: want hecd.ignore=true, so that hecd never routes to itself", cfg.Labels)
	}

	// The stack in a container needs the daemon's socket on this machine.
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		u, err := url.Parse(h)
		if err != nil || u.Scheme != "unix" {
			t.Skipf("DOCKER_HOST=%s is not a local socket; not running hecd up in a container", h)
		}
		sock = u.Path
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Skipf("the Docker socket %s: %v; not running hecd up in a container", sock, err)
	}
	gid := strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Gid), 10)

	owner := "image-" + e.run
	id := dockerimg.Docker(t, "run", "--detach", "--label", dockerimg.Label, "--label", e.runLabel(),
		"--network", e.net, "--group-add", gid,
		"--volume", sock+":/var/run/docker.sock:ro",
		"--publish", "127.0.0.1::8000",
		tag, "up", "-internal", "-network", e.net, "-owner-id", owner,
		"-ttl", "3s", "-resync", "2s", "-default-backend", "none", "-access-log", "off")
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", "--tail", "80", id).CombinedOutput()
			t.Logf("hecd container log (the end):\n%s", logs)
		}
		// Before the image's removal, which cannot delete an image in use.
		if _, err := dockerimg.Try("rm", "--force", "--volumes", id); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	addr := dockerimg.Docker(t, "port", id, "8000/tcp")
	if i := strings.IndexByte(addr, '\n'); i >= 0 {
		addr = addr[:i]
	}
	proxyURL := "http://" + addr
	if err := waitProxy(proxyURL, nil, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	b := e.create(t)
	dockerimg.Docker(t, "start", b.id)
	d := waitRoutable(t, newClient(), proxyURL, b, time.Now(), 5*time.Second)
	t.Logf("hecd in a container as uid %s (group %s for the socket): %s routable %v after docker start returned",
		cfg.User, gid, b.appID, d.Round(time.Millisecond))
	// hecd's own container exposes ports on that network too, and must
	// not have become a route (label hecd.ignore from the image).
	if status, body, err := get(newClient(), proxyURL, id[:12]); err != nil || status != 503 {
		t.Errorf("APPID of the hecd container itself: status %d body %q err %v, want 503", status, body, err)
	}

	// SIGTERM from docker stop: a clean and quick exit.
	began := time.Now()
	dockerimg.Docker(t, "stop", "--time", "20", id)
	took := time.Since(began)
	code := dockerimg.Docker(t, "inspect", "--format", "{{.State.ExitCode}}", id)
	t.Logf("docker stop of the hecd container: %v, exit status %s", took.Round(time.Millisecond), code)
	if code != "0" || took > 10*time.Second {
		t.Errorf("docker stop: exit status %s after %v, want 0 well within the grace period", code, took)
	}
}

package docker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client/pkg/versions"

	"hecd/internal/registrator"
	"hecd/internal/registrator/docker"
	"hecd/test/dockerimg"
)

// eventLog keeps the events of one stream so that the test can wait for
// one of them while the stream goes on.
type eventLog struct {
	mu     sync.Mutex
	events []registrator.Event
	err    error
	done   bool
	change chan struct{}
}

func follow(evs <-chan registrator.Event, errc <-chan error) *eventLog {
	l := &eventLog{change: make(chan struct{})}
	go func() {
		for {
			select {
			case ev := <-evs:
				l.mu.Lock()
				l.events = append(l.events, ev)
				close(l.change)
				l.change = make(chan struct{})
				l.mu.Unlock()
			case err := <-errc:
				l.mu.Lock()
				l.err, l.done = err, true
				close(l.change)
				l.change = make(chan struct{})
				l.mu.Unlock()
				return
			}
		}
	}()
	return l
}

// wait returns the first event of container id with action, waiting up
// to d.
func (l *eventLog) wait(t *testing.T, id, action string, d time.Duration) registrator.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		l.mu.Lock()
		for _, ev := range l.events {
			if ev.ID == id && ev.Action == action {
				l.mu.Unlock()
				return ev
			}
		}
		done, err, ch := l.done, l.err, l.change
		l.mu.Unlock()
		if done {
			t.Fatalf("event stream ended (%v) before %q for %.12s", err, action, id)
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %q event for %.12s within %v; got %v", action, id, d, l.actionsOf(id))
		}
	}
}

func (l *eventLog) actionsOf(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var a []string
	for _, ev := range l.events {
		if ev.ID == id {
			a = append(a, ev.Action)
		}
	}
	return a
}

// TestRealEngine runs the adapter against the Docker Engine of this
// machine ($DOCKER_HOST or the default socket) with a container built
// here FROM scratch: nothing is pulled.
func TestRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the test against the real Docker Engine")
	}
	dockerimg.Available(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	c, err := docker.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What the daemon says of itself, asked through the CLI.
	server := strings.Fields(dockerimg.Docker(t, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"))
	if len(server) != 2 {
		t.Fatalf("docker version: %q", server)
	}
	wantAPI := server[1]
	if versions.LessThan(docker.MaxAPIVersion, wantAPI) {
		wantAPI = docker.MaxAPIVersion
	}
	if info.ServerVersion != server[0] || info.APIVersion != wantAPI {
		t.Errorf("Info = %+v, want server %s, API %s", info, server[0], wantAPI)
	}
	t.Logf("daemon %s, API %s negotiated", info.ServerVersion, info.APIVersion)

	img := dockerimg.BuildScratchImage(t, "registrator-docker", dockerimg.EchoServer,
		`HEALTHCHECK --interval=1s --timeout=2s CMD ["/srv", "-check"]`)

	// Subscribe before anything starts, as the registrator does.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	evlog := follow(c.Events(sctx, 0))

	id := dockerimg.Run(t, "--label", "hecd.app=echo", "--env", "REPLY=hello",
		"--publish", "127.0.0.1::8080", img)
	start := evlog.wait(t, id, "start", 30*time.Second)

	ids, err := c.Running(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids, id) {
		t.Errorf("Running = %v, lacks %.12s", ids, id)
	}
	got, err := c.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Name == "" || got.Image != img || !got.Running || got.Paused {
		t.Errorf("Inspect: id %s name %q image %q running %v paused %v", got.ID, got.Name, got.Image, got.Running, got.Paused)
	}
	if got.Labels["hecd.app"] != "echo" || got.Labels["hecd-test"] != "1" || !slices.Contains(got.Env, "REPLY=hello") {
		t.Errorf("Inspect: labels %v env %v", got.Labels, got.Env)
	}
	if !slices.Contains(got.ExposedPorts, "8080/tcp") {
		t.Errorf("Inspect: exposed %v, want 8080/tcp", got.ExposedPorts)
	}
	// Engine 20.10 reports "default" for the default bridge, later ones
	// "bridge".
	if got.NetworkMode != "default" && got.NetworkMode != "bridge" {
		t.Errorf("Inspect: network mode %q", got.NetworkMode)
	}
	if n, ok := got.Networks["bridge"]; !ok || n.IP == "" {
		t.Errorf("Inspect: networks %v, want an IP on bridge", got.Networks)
	}
	if len(got.Ports) != 1 || got.Ports[0].ContainerPort != 8080 || got.Ports[0].Proto != "tcp" ||
		got.Ports[0].HostIP != "127.0.0.1" || got.Ports[0].HostPort <= 0 {
		t.Fatalf("Inspect: ports %+v, want one 8080/tcp binding on 127.0.0.1", got.Ports)
	}
	// The binding read is the real one: the server answers there.
	url := "http://127.0.0.1:" + strconv.Itoa(got.Ports[0].HostPort) + "/"
	if body := getWithin(t, url, 15*time.Second); !strings.Contains(body, "hello") {
		t.Errorf("GET %s = %q", url, body)
	}

	evlog.wait(t, id, "health_status: healthy", 30*time.Second)
	if got, err = c.Inspect(ctx, id); err != nil || got.Health != "healthy" {
		t.Errorf("Inspect after healthy event: %+v, %v", got, err)
	}

	dockerimg.Docker(t, "pause", id)
	evlog.wait(t, id, "pause", 15*time.Second)
	if got, err = c.Inspect(ctx, id); err != nil || !got.Running || !got.Paused {
		t.Errorf("Inspect when paused: %+v, %v", got, err)
	}
	if ids, err = c.Running(ctx); err != nil || !slices.Contains(ids, id) {
		t.Errorf("Running when paused: %v, %v", ids, err)
	}
	dockerimg.Docker(t, "unpause", id)
	evlog.wait(t, id, "unpause", 15*time.Second)

	dockerimg.Docker(t, "rm", "--force", id)
	if kill := evlog.wait(t, id, "kill", 15*time.Second); kill.Attributes["signal"] != "9" {
		t.Errorf("kill attributes %v, want signal 9", kill.Attributes)
	}
	if die := evlog.wait(t, id, "die", 15*time.Second); die.Attributes["exitCode"] != "137" {
		t.Errorf("die attributes %v, want exitCode 137", die.Attributes)
	}
	evlog.wait(t, id, "destroy", 15*time.Second)
	if _, err := c.Inspect(ctx, id); !errors.Is(err, registrator.ErrNoContainer) {
		t.Errorf("Inspect after rm: %v, want ErrNoContainer", err)
	}
	for _, a := range evlog.actionsOf(id) {
		if !slices.Contains(docker.EventActions, a) && !strings.HasPrefix(a, "health_status: ") {
			t.Errorf("action %q passed the filter", a)
		}
	}

	// A container that exits by itself: the code reaches inspect and the
	// die event.
	exited := dockerimg.Run(t, "--no-healthcheck", img, "-exit", "3")
	if die := evlog.wait(t, exited, "die", 30*time.Second); die.Attributes["exitCode"] != "3" {
		t.Errorf("die attributes %v, want exitCode 3", die.Attributes)
	}
	if got, err = c.Inspect(ctx, exited); err != nil || got.Running || got.ExitCode != 3 {
		t.Errorf("Inspect exited: %+v, %v", got, err)
	}

	// since is inclusive on the daemon: a reconnect from the start event's
	// time begins with that event (C.3 step 6).
	rctx, rstop := context.WithCancel(ctx)
	replay := follow(c.Events(rctx, start.TimeNano))
	first := replay.wait(t, id, "start", 15*time.Second)
	if first.TimeNano != start.TimeNano {
		t.Errorf("replayed start at %d, want %d", first.TimeNano, start.TimeNano)
	}
	replay.wait(t, id, "destroy", 15*time.Second)
	rstop()

	stop()
	deadline := time.After(10 * time.Second)
	for {
		evlog.mu.Lock()
		done, err := evlog.done, evlog.err
		evlog.mu.Unlock()
		if done {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("stream ended with %v, want context.Canceled", err)
			}
			break
		}
		select {
		case <-deadline:
			t.Fatal("stream did not end after cancel")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// getWithin GETs url until it answers 200, for up to d.
func getWithin(t *testing.T, url string, d time.Duration) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && rerr == nil {
				return string(body)
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

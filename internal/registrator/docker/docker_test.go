package docker_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"hecd/internal/registrator"
	"hecd/internal/registrator/docker"
	"hecd/internal/registrator/docker/fakeengine"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newClient connects to the fake with no DOCKER_* variable of the
// caller's environment leaking in.
func newClient(t *testing.T, host string, opts ...docker.Option) *docker.Client {
	t.Helper()
	t.Setenv("DOCKER_API_VERSION", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	c, err := docker.New(host, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const (
	idWeb    = "1111111111111111111111111111111111111111111111111111111111111111"
	idPaused = "2222222222222222222222222222222222222222222222222222222222222222"
	idExited = "3333333333333333333333333333333333333333333333333333333333333333"
	idBare   = "4444444444444444444444444444444444444444444444444444444444444444"
)

func TestListAndInspect(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	fe.Put(fakeengine.Container{
		ID: idWeb, Name: "web", Image: "example/web:1",
		Health: "healthy",
		Labels: map[string]string{"hecd.port": "8080", "com.example": "x"},
		Env:    []string{"SERVICE_NAME=web", "PATH=/bin"},
		// EXPOSE 9000 without publishing; 8080 on every IPv4 and IPv6
		// address (the daemon's two wildcard bindings); 53/udp on one.
		ExposedPorts: []string{"8080/tcp", "9000/tcp", "53/udp"},
		Ports: map[string][]fakeengine.PortBinding{
			"8080/tcp": {{HostIP: "0.0.0.0", HostPort: "32768"}, {HostIP: "::", HostPort: "32768"}},
			"9000/tcp": nil,
			"53/udp":   {{HostIP: "127.0.0.1", HostPort: "5353"}},
		},
		NetworkMode: "app_default",
		Networks: map[string]fakeengine.Network{
			"app_default": {IP: "172.18.0.5", IPv6: "fd00:18::5"},
			"backend":     {IP: "172.19.0.7"},
		},
	})
	fe.Put(fakeengine.Container{ID: idPaused, Name: "sleepy", Image: "x", State: "paused",
		Ports: map[string][]fakeengine.PortBinding{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "40000"}}}})
	fe.Put(fakeengine.Container{ID: idExited, Name: "gone", Image: "x", State: "exited", ExitCode: 137})
	fe.Put(fakeengine.Container{ID: idBare, Name: "bare", Image: "x", NetworkMode: "host"})

	c := newClient(t, fe.Host())
	ids, err := c.Running(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if want := []string{idWeb, idPaused, idBare}; !slices.Equal(ids, want) {
		t.Errorf("Running = %v, want %v (running and paused, not exited)", ids, want)
	}

	got, err := c.Inspect(ctx, idWeb)
	if err != nil {
		t.Fatal(err)
	}
	want := &registrator.Container{
		ID: idWeb, Name: "web", Image: "example/web:1",
		Running: true, Health: "healthy",
		StartedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Labels:    map[string]string{"hecd.port": "8080", "com.example": "x"},
		Env:       []string{"SERVICE_NAME=web", "PATH=/bin"},
		Ports: []registrator.PortBinding{
			{ContainerPort: 53, Proto: "udp", HostIP: "127.0.0.1", HostPort: 5353},
			{ContainerPort: 8080, Proto: "tcp", HostIP: "0.0.0.0", HostPort: 32768},
			{ContainerPort: 8080, Proto: "tcp", HostIP: "::", HostPort: 32768},
		},
		ExposedPorts: []string{"53/udp", "8080/tcp", "9000/tcp"},
		NetworkMode:  "app_default",
		Networks: map[string]registrator.Network{
			"app_default": {IP: "172.18.0.5", IPv6: "fd00:18::5"},
			"backend":     {IP: "172.19.0.7"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Inspect(web)\n got %+v\nwant %+v", got, want)
	}

	got, err = c.Inspect(ctx, idPaused)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Running || !got.Paused || got.Health != "" {
		t.Errorf("paused: Running=%v Paused=%v Health=%q, want true true \"\"", got.Running, got.Paused, got.Health)
	}
	if want := []string{"80/tcp"}; !slices.Equal(got.ExposedPorts, want) {
		t.Errorf("paused: ExposedPorts = %v, want %v (published ports count as exposed)", got.ExposedPorts, want)
	}

	got, err = c.Inspect(ctx, idExited)
	if err != nil {
		t.Fatal(err)
	}
	if got.Running || got.Paused || got.ExitCode != 137 {
		t.Errorf("exited: Running=%v Paused=%v ExitCode=%d, want false false 137", got.Running, got.Paused, got.ExitCode)
	}

	// No ports at all: NetworkSettings.Ports is null.
	got, err = c.Inspect(ctx, idBare)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ports != nil || got.ExposedPorts != nil || got.NetworkMode != "host" || got.Networks != nil {
		t.Errorf("bare: %+v, want no ports, no networks, mode host", got)
	}

	fe.Remove(idExited)
	_, err = c.Inspect(ctx, idExited)
	if !errors.Is(err, registrator.ErrNoContainer) {
		t.Errorf("Inspect(removed) = %v, want ErrNoContainer", err)
	}
}

// TestHealthStates: every health word passes through; "none" (healthcheck
// disabled) reads as no healthcheck.
func TestHealthStates(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	c := newClient(t, fe.Host())
	for _, h := range []string{"starting", "healthy", "unhealthy", "none"} {
		id := fe.Put(fakeengine.Container{Health: h})
		got, err := c.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := h
		if h == "none" {
			want = ""
		}
		if got.Health != want {
			t.Errorf("health %q read as %q, want %q", h, got.Health, want)
		}
	}
}

// openEvents subscribes and waits until the fake holds the stream.
func openEvents(t *testing.T, ctx context.Context, c *docker.Client, fe *fakeengine.Engine, since int64) (<-chan registrator.Event, <-chan error) {
	t.Helper()
	evs, errc := c.Events(ctx, since)
	if err := fe.WaitStreams(ctx, 1); err != nil {
		select {
		case err := <-errc:
			t.Fatalf("events: %v", err)
		default:
		}
		t.Fatal(err)
	}
	return evs, errc
}

// collect reads events until the error channel yields; every event must
// come before the error.
func collect(t *testing.T, ctx context.Context, evs <-chan registrator.Event, errc <-chan error) ([]registrator.Event, error) {
	t.Helper()
	var got []registrator.Event
	for {
		select {
		case ev := <-evs:
			got = append(got, ev)
		case err := <-errc:
			return got, err
		case <-ctx.Done():
			t.Fatalf("events: no end after %d events: %v", len(got), ctx.Err())
		}
	}
}

func actions(evs []registrator.Event) []string {
	var a []string
	for _, e := range evs {
		a = append(a, e.Action)
	}
	return a
}

func TestEventsDecodeAndEOF(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	c := newClient(t, fe.Host())
	evs, errc := openEvents(t, ctx, c, fe, 0)

	start := fe.Emit(fakeengine.Event{ID: idWeb, Action: "start", Attributes: map[string]string{"name": "web", "image": "example/web:1", "hecd.port": "8080"}})
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "create"})                  // not subscribed
	fe.Emit(fakeengine.Event{Type: "network", ID: "n1", Action: "connect"}) // not a container
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "exec_start: /srv -check"}) // not subscribed
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "health_status: healthy"})  // prefix match
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "kill", Attributes: map[string]string{"signal": "15"}})
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "die", Attributes: map[string]string{"exitCode": "143"}})
	for _, a := range []string{"stop", "pause", "unpause", "rename", "health_status: unhealthy", "destroy"} {
		fe.Emit(fakeengine.Event{ID: idWeb, Action: a})
	}
	fe.CloseEvents()

	got, err := collect(t, ctx, evs, errc)
	if err != io.EOF {
		t.Errorf("clean end: error %v, want io.EOF", err)
	}
	want := []string{"start", "health_status: healthy", "kill", "die", "stop", "pause", "unpause", "rename", "health_status: unhealthy", "destroy"}
	if a := actions(got); !slices.Equal(a, want) {
		t.Fatalf("actions = %q, want %q", a, want)
	}
	if got[0].ID != idWeb || got[0].TimeNano != start.TimeNano || got[0].Attributes["name"] != "web" || got[0].Attributes["hecd.port"] != "8080" {
		t.Errorf("start event = %+v", got[0])
	}
	if got[2].Attributes["signal"] != "15" || got[3].Attributes["exitCode"] != "143" {
		t.Errorf("kill/die attributes: %v / %v", got[2].Attributes, got[3].Attributes)
	}
	for i := 1; i < len(got); i++ {
		if got[i].TimeNano <= got[i-1].TimeNano {
			t.Errorf("event %d time %d not after %d", i, got[i].TimeNano, got[i-1].TimeNano)
		}
	}
	if _, ok := <-errc; ok {
		t.Error("error channel not closed after its one error")
	}

	// The request carried the C.3 filters.
	var q string
	for _, r := range fe.Requests() {
		if r.Path == "/events" {
			q = r.Query.Get("filters")
		}
	}
	for _, s := range append([]string{"type", "container"}, docker.EventActions...) {
		if !strings.Contains(q, `"`+s+`"`) {
			t.Errorf("events filters %s lack %s", q, s)
		}
	}
}

func TestEventsBreak(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	c := newClient(t, fe.Host())
	evs, errc := openEvents(t, ctx, c, fe, 0)
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "start"})
	// Let the event reach the reader before the break: a crash drops what
	// is in flight.
	select {
	case ev := <-evs:
		if ev.Action != "start" {
			t.Errorf("got %q", ev.Action)
		}
	case err := <-errc:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	fe.AbortEvents()
	_, err := collect(t, ctx, evs, errc)
	if err == nil || err == io.EOF {
		t.Errorf("broken stream: error %v, want a non-EOF error", err)
	}
	t.Logf("broken stream: %v", err)
}

func TestEventsContextEnd(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	c := newClient(t, fe.Host())
	sctx, cancel := context.WithCancel(ctx)
	evs, errc := openEvents(t, sctx, c, fe, 0)
	cancel()
	_, err := collect(t, ctx, evs, errc)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v, want context.Canceled", err)
	}
	// The reader is gone: the fake sees the stream close.
	deadline := time.Now().Add(5 * time.Second)
	for fe.Streams() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := fe.Streams(); n != 0 {
		t.Errorf("%d streams still open after cancel", n)
	}
}

// TestEventsSince: since is inclusive, as on the daemon, so a reconnect
// with the last seen time replays that event (C.3 step 6).
func TestEventsSince(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	c := newClient(t, fe.Host())
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "start", TimeNano: 1_700_000_000_000_000_001})
	second := fe.Emit(fakeengine.Event{ID: idWeb, Action: "die", TimeNano: 1_700_000_000_500_000_000})
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "start", TimeNano: 1_700_000_001_000_000_000})
	evs, errc := openEvents(t, ctx, c, fe, second.TimeNano)
	fe.Emit(fakeengine.Event{ID: idWeb, Action: "destroy"})
	fe.CloseEvents()
	got, err := collect(t, ctx, evs, errc)
	if err != io.EOF {
		t.Errorf("error %v, want io.EOF", err)
	}
	if a := actions(got); !slices.Equal(a, []string{"die", "start", "destroy"}) {
		t.Errorf("since replay: actions %q", a)
	}
	if len(got) > 0 && got[0].TimeNano != second.TimeNano {
		t.Errorf("first replayed time %d, want %d", got[0].TimeNano, second.TimeNano)
	}
}

func TestHostFromEnvironmentAndTCP(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	id := fe.Put(fakeengine.Container{})

	t.Setenv("DOCKER_HOST", fe.Host())
	c := newClient(t, "")
	if ids, err := c.Running(ctx); err != nil || !slices.Equal(ids, []string{id}) {
		t.Errorf("via DOCKER_HOST: %v, %v", ids, err)
	}

	tcp := fe.ListenTCP(t)
	c = newClient(t, tcp)
	if ids, err := c.Running(ctx); err != nil || !slices.Equal(ids, []string{id}) {
		t.Errorf("via %s: %v, %v", tcp, ids, err)
	}

	if _, err := docker.New("bogus://x"); err == nil {
		t.Error("New(bogus://x) succeeded")
	}
}

func TestDaemonDown(t *testing.T) {
	ctx := testContext(t)
	fe := fakeengine.New(t)
	c := newClient(t, fe.Host()) // New does not connect
	fe.Close()
	if _, err := c.Info(ctx); err == nil {
		t.Error("Info against a stopped daemon succeeded")
	}
	if _, err := c.Running(ctx); err == nil {
		t.Error("Running against a stopped daemon succeeded")
	}
	_, errc := c.Events(ctx, 0)
	if err := <-errc; err == nil || err == io.EOF {
		t.Errorf("Events against a stopped daemon: %v", err)
	}
}

// Package docker is the production registrator.Docker: it reaches the
// Docker Engine through the maintained client module
// github.com/moby/moby/client (spec registrator.md B.4; see CHOICE.md for
// why) and maps its answers to the registrator's own types.
//
// API-version negotiation (B.2) is done here rather than left to the
// library: the library negotiates lazily and, when that fails, silently
// sends requests at its own maximum version; it never compares with the
// daemon's minimum; and a forced re-negotiation can only lower the version.
// So every library client this package builds has an explicit version, and
// the version is chosen by negotiate.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"hecd/internal/registrator"
)

// MinAPIVersion and MaxAPIVersion bound the API versions this adapter
// speaks: those of the client library. Every field the adapter reads
// exists, with the same meaning, across that range.
const (
	MinAPIVersion = client.MinAPIVersion
	MaxAPIVersion = client.MaxAPIVersion
)

// EventActions are the container event actions subscribed to (C.3 step 3).
// The daemon matches "health_status" as a prefix, so the
// "health_status: healthy" / "health_status: unhealthy" actions pass.
var EventActions = []string{
	"start", "die", "stop", "kill", "destroy",
	"pause", "unpause", "rename", "health_status",
}

// Option configures New.
type Option func(*config)

type config struct {
	apiVersion string
	userAgent  string
}

// WithAPIVersion pins the API version ("1.41") and turns negotiation off,
// as DOCKER_API_VERSION does; it takes precedence over that variable.
// Info still checks the pinned version against the daemon's range.
func WithAPIVersion(v string) Option {
	return func(c *config) { c.apiVersion = v }
}

// WithUserAgent sets the User-Agent sent to the daemon (it shows in the
// daemon's debug log, which helps tell hecd's requests from others).
func WithUserAgent(ua string) Option {
	return func(c *config) { c.userAgent = ua }
}

// Client is a registrator.Docker backed by the Engine API.
type Client struct {
	host   string       // for error messages
	base   []client.Opt // transport options shared by every library client
	pinned string       // fixed API version, "" to negotiate

	// negMu single-flights negotiation; mu guards the fields below and is
	// never held across a network call.
	negMu sync.Mutex
	mu    sync.Mutex
	cli   *client.Client
	ready bool // cli's version has been checked against the daemon
}

var _ registrator.Docker = (*Client)(nil)

// New returns a client for host: "unix:///path", "tcp://host:port" (TLS
// from DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), or "" for $DOCKER_HOST and
// otherwise unix:///var/run/docker.sock. DOCKER_API_VERSION pins the API
// version as WithAPIVersion does. New does not contact the daemon: the
// registrator must start, and retry, while Docker is down (C.3).
func New(host string, opts ...Option) (*Client, error) {
	cfg := config{
		apiVersion: os.Getenv(client.EnvOverrideAPIVersion),
		userAgent:  "hecd-registrator",
	}
	for _, o := range opts {
		o(&cfg)
	}
	base := []client.Opt{client.WithTLSClientConfigFromEnv()}
	if host != "" {
		base = append(base, client.WithHost(host))
	} else {
		base = append(base, client.WithHostFromEnv())
	}
	if cfg.userAgent != "" {
		base = append(base, client.WithUserAgent(cfg.userAgent))
	}
	c := &Client{base: base, pinned: strings.TrimPrefix(strings.TrimSpace(cfg.apiVersion), "v")}
	start := c.pinned
	if start == "" {
		start = MaxAPIVersion
	}
	cli, err := c.build(start)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	c.cli = cli
	c.host = cli.DaemonHost()
	// The library accepts any scheme and fails only at the first dial;
	// say so at start-up instead (ssh:// is a CLI feature, not the API's).
	switch scheme, _, _ := strings.Cut(c.host, "://"); scheme {
	case "unix", "tcp", "http", "https", "npipe":
	default:
		cli.Close()
		return nil, fmt.Errorf("docker: host %q: unsupported scheme %q (want unix://, tcp://, http(s):// or npipe://)", c.host, scheme)
	}
	return c, nil
}

// build makes a library client fixed at version v. A fixed version turns
// the library's own (lazy, error-swallowing) negotiation off.
func (c *Client) build(v string) (*client.Client, error) {
	return client.New(append(slices.Clone(c.base), client.WithAPIVersion(v))...)
}

// Close releases idle connections. Streams already open keep running until
// their context ends.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cli.Close()
}

// APIVersion is the API version requests are sent with; before a
// successful negotiation it is the pinned version or MaxAPIVersion.
func (c *Client) APIVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cli.ClientVersion()
}

// negotiate returns a library client whose version suits the daemon
// (B.2). Without force it reuses the result of an earlier success; a
// failure is not remembered, so the next call tries again.
func (c *Client) negotiate(ctx context.Context, force bool) (*client.Client, client.ServerVersionResult, error) {
	c.mu.Lock()
	cli, ready := c.cli, c.ready
	c.mu.Unlock()
	if ready && !force {
		return cli, client.ServerVersionResult{}, nil
	}

	c.negMu.Lock()
	defer c.negMu.Unlock()
	c.mu.Lock()
	cli, ready = c.cli, c.ready
	c.mu.Unlock()
	if ready && !force {
		return cli, client.ServerVersionResult{}, nil
	}

	// /_ping is unversioned, so any library client can send it.
	ping, err := cli.Ping(ctx, client.PingOptions{})
	if err != nil {
		return nil, client.ServerVersionResult{}, fmt.Errorf("docker: ping %s: %w", c.host, err)
	}
	want := c.pinned
	if want != "" && ping.APIVersion != "" && versions.LessThan(ping.APIVersion, want) {
		return nil, client.ServerVersionResult{}, fmt.Errorf("docker: pinned API version %s is above the daemon's maximum %s",
			want, ping.APIVersion)
	}
	if want == "" {
		daemonMax := ping.APIVersion
		switch {
		case daemonMax == "":
			return nil, client.ServerVersionResult{}, fmt.Errorf("docker: %s did not report an API version in /_ping; this client needs %s to %s",
				c.host, MinAPIVersion, MaxAPIVersion)
		case versions.LessThan(daemonMax, MinAPIVersion):
			return nil, client.ServerVersionResult{}, fmt.Errorf("docker: daemon API version %s is older than this client's minimum %s",
				daemonMax, MinAPIVersion)
		case versions.LessThan(daemonMax, MaxAPIVersion):
			want = daemonMax
		default:
			want = MaxAPIVersion
		}
	}
	if cli.ClientVersion() != want {
		nc, err := c.build(want)
		if err != nil {
			return nil, client.ServerVersionResult{}, fmt.Errorf("docker: API version %s: %w", want, err)
		}
		c.mu.Lock()
		old := c.cli
		c.cli, c.ready = nc, false
		c.mu.Unlock()
		// Only idle connections close; a stream of the old client runs on.
		old.Close()
		cli = nc
	}

	// /version tells the daemon's minimum. A daemon asked below its
	// minimum refuses the request itself, naming both numbers.
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, client.ServerVersionResult{}, fmt.Errorf("docker: version at API %s: %w", want, err)
	}
	if v.MinAPIVersion != "" && versions.LessThan(want, v.MinAPIVersion) {
		return nil, client.ServerVersionResult{}, fmt.Errorf("docker: API version %s is below the daemon's minimum %s (daemon %s speaks %s to %s)",
			want, v.MinAPIVersion, v.Version, v.MinAPIVersion, v.APIVersion)
	}
	if v.APIVersion != "" && versions.LessThan(v.APIVersion, want) {
		return nil, client.ServerVersionResult{}, fmt.Errorf("docker: API version %s is above the daemon's maximum %s (daemon %s)",
			want, v.APIVersion, v.Version)
	}
	c.mu.Lock()
	if c.cli == cli {
		c.ready = true
	}
	c.mu.Unlock()
	return cli, v, nil
}

// Info pings the daemon, negotiates afresh (so a daemon upgraded or
// downgraded since the last call is followed) and reports the daemon's
// version and the API version now in use.
func (c *Client) Info(ctx context.Context) (registrator.EngineInfo, error) {
	cli, v, err := c.negotiate(ctx, true)
	if err != nil {
		return registrator.EngineInfo{}, err
	}
	return registrator.EngineInfo{ServerVersion: v.Version, APIVersion: cli.ClientVersion()}, nil
}

// Running lists the ids of the containers the daemon lists by default:
// running ones, paused ones included.
func (c *Client) Running(ctx context.Context) ([]string, error) {
	cli, _, err := c.negotiate(ctx, false)
	if err != nil {
		return nil, err
	}
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	ids := make([]string, 0, len(res.Items))
	for _, s := range res.Items {
		ids = append(ids, s.ID)
	}
	return ids, nil
}

// Inspect returns one container, or an error wrapping
// registrator.ErrNoContainer when the daemon answers 404.
func (c *Client) Inspect(ctx context.Context, id string) (*registrator.Container, error) {
	cli, _, err := c.negotiate(ctx, false)
	if err != nil {
		return nil, err
	}
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("docker: inspect %s: %w", id, registrator.ErrNoContainer)
		}
		return nil, fmt.Errorf("docker: inspect %s: %w", id, err)
	}
	return fromInspect(&res.Container), nil
}

// Events streams the container events of EventActions from since (unix
// nanoseconds, inclusive as the daemon treats it; 0: from now).
//
// Contract, for the reader: events arrive in the daemon's order; the event
// channel is never closed (so a select loop never sees a zero Event); the
// error channel receives exactly one error after the last event has been
// taken — io.EOF when the daemon ended the stream cleanly, ctx.Err() when
// ctx ended, anything else when the stream broke — and is then closed.
// The event channel is unbuffered: the reader must take events promptly
// (the daemon skips events for a subscriber that lags 100 ms, B.3).
func (c *Client) Events(ctx context.Context, since int64) (<-chan registrator.Event, <-chan error) {
	out := make(chan registrator.Event)
	errc := make(chan error, 1)
	cli, _, err := c.negotiate(ctx, false)
	if err != nil {
		errc <- err
		close(errc)
		return out, errc
	}
	opts := client.EventsListOptions{
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)).Add("event", EventActions...),
	}
	if since > 0 {
		opts.Since = fmt.Sprintf("%d.%09d", since/1e9, since%1e9)
	}
	// The library's Events returns once the daemon has answered, so the
	// subscription is live when this function returns (C.3 step 3 relies
	// on subscribing before listing).
	res := cli.Events(ctx, opts)
	go func() {
		defer close(errc)
		for {
			select {
			case m := <-res.Messages:
				// The library sends its error only after the previous
				// message was taken, so no event is lost behind an error.
				ev, ok := fromMessage(m)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					errc <- ctx.Err()
					return
				}
			case err := <-res.Err:
				if err == nil || errors.Is(err, io.EOF) { // io.ErrUnexpectedEOF is a break, not io.EOF
					err = io.EOF
				} else if ctx.Err() == nil {
					err = fmt.Errorf("docker: events: %w", err)
				}
				errc <- err
				return
			}
		}
	}()
	return out, errc
}

// fromMessage maps one event; it drops what is not a container event in
// case a daemon (or a Docker-compatible one) ignores the type filter.
func fromMessage(m events.Message) (registrator.Event, bool) {
	if m.Type != "" && m.Type != events.ContainerEventType || m.Actor.ID == "" {
		return registrator.Event{}, false
	}
	t := m.TimeNano
	if t == 0 {
		t = m.Time * 1e9
	}
	return registrator.Event{
		ID:         m.Actor.ID,
		Action:     string(m.Action),
		Attributes: m.Actor.Attributes,
		TimeNano:   t,
	}, true
}

// fromInspect maps an inspect answer; every nested part may be absent.
func fromInspect(r *container.InspectResponse) *registrator.Container {
	c := &registrator.Container{
		ID:   r.ID,
		Name: strings.TrimPrefix(r.Name, "/"),
	}
	if s := r.State; s != nil {
		c.Running, c.Paused, c.ExitCode = s.Running, s.Paused, s.ExitCode
		if s.Health != nil && s.Health.Status != container.NoHealthcheck {
			c.Health = string(s.Health.Status)
		}
		// "0001-01-01T00:00:00Z" for a container never started.
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && t.Year() > 1 {
			c.StartedAt = t
		}
	}
	exposed := map[network.Port]bool{}
	if cfg := r.Config; cfg != nil {
		// Config.Image is the name the container was started with; the
		// top-level Image is the image's digest.
		c.Image = cfg.Image
		c.Labels = cfg.Labels
		c.Env = cfg.Env
		for p := range cfg.ExposedPorts {
			exposed[p] = true
		}
	}
	if hc := r.HostConfig; hc != nil {
		c.NetworkMode = string(hc.NetworkMode)
	}
	if ns := r.NetworkSettings; ns != nil {
		for p, bindings := range ns.Ports {
			// A port listed here is exposed even when unpublished (nil).
			exposed[p] = true
			for _, b := range bindings {
				hp, err := strconv.Atoi(b.HostPort)
				if err != nil || hp <= 0 {
					continue // not (yet) bound: nothing to route to
				}
				c.Ports = append(c.Ports, registrator.PortBinding{
					ContainerPort: int(p.Num()),
					Proto:         string(p.Proto()),
					HostIP:        addr(b.HostIP),
					HostPort:      hp,
				})
			}
		}
		for name, es := range ns.Networks {
			if es == nil {
				continue
			}
			if c.Networks == nil {
				c.Networks = map[string]registrator.Network{}
			}
			c.Networks[name] = registrator.Network{IP: addr(es.IPAddress), IPv6: addr(es.GlobalIPv6Address)}
		}
	}
	// Map order is random; callers (and their logs) want a stable order.
	slices.SortFunc(c.Ports, func(a, b registrator.PortBinding) int {
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort - b.ContainerPort
		}
		if a.Proto != b.Proto {
			return strings.Compare(a.Proto, b.Proto)
		}
		if a.HostIP != b.HostIP {
			return strings.Compare(a.HostIP, b.HostIP)
		}
		return a.HostPort - b.HostPort
	})
	ports := make([]network.Port, 0, len(exposed))
	for p := range exposed {
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b network.Port) int {
		if a.Num() != b.Num() {
			return int(a.Num()) - int(b.Num())
		}
		return strings.Compare(string(a.Proto()), string(b.Proto()))
	})
	for _, p := range ports {
		c.ExposedPorts = append(c.ExposedPorts, p.String())
	}
	return c
}

// addr renders an address, "" when absent (the API's empty string).
func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

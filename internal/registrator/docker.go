// Package registrator keeps the store's registrations true to what runs on
// a Docker host: /app/servers/<app-id> = host:port for every routable
// container, with a TTL refreshed while it runs and an ownership record so
// that one host never removes another host's keys (spec registrator.md
// Part C).
//
// Docker is reached only through the small Docker interface below, so the
// reconcile logic is tested against a fake, and the production adapter
// (package docker beside this one) is tested against the real Engine.
package registrator

import (
	"context"
	"errors"
	"time"
)

// Container is what the registrator needs to know of one container, as
// inspect reports it.
type Container struct {
	ID    string // 64 hex characters
	Name  string // without the leading "/"
	Image string

	Running, Paused bool
	// Health is the HEALTHCHECK state: "" (none), "starting", "healthy" or
	// "unhealthy".
	Health   string
	ExitCode int
	// StartedAt is when the container last started; zero if unknown.
	StartedAt time.Time

	Labels map[string]string
	Env    []string // KEY=VALUE, as in the container's config

	// Ports are the published bindings; ExposedPorts are the container's
	// exposed ports ("80/tcp"), for internal mode.
	Ports        []PortBinding
	ExposedPorts []string

	// NetworkMode is HostConfig.NetworkMode ("bridge", "host",
	// "container:<id>", a network name).
	NetworkMode string
	// Networks are the attached networks by name.
	Networks map[string]Network
}

// PortBinding is one published port.
type PortBinding struct {
	ContainerPort int
	Proto         string // "tcp" or "udp"
	HostIP        string // "" or "0.0.0.0" or "::" for every address
	HostPort      int
}

// Network is a container's address on one network.
type Network struct {
	IP, IPv6 string
}

// Event is one container event of the Engine's event stream.
type Event struct {
	ID     string // container id
	Action string // "start", "die", "health_status: healthy", "kill", ...
	// Attributes are the actor's attributes (exitCode, signal, name, ...).
	Attributes map[string]string
	TimeNano   int64
}

// EngineInfo is what ping/version says of the daemon.
type EngineInfo struct {
	ServerVersion string
	APIVersion    string // the version the adapter negotiated
}

// Docker is the registrator's view of the Engine.
type Docker interface {
	// Info pings the daemon and reports its version.
	Info(ctx context.Context) (EngineInfo, error)
	// Running lists the ids of the running (and paused) containers.
	Running(ctx context.Context) ([]string, error)
	// Inspect returns one container, or ErrNoContainer.
	Inspect(ctx context.Context, id string) (*Container, error)
	// Events streams container events from since (unix nanoseconds; 0:
	// from now) until ctx ends or the stream breaks; the error channel
	// then receives one error (io.EOF for a clean end).
	Events(ctx context.Context, since int64) (<-chan Event, <-chan error)
}

// ErrNoContainer is returned by Inspect for a container that is gone.
var ErrNoContainer = errors.New("no such container")

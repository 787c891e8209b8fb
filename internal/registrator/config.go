package registrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"hecd/internal/client"
)

// Layout is how routes are laid out under the prefix.
type Layout string

const (
	// LayoutHecd is one key per container, <prefix>/<app-id> = host:port,
	// which the legacy template and the proxy read (C.1).
	LayoutHecd Layout = "hecd"
	// LayoutRegistrator is gliderlabs/registrator's etcd layout,
	// <prefix>/<service name>/<service id> = host:port, one key per port.
	LayoutRegistrator Layout = "registrator"
)

// DeregisterMode says what a container's death does to its routes.
type DeregisterMode string

const (
	DeregisterAlways    DeregisterMode = "always"
	DeregisterOnSuccess DeregisterMode = "on-success" // registrator's rules (A.7)
	DeregisterNever     DeregisterMode = "never"      // left to TTL expiry
)

// HostAddrs are this host's addresses for routes of published ports; an
// invalid Addr means the host has none of that family.
type HostAddrs struct {
	V4, V6 netip.Addr
}

// Config is everything the registrator needs. Start from DefaultConfig:
// its zero value does not have the documented defaults.
type Config struct {
	Client *client.Client
	Docker Docker

	// Prefix holds the routes; MetaPrefix the ownership records
	// (<meta>/owners/<owner-id>/...) and weights (<meta>/weights/<app-id>).
	Prefix, MetaPrefix string
	Layout             Layout
	// KeyBy names a container's app id: "short-id" (12 hex), "id", "name"
	// or "label:<label>". The label hecd.appid overrides it.
	KeyBy string
	// AllowAppID, if set, must accept an app id (already matching the
	// app-id pattern) before it is written.
	AllowAppID func(appID string) bool

	// IP, if set, is the address of every route of a published port
	// (--ip / HECD_HOST_IP).
	IP string
	// Internal registers container addresses and container-side ports;
	// Network picks the network when a container has several.
	Internal bool
	Network  string
	// Explicit registers only containers with hecd.enable=true or a
	// SERVICE_NAME.
	Explicit bool
	// IPv6 prefers IPv6 addresses where a port is reachable on both.
	IPv6 bool

	// TTL of every key written (0: none, debugging only); TTLRefresh is
	// the refresh period (0: TTL/3); Resync the full reconcile period (0:
	// only at start-up and after the event stream reconnects).
	TTL, TTLRefresh, Resync time.Duration

	Deregister DeregisterMode
	// RequireHealthy keeps containers with a HEALTHCHECK out until they
	// are healthy; KeepPaused keeps paused containers registered.
	RequireHealthy, KeepPaused bool
	// DrainTimeout bounds how long a container sent SIGTERM/SIGINT/SIGKILL
	// (or stopped) stays out while it still runs; 0 turns draining off.
	DrainTimeout time.Duration
	// ReadyTimeout holds back a new route of a container without a
	// HEALTHCHECK until its address accepts TCP connections, for at most
	// this long after the container started; then it is registered
	// anyway. Registrator wrote the key at the start event, before the
	// program inside listened, and a proxy's first health check then
	// took the server down for rise × inter (10 s with the seed's
	// checks). 0 registers at once, as registrator did.
	ReadyTimeout time.Duration
	// Probe checks that addr (host:port) accepts a TCP connection; nil
	// dials with a short timeout. Tests replace it.
	Probe func(ctx context.Context, addr string) error
	// DeregisterOnExit deletes this owner's keys when Run ends; by default
	// they are left to expire, so that a registrator restart does not
	// flap every route.
	DeregisterOnExit bool

	// OwnerID names this host in ownership records; it must be stable
	// across restarts (DefaultOwnerID gives the machine id or hostname).
	OwnerID string
	// Hostname is the first part of service ids in the registrator layout
	// (registrator used its own hostname).
	Hostname string
	// Adopt takes over route keys that no owner records, for migrating
	// from a registrator that wrote the same keys.
	Adopt bool
	// DryRun logs the writes instead of making them.
	DryRun bool

	// Parallel bounds how many containers are worked on at once.
	Parallel int
	// BackoffMin and BackoffMax bound the waits between retries of the
	// Docker and store connections.
	BackoffMin, BackoffMax time.Duration

	Logger *slog.Logger
	// DetectHostAddrs finds the host's addresses (C.7); nil uses the
	// kernel's route toward the first store endpoint, then the
	// interfaces. Tests replace it.
	DetectHostAddrs func(ctx context.Context, storeEndpoints []string) (HostAddrs, error)
}

// Defaults of C.8.
const (
	DefaultPrefix       = "/app/servers"
	DefaultMetaPrefix   = "/hecd"
	DefaultTTL          = 30 * time.Second
	DefaultResync       = 60 * time.Second
	DefaultDrainTimeout = 60 * time.Second
	DefaultReadyTimeout = 10 * time.Second
)

// DefaultConfig returns the documented defaults; Client, Docker and
// OwnerID are left for the caller.
func DefaultConfig() Config {
	return Config{
		Prefix:         DefaultPrefix,
		MetaPrefix:     DefaultMetaPrefix,
		Layout:         LayoutHecd,
		KeyBy:          "short-id",
		TTL:            DefaultTTL,
		Resync:         DefaultResync,
		Deregister:     DeregisterAlways,
		RequireHealthy: true,
		DrainTimeout:   DefaultDrainTimeout,
		ReadyTimeout:   DefaultReadyTimeout,
		Parallel:       8,
		BackoffMin:     500 * time.Millisecond,
		BackoffMax:     30 * time.Second,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

// appIDPattern is the app-id rule of C.1; it is also a valid HAProxy
// proxy name and a single key segment.
var appIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidAppID reports whether s may be an app id (and an owner id).
func ValidAppID(s string) bool { return appIDPattern.MatchString(s) }

// networkPattern is Docker's own rule for network names, length-limited.
var networkPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)

// Validate reports settings that cannot work and fills the derived
// defaults (TTLRefresh, Hostname, Logger, Parallel, back-off).
func (c *Config) Validate() error {
	if c.Client == nil {
		return errors.New("registrator: no store client")
	}
	if c.Docker == nil {
		return errors.New("registrator: no Docker")
	}
	var err error
	if c.Prefix, err = cleanPrefix("prefix", c.Prefix); err != nil {
		return err
	}
	if c.MetaPrefix, err = cleanPrefix("meta prefix", c.MetaPrefix); err != nil {
		return err
	}
	// Listing one must never show the other's keys as routes or records.
	if within(c.Prefix, c.MetaPrefix) || within(c.MetaPrefix, c.Prefix) {
		return fmt.Errorf("registrator: prefix %s and meta prefix %s overlap", c.Prefix, c.MetaPrefix)
	}
	switch c.Layout {
	case LayoutHecd, LayoutRegistrator:
	case "":
		c.Layout = LayoutHecd
	default:
		return fmt.Errorf("registrator: unknown layout %q (want hecd or registrator)", c.Layout)
	}
	switch {
	case c.KeyBy == "":
		c.KeyBy = "short-id"
	case c.KeyBy == "short-id", c.KeyBy == "id", c.KeyBy == "name":
	case strings.HasPrefix(c.KeyBy, "label:") && len(c.KeyBy) > len("label:") && !hasControl(c.KeyBy):
	default:
		return fmt.Errorf("registrator: invalid key-by %q (want short-id, id, name or label:<label>)", c.KeyBy)
	}
	if c.IP != "" {
		a, err := netip.ParseAddr(c.IP)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("registrator: invalid ip %q", c.IP)
		}
		if a.Unmap().IsUnspecified() {
			return fmt.Errorf("registrator: ip %s is the wildcard address, not one to register", c.IP)
		}
	}
	if c.Network != "" && !networkPattern.MatchString(c.Network) {
		return fmt.Errorf("registrator: invalid network name %q", c.Network)
	}
	switch {
	case c.TTL < 0 || c.TTLRefresh < 0 || c.Resync < 0 || c.DrainTimeout < 0 || c.ReadyTimeout < 0:
		return errors.New("registrator: durations must not be negative")
	case c.TTL > 0 && c.TTL < time.Second:
		return fmt.Errorf("registrator: ttl %v is below the store's one-second unit", c.TTL)
	case c.TTL == 0 && c.TTLRefresh > 0:
		return errors.New("registrator: ttl-refresh without a ttl")
	case c.TTL > 0 && c.TTLRefresh >= c.TTL:
		return fmt.Errorf("registrator: ttl-refresh %v must be below ttl %v", c.TTLRefresh, c.TTL)
	}
	if c.TTL > 0 && c.TTLRefresh == 0 {
		c.TTLRefresh = c.TTL / 3
	}
	switch c.Deregister {
	case DeregisterAlways, DeregisterOnSuccess, DeregisterNever:
	case "":
		c.Deregister = DeregisterAlways
	default:
		return fmt.Errorf("registrator: invalid deregister mode %q (want always, on-success or never)", c.Deregister)
	}
	if !ValidAppID(c.OwnerID) {
		return fmt.Errorf("registrator: invalid owner id %q (want %s)", c.OwnerID, appIDPattern)
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
		if c.Hostname == "" {
			c.Hostname = c.OwnerID
		}
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 500 * time.Millisecond
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = max(30*time.Second, c.BackoffMin)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.DetectHostAddrs == nil {
		c.DetectHostAddrs = DetectHostAddrs
	}
	return nil
}

// cleanPrefix requires an absolute, non-root key prefix.
func cleanPrefix(what, p string) (string, error) {
	if !strings.HasPrefix(p, "/") || hasControl(p) {
		return "", fmt.Errorf("registrator: %s %q must be an absolute key", what, p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", fmt.Errorf("registrator: %s must not be the root", what)
	}
	return p, nil
}

// within reports whether key is dir or below it.
func within(key, dir string) bool {
	return key == dir || strings.HasPrefix(key, dir+"/")
}

// DefaultOwnerID is the host's machine id, or its hostname where there is
// none: both survive a registrator restart, unlike a container's own
// hostname (A.8, gliderlabs/registrator#312).
func DefaultOwnerID() (string, error) {
	return ownerIDFrom(os.ReadFile, os.Hostname)
}

func ownerIDFrom(readFile func(string) ([]byte, error), hostname func() (string, error)) (string, error) {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := readFile(p); err == nil {
			if id := string(bytes.TrimSpace(b)); ValidAppID(id) {
				return id, nil
			}
		}
	}
	h, err := hostname()
	if err != nil {
		return "", fmt.Errorf("registrator: no machine id and no hostname: %w", err)
	}
	if !ValidAppID(h) {
		return "", fmt.Errorf("registrator: hostname %q is not a valid owner id; set one", h)
	}
	return h, nil
}

// hasControl reports whether s has a control character (C0, DEL, C1) or
// is not UTF-8: untrusted labels and environment values with one are
// rejected, never written.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffd {
			return true
		}
	}
	return false
}

package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Config is everything a store member needs. cmd/hecd fills it from flags,
// environment and config file; defaults follow etcd's.
type Config struct {
	Name    string // member name (--name)
	DataDir string // raft log, stable store and snapshots (--data-dir)

	ListenClientURLs    []url.URL // where clients are served
	AdvertiseClientURLs []url.URL // what /v2/machines and /v2/members report
	ListenPeerURLs      []url.URL
	// InitialAdvertisePeerURLs are this member's peer URLs as announced.
	InitialAdvertisePeerURLs []url.URL
	// InitialCluster maps member name to its peer URLs (--initial-cluster).
	InitialCluster      map[string][]url.URL
	InitialClusterState string // "new" or "existing"
	InitialClusterToken string

	SnapshotCount uint64 // applied entries between snapshots
	// LogSegmentSize is the raft log's segment file size (0: 64 MiB). The
	// log is truncated after a snapshot one whole segment at a time.
	LogSegmentSize    int
	HeartbeatInterval time.Duration // raft heartbeat
	ElectionTimeout   time.Duration // raft election timeout

	// CORS lists the origins allowed to make cross-origin requests; "*"
	// allows any. Empty (the default) sends no CORS headers.
	CORS []string
	// MaxRequestBytes bounds a url-encoded keys request body (etcd: 10 MiB
	// for forms) and every JSON body of the other endpoints.
	MaxRequestBytes int64

	// EnablePprof serves /debug/pprof/ on the client listeners.
	EnablePprof bool

	// UnsafeNoFsync turns fsync off; for tests only.
	UnsafeNoFsync bool

	Logger *slog.Logger
}

// Default client and peer URLs, as etcd 2 used them.
var (
	DefaultListenClientURLs = []string{"http://localhost:2379", "http://localhost:4001"}
	DefaultListenPeerURLs   = []string{"http://localhost:2380"}
)

// DefaultConfig returns etcd's defaults for a member called "default".
func DefaultConfig() Config {
	c := Config{
		Name:                "default",
		InitialClusterState: "new",
		InitialClusterToken: "etcd-cluster",
		SnapshotCount:       100000,
		HeartbeatInterval:   100 * time.Millisecond,
		ElectionTimeout:     1000 * time.Millisecond,
		MaxRequestBytes:     10 * 1024 * 1024,
	}
	c.ListenClientURLs = mustURLs(DefaultListenClientURLs)
	c.AdvertiseClientURLs = mustURLs(DefaultListenClientURLs)
	c.ListenPeerURLs = mustURLs(DefaultListenPeerURLs)
	c.InitialAdvertisePeerURLs = mustURLs(DefaultListenPeerURLs)
	return c
}

func mustURLs(ss []string) []url.URL {
	us, err := ParseURLs(strings.Join(ss, ","))
	if err != nil {
		panic(err)
	}
	return us
}

// ParseURLs parses a comma-separated list of http(s) URLs with a host and
// port and nothing else, as etcd's URL flags require.
func ParseURLs(s string) ([]url.URL, error) {
	var out []url.URL
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "unix" && u.Scheme != "unixs" {
			return nil, fmt.Errorf("URL scheme must be http, https, unix, or unixs: %s", part)
		}
		if u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("URL must not contain a path: %s", part)
		}
		if u.Port() == "" && (u.Scheme == "http" || u.Scheme == "https") {
			return nil, fmt.Errorf("URL address does not have the form \"host:port\": %s", part)
		}
		u.Path = ""
		out = append(out, *u)
	}
	return out, nil
}

// ParseInitialCluster parses "name=url,name=url"; a name may repeat to give
// one member several peer URLs.
func ParseInitialCluster(s string) (map[string][]url.URL, error) {
	m := map[string][]url.URL{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, raw, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--initial-cluster: %q is not name=url", part)
		}
		us, err := ParseURLs(raw)
		if err != nil {
			return nil, fmt.Errorf("--initial-cluster: %w", err)
		}
		m[name] = append(m[name], us...)
	}
	return m, nil
}

// ErrNotYetSupported marks settings that ask for something this build does
// not do yet (clustering, TLS); the message says what.
var ErrNotYetSupported = errors.New("not supported yet")

// Validate fills derived defaults and rejects settings that cannot work.
func (c *Config) Validate() error {
	if c.Name == "" {
		return errors.New("--name must not be empty")
	}
	if c.DataDir == "" {
		c.DataDir = c.Name + ".etcd"
	}
	if len(c.ListenClientURLs) == 0 {
		return errors.New("--listen-client-urls: at least one URL is needed")
	}
	if len(c.AdvertiseClientURLs) == 0 {
		c.AdvertiseClientURLs = c.ListenClientURLs
	}
	for _, u := range append(append([]url.URL{}, c.ListenClientURLs...), c.ListenPeerURLs...) {
		if u.Scheme != "http" {
			return fmt.Errorf("%w: %s: only http:// listeners are served by this build (TLS is not implemented yet)", ErrNotYetSupported, u.String())
		}
	}
	if c.UnsafeNoFsync {
		return fmt.Errorf("%w: --unsafe-no-fsync: every write is fsynced in this build", ErrNotYetSupported)
	}
	if c.InitialCluster == nil {
		c.InitialCluster = map[string][]url.URL{c.Name: c.InitialAdvertisePeerURLs}
	}
	if _, ok := c.InitialCluster[c.Name]; !ok {
		return fmt.Errorf("--initial-cluster has no member named %q (--name)", c.Name)
	}
	if len(c.InitialCluster) > 1 {
		return fmt.Errorf("%w: --initial-cluster names %d members; this build runs single-member clusters only", ErrNotYetSupported, len(c.InitialCluster))
	}
	switch c.InitialClusterState {
	case "new", "existing":
	default:
		return fmt.Errorf("--initial-cluster-state must be \"new\" or \"existing\", not %q", c.InitialClusterState)
	}
	if c.HeartbeatInterval <= 0 || c.ElectionTimeout <= 0 {
		return errors.New("--heartbeat-interval and --election-timeout must be positive")
	}
	if c.ElectionTimeout < 5*c.HeartbeatInterval {
		return fmt.Errorf("--election-timeout[%v] should be at least as 5 times as --heartbeat-interval[%v]", c.ElectionTimeout, c.HeartbeatInterval)
	}
	if c.SnapshotCount == 0 {
		c.SnapshotCount = 100000
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 10 * 1024 * 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

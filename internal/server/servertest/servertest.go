// Package servertest starts in-process members on loopback for tests.
package servertest

import (
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"testing"
	"time"

	"hecd/internal/freeport"
	"hecd/internal/server"
)

// Member is a started member and its client URL.
type Member struct {
	*server.Server
	URL     string
	DataDir string
}

// FreePort returns a port on 127.0.0.1 that is free now (see package
// freeport for why it is not simply one the kernel picked).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.One()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Config returns a single-member config on free loopback ports with its
// data in dataDir.
func Config(t testing.TB, dataDir string) server.Config {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Name = "test"
	cfg.DataDir = dataDir
	cu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(FreePort(t)))
	pu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(FreePort(t)))
	cfg.ListenClientURLs = []url.URL{*cu}
	cfg.AdvertiseClientURLs = []url.URL{*cu}
	cfg.ListenPeerURLs = []url.URL{*pu}
	cfg.InitialAdvertisePeerURLs = []url.URL{*pu}
	cfg.HeartbeatInterval = 10 * time.Millisecond
	cfg.ElectionTimeout = 100 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// Start starts a member with cfg and stops it when the test ends.
func Start(t testing.TB, cfg server.Config) *Member {
	t.Helper()
	s, err := server.New(cfg)
	if err != nil {
		t.Fatalf("starting member: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &Member{Server: s, URL: "http://" + s.ClientAddrs()[0], DataDir: cfg.DataDir}
}

// StartNew starts a fresh member in a temporary directory.
func StartNew(t testing.TB) *Member {
	t.Helper()
	return Start(t, Config(t, t.TempDir()))
}

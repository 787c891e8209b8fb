package registrator

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"hecd/internal/client"
)

func TestValidate(t *testing.T) {
	cli, err := client.New(client.Config{Endpoints: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	base := func() Config {
		c := DefaultConfig()
		c.Client, c.Docker, c.OwnerID = cli, newFakeDocker(), "host-1"
		return c
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		err  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no client", func(c *Config) { c.Client = nil }, "no store client"},
		{"no docker", func(c *Config) { c.Docker = nil }, "no Docker"},
		{"relative prefix", func(c *Config) { c.Prefix = "app" }, "absolute"},
		{"root prefix", func(c *Config) { c.Prefix = "/" }, "root"},
		{"overlap", func(c *Config) { c.MetaPrefix = "/app/servers/meta" }, "overlap"},
		{"overlap reversed", func(c *Config) { c.Prefix = "/hecd/routes" }, "overlap"},
		{"layout", func(c *Config) { c.Layout = "consul" }, "unknown layout"},
		{"key-by", func(c *Config) { c.KeyBy = "image" }, "invalid key-by"},
		{"key-by empty label", func(c *Config) { c.KeyBy = "label:" }, "invalid key-by"},
		{"key-by label", func(c *Config) { c.KeyBy = "label:com.example.app" }, ""},
		{"ip", func(c *Config) { c.IP = "10.0.0.300" }, "invalid ip"},
		{"ip wildcard", func(c *Config) { c.IP = "0.0.0.0" }, "wildcard"},
		{"ip v6", func(c *Config) { c.IP = "2001:db8::1" }, ""},
		{"network", func(c *Config) { c.Network = "bad name" }, "invalid network"},
		{"ttl below 1s", func(c *Config) { c.TTL = 500 * time.Millisecond }, "one-second"},
		{"refresh >= ttl", func(c *Config) { c.TTLRefresh = 30 * time.Second }, "must be below"},
		{"refresh without ttl", func(c *Config) { c.TTL, c.TTLRefresh = 0, time.Second }, "without a ttl"},
		{"no ttl", func(c *Config) { c.TTL = 0 }, ""},
		{"negative", func(c *Config) { c.Resync = -1 }, "negative"},
		{"deregister", func(c *Config) { c.Deregister = "sometimes" }, "invalid deregister"},
		{"owner", func(c *Config) { c.OwnerID = "" }, "invalid owner id"},
		{"owner slash", func(c *Config) { c.OwnerID = "a/b" }, "invalid owner id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	c := base()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.TTLRefresh != 10*time.Second || c.Hostname == "" || c.DetectHostAddrs == nil {
		t.Errorf("derived defaults not filled: %+v", c)
	}
}

func TestOwnerIDFrom(t *testing.T) {
	files := map[string]string{}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	host := func() (string, error) { return "node-7.example", nil }
	if id, err := ownerIDFrom(read, host); id != "node-7.example" || err != nil {
		t.Errorf("no machine id: %q %v", id, err)
	}
	files["/etc/machine-id"] = "0123456789abcdef0123456789abcdef\n"
	if id, _ := ownerIDFrom(read, host); id != "0123456789abcdef0123456789abcdef" {
		t.Errorf("machine id: %q", id)
	}
	files["/etc/machine-id"] = "\n" // empty (first boot): fall through
	files["/var/lib/dbus/machine-id"] = "fedcba"
	if id, _ := ownerIDFrom(read, host); id != "fedcba" {
		t.Errorf("dbus machine id: %q", id)
	}
	delete(files, "/var/lib/dbus/machine-id")
	if _, err := ownerIDFrom(read, func() (string, error) { return "", errors.New("no") }); err == nil {
		t.Error("no error without machine id and hostname")
	}
}

func TestDetectHostAddrs(t *testing.T) {
	ctx := context.Background()
	addrs := func(ss ...string) func() ([]netip.Addr, error) {
		return func() ([]netip.Addr, error) {
			var as []netip.Addr
			for _, s := range ss {
				as = append(as, netip.MustParseAddr(s))
			}
			return as, nil
		}
	}
	type probe struct{ network, target string }
	for _, tc := range []struct {
		name    string
		source  map[probe]string // answers; missing: error
		ifaces  func() ([]netip.Addr, error)
		v4, v6  string
		wantErr bool
	}{
		{"toward the store", map[probe]string{{"udp4", "10.1.1.1:2379"}: "10.1.1.5", {"udp6", "10.1.1.1:2379"}: ""},
			addrs(), "10.1.1.5", "", false},
		{"store on loopback: default route", map[probe]string{{"udp4", "127.0.0.1:2379"}: "127.0.0.1", {"udp4", probeV4}: "192.168.7.7", {"udp6", probeV6}: "2001:db8:1::7"},
			addrs(), "192.168.7.7", "2001:db8:1::7", false},
		{"no route: interfaces, skipping 127.0.1.1 and link-local", map[probe]string{},
			addrs("127.0.1.1", "169.254.0.9", "fe80::1", "10.2.3.4", "fd00::9"), "10.2.3.4", "fd00::9", false},
		{"nothing usable", map[probe]string{{"udp4", probeV4}: "127.0.1.1"}, addrs("127.0.0.1", "::1"), "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := func(_ context.Context, network, target string) (netip.Addr, error) {
				s, ok := tc.source[probe{network, target}]
				if !ok || s == "" {
					return netip.Addr{}, errors.New("unreachable")
				}
				return netip.MustParseAddr(s), nil
			}
			ep := "http://127.0.0.1"
			if tc.name == "toward the store" {
				ep = "http://10.1.1.1:2379"
			}
			h, err := detectHostAddrs(ctx, []string{ep}, src, tc.ifaces)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if addrOrNone(h.V4) != orNone(tc.v4) || addrOrNone(h.V6) != orNone(tc.v6) {
				t.Errorf("got %v/%v, want %s/%s", h.V4, h.V6, tc.v4, tc.v6)
			}
		})
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func TestTerminating(t *testing.T) {
	for sig, want := range map[string]bool{"15": true, "2": true, "9": true, "SIGTERM": true, "kill": true, "1": false, "SIGHUP": false, "": false, "10": false} {
		if terminating(sig) != want {
			t.Errorf("terminating(%q) = %v", sig, !want)
		}
	}
}

package registrator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Options for test containers built from ctr(1).
func label(k, v string) func(*Container) {
	return func(c *Container) { c.Labels[k] = v }
}
func env(kv string) func(*Container) {
	return func(c *Container) { c.Env = append(c.Env, kv) }
}
func ports(bs ...PortBinding) func(*Container) {
	return func(c *Container) { c.Ports = bs }
}
func exposed(ps ...string) func(*Container) {
	return func(c *Container) { c.ExposedPorts = ps }
}
func networks(mode string, nw map[string]Network) func(*Container) {
	return func(c *Container) { c.NetworkMode, c.Networks = mode, nw }
}
func with(fn func(*Container)) func(*Container) { return fn }

func pb(cport int, hip string, hport int) PortBinding {
	return PortBinding{ContainerPort: cport, Proto: "tcp", HostIP: hip, HostPort: hport}
}

func mk(opts ...func(*Container)) *Container {
	c := ctr(1)
	for _, o := range opts {
		o(c)
	}
	return c
}

func baseConfig() Config {
	c := DefaultConfig()
	c.OwnerID, c.Hostname = "h1", "h1"
	return c
}

type desiredCase struct {
	name   string
	cfg    func(*Config)
	c      *Container
	in     func(*desireInput)
	want   string // "rel=value[ w=N]" joined by ", "; or "" for none
	reason string // substring of the reason, when want is ""
	note   string // substring of a note
}

func runDesired(t *testing.T, cases []desiredCase) {
	t.Helper()
	other := mk(func(c *Container) {
		c.ID = strings.Repeat("b", 64)
		c.Name = "net"
		c.Ports = []PortBinding{pb(8080, "0.0.0.0", 38080)}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			in := desireInput{hosts: hostAddr, lookup: func(id string) (*Container, error) {
				if strings.HasPrefix(other.ID, id) {
					return other, nil
				}
				return nil, ErrNoContainer
			}}
			if tc.in != nil {
				tc.in(&in)
			}
			v := cfg.desired(tc.c, in)
			var got []string
			for _, r := range v.Routes {
				s := r.Rel + "=" + r.Value
				if r.Weight != 0 {
					s += fmt.Sprintf(" w=%d", r.Weight)
				}
				got = append(got, s)
			}
			if g := strings.Join(got, ", "); g != tc.want {
				t.Errorf("routes %q, want %q (reason %q)", g, tc.want, v.Reason)
			}
			if tc.want == "" && !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", v.Reason, tc.reason)
			}
			if tc.want != "" && v.Reason != "" {
				t.Errorf("routable with reason %q", v.Reason)
			}
			if tc.note != "" && !slices.ContainsFunc(v.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q, want one containing %q", v.Notes, tc.note)
			}
			if tc.note == "" && len(v.Notes) > 0 {
				t.Errorf("unexpected notes %q", v.Notes)
			}
		})
	}
}

var k1 = shortID(ctr(1).ID)

// C.7 published mode, and scenarios 7, 8 and 9.
func TestDesiredAddress(t *testing.T) {
	ipv6 := func(c *Config) { c.IPv6 = true }
	runDesired(t, []desiredCase{
		{name: "v4 and v6 wildcard: one route, IPv4", c: mk(), want: k1 + "=10.0.0.1:30001"},
		{name: "--ipv6: bracketed IPv6", cfg: ipv6, c: mk(), want: k1 + "=[fd00::1]:30001"},
		{name: "--ipv6 on a host without IPv6", cfg: ipv6, c: mk(),
			in: func(in *desireInput) { in.hosts.V6 = netip.Addr{} }, want: k1 + "=10.0.0.1:30001"},
		{name: "host without IPv4", c: mk(),
			in: func(in *desireInput) { in.hosts.V4 = netip.Addr{} }, want: k1 + "=[fd00::1]:30001"},
		{name: "empty HostIp is both wildcards", c: mk(ports(pb(80, "", 30001))), want: k1 + "=10.0.0.1:30001"},
		{name: "only the v6 wildcard", c: mk(ports(pb(80, "::", 30001))), want: k1 + "=[fd00::1]:30001"},
		{name: "specific HostIp", c: mk(ports(pb(80, "192.168.1.5", 30001))), want: k1 + "=192.168.1.5:30001"},
		{name: "specific HostIp before wildcard", c: mk(ports(pb(80, "0.0.0.0", 30002), pb(80, "192.168.1.5", 30001))),
			want: k1 + "=192.168.1.5:30001"},
		{name: "loopback binding only", c: mk(ports(pb(80, "127.0.0.1", 30001))), reason: "port 80 published on loopback only"},
		{name: "loopback binding skipped", c: mk(ports(pb(80, "127.0.0.1", 30009), pb(80, "0.0.0.0", 30001))),
			want: k1 + "=10.0.0.1:30001"},
		{name: "--ip wins", cfg: func(c *Config) { c.IP = "203.0.113.7" }, c: mk(ports(pb(80, "192.168.1.5", 30001))),
			want: k1 + "=203.0.113.7:30001"},
		{name: "--ip IPv6", cfg: func(c *Config) { c.IP = "2001:db8::7" }, c: mk(), want: k1 + "=[2001:db8::7]:30001"},
		{name: "scenario 7: compose network, host IP not container IP",
			c:    mk(networks("proj_default", map[string]Network{"proj_default": {IP: "172.20.0.5"}})),
			want: k1 + "=10.0.0.1:30001"},
		{name: "scenario 8: detection found nothing", c: mk(),
			in:     func(in *desireInput) { in.hosts, in.hostErr = HostAddrs{}, errors.New("only loopback") },
			reason: "no usable address: only loopback"},
		{name: "loopback from a detector is refused", c: mk(),
			in:     func(in *desireInput) { in.hosts = HostAddrs{V4: netip.MustParseAddr("127.0.1.1")} },
			reason: "no usable address"},
		{name: "no ports", c: mk(ports(), exposed()), reason: "no published ports"},
		{name: "exposed, not published", c: mk(ports(PortBinding{ContainerPort: 80, Proto: "tcp"})), reason: "no published ports"},
		{name: "udp only", c: mk(ports(PortBinding{ContainerPort: 53, Proto: "udp", HostIP: "0.0.0.0", HostPort: 53})), reason: "no published ports"},
		{name: "host network: exposed port on the host address", c: mk(ports(), exposed("8080/tcp"), networks("host", nil)),
			want: k1 + "=10.0.0.1:8080"},
		{name: "container:<id> follows that container", c: mk(ports(), networks("container:"+strings.Repeat("b", 12), nil)),
			want: k1 + "=10.0.0.1:38080"},
		{name: "container:<id> gone", c: mk(ports(), networks("container:"+strings.Repeat("d", 12), nil)),
			reason: "network container"},
	})
}

// C.1 port choice.
func TestDesiredPort(t *testing.T) {
	two := ports(pb(443, "0.0.0.0", 30443), pb(80, "0.0.0.0", 30080))
	runDesired(t, []desiredCase{
		{name: "lowest of several, with a warning", c: mk(two), want: k1 + "=10.0.0.1:30080", note: "using the lowest, 80"},
		{name: "hecd.port", c: mk(two, label("hecd.port", "443")), want: k1 + "=10.0.0.1:30443"},
		{name: "hecd.port 443/tcp", c: mk(two, label("hecd.port", "443/tcp")), want: k1 + "=10.0.0.1:30443"},
		{name: "SERVICE_PORT env", c: mk(two, env("SERVICE_PORT=443")), want: k1 + "=10.0.0.1:30443"},
		{name: "hecd.port over SERVICE_PORT", c: mk(two, env("SERVICE_PORT=443"), label("hecd.port", "80")), want: k1 + "=10.0.0.1:30080"},
		{name: "hecd.port not published", c: mk(two, label("hecd.port", "8080")), reason: "port 8080 not published on host"},
		{name: "hecd.port invalid", c: mk(two, label("hecd.port", "eighty")), reason: "invalid hecd.port"},
		{name: "hecd.port udp", c: mk(two, label("hecd.port", "53/udp")), reason: "invalid hecd.port"},
		{name: "SERVICE_80_IGNORE leaves 443", c: mk(two, env("SERVICE_80_IGNORE=true")), want: k1 + "=10.0.0.1:30443"},
		{name: "every port ignored", c: mk(env("SERVICE_80_IGNORE=1")), reason: "every port ignored"},
		{name: "hecd.port on an ignored port", c: mk(two, env("SERVICE_80_IGNORE=1"), label("hecd.port", "80")),
			reason: "port 80 ignored by SERVICE_80_IGNORE"},
		{name: "SERVICE_80_IGNORE=false deviation", c: mk(env("SERVICE_80_IGNORE=false")), want: k1 + "=10.0.0.1:30001",
			note: "SERVICE_80_IGNORE=\"false\" is taken as not ignored"},
	})
}

// C.4 and C.6: routable or why not; app ids; weights.
func TestDesiredMetadata(t *testing.T) {
	long := strings.Repeat("a", 129)
	runDesired(t, []desiredCase{
		{name: "not running is quiet", c: mk(with(func(c *Container) { c.Running = false })), reason: ""},
		{name: "paused", c: mk(with(func(c *Container) { c.Paused = true })), reason: "paused"},
		{name: "--keep-paused", cfg: func(c *Config) { c.KeepPaused = true }, c: mk(with(func(c *Container) { c.Paused = true })),
			want: k1 + "=10.0.0.1:30001"},
		{name: "health starting", c: mk(with(func(c *Container) { c.Health = "starting" })), reason: "health starting"},
		{name: "unhealthy", c: mk(with(func(c *Container) { c.Health = "unhealthy" })), reason: "unhealthy"},
		{name: "healthy", c: mk(with(func(c *Container) { c.Health = "healthy" })), want: k1 + "=10.0.0.1:30001"},
		{name: "unhealthy without --require-healthy", cfg: func(c *Config) { c.RequireHealthy = false },
			c: mk(with(func(c *Container) { c.Health = "unhealthy" })), want: k1 + "=10.0.0.1:30001"},
		{name: "draining", c: mk(), in: func(in *desireInput) { in.draining = true }, reason: "draining"},
		{name: "SERVICE_IGNORE=1", c: mk(env("SERVICE_IGNORE=1")), reason: "ignored by SERVICE_IGNORE"},
		{name: "SERVICE_IGNORE=false", c: mk(env("SERVICE_IGNORE=false")), want: k1 + "=10.0.0.1:30001",
			note: "SERVICE_IGNORE=\"false\" is taken as not ignored"},
		{name: "SERVICE_IGNORE=0", c: mk(env("SERVICE_IGNORE=0")), want: k1 + "=10.0.0.1:30001", note: "not ignored"},
		{name: "label SERVICE_IGNORE overrides env", c: mk(env("SERVICE_IGNORE=false"), label("SERVICE_IGNORE", "yes")),
			reason: "ignored by SERVICE_IGNORE"},
		{name: "hecd.ignore", c: mk(label("hecd.ignore", "true")), reason: "ignored by label hecd.ignore"},
		{name: "hecd.ignore=false", c: mk(label("hecd.ignore", "false")), want: k1 + "=10.0.0.1:30001"},
		{name: "explicit without opt-in", cfg: func(c *Config) { c.Explicit = true }, c: mk(), reason: "not enabled"},
		{name: "explicit hecd.enable", cfg: func(c *Config) { c.Explicit = true }, c: mk(label("hecd.enable", "true")),
			want: k1 + "=10.0.0.1:30001"},
		{name: "explicit SERVICE_NAME", cfg: func(c *Config) { c.Explicit = true }, c: mk(env("SERVICE_NAME=api")),
			want: k1 + "=10.0.0.1:30001"},
		{name: "explicit SERVICE_80_NAME", cfg: func(c *Config) { c.Explicit = true }, c: mk(label("SERVICE_80_NAME", "api")),
			want: k1 + "=10.0.0.1:30001"},
		{name: "key-by id", cfg: func(c *Config) { c.KeyBy = "id" }, c: mk(), want: ctr(1).ID + "=10.0.0.1:30001"},
		{name: "key-by name", cfg: func(c *Config) { c.KeyBy = "name" }, c: mk(), want: "app1=10.0.0.1:30001"},
		{name: "key-by label", cfg: func(c *Config) { c.KeyBy = "label:svc" }, c: mk(label("svc", "shop")), want: "shop=10.0.0.1:30001"},
		{name: "key-by label missing", cfg: func(c *Config) { c.KeyBy = "label:svc" }, c: mk(), reason: `no label "svc"`},
		{name: "hecd.appid", c: mk(label("hecd.appid", "web.v2")), want: "web.v2=10.0.0.1:30001"},
		{name: "hecd.appid with a slash", c: mk(label("hecd.appid", "a/b")), reason: "invalid app id"},
		{name: "hecd.appid with a newline", c: mk(label("hecd.appid", "a\nb")), reason: `invalid app id "a\nb"`},
		{name: "hecd.appid starting with a dot", c: mk(label("hecd.appid", ".x")), reason: "invalid app id"},
		{name: "hecd.appid too long", c: mk(label("hecd.appid", long)), reason: "invalid app id"},
		{name: "hecd.appid 128 characters", c: mk(label("hecd.appid", long[:128])), want: long[:128] + "=10.0.0.1:30001"},
		{name: "allow-list", cfg: func(c *Config) { c.AllowAppID = func(s string) bool { return s == "ok" } },
			c: mk(label("hecd.appid", "evil")), reason: `app id "evil" not allowed`},
		{name: "weight", c: mk(label("hecd.weight", "5")), want: k1 + "=10.0.0.1:30001 w=5"},
		{name: "weight 256", c: mk(label("hecd.weight", "256")), want: k1 + "=10.0.0.1:30001 w=256"},
		{name: "weight 0", c: mk(label("hecd.weight", "0")), reason: "invalid hecd.weight"},
		{name: "weight 257", c: mk(label("hecd.weight", "257")), reason: "invalid hecd.weight"},
		{name: "weight junk", c: mk(label("hecd.weight", "5\x00")), reason: "invalid hecd.weight"},
	})
}

// C.7 internal mode and scenario 10.
func TestDesiredInternal(t *testing.T) {
	internal := func(c *Config) { c.Internal = true }
	two := networks("bridge", map[string]Network{"front": {IP: "172.18.0.2"}, "back": {IP: "172.19.0.2"}})
	runDesired(t, []desiredCase{
		{name: "single network", cfg: internal, c: mk(), want: k1 + "=172.17.0.3:80"},
		{name: "scenario 10: two networks, no choice", cfg: internal, c: mk(two), reason: `on several networks ["back" "front"]`},
		{name: "scenario 10: hecd.network", cfg: internal, c: mk(two, label("hecd.network", "back")), want: k1 + "=172.19.0.2:80"},
		{name: "SERVICE_NETWORK", cfg: internal, c: mk(two, env("SERVICE_NETWORK=front")), want: k1 + "=172.18.0.2:80"},
		{name: "--network", cfg: func(c *Config) { c.Internal, c.Network = true, "front" }, c: mk(two), want: k1 + "=172.18.0.2:80"},
		{name: "--network not attached, single network", cfg: func(c *Config) { c.Internal, c.Network = true, "other" },
			c: mk(), reason: `not attached to network "other"`},
		{name: "hecd.network not attached", cfg: internal, c: mk(two, label("hecd.network", "nope")), reason: `not attached to network "nope"`},
		{name: "hecd.network invalid", cfg: internal, c: mk(two, label("hecd.network", "a\tb")), reason: "invalid hecd.network"},
		{name: "IPv6 only network", cfg: internal, c: mk(networks("n", map[string]Network{"n": {IPv6: "fd01::5"}})),
			want: k1 + "=[fd01::5]:80"},
		{name: "--ipv6 prefers IPv6", cfg: func(c *Config) { c.Internal, c.IPv6 = true, true },
			c: mk(networks("n", map[string]Network{"n": {IP: "172.18.0.9", IPv6: "fd01::5"}})), want: k1 + "=[fd01::5]:80"},
		{name: "no address", cfg: internal, c: mk(networks("none", map[string]Network{"none": {}})), reason: "no usable address on network"},
		{name: "exposed port, not published", cfg: internal, c: mk(ports(), exposed("9000/tcp")), want: k1 + "=172.17.0.3:9000"},
		{name: "host network", cfg: internal, c: mk(ports(), exposed("9000/tcp"), networks("host", nil)), want: k1 + "=10.0.0.1:9000"},
	})
}

// Scenario 11: registrator's metadata rules in its own layout.
func TestDesiredRegistratorLayout(t *testing.T) {
	reg := func(c *Config) { c.Layout = LayoutRegistrator }
	two := ports(pb(80, "0.0.0.0", 30080), pb(443, "0.0.0.0", 30443))
	runDesired(t, []desiredCase{
		{name: "one port", cfg: reg, c: mk(), want: "app/h1:app1:80=10.0.0.1:30001"},
		{name: "two ports", cfg: reg, c: mk(two, exposed("80/tcp", "443/tcp")),
			want: "app-443/h1:app1:443=10.0.0.1:30443, app-80/h1:app1:80=10.0.0.1:30080"},
		{name: "SERVICE_NAME", cfg: reg, c: mk(two, env("SERVICE_NAME=api")),
			want: "api-443/h1:app1:443=10.0.0.1:30443, api-80/h1:app1:80=10.0.0.1:30080"},
		{name: "SERVICE_80_NAME wins and has no suffix", cfg: reg, c: mk(two, env("SERVICE_NAME=api"), env("SERVICE_80_NAME=web")),
			want: "api-443/h1:app1:443=10.0.0.1:30443, web/h1:app1:80=10.0.0.1:30080"},
		{name: "label over env", cfg: reg, c: mk(env("SERVICE_NAME=a"), label("SERVICE_NAME", "b")), want: "b/h1:app1:80=10.0.0.1:30001"},
		{name: "SERVICE_IGNORE=1", cfg: reg, c: mk(env("SERVICE_IGNORE=1")), reason: "ignored by SERVICE_IGNORE"},
		{name: "SERVICE_80_IGNORE=true keeps the group suffix", cfg: reg, c: mk(two, env("SERVICE_80_IGNORE=true")),
			want: "app-443/h1:app1:443=10.0.0.1:30443"},
		{name: "unpublished exposed port counts for the suffix", cfg: reg, c: mk(exposed("80/tcp", "9000/tcp")),
			want: "app-80/h1:app1:80=10.0.0.1:30001"},
		{name: "udp", cfg: reg, c: mk(ports(PortBinding{ContainerPort: 53, Proto: "udp", HostIP: "0.0.0.0", HostPort: 30053}), exposed("53/udp")),
			want: "app/h1:app1:53:udp=10.0.0.1:30053"},
		{name: "explicit without a name", cfg: func(c *Config) { reg(c); c.Explicit = true }, c: mk(label("hecd.enable", "true")),
			reason: "no service name"},
		{name: "SERVICE_ID", cfg: reg, c: mk(env("SERVICE_ID=custom-1")), want: "app/custom-1=10.0.0.1:30001"},
		{name: "image with registry port and digest", cfg: reg,
			c:    mk(with(func(c *Container) { c.Image = "reg.example:5000/team/shop:2@sha256:abc" })),
			want: "shop/h1:app1:80=10.0.0.1:30001"},
	})
}

func TestParseMetadataPrecedence(t *testing.T) {
	m := parseMetadata(mk(env("SERVICE_NAME=env"), env("SERVICE_80_NAME=p80"), env("NOT_SERVICE=x"), env("SERVICE_=y"),
		env("SERVICE_99999_NAME=big"), label("SERVICE_TAGS", "a,b"), label("SERVICE_NAME", "label")))
	if m.generic["name"] != "label" || m.generic["tags"] != "a,b" || len(m.generic) != 2 {
		t.Errorf("generic %v", m.generic)
	}
	if v, own := m.portValue(80, "name"); v != "p80" || !own {
		t.Errorf("port 80 name %q %v", v, own)
	}
	if v, own := m.portValue(443, "name"); v != "label" || own {
		t.Errorf("port 443 name %q %v", v, own)
	}
	if len(m.perPort) != 1 {
		t.Errorf("perPort %v", m.perPort)
	}
}

package source

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"hecd/internal/proxy"
)

// CheckID says why id cannot name a route, a default server or an admin
// entry, or nil when it can: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (spec
// D.1). The same names become HAProxy proxy names in render mode, so the
// renderer can use it too.
func CheckID(id string) error {
	if id == "" {
		return errors.New("empty id")
	}
	if len(id) > 128 {
		return fmt.Errorf("id is %d bytes long, at most 128 are allowed", len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("id has %q at byte %d: ids are letters, digits, '.', '_' and '-', and start with a letter or digit", c, i)
		}
	}
	return nil
}

// CheckAddr says why v is not a server address, or nil when it is:
// host:port with an IPv4 address, a bracketed IPv6 address or a DNS
// name, and a port 1–65535, and nothing else. The check is strict on
// purpose: values come from whoever can write the store, and a space, a
// newline or a scheme must never reach a dialer, a log line or a
// rendered HAProxy file as if it were an address.
func CheckAddr(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("not host:port")
	}
	if err := checkPort(port); err != nil {
		return err
	}
	if strings.HasPrefix(v, "[") {
		a, err := netip.ParseAddr(host)
		// A zone (fe80::1%eth0) is left out: it names an interface of
		// the machine that wrote the key, not of this one.
		if err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Errorf("%q in brackets is not an IPv6 address", host)
		}
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Is4() {
			return nil
		}
		return errors.New("an IPv6 address needs brackets")
	}
	return checkHostname(host)
}

// checkPort accepts a decimal port 1–65535 without sign or leading zero.
func checkPort(p string) error {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return fmt.Errorf("port %q is not 1-65535", p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return fmt.Errorf("port %q is not 1-65535", p)
		}
	}
	if n, _ := strconv.Atoi(p); n > 65535 {
		return fmt.Errorf("port %q is not 1-65535", p)
	}
	return nil
}

// checkHostname accepts a DNS name: dot-separated labels of letters,
// digits, '-' and '_' (Docker names containers and compose services with
// underscores, and Go's resolver looks them up), not starting or ending
// with '-', with an optional final dot. A name whose last label is all
// digits is refused: it is a mistyped IPv4 address ("10.0.0.300"), not
// a name.
func checkHostname(h string) error {
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("host %q is not an IPv4 address, a bracketed IPv6 address or a DNS name", h)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("host %q is not an IPv4 address, a bracketed IPv6 address or a DNS name", h)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host %q has %q: not an IPv4 address, a bracketed IPv6 address or a DNS name", h, c)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return fmt.Errorf("host %q is not a valid IPv4 address", h)
	}
	return nil
}

// checkWeight parses a weight key's value: a decimal 0–256 (spec D.5; 0
// is DRAIN).
func checkWeight(v string) (int, error) {
	if v == "" || len(v) > 3 || (len(v) > 1 && v[0] == '0') || strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("weight %q is not 0-256", v)
	}
	n, _ := strconv.Atoi(v)
	if n > 256 {
		return 0, fmt.Errorf("weight %q is not 0-256", v)
	}
	return n, nil
}

// ParseStaticServer reads a default-backend server as the command line
// and config file give it: "name=host:port" or "name=host:port,weight=N"
// with N 1–256.
func ParseStaticServer(s string) (StaticServer, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok {
		return StaticServer{}, fmt.Errorf("default server %q: want name=host:port[,weight=N]", s)
	}
	addr, opt, hasOpt := strings.Cut(rest, ",")
	srv := StaticServer{Name: name, Addr: addr, Weight: 1}
	if hasOpt {
		w, ok := strings.CutPrefix(opt, "weight=")
		if !ok {
			return StaticServer{}, fmt.Errorf("default server %q: unknown option %q (want weight=N)", s, opt)
		}
		n, err := checkWeight(w)
		if err != nil || n == 0 {
			return StaticServer{}, fmt.Errorf("default server %q: weight %q is not 1-256", s, w)
		}
		srv.Weight = n
	}
	if err := srv.check(); err != nil {
		return StaticServer{}, err
	}
	return srv, nil
}

func (s StaticServer) check() error {
	if err := CheckID(s.Name); err != nil {
		return fmt.Errorf("default server %q: %w", s.Name, err)
	}
	if err := CheckAddr(s.Addr); err != nil {
		return fmt.Errorf("default server %q: address %q: %w", s.Name, s.Addr, err)
	}
	if s.Weight < 0 || s.Weight > 256 {
		return fmt.Errorf("default server %q: weight %d is not 1-256", s.Name, s.Weight)
	}
	return nil
}

// parseAdmin reads an admin key's value (spec D.6): the stats page's
// actions that persist.
func parseAdmin(v string) (proxy.AdminState, error) {
	switch strings.ToLower(v) {
	case "ready":
		return proxy.Ready, nil
	case "drain":
		return proxy.Drain, nil
	case "maint":
		return proxy.Maint, nil
	}
	return 0, fmt.Errorf("admin state %q is not ready, drain or maint", v)
}

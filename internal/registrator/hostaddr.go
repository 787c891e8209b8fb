package registrator

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// usableAddr reports whether a may be registered: never loopback (which
// includes registrator's classic 127.0.1.1), link-local, multicast or a
// wildcard (A.5).
func usableAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.Zone() == "" && !a.IsLoopback() && !a.IsUnspecified() &&
		!a.IsLinkLocalUnicast() && !a.IsMulticast() && !a.IsInterfaceLocalMulticast()
}

// Probe targets for the default route when the store gives no usable
// answer: documentation ranges (RFC 5737, RFC 3849). Connecting a UDP
// socket sends nothing; the kernel only picks the source address.
const (
	probeV4 = "192.0.2.1:9"
	probeV6 = "[2001:db8::1]:9"
)

// DetectHostAddrs finds the addresses to register for published ports
// (C.7): per family, the source address the kernel would use toward the
// first store endpoint, else toward the default route, else the first
// usable address of an interface that is up. It never returns a loopback
// or link-local address; it fails only when neither family has one.
func DetectHostAddrs(ctx context.Context, storeEndpoints []string) (HostAddrs, error) {
	return detectHostAddrs(ctx, storeEndpoints, udpSource, interfaceAddrs)
}

// detectHostAddrs is DetectHostAddrs with the system calls passed in.
func detectHostAddrs(ctx context.Context, endpoints []string,
	source func(ctx context.Context, network, target string) (netip.Addr, error),
	ifaces func() ([]netip.Addr, error)) (HostAddrs, error) {
	var h HostAddrs
	var storeTarget string
	if len(endpoints) > 0 {
		if u, err := url.Parse(endpoints[0]); err == nil && u.Host != "" {
			port := u.Port()
			if port == "" {
				port = "2379"
			}
			storeTarget = net.JoinHostPort(u.Hostname(), port)
		}
	}
	try := func(network, target string) netip.Addr {
		if target == "" {
			return netip.Addr{}
		}
		a, err := source(ctx, network, target)
		if err != nil || !usableAddr(a) {
			return netip.Addr{}
		}
		return a.Unmap()
	}
	h.V4 = try("udp4", storeTarget)
	if !h.V4.IsValid() {
		h.V4 = try("udp4", probeV4)
	}
	h.V6 = try("udp6", storeTarget)
	if !h.V6.IsValid() {
		h.V6 = try("udp6", probeV6)
	}
	if !h.V4.IsValid() || !h.V6.IsValid() {
		if as, err := ifaces(); err == nil {
			for _, a := range as {
				a = a.Unmap()
				if !usableAddr(a) {
					continue
				}
				if a.Is4() && !h.V4.IsValid() {
					h.V4 = a
				}
				if a.Is6() && !h.V6.IsValid() {
					h.V6 = a
				}
			}
		}
	}
	if !h.V4.IsValid() && !h.V6.IsValid() {
		return h, errors.New("no usable host address (only loopback or link-local found); set --ip")
	}
	return h, nil
}

// udpSource connects a UDP socket to target and reports the local address
// the kernel chose; no packet is sent.
func udpSource(ctx context.Context, network, target string) (netip.Addr, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, target)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr(), nil
}

// interfaceAddrs lists the addresses of the interfaces that are up, in
// the system's order, skipping loopback interfaces and, as far as names
// tell, Docker's own bridges (their addresses are not reachable from
// other hosts).
func interfaceAddrs() ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 ||
			ifc.Name == "docker0" || strings.HasPrefix(ifc.Name, "br-") || strings.HasPrefix(ifc.Name, "veth") {
			continue
		}
		as, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, p.Addr())
			}
		}
	}
	return out, nil
}

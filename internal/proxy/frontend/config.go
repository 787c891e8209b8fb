package frontend

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"time"
)

// ForwardMode selects how client-address headers are written (spec
// proxy.md D.4, reliability-security.md 7.6.3).
type ForwardMode int

const (
	// ForwardSecure drops inbound Forwarded and X-Forwarded-* headers
	// unless the peer is a trusted proxy, then sets X-Forwarded-For (the
	// peer appended to a trusted inbound value), X-Forwarded-Proto and
	// X-Forwarded-Host. The default.
	ForwardSecure ForwardMode = iota
	// ForwardHAProxy is "option forwardfor": inbound headers are kept and
	// one new X-Forwarded-For line with the peer is appended after them.
	// It trusts every client's headers; choosing it is a deliberate opt-in.
	ForwardHAProxy
	// ForwardNone adds nothing and keeps inbound headers (no forwardfor).
	ForwardNone
)

func (m ForwardMode) String() string {
	switch m {
	case ForwardHAProxy:
		return "haproxy"
	case ForwardNone:
		return "none"
	}
	return "secure"
}

// ParseForwardMode reads "secure", "haproxy" or "none".
func ParseForwardMode(s string) (ForwardMode, error) {
	switch strings.ToLower(s) {
	case "", "secure":
		return ForwardSecure, nil
	case "haproxy":
		return ForwardHAProxy, nil
	case "none", "off":
		return ForwardNone, nil
	}
	return 0, fmt.Errorf("forwardfor: unknown mode %q (want secure or haproxy)", s)
}

// ForwardFor is the forwarded-headers policy.
type ForwardFor struct {
	Mode ForwardMode
	// TrustedProxies are the peers whose inbound forwarding headers are
	// kept in secure mode.
	TrustedProxies []netip.Prefix
	// Header renames X-Forwarded-For ("option forwardfor header <name>").
	Header string
	// Except skips the header for peers in these networks (haproxy mode,
	// "except <net>").
	Except []netip.Prefix
	// IfNone adds the header only when the request has none (haproxy mode,
	// "if-none"; safe only when every client is trusted).
	IfNone bool
}

// Timeouts are HAProxy's timeouts; zero fields take the defaults below.
type Timeouts struct {
	// Connect bounds establishing an upstream connection; an expiry is a
	// connection failure and is retried. Default 5s.
	Connect time.Duration
	// Client is the client-side inactivity limit (request body, response
	// writes). Default 50s.
	Client time.Duration
	// Server is the server-side inactivity limit: waiting for response
	// headers (504 on expiry) or body data. Default 50s.
	Server time.Duration
	// HTTPRequest bounds receiving a complete request header block from
	// its first byte (408 on expiry). Default Client.
	HTTPRequest time.Duration
	// KeepAlive bounds the wait for the next request on a kept-alive client
	// connection. Default HTTPRequest.
	KeepAlive time.Duration
	// Tunnel is the inactivity limit (both directions) of an upgraded
	// connection. Default Server.
	Tunnel time.Duration
	// UpstreamIdle is how long a pooled upstream connection may stay idle
	// (HAProxy's pool-purge-delay). Default 5s.
	UpstreamIdle time.Duration
}

// Config is a frontend's settings. The zero value of every field means its
// default (the legacy HAProxy configuration, spec proxy.md D.7), so the
// settings that default to "on" are named by their opposite.
type Config struct {
	// Name is the frontend's name in logs and on the stats page.
	// Default "http-in".
	Name string
	// RouteHeader is the routing header, matched without regard to case.
	// Default "APPID".
	RouteHeader string
	// FallbackToDefault sends requests whose matched route has no usable
	// server to the default backend instead of answering 503.
	FallbackToDefault bool
	// Retries is the number of connection retries after the first
	// attempt. 0 means the default 3; a negative value means none.
	Retries int
	// NoRedispatch keeps the last retry on the same server (redispatch is
	// on by default).
	NoRedispatch bool
	// KeepAlive turns off httpclose: client connections are kept alive
	// between requests. By default every response carries
	// "Connection: close" and the connection is closed after it.
	KeepAlive bool
	// ServerClose turns off upstream connection pooling.
	ServerClose bool
	// MaxConn limits concurrent client connections over all listeners of
	// the frontend (global maxconn). Default 5000.
	MaxConn int
	// ListenerMaxConn limits concurrent connections per listener.
	// Default 2000.
	ListenerMaxConn int
	// MaxIdlePerServer bounds the pooled idle connections to one server.
	// Default 256.
	MaxIdlePerServer int
	// MaxHeaderBytes bounds a request's header block. Default 64 KiB.
	MaxHeaderBytes int
	Timeouts       Timeouts
	ForwardFor     ForwardFor
	// ErrorPages replaces the HTML body of the proxy's own answers, by
	// status code.
	ErrorPages map[int]string
	// AccessLog receives one HAProxy-style line per request; nil turns
	// access logging off. Writes are serialised by the frontend.
	AccessLog io.Writer
	// Dial replaces the upstream dialer (tests). It must honour ctx,
	// which carries the connect timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// withDefaults returns c with the zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "http-in"
	}
	if c.RouteHeader == "" {
		c.RouteHeader = "APPID"
	}
	if c.Retries == 0 {
		c.Retries = 3
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.MaxConn <= 0 {
		c.MaxConn = 5000
	}
	if c.ListenerMaxConn <= 0 {
		c.ListenerMaxConn = 2000
	}
	if c.MaxIdlePerServer <= 0 {
		c.MaxIdlePerServer = 256
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	t := &c.Timeouts
	if t.Connect <= 0 {
		t.Connect = 5 * time.Second
	}
	if t.Client <= 0 {
		t.Client = 50 * time.Second
	}
	if t.Server <= 0 {
		t.Server = 50 * time.Second
	}
	if t.HTTPRequest <= 0 {
		t.HTTPRequest = t.Client
	}
	if t.KeepAlive <= 0 {
		t.KeepAlive = t.HTTPRequest
	}
	if t.Tunnel <= 0 {
		t.Tunnel = t.Server
	}
	if t.UpstreamIdle <= 0 {
		t.UpstreamIdle = 5 * time.Second
	}
	if c.ForwardFor.Header == "" {
		c.ForwardFor.Header = "X-Forwarded-For"
	}
	c.ForwardFor.Header = textproto.CanonicalMIMEHeaderKey(c.ForwardFor.Header)
	return c
}

// ParsePrefixes reads CIDRs or bare addresses (a /32 or /128) for
// TrustedProxies and Except.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("not a CIDR or address: %q", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

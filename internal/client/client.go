package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultHeaderTimeout bounds the wait for a response's headers when
// Config.HeaderTimeout is zero; confd used the same 3 s.
const DefaultHeaderTimeout = 3 * time.Second

// maxRedirects bounds how many redirects one request follows.
const maxRedirects = 10

// Config configures a Client.
type Config struct {
	// Endpoints are full URLs of the members, e.g. "http://127.0.0.1:2379".
	// A path is kept as a prefix (for a server behind a reverse proxy).
	Endpoints []string
	// Username and Password are sent as HTTP basic auth when Username is
	// not empty.
	Username, Password string
	// TLS configures https endpoints (client certificates, CA); nil uses
	// Go's defaults.
	TLS *tls.Config
	// HeaderTimeout bounds, per endpoint, the time from sending a request
	// until the response headers arrive, and also the dial and the TLS
	// handshake. Watches have no header timeout (the dial and handshake
	// bound still applies). Zero means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
}

// Client talks to an etcd v2 cluster. It is safe for concurrent use.
type Client struct {
	endpoints     []*url.URL
	username      string
	password      string
	headerTimeout time.Duration
	httpc         *http.Client
	// pinned is the endpoint that answered last: requests start there so
	// that a dead endpoint costs one failed dial, not one per request.
	pinned atomic.Int32
}

// New checks cfg and returns a client. Nothing is dialled yet.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("client: no endpoints given")
	}
	c := &Client{username: cfg.Username, password: cfg.Password, headerTimeout: cfg.HeaderTimeout}
	if c.headerTimeout < 0 {
		return nil, fmt.Errorf("client: negative header timeout %v", cfg.HeaderTimeout)
	}
	if c.headerTimeout == 0 {
		c.headerTimeout = DefaultHeaderTimeout
	}
	for _, e := range cfg.Endpoints {
		u, err := parseEndpoint(e)
		if err != nil {
			return nil, err
		}
		c.endpoints = append(c.endpoints, u)
	}
	var tlsConf *tls.Config
	if cfg.TLS != nil {
		tlsConf = cfg.TLS.Clone()
	}
	tr := &http.Transport{
		// confd honoured proxies from the environment; loopback addresses
		// are never proxied by this function.
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: c.headerTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: c.headerTimeout,
		// Each waiting watch holds a connection; keep enough idle ones for
		// a proxy or confd with many watches to reuse them.
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	c.httpc = &http.Client{
		Transport: tr,
		// Redirects are followed by try, which keeps method and body;
		// net/http would turn a 301 of a PUT into a body-less GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// parseEndpoint accepts absolute http and https URLs only: a bare
// "host:port" is the most common mistake and must not be taken as a path.
func parseEndpoint(s string) (*url.URL, error) {
	bad := func(why string) error {
		return fmt.Errorf("client: invalid endpoint %q: %s (want a URL such as http://127.0.0.1:2379)", s, why)
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad(err.Error())
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		if u.Scheme == "" {
			return nil, bad("no scheme")
		}
		return nil, bad("scheme must be http or https")
	case u.Opaque != "" || u.Host == "":
		return nil, bad("no host")
	case u.User != nil:
		return nil, bad("credentials belong in Username and Password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, bad("a query or fragment is not allowed")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// Endpoints returns the configured endpoints, as normalised by New.
func (c *Client) Endpoints() []string {
	out := make([]string, len(c.endpoints))
	for i, u := range c.endpoints {
		out[i] = u.String()
	}
	return out
}

// Close releases idle connections. Requests in flight are not affected;
// cancel their contexts to end them.
func (c *Client) Close() error {
	c.httpc.CloseIdleConnections()
	return nil
}

// call is one API request, independent of the endpoint it goes to.
type call struct {
	method string
	path   string     // escaped path below the endpoint, e.g. "/v2/keys/a%20b"
	query  url.Values // nil: none
	form   url.Values // body for PUT and POST; nil: no body
	watch  bool       // long poll: no header timeout
}

// write reports whether c may change the server's state, so that it must
// not be sent twice.
func (c *call) write() bool { return c.method != http.MethodGet && c.method != http.MethodHead }

// answer is an HTTP answer, body read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
	path   string // request path, for error messages
}

// do sends cl to the endpoints in turn, starting with the pinned one,
// until one answers.
func (c *Client) do(ctx context.Context, cl *call) (*answer, error) {
	n := len(c.endpoints)
	start := int(c.pinned.Load())
	cerr := &ClusterError{}
	for i := range n {
		idx := (start + i) % n
		ans, reached, err := c.try(ctx, c.endpoints[idx], cl)
		if err == nil {
			c.pinned.Store(int32(idx))
			return ans, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cerr.Errors = append(cerr.Errors, &EndpointError{Endpoint: c.endpoints[idx].String(), Err: err})
		if cl.write() && reached {
			cerr.MaybeApplied = true
			break
		}
	}
	return nil, cerr
}

// errHeaderTimeout stands for a per-request header timeout, so that the
// caller's own context ending is told apart from it.
type errHeaderTimeout time.Duration

func (e errHeaderTimeout) Error() string {
	return fmt.Sprintf("no response within %v", time.Duration(e))
}

// Timeout makes the error look like the net.Error timeouts it stands in
// for.
func (e errHeaderTimeout) Timeout() bool { return true }

// try sends cl to one endpoint, following redirects on that endpoint, and
// reads the whole answer. The bool reports whether the last request sent
// got a connection, i.e. may have reached a server.
func (c *Client) try(ctx context.Context, ep *url.URL, cl *call) (*answer, bool, error) {
	target := ep.String() + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var body string
	if cl.form != nil {
		body = cl.form.Encode()
	}
	for range maxRedirects + 1 {
		u, err := url.Parse(target)
		if err != nil {
			return nil, false, err
		}
		ans, reached, loc, err := c.send(ctx, cl, u, body)
		if err != nil || loc == "" {
			return ans, reached, err
		}
		next, err := u.Parse(loc)
		if err != nil {
			return nil, true, fmt.Errorf("bad redirect location %q: %w", loc, err)
		}
		// A redirect only cleans the path (etcd 301, hecd 307); one to
		// another server would carry the credentials away.
		if next.Scheme != ep.Scheme || next.Host != ep.Host {
			return nil, true, fmt.Errorf("not following a redirect to another server: %s", next.Redacted())
		}
		target = next.String()
	}
	return nil, true, fmt.Errorf("stopped after %d redirects", maxRedirects)
}

// send makes one HTTP request. A redirect is returned as its location;
// anything else as the answer.
func (c *Client) send(ctx context.Context, cl *call, u *url.URL, body string) (ans *answer, reached bool, location string, err error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var gotConn atomic.Bool
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	})
	var bodyReader io.Reader
	if cl.form != nil {
		bodyReader = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, cl.method, u.String(), bodyReader)
	if err != nil {
		return nil, false, "", err
	}
	if cl.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}

	var timer *time.Timer
	if !cl.watch {
		timer = time.AfterFunc(c.headerTimeout, cancel)
	}
	resp, err := c.httpc.Do(req)
	timedOut := timer != nil && !timer.Stop()
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// EndpointError names the endpoint; url.Error would add the
			// whole URL, which etcd's wording does not have.
			err = ue.Err
		}
		if timedOut && ctx.Err() == nil {
			err = errHeaderTimeout(c.headerTimeout)
		}
		return nil, gotConn.Load(), "", err
	}
	defer resp.Body.Close()
	if timedOut {
		// The timer fired just as the headers came: rctx is cancelled, so
		// the body cannot be read; report the timeout.
		return nil, true, "", errHeaderTimeout(c.headerTimeout)
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		if loc := resp.Header.Get("Location"); loc != "" {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // lets the connection be reused
			return nil, true, loc, nil
		}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if cl.watch && resp.StatusCode/100 == 2 && ctx.Err() == nil {
			// The server cut a registered watch off (shutdown, a slow
			// watcher dropped): that is a watch ended without an event,
			// which Watch asks again from the same index; were the server
			// gone, the next dial says so.
			b = nil
		} else {
			return nil, true, "", fmt.Errorf("reading the answer: %w", err)
		}
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b, path: u.EscapedPath()}, true, "", nil
}

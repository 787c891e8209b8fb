package frontend

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

var errHeaderTooLarge = errors.New("request header too large")

// meteredConn is a connection as clientConn and upConn read it, under
// their buffered readers: reads count their bytes, may refresh an
// inactivity deadline first, and are bounded while a header block is
// read, so that a peer cannot make the proxy buffer an endless one.
type meteredConn struct {
	nc net.Conn
	// limit is what the header block being read may still read; -1 when
	// not reading one.
	limit int64
	nread int64
}

// read reads into p within the header limit; a positive idle moves the
// read deadline that far ahead first.
func (m *meteredConn) read(p []byte, idle time.Duration) (int, error) {
	if m.limit >= 0 {
		if m.limit == 0 {
			return 0, errHeaderTooLarge
		}
		if int64(len(p)) > m.limit {
			p = p[:m.limit]
		}
	}
	if idle > 0 {
		m.nc.SetReadDeadline(time.Now().Add(idle))
	}
	n, err := m.nc.Read(p)
	m.nread += int64(n)
	if m.limit >= 0 {
		m.limit -= int64(n)
	}
	return n, err
}

// clientConn is one client connection. It is its own io.Reader and
// io.Writer under the buffered reader and writer so that it can count the
// bytes, bound the header block and refresh the inactivity deadlines
// without a goroutine or timer per connection.
type clientConn struct {
	// meteredConn's limit bounds the request's header block; nread counts
	// all the bytes received.
	meteredConn
	f      *Frontend
	slots  chan struct{}
	br     *bufio.Reader
	bw     *bufio.Writer
	accept time.Time

	// peer is the TCP peer; peerIP its text for X-Forwarded-For and
	// remote its "ip:port" for the log.
	peer    netip.Addr
	peerIP  string
	remote  string
	trusted bool // secure mode: inbound forwarding headers are kept
	except  bool // haproxy mode: no header for this peer
	tls     bool

	// readIdle, when not zero, makes every read refresh the read deadline
	// (body reads: "timeout client" is an inactivity limit); header reads
	// use an absolute deadline set once instead.
	readIdle time.Duration
	// hitLimit records a read refused at the header limit.
	hitLimit bool

	nwritten int64
	// up is the upstream connection of the request being forwarded.
	up upstream
	// linger asks for lingerClose after an answer of the proxy's own.
	linger bool

	// idle is true while waiting for the next request on a kept-alive
	// connection; Shutdown closes such connections.
	idle atomic.Bool
	// tokens and rtokens are the request's and the response's Connection
	// header tokens (scratch space reused across requests).
	tokens, rtokens []string
	// rs is the request being handled, reused across requests.
	rs reqState
}

var (
	brPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	bwPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

func (f *Frontend) newConn(nc net.Conn, slots chan struct{}) *clientConn {
	c := &clientConn{meteredConn: meteredConn{nc: nc, limit: -1}, f: f, slots: slots, accept: time.Now()}
	c.remote = nc.RemoteAddr().String()
	if ap, err := netip.ParseAddrPort(c.remote); err == nil {
		c.peer = ap.Addr().Unmap()
		c.peerIP = c.peer.String()
	} else {
		// Not TCP (a unix socket in tests): no address to forward.
		c.peerIP = "unknown"
	}
	_, c.tls = nc.(*tls.Conn)
	ff := &f.cfg.ForwardFor
	c.trusted = c.peer.IsValid() && inPrefixes(c.peer, ff.TrustedProxies)
	c.except = c.peer.IsValid() && inPrefixes(c.peer, ff.Except)
	f.mu.Lock()
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	f.counters.Enter()
	f.actconn.Add(1)
	return c
}

func (c *clientConn) Read(p []byte) (int, error) {
	if c.limit == 0 {
		c.hitLimit = true
	}
	return c.read(p, c.readIdle)
}

func (c *clientConn) Write(p []byte) (int, error) {
	c.nc.SetWriteDeadline(time.Now().Add(c.f.cfg.Timeouts.Client))
	n, err := c.nc.Write(p)
	c.nwritten += int64(n)
	return n, err
}

func (c *clientConn) serve() {
	f := c.f
	c.br = brPool.Get().(*bufio.Reader)
	c.br.Reset(c)
	c.bw = bwPool.Get().(*bufio.Writer)
	c.bw.Reset(c)
	defer func() {
		c.nc.Close()
		c.br.Reset(nil)
		brPool.Put(c.br)
		c.bw.Reset(nil)
		bwPool.Put(c.bw)
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		f.counters.Leave()
		f.actconn.Add(-1)
		<-f.global
		<-c.slots
		f.connWG.Done()
	}()

	start := c.accept
	first := true
	for {
		// Header reads use absolute deadlines (the body copy of the last
		// request may have left an inactivity limit in place).
		c.readIdle = 0
		if first {
			c.nc.SetReadDeadline(start.Add(f.cfg.Timeouts.HTTPRequest))
		} else {
			// Between requests: "timeout http-keep-alive" for the first
			// byte, then "timeout http-request" for the header block.
			c.idle.Store(true)
			if f.closing.Load() {
				return
			}
			c.nc.SetReadDeadline(time.Now().Add(f.cfg.Timeouts.KeepAlive))
			if _, err := c.br.Peek(1); err != nil {
				return
			}
			c.idle.Store(false)
			c.nc.SetReadDeadline(time.Now().Add(f.cfg.Timeouts.HTTPRequest))
		}
		c.limit = int64(f.cfg.MaxHeaderBytes) + 4096
		c.hitLimit = false
		n0 := c.nread - int64(c.br.Buffered())
		req, err := http.ReadRequest(c.br)
		if err != nil {
			c.badRequest(err, c.nread-n0 > 0, start)
			return
		}
		c.limit = -1
		if !c.handle(req, start) {
			if c.linger {
				c.lingerClose()
			}
			return
		}
		first = false
		start = time.Now()
	}
}

// badRequest answers a request that could not be read: 408 when the
// header block did not arrive in time, 400 when it is malformed or too
// large, nothing when the client sent nothing or went away (HAProxy's
// "dontlognull" and ignored probes: browsers' pre-connections).
func (c *clientConn) badRequest(err error, gotBytes bool, start time.Time) {
	var code int
	var term string
	switch {
	case c.hitLimit || errors.Is(err, errHeaderTooLarge):
		code, term = 400, "PR--"
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !gotBytes {
			return
		}
		code, term = 408, "cR--"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetErr(err):
		return
	default:
		code, term = 400, "PR--"
	}
	c.f.counters.ErrReq.Add(1)
	c.f.counters.Status(code)
	c.sendError(code)
	rs := &c.rs
	rs.reset()
	rs.start = start
	rs.status = code
	rs.term = term
	rs.badreq = true
	c.logRequest(rs)
	c.lingerClose()
}

func isNetErr(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// sendError writes one of the proxy's own answers (they all close the
// connection).
func (c *clientConn) sendError(code int) int {
	page := c.f.pages[code]
	c.bw.Write(page)
	c.bw.Flush()
	return len(page)
}

// lingerClose half-closes and drains a little before closing, so that
// unread request bytes do not make the kernel reset the connection and
// destroy the answer just sent (the client would see a reset, not the
// 400 or 503).
func (c *clientConn) lingerClose() {
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		c.readIdle = 0
		c.limit = -1
		c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.CopyN(io.Discard, c.br, 256<<10)
	}
}

package frontend

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hecd/internal/proxy"
)

// reqState is what one request leaves for its log line and counters.
type reqState struct {
	req     *http.Request
	start   time.Time // accept, or the end of the previous request
	hdrDone time.Time // request header block received
	// tConn and tResp are the connect and response times; -1 when the
	// phase was not reached (HAProxy's convention).
	tConn, tResp time.Duration
	// in0 is the client byte count at the request's start.
	in0          int64
	be           *proxy.Backend
	srv          *proxy.Server
	status       int
	bytesOut     int64
	retries      int
	redispatched bool
	term         string
	badreq       bool
}

func (rs *reqState) reset() {
	*rs = reqState{tConn: -1, tResp: -1, term: "----"}
}

// respHeadLimit bounds a response head from a server (HAProxy's is its
// buffer size, 16 KiB by default; servers sending big cookies exist).
const respHeadLimit = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// idempotent methods may be replayed on a fresh connection when a pooled
// one turns out dead before answering anything (RFC 9110 9.2.2).
func replayable(req *http.Request) bool {
	switch req.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return req.ContentLength == 0
	}
	return false
}

// handle forwards one request and reports whether the connection may
// carry another.
func (c *clientConn) handle(req *http.Request, start time.Time) bool {
	f := c.f
	rs := &c.rs
	rs.reset()
	rs.req = req
	rs.start = start
	rs.hdrDone = time.Now()
	rs.in0 = c.nread - int64(c.br.Buffered())
	req.RemoteAddr = c.remote
	// Log before leaving, so the line's beconn/srv_conn include this
	// request, as HAProxy's do.
	defer func() {
		// Request bytes: the head and body read for this request,
		// approximately when the client pipelines.
		in := c.nread - int64(c.br.Buffered()) - rs.in0
		c.f.counters.BytesIn.Add(in)
		if rs.be != nil {
			rs.be.Counters.BytesIn.Add(in)
		}
		if rs.srv != nil {
			rs.srv.Counters.BytesIn.Add(in)
		}
		c.logRequest(rs)
		if rs.srv != nil {
			rs.srv.Counters.Leave()
		}
		if rs.be != nil {
			rs.be.Counters.Leave()
		}
		rs.req = nil
	}()

	// Checks Go's server makes after parsing, which http.ReadRequest
	// leaves to its caller.
	switch {
	case req.ProtoMajor != 1:
		return c.fail(rs, 505, "PR--")
	case req.Method == "CONNECT" || req.Method == "PRI":
		return c.fail(rs, 501, "PR--")
	case req.ProtoAtLeast(1, 1) && req.Host == "", !validHost(req.Host), !validNames(req.Header):
		return c.fail(rs, 400, "PR--")
	}

	// Route on the table of this moment; the request keeps it to the end.
	t := f.router.Table()
	be, matched := t.Route(req.Header[f.routeKey])
	var srv *proxy.Server
	if matched {
		srv = be.Pick(nil)
		if srv == nil && f.cfg.FallbackToDefault && t.Default != nil {
			be = t.Default
			srv = be.Pick(nil)
		}
	} else if t.Default != nil {
		be = t.Default
		srv = be.Pick(nil)
	}
	if be != nil {
		rs.be = be
		be.Counters.Enter()
	}
	if srv == nil {
		// A matched route is final even with its server down (A.2).
		return c.fail(rs, 503, "SC--")
	}
	rs.srv = srv
	srv.Counters.Enter()

	u, ok := c.connect(rs)
	if !ok {
		return false
	}
	// A session of rs.srv (the server after any redispatch) until the
	// exchange ends.
	c.up.p.Store(u)
	f.sessions.add(rs.srv, c)
	defer func() {
		f.sessions.remove(rs.srv, c)
		c.up.p.Store(nil)
	}()
	return c.exchange(rs, u)
}

// fail answers with one of the proxy's pages and ends the connection.
func (c *clientConn) fail(rs *reqState, code int, term string) bool {
	rs.status = code
	rs.term = term
	// Counted before the answer leaves, so that whoever reads the
	// answer also sees the counters.
	rs.bytesOut = int64(len(c.f.pages[code]))
	c.countStatus(rs)
	if code == 400 || code == 501 || code == 505 {
		c.f.counters.ErrReq.Add(1)
	}
	c.sendError(code)
	// serve lingers before closing, after the log line is out.
	c.linger = true
	return false
}

func (c *clientConn) countStatus(rs *reqState) {
	c.f.counters.Status(rs.status)
	c.f.counters.BytesOut.Add(rs.bytesOut)
	if rs.be != nil {
		rs.be.Counters.Status(rs.status)
		rs.be.Counters.BytesOut.Add(rs.bytesOut)
	}
	if rs.srv != nil {
		rs.srv.Counters.Status(rs.status)
		rs.srv.Counters.BytesOut.Add(rs.bytesOut)
	}
}

// connect gets an upstream connection to rs.srv, retrying failed
// connection attempts (A.4): up to Retries more attempts, the one before
// each retry on the same server delayed by min(timeout connect, 1s), the
// last retry redispatched to another server of the backend. Nothing has
// been sent yet, so every method may be retried.
func (c *clientConn) connect(rs *reqState) (*upConn, bool) {
	f := c.f
	t0 := time.Now()
	for {
		u, err := f.getConn(rs.srv, !replayable(rs.req))
		if err == nil {
			rs.tConn = time.Since(t0)
			rs.srv.ReportSuccess()
			return u, true
		}
		// Passive health (when configured) counts every failed attempt.
		rs.srv.ReportFailure()
		rs.srv.Counters.ErrConn.Add(1)
		rs.be.Counters.ErrConn.Add(1)
		if rs.retries >= f.cfg.Retries || f.ctx.Err() != nil {
			term := "SC--"
			if errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err) {
				term = "sC--"
			}
			c.fail(rs, 503, term)
			return nil, false
		}
		rs.retries++
		rs.srv.Counters.Retries.Add(1)
		rs.be.Counters.Retries.Add(1)
		if !f.cfg.NoRedispatch && rs.retries == f.cfg.Retries && len(rs.be.Servers) > 1 {
			if next := rs.be.Pick(rs.srv); next != nil && next != rs.srv {
				rs.srv.Counters.Redisp.Add(1)
				rs.be.Counters.Redisp.Add(1)
				rs.srv.Counters.Leave()
				rs.srv = next
				next.Counters.Enter()
				rs.redispatched = true
				// Another server: no reason to wait.
				continue
			}
		}
		// Same server: give a restarting server a moment (A.4).
		select {
		case <-time.After(min(f.cfg.Timeouts.Connect, time.Second)):
		case <-f.ctx.Done():
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// getConn takes a pooled connection to s or dials one. Only a request
// that cannot be replayed pays for a liveness check of a pooled
// connection: a replayable one that meets a dead connection is sent again
// on a fresh one (retryStale), which is rare and cheaper than checking
// every time.
func (f *Frontend) getConn(s *proxy.Server, check bool) (*upConn, error) {
	if !f.cfg.ServerClose {
		if u := f.pools.get(s).take(f.cfg.Timeouts.UpstreamIdle, check); u != nil {
			return u, nil
		}
	}
	return f.dial(s.Addr)
}

// release returns u to its server's pool or closes it.
func (f *Frontend) release(s *proxy.Server, u *upConn, reusable bool) {
	if reusable && !f.cfg.ServerClose && !f.closing.Load() {
		f.pools.get(s).put(u, f.cfg.MaxIdlePerServer)
		return
	}
	u.nc.Close()
}

// bodyCopy is the request body's trip upstream, run beside the response
// reader so that a server may answer before it has read everything (and
// "Expect: 100-continue" works: the client sends the body only after the
// relayed 100).
type bodyCopy struct {
	done chan error
	// eof is set once the whole body has been read from the client,
	// before its last bytes go upstream: a server cannot have seen the
	// complete body earlier.
	eof atomic.Bool
	// clientErr says the failure was on the client side.
	clientErr atomic.Bool
}

// exchange sends the request on u, relays the response and reports
// whether the client connection may carry another request.
func (c *clientConn) exchange(rs *reqState, u *upConn) bool {
	f := c.f
	req := rs.req
	c.tokens = connTokens(req.Header, c.tokens[:0])
	upgrade := wantsUpgrade(req, c.tokens)
	hasBody := req.ContentLength != 0
	chunkedUp := req.ContentLength < 0

	var bc *bodyCopy
	var err error
	for attempt := 0; ; attempt++ {
		u.timeout = f.cfg.Timeouts.Server
		u.nread = 0
		c.writeRequestHead(u, req, upgrade)
		if hasBody && req.ContentLength > 0 && req.ContentLength <= int64(c.br.Buffered()) {
			// The whole body is already here: send it with the head.
			_, err = io.CopyN(u.bw, req.Body, req.ContentLength)
			if err == nil {
				err = u.bw.Flush()
			}
			hasBody = false
		} else {
			err = u.bw.Flush()
		}
		if err == nil {
			break
		}
		if !c.retryStale(rs, &u, err, attempt) {
			return c.upstreamFailed(rs, u, nil, err)
		}
	}
	tSent := time.Now()
	if hasBody {
		bc = &bodyCopy{done: make(chan error, 1)}
		go c.copyBody(u, req, chunkedUp, bc)
	}

	var resp *http.Response
	for attempt := 0; ; {
		u.limit = respHeadLimit
		resp, err = http.ReadResponse(u.br, req)
		u.limit = -1
		if err != nil {
			if bc == nil && c.retryStale(rs, &u, err, attempt) {
				attempt++
				// Resend on the fresh connection (nothing was received).
				u.timeout = f.cfg.Timeouts.Server
				u.nread = 0
				c.writeRequestHead(u, req, upgrade)
				if err = u.bw.Flush(); err != nil {
					return c.upstreamFailed(rs, u, bc, err)
				}
				continue
			}
			return c.upstreamFailed(rs, u, bc, err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			if !upgrade || bc != nil {
				resp.Body.Close()
				return c.upstreamFailed(rs, u, bc, errors.New("unexpected 101"))
			}
			rs.tResp = time.Since(tSent)
			return c.tunnel(rs, u, resp)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			// Interim answers (100 Continue, 103 Early Hints) go through
			// to HTTP/1.1 clients; HTTP/1.0 ones cannot read them.
			if req.ProtoAtLeast(1, 1) {
				c.writeResponseHead(resp, req, false, false)
				if err := c.bw.Flush(); err != nil {
					return c.clientFailed(rs, u, bc)
				}
			}
			continue
		}
		break
	}
	rs.tResp = time.Since(tSent)
	return c.relay(rs, u, resp, bc)
}

// retryStale replaces a pooled connection that failed before answering
// anything with a fresh one, once, for a replayable request: the server
// had closed it while it sat in the pool. It is not a retry in HAProxy's
// sense (no connection attempt failed) and is not counted as one.
func (c *clientConn) retryStale(rs *reqState, u **upConn, err error, attempt int) bool {
	old := *u
	if attempt > 0 || !old.reused || old.nread > 0 || !replayable(rs.req) || isTimeout(err) {
		return false
	}
	old.nc.Close()
	nu, derr := c.f.dial(rs.srv.Addr)
	if derr != nil {
		return false
	}
	*u = nu
	c.up.p.Store(nu)
	return true
}

// copyBody streams the request body upstream, re-framed: Content-Length
// as parsed, or chunked with the trailers.
func (c *clientConn) copyBody(u *upConn, req *http.Request, chunked bool, bc *bodyCopy) {
	c.readIdle = c.f.cfg.Timeouts.Client
	bp := bufPool.Get().(*[]byte)
	buf := *bp
	var err error
	for {
		n, rerr := req.Body.Read(buf)
		if rerr == io.EOF {
			bc.eof.Store(true)
		}
		if n > 0 {
			if chunked {
				writeChunkHead(u.bw, n)
			}
			_, err = u.bw.Write(buf[:n])
			if chunked && err == nil {
				_, err = u.bw.WriteString("\r\n")
			}
			if err == nil && rerr == nil && c.br.Buffered() == 0 {
				err = u.bw.Flush()
			}
			if err != nil {
				break
			}
		}
		if rerr == io.EOF {
			if chunked {
				writeLastChunk(u.bw, req.Trailer)
			}
			err = u.bw.Flush()
			break
		}
		if rerr != nil {
			err = rerr
			bc.clientErr.Store(true)
			// The server is waiting for the rest; unblock the response
			// reader.
			u.nc.Close()
			break
		}
	}
	bufPool.Put(bp)
	bc.done <- err
}

// finishBody waits for the request body copy. When the response is over
// before the body was read in full, the rest of it will never be read:
// both connections are closed, which also ends the copy.
func (c *clientConn) finishBody(u *upConn, bc *bodyCopy) (complete bool) {
	if bc == nil {
		return true
	}
	if !bc.eof.Load() {
		c.nc.Close()
		u.nc.Close()
		<-bc.done
		return false
	}
	return <-bc.done == nil
}

// upstreamFailed handles a failure after the request started to go out:
// it is never retried (the server may have acted on it). 504 when the
// server timed out, 502 otherwise; a client-side failure of the body
// copy is reported as the client's.
func (c *clientConn) upstreamFailed(rs *reqState, u *upConn, bc *bodyCopy, err error) bool {
	u.nc.Close()
	if bc != nil {
		c.finishBody(u, bc)
		if bc.clientErr.Load() {
			rs.term = "CD--"
			c.f.counters.CliAbrt.Add(1)
			rs.srv.Counters.CliAbrt.Add(1)
			rs.be.Counters.CliAbrt.Add(1)
			if rs.status == 0 {
				rs.status = -1
			}
			return false
		}
	}
	rs.srv.ReportFailure()
	rs.srv.Counters.ErrResp.Add(1)
	rs.be.Counters.ErrResp.Add(1)
	if isTimeout(err) {
		c.fail(rs, 504, "sH--")
	} else {
		c.fail(rs, 502, "SH--")
	}
	return false
}

// clientFailed ends a request whose client went away or timed out; u is
// nil when the upstream connection was already given back to the pool.
func (c *clientConn) clientFailed(rs *reqState, u *upConn, bc *bodyCopy) bool {
	if u != nil {
		u.nc.Close()
	}
	c.nc.Close()
	if bc != nil {
		<-bc.done
	}
	rs.term = "CD--"
	c.f.counters.CliAbrt.Add(1)
	rs.srv.Counters.CliAbrt.Add(1)
	rs.be.Counters.CliAbrt.Add(1)
	c.countStatus(rs)
	return false
}

// writeRequestHead writes the request line and headers upstream in the
// normalised form: the parsed method and target, HTTP/1.1, the parsed
// Host, the inbound headers minus hop-by-hop ones, the forwarding headers
// of the configured mode and framing computed from what was parsed.
func (c *clientConn) writeRequestHead(u *upConn, req *http.Request, upgrade bool) {
	w := u.bw
	ff := &c.f.cfg.ForwardFor
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(target(req))
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.Host)
	w.WriteString("\r\n")
	secure := ff.Mode == ForwardSecure
	xffKey := ff.Header
	for k, vs := range req.Header {
		if hopByHop(k) || len(c.tokens) > 0 && hasToken(c.tokens, k) {
			continue
		}
		if secure {
			if k == xffKey {
				continue // rewritten below
			}
			if !c.trusted && (k == "Forwarded" || strings.HasPrefix(k, "X-Forwarded-")) {
				continue
			}
		}
		for _, v := range vs {
			writeHeaderLine(w, k, v)
		}
	}
	// Framing from the parse, never from the inbound headers.
	switch {
	case req.ContentLength > 0:
		w.WriteString("Content-Length: ")
		var b [20]byte
		w.Write(strconv.AppendInt(b[:0], req.ContentLength, 10))
		w.WriteString("\r\n")
	case req.ContentLength < 0:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH" || len(req.Header["Content-Length"]) > 0:
		w.WriteString("Content-Length: 0\r\n")
	}
	if te := req.Header["Te"]; len(te) > 0 && strings.Contains(strings.ToLower(strings.Join(te, ",")), "trailers") {
		w.WriteString("Te: trailers\r\n")
	}
	switch {
	case upgrade:
		w.WriteString("Connection: Upgrade\r\n")
		for _, v := range req.Header["Upgrade"] {
			writeHeaderLine(w, "Upgrade", v)
		}
	case c.f.cfg.ServerClose:
		w.WriteString("Connection: close\r\n")
	}
	switch ff.Mode {
	case ForwardSecure:
		w.WriteString(xffKey)
		w.WriteString(": ")
		if in := req.Header[xffKey]; c.trusted && len(in) > 0 {
			for _, v := range in {
				w.WriteString(v)
				w.WriteString(", ")
			}
		}
		w.WriteString(c.peerIP)
		w.WriteString("\r\n")
		if !c.trusted || len(req.Header["X-Forwarded-Proto"]) == 0 {
			if c.tls {
				w.WriteString("X-Forwarded-Proto: https\r\n")
			} else {
				w.WriteString("X-Forwarded-Proto: http\r\n")
			}
		}
		if (!c.trusted || len(req.Header["X-Forwarded-Host"]) == 0) && req.Host != "" {
			writeHeaderLine(w, "X-Forwarded-Host", req.Host)
		}
	case ForwardHAProxy:
		// One new line after all the others: the backend's last
		// occurrence is the peer (A.5).
		if !c.except && (!ff.IfNone || len(req.Header[xffKey]) == 0) {
			writeHeaderLine(w, xffKey, c.peerIP)
		}
	}
	w.WriteString("\r\n")
}

// respFraming is how a response body travels to the client.
type respFraming int

const (
	frameNone    respFraming = iota // no body
	frameLength                     // Content-Length
	frameChunked                    // re-chunked
	frameClose                      // delimited by closing the connection
)

// writeResponseHead writes the status line and headers to the client and
// returns the body framing. closeConn asks for "Connection: close".
func (c *clientConn) writeResponseHead(resp *http.Response, req *http.Request, closeConn, keepAlive10 bool) respFraming {
	w := c.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(resp.Status)
	if strings.IndexByte(resp.Status, ' ') < 0 {
		w.WriteByte(' ')
	}
	w.WriteString("\r\n")
	c.rtokens = connTokens(resp.Header, c.rtokens[:0])
	for k, vs := range resp.Header {
		if hopByHop(k) || len(c.rtokens) > 0 && hasToken(c.rtokens, k) {
			continue
		}
		for _, v := range vs {
			writeHeaderLine(w, k, v)
		}
	}
	code := resp.StatusCode
	fr := frameNone
	switch {
	case code < 200 || code == 204:
	case code == 304:
		if v := resp.Header["Content-Length"]; len(v) > 0 {
			if _, err := strconv.ParseUint(v[0], 10, 63); err == nil {
				writeHeaderLine(w, "Content-Length", v[0])
			}
		}
	case req.Method == "HEAD":
		if resp.ContentLength >= 0 {
			writeHeaderLine(w, "Content-Length", strconv.FormatInt(resp.ContentLength, 10))
		}
	case resp.ContentLength >= 0:
		w.WriteString("Content-Length: ")
		var b [20]byte
		w.Write(strconv.AppendInt(b[:0], resp.ContentLength, 10))
		w.WriteString("\r\n")
		fr = frameLength
	case req.ProtoAtLeast(1, 1):
		w.WriteString("Transfer-Encoding: chunked\r\n")
		fr = frameChunked
	default:
		fr = frameClose
	}
	if code >= 200 {
		if closeConn || fr == frameClose {
			w.WriteString("Connection: close\r\n")
		} else if keepAlive10 {
			w.WriteString("Connection: keep-alive\r\n")
		}
	}
	w.WriteString("\r\n")
	return fr
}

// relay sends the response to the client, then decides about both
// connections.
func (c *clientConn) relay(rs *reqState, u *upConn, resp *http.Response, bc *bodyCopy) bool {
	f := c.f
	req := rs.req
	closeConn := !f.cfg.KeepAlive || req.Close || f.closing.Load()
	// Known now: an unfinished request body means no further request.
	if bc != nil && !bc.eof.Load() {
		closeConn = true
	}
	keepAlive10 := !closeConn && !req.ProtoAtLeast(1, 1)
	rs.status = resp.StatusCode
	n0 := c.nwritten
	fr := c.writeResponseHead(resp, req, closeConn, keepAlive10)
	if fr == frameClose {
		closeConn = true
	}

	var rerr, werr error
	if fr != frameNone {
		rerr, werr = c.copyResponse(u, resp, fr)
	}
	released, bodyChecked, bodyOK := false, false, false
	if rerr == nil && werr == nil && (bc == nil || bc.eof.Load()) {
		// The answer is read to its end and the request body was sent
		// whole: the upstream connection goes back to the pool before the
		// client's copy is flushed, so that the client's next request
		// (on this or another connection) finds it there.
		resp.Body.Close()
		bodyOK, bodyChecked = c.finishBody(u, bc), true
		if bodyOK {
			f.release(rs.srv, u, !resp.Close)
			released = true
		}
	}
	if werr == nil && rerr == nil {
		werr = c.bw.Flush()
	}
	if !released && (rerr != nil || werr != nil) {
		// Closing first keeps Body.Close from draining the rest of the
		// answer from the server.
		u.nc.Close()
	}
	resp.Body.Close()
	rs.bytesOut = c.nwritten - n0

	if !bodyChecked {
		bodyOK = c.finishBody(u, bc)
	}
	if released && werr != nil {
		// The client went away during the flush; the upstream connection
		// is already pooled and must not be closed.
		return c.clientFailed(rs, nil, nil)
	}
	switch {
	case rerr != nil:
		// The server failed mid-body: the client gets a truncated answer
		// and the connection is closed so it knows.
		rs.term = "SD--"
		if isTimeout(rerr) {
			rs.term = "sD--"
		}
		rs.srv.Counters.SrvAbrt.Add(1)
		rs.be.Counters.SrvAbrt.Add(1)
		u.nc.Close()
		c.countStatus(rs)
		return false
	case werr != nil:
		return c.clientFailed(rs, u, nil)
	}
	c.countStatus(rs)
	if !released {
		f.release(rs.srv, u, bodyOK && !resp.Close)
	}
	if !bodyOK {
		return false
	}
	return !closeConn
}

// copyResponse copies the body. It flushes whenever the server has
// nothing more buffered, so streamed answers (server-sent events) reach
// the client as they come, while a small answer leaves in one write with
// its head.
func (c *clientConn) copyResponse(u *upConn, resp *http.Response, fr respFraming) (rerr, werr error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	w := c.bw
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if fr == frameChunked {
				writeChunkHead(w, n)
			}
			if _, werr = w.Write(buf[:n]); werr != nil {
				return nil, werr
			}
			if fr == frameChunked {
				w.WriteString("\r\n")
			}
			if err == nil && u.br.Buffered() == 0 {
				if werr = w.Flush(); werr != nil {
					return nil, werr
				}
			}
		}
		if err == io.EOF {
			if fr == frameChunked {
				writeLastChunk(w, resp.Trailer)
			}
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

package frontend

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"

	"hecd/internal/proxy"
)

// upConn is one upstream connection. Reads and writes refresh their
// deadline first, which turns "timeout server" into an inactivity limit
// as in HAProxy rather than a bound on the whole exchange.
type upConn struct {
	// meteredConn's limit bounds a response head; nread counts bytes
	// received since the request was sent: 0 after a failure means the
	// server answered nothing (a stale pooled connection can then be
	// replaced safely for a replayable request).
	meteredConn
	br *bufio.Reader
	bw *bufio.Writer
	// timeout is the current inactivity limit (server or tunnel timeout).
	timeout time.Duration
	idleAt  time.Time
	reused  bool
}

func (u *upConn) Read(p []byte) (int, error) { return u.read(p, u.timeout) }

func (u *upConn) Write(p []byte) (int, error) {
	if u.timeout > 0 {
		u.nc.SetWriteDeadline(time.Now().Add(u.timeout))
	}
	return u.nc.Write(p)
}

// pool holds one server's idle connections, most recently used last, so
// that the busy ones stay warm and the sweeper ages out the rest.
type pool struct {
	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

// pools maps servers to their idle connections. A server's pool lives as
// long as the server is in a published table: Server.Stopped ends it.
type pools struct {
	f  *Frontend
	mu sync.Mutex
	m  map[*proxy.Server]*pool
}

// closedPool stands for the pool of a server that left the tables, or of
// a frontend that is closing: it never holds a connection.
var closedPool = &pool{closed: true}

func (ps *pools) get(s *proxy.Server) *pool {
	select {
	case <-s.Stopped():
		return closedPool
	case <-ps.f.done:
		return closedPool
	default:
	}
	ps.mu.Lock()
	p := ps.m[s]
	if p == nil {
		p = &pool{}
		ps.m[s] = p
		ps.f.wg.Add(1)
		go ps.watch(s, p)
	}
	ps.mu.Unlock()
	return p
}

// watch drops the pool when the server leaves the route tables; requests
// still using one of its connections close it when they finish.
func (ps *pools) watch(s *proxy.Server, p *pool) {
	defer ps.f.wg.Done()
	select {
	case <-s.Stopped():
	case <-ps.f.done:
	}
	ps.mu.Lock()
	if ps.m[s] == p {
		delete(ps.m, s)
	}
	ps.mu.Unlock()
	p.close()
}

func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, u := range idle {
		u.nc.Close()
	}
}

// take returns an idle connection, or nil. With check, it first makes
// sure the server has not closed it (a syscall per request); without, the
// caller must be able to replay the request on a fresh connection if the
// reused one turns out dead before answering (retryStale).
func (p *pool) take(maxIdle time.Duration, check bool) *upConn {
	now := time.Now()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		u := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(u.idleAt) < maxIdle && (!check || alive(u.nc)) {
			u.reused = true
			return u
		}
		u.nc.Close()
	}
}

// put keeps u for reuse, or closes it when the pool is full or gone.
func (p *pool) put(u *upConn, max int) {
	u.idleAt = time.Now()
	u.timeout = 0
	u.nc.SetDeadline(time.Time{})
	p.mu.Lock()
	if !p.closed && len(p.idle) < max {
		p.idle = append(p.idle, u)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	u.nc.Close()
}

// sweep closes the connections idle for longer than maxIdle.
func (p *pool) sweep(maxIdle time.Duration) {
	cut := time.Now().Add(-maxIdle)
	var old []*upConn
	p.mu.Lock()
	// Oldest first: everything before the first young one is expired.
	i := 0
	for i < len(p.idle) && p.idle[i].idleAt.Before(cut) {
		i++
	}
	if i > 0 {
		old = append(old, p.idle[:i]...)
		n := copy(p.idle, p.idle[i:])
		clear(p.idle[n:])
		p.idle = p.idle[:n]
	}
	p.mu.Unlock()
	for _, u := range old {
		u.nc.Close()
	}
}

func (ps *pools) sweeper(every, maxIdle time.Duration) {
	defer ps.f.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ps.f.done:
			return
		case <-t.C:
		}
		ps.mu.Lock()
		list := make([]*pool, 0, len(ps.m))
		for _, p := range ps.m {
			list = append(list, p)
		}
		ps.mu.Unlock()
		for _, p := range list {
			p.sweep(maxIdle)
		}
	}
}

// dial opens a new upstream connection within the connect timeout.
func (f *Frontend) dial(addr string) (*upConn, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Timeouts.Connect)
	defer cancel()
	var nc net.Conn
	var err error
	if f.cfg.Dial != nil {
		nc, err = f.cfg.Dial(ctx, "tcp", addr)
	} else {
		nc, err = f.dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	u := &upConn{meteredConn: meteredConn{nc: nc, limit: -1}}
	u.br = bufio.NewReaderSize(u, 16<<10)
	u.bw = bufio.NewWriterSize(u, 8<<10)
	return u, nil
}

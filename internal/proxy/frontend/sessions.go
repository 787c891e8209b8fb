package frontend

import (
	"sync"
	"sync/atomic"

	"hecd/internal/proxy"
)

// sessions are the client connections forwarding a request to each server
// right now, so that they can be cut: the stats page's "shutdown" action
// (HAProxy's "shutdown sessions server") and the drain timeout of a
// removed route. A request joins once it has its upstream connection and
// leaves when it ends, tunnels included.
type sessions struct {
	mu    sync.Mutex
	bySrv map[*proxy.Server]map[*clientConn]struct{}
}

func (ss *sessions) add(s *proxy.Server, c *clientConn) {
	ss.mu.Lock()
	if ss.bySrv == nil {
		ss.bySrv = map[*proxy.Server]map[*clientConn]struct{}{}
	}
	m := ss.bySrv[s]
	if m == nil {
		m = map[*clientConn]struct{}{}
		ss.bySrv[s] = m
	}
	m[c] = struct{}{}
	ss.mu.Unlock()
}

func (ss *sessions) remove(s *proxy.Server, c *clientConn) {
	ss.mu.Lock()
	if m := ss.bySrv[s]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(ss.bySrv, s)
		}
	}
	ss.mu.Unlock()
}

// upstream is the connection a client connection's current request uses;
// nil between requests.
type upstream struct{ p atomic.Pointer[upConn] }

// ShutdownSessions cuts every request being forwarded to s now: the
// client connection and the upstream one are closed, so the client sees
// its connection end, as with HAProxy's "shutdown sessions". It returns
// how many were cut. Requests that pick s later are not affected.
func (f *Frontend) ShutdownSessions(s *proxy.Server) int {
	f.sessions.mu.Lock()
	var cut []*clientConn
	for c := range f.sessions.bySrv[s] {
		cut = append(cut, c)
	}
	f.sessions.mu.Unlock()
	for _, c := range cut {
		c.nc.Close()
		if u := c.up.p.Load(); u != nil {
			u.nc.Close()
		}
	}
	if len(cut) > 0 {
		f.log.Info("sessions shut down", "server", s.ID, "addr", s.Addr, "count", len(cut))
	}
	return len(cut)
}

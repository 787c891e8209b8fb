package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// AdminState is the operator's state of a server (HAProxy's admin
// actions): Ready takes traffic, Drain takes no new load-balanced traffic
// but keeps being checked, Maint takes nothing and is not checked.
type AdminState int32

const (
	Ready AdminState = iota
	Drain
	Maint
)

func (a AdminState) String() string {
	switch a {
	case Drain:
		return "DRAIN"
	case Maint:
		return "MAINT"
	}
	return "READY"
}

// Counters are a proxy object's statistics, named after HAProxy's CSV
// columns. All are updated atomically on the request path.
type Counters struct {
	Cur      atomic.Int64 // scur: current sessions
	Max      atomic.Int64 // smax
	Total    atomic.Int64 // stot: sessions (requests) in all
	LBTotal  atomic.Int64 // lbtot: times picked by the balancer
	BytesIn  atomic.Int64 // bin: request bytes from clients
	BytesOut atomic.Int64 // bout: response bytes to clients
	ErrReq   atomic.Int64 // ereq
	ErrConn  atomic.Int64 // econ: failed connection attempts
	ErrResp  atomic.Int64 // eresp
	Retries  atomic.Int64 // wretr
	Redisp   atomic.Int64 // wredis
	CliAbrt  atomic.Int64 // cli_abrt
	SrvAbrt  atomic.Int64 // srv_abrt
	Hrsp     [6]atomic.Int64
	LastSess atomic.Int64 // unix seconds of the last session
}

// Enter counts the start of a session and returns its end.
func (c *Counters) Enter() {
	cur := c.Cur.Add(1)
	for {
		m := c.Max.Load()
		if cur <= m || c.Max.CompareAndSwap(m, cur) {
			break
		}
	}
	c.Total.Add(1)
	c.LastSess.Store(time.Now().Unix())
}

// Leave counts the end of a session.
func (c *Counters) Leave() { c.Cur.Add(-1) }

// Status counts a response status in its class (hrsp_1xx..5xx, other).
func (c *Counters) Status(code int) {
	i := code / 100
	if i < 1 || i > 5 {
		i = 0
	}
	if i == 0 {
		c.Hrsp[5].Add(1)
		return
	}
	c.Hrsp[i-1].Add(1)
}

// Server is one upstream address. The route source creates it; the
// health checker (health.go) and the admin actions change its state; the
// frontend reads Usable on every request.
type Server struct {
	// ID is the route id ("app1") or the default backend's server name.
	ID string
	// Addr is host:port.
	Addr string

	weight atomic.Int32
	admin  atomic.Int32
	// up is the health verdict, read on every request without a lock.
	up atomic.Bool

	Counters Counters

	// health is the checker's state; see health.go.
	health healthState

	// stopOnce ends the checker when the server leaves the last table.
	stopOnce sync.Once
	stop     chan struct{}
}

// NewServer returns a server that is up (HAProxy's initial state unless
// checks say otherwise, see health.go) with weight 1.
func NewServer(id, addr string) *Server {
	s := &Server{ID: id, Addr: addr, stop: make(chan struct{})}
	s.weight.Store(1)
	s.up.Store(true)
	s.initHealth()
	return s
}

// Weight is the balancing weight, 0..256; 0 is DRAIN.
func (s *Server) Weight() int { return int(s.weight.Load()) }

// SetWeight changes the weight (clamped to 0..256).
func (s *Server) SetWeight(w int) { s.weight.Store(int32(max(0, min(w, 256)))) }

// Admin is the operator's state.
func (s *Server) Admin() AdminState { return AdminState(s.admin.Load()) }

// SetAdmin changes the operator's state. Leaving MAINT restarts the
// checks from "start OK, check immediately" (health.go).
func (s *Server) SetAdmin(a AdminState) { s.setAdmin(a) }

// Up is the health verdict (true for a server without checks).
func (s *Server) Up() bool { return s.up.Load() }

// Usable says whether a request routed to this server's backend by its
// APPID may go to it: up and not in maintenance. A drained server still
// takes requests routed to it directly, as in HAProxy.
func (s *Server) Usable() bool { return s.up.Load() && s.Admin() != Maint }

// Balanced says whether the balancer may pick it: usable, not drained,
// weight above 0 and not forced NOLB (hnolb).
func (s *Server) Balanced() bool {
	return s.Usable() && s.Admin() != Drain && s.weight.Load() > 0 && !s.health.nolb.Load()
}

// Stop ends the server's checks; it is called once the server is in no
// published table.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		close(s.stop)
		if s.health.cancel != nil {
			s.health.cancel()
		}
	})
}

// Stopped is closed by Stop.
func (s *Server) Stopped() <-chan struct{} { return s.stop }

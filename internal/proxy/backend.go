package proxy

import "sync"

// Backend is a named group of servers with a balancer: one server for a
// route, several for the default backend.
type Backend struct {
	Name    string
	Servers []*Server
	// Counters are the BACKEND row's.
	Counters Counters

	mu      sync.Mutex
	current []int // smooth weighted round robin state, by server index
}

// NewBackend returns a backend over servers.
func NewBackend(name string, servers ...*Server) *Backend {
	return &Backend{Name: name, Servers: servers, current: make([]int, len(servers))}
}

// Pick returns the next server to use, or nil when none can take traffic.
// A backend with one server (a route) returns it when it is usable, even
// when drained: a request routed by its APPID goes to its server. Several
// servers are balanced by smooth weighted round robin (nginx's
// interleaving: weights 1,2,3 give b,c,a,c,b,c, not a,b,b,c,c,c). avoid, when
// not nil, is skipped if another server can be picked (redispatch).
func (b *Backend) Pick(avoid *Server) *Server {
	if len(b.Servers) == 1 {
		// The only server is also the only redispatch target.
		if s := b.Servers[0]; s.Usable() {
			s.Counters.LBTotal.Add(1)
			return s
		}
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	best := b.pickLocked(avoid)
	if best == nil && avoid != nil {
		best = b.pickLocked(nil)
	}
	return best
}

func (b *Backend) pickLocked(avoid *Server) *Server {
	total, best := 0, -1
	for i, s := range b.Servers {
		if s == avoid || !s.Balanced() {
			continue
		}
		w := s.Weight()
		b.current[i] += w
		total += w
		if best < 0 || b.current[i] > b.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b.current[best] -= total
	s := b.Servers[best]
	s.Counters.LBTotal.Add(1)
	return s
}

// Up counts the servers that are up (the "act" column).
func (b *Backend) Up() int {
	n := 0
	for _, s := range b.Servers {
		if s.Usable() {
			n++
		}
	}
	return n
}

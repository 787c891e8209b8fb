package source

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"hecd/internal/proxy"
)

// publish builds a table from the spaces, swaps it in and retires the
// servers that left. Servers and backends whose route or name and
// address are unchanged carry over, with their health, admin state,
// weight and counters.
func (s *Source) publish() {
	initial := !s.loaded
	var invalid []proxy.Invalid
	bad := func(sp *space, rel, val, reason string) {
		invalid = append(invalid, proxy.Invalid{Key: sp.key(rel), Value: val, Reason: reason})
	}
	// validServer reports whether a server key's id and address are
	// valid, recording the key as invalid when they are not.
	validServer := func(sp *space, id, addr string) bool {
		if err := CheckID(id); err != nil {
			bad(sp, id, addr, err.Error())
			return false
		}
		if err := CheckAddr(addr); err != nil {
			bad(sp, id, addr, "address: "+err.Error())
			return false
		}
		return true
	}

	weights := map[string]int{}
	if s.weights != nil {
		for _, id := range sortedKeys(s.weights.vals) {
			v := s.weights.vals[id]
			if err := CheckID(id); err != nil {
				bad(s.weights, id, v, err.Error())
				continue
			}
			w, err := checkWeight(v)
			if err != nil {
				bad(s.weights, id, v, err.Error())
				continue
			}
			weights[id] = w
		}
	}
	weightOf := func(id string) int {
		if w, ok := weights[id]; ok {
			return w
		}
		return 1
	}
	admin := map[string]proxy.AdminState{}
	if s.admin != nil {
		for _, rel := range sortedKeys(s.admin.vals) {
			v := s.admin.vals[rel]
			b, srv, _ := strings.Cut(rel, "/")
			if err := CheckID(b); err != nil {
				bad(s.admin, rel, v, "backend "+err.Error())
				continue
			}
			if err := CheckID(srv); err != nil {
				bad(s.admin, rel, v, "server "+err.Error())
				continue
			}
			st, err := parseAdmin(v)
			if err != nil {
				bad(s.admin, rel, v, err.Error())
				continue
			}
			admin[rel] = st
		}
	}

	type newcomer struct {
		srv     *proxy.Server
		backend string
	}
	var added []newcomer
	fresh := map[*proxy.Server]bool{}
	newServer := func(backend, id, addr string, weight int) *proxy.Server {
		srv := proxy.NewServer(id, addr)
		srv.SetWeight(weight)
		added = append(added, newcomer{srv, backend})
		fresh[srv] = true
		return srv
	}

	// Routes, in id order: the first of ids equal but for case wins
	// (spec D.2), as the first use_backend rule did in HAProxy.
	routeServers := map[string]*proxy.Server{}
	routeBackends := map[string]*proxy.Backend{}
	var backends []*proxy.Backend
	var conflicts []string
	byLower := map[string]string{}
	for _, id := range sortedKeys(s.routes.vals) {
		addr := s.routes.vals[id]
		if !validServer(s.routes, id, addr) {
			continue
		}
		lower := strings.ToLower(id)
		if first, dup := byLower[lower]; dup {
			conflicts = append(conflicts, id)
			s.reportOnce("conflict "+id, first, func() {
				s.log.Warn("route id differs from another only in case; skipping it", "id", id, "kept", first)
			})
			continue
		}
		byLower[lower] = id
		srv, b := s.routeServers[id], s.routeBackends[id]
		switch {
		case srv == nil || srv.Addr != addr:
			srv = newServer(id, id, addr, weightOf(id))
			nb := proxy.NewBackend(id, srv)
			if b != nil {
				// The route stays, its server changed: the BACKEND row
				// goes on counting.
				carryCounters(&nb.Counters, &b.Counters)
			}
			b = nb
		case s.dirtyWeights[id]:
			srv.SetWeight(weightOf(id))
		}
		routeServers[id] = srv
		routeBackends[id] = b
		backends = append(backends, b)
	}

	// The default backend.
	var def *proxy.Backend
	defaultServers := map[string]*proxy.Server{}
	var defServers []*proxy.Server
	switch s.cfg.DefaultMode {
	case DefaultAll:
		for _, b := range backends {
			defServers = append(defServers, b.Servers...)
		}
	case DefaultStatic:
		type want struct {
			addr   string
			weight int
		}
		wants := map[string]want{}
		for _, c := range s.cfg.DefaultServers {
			wants[c.Name] = want{c.Addr, c.Weight}
		}
		if s.defaults != nil {
			for _, name := range sortedKeys(s.defaults.vals) {
				addr := s.defaults.vals[name]
				if !validServer(s.defaults, name, addr) {
					continue
				}
				// The store's address wins over the configured one, so
				// that a server can move without a restart.
				w := 1
				if c, ok := wants[name]; ok {
					w = c.weight
				}
				wants[name] = want{addr, w}
			}
		}
		for _, name := range sortedKeys(wants) {
			w := wants[name]
			srv := s.defaultServers[name]
			if srv == nil || srv.Addr != w.addr {
				srv = newServer(s.cfg.DefaultName, name, w.addr, w.weight)
			}
			defaultServers[name] = srv
			defServers = append(defServers, srv)
		}
	}
	if s.cfg.DefaultMode != DefaultNone {
		if s.defBackend != nil && slices.Equal(s.defBackend.Servers, defServers) {
			def = s.defBackend
		} else {
			def = proxy.NewBackend(s.cfg.DefaultName, defServers...)
			if s.defBackend != nil {
				carryCounters(&def.Counters, &s.defBackend.Counters)
			}
		}
	}

	// Admin states: a new server takes its key's state; one that
	// carries over changes only when its key changed, to the key's state
	// or, the key gone, to ready.
	applyAdmin := func(backend string, srv *proxy.Server) {
		k := backend + "/" + srv.ID
		st, ok := admin[k]
		switch {
		case fresh[srv]:
			if ok {
				srv.SetAdmin(st)
			}
		case s.dirtyAdmin[k]:
			if !ok {
				st = proxy.Ready
			}
			srv.SetAdmin(st)
		}
	}
	if s.admin != nil {
		for _, b := range backends {
			applyAdmin(b.Name, b.Servers[0])
		}
		if def != nil {
			for _, srv := range def.Servers {
				applyAdmin(def.Name, srv)
			}
		}
	}

	// By key, so that the stats page lists them in a stable order.
	slices.SortFunc(invalid, func(a, b proxy.Invalid) int { return strings.Compare(a.Key, b.Key) })
	t := proxy.NewTable(s.routes.after, backends, def, invalid)
	t.Conflicts = conflicts

	// Start the new servers' checks before any request can reach them,
	// so that initial_state down is honoured from the first request.
	if cb := s.cfg.OnServerAdded; cb != nil {
		for _, n := range added {
			cb(n.srv, n.backend, initial)
		}
	}
	s.cfg.Router.Swap(t)
	now := time.Now()

	// Retire the servers that are in no table any more. Requests already
	// on them finish; only new ones cannot pick them.
	if s.last != nil {
		keep := map[*proxy.Server]bool{}
		for _, srv := range t.Servers() {
			keep[srv] = true
		}
		for _, srv := range s.last.Servers() {
			if keep[srv] {
				continue
			}
			if cb := s.cfg.OnServerRemoved; cb != nil {
				cb(srv)
			}
			srv.Stop()
		}
	}

	s.logChanges(t, routeServers)
	s.logInvalid(t)
	s.logEmptyDefault(def)

	s.routeServers, s.routeBackends = routeServers, routeBackends
	s.defaultServers, s.defBackend = defaultServers, def
	s.last = t
	clear(s.dirtyWeights)
	clear(s.dirtyAdmin)

	s.mu.Lock()
	s.st.LastIndex = s.maxApplied
	s.st.LastChange = now
	s.st.Swaps++
	s.st.Routes = len(t.IDs)
	s.st.InvalidKeys = len(t.Invalid)
	s.st.Conflicts = len(t.Conflicts)
	s.mu.Unlock()
	if cb := s.cfg.OnSwap; cb != nil {
		cb(t)
	}
	s.setReflected(t.Index)
}

// logChanges logs the routes added, removed and changed (spec D.9).
func (s *Source) logChanges(t *proxy.Table, routeServers map[string]*proxy.Server) {
	var add, del, chg []string
	for id, srv := range routeServers {
		switch old := s.routeServers[id]; {
		case old == nil:
			add = append(add, id)
		case old != srv:
			chg = append(chg, id)
		}
	}
	for id := range s.routeServers {
		if routeServers[id] == nil {
			del = append(del, id)
		}
	}
	msg := "route table updated"
	if !s.loaded {
		msg = "route table loaded"
	}
	s.log.Info(msg, "index", t.Index, "routes", len(t.IDs),
		"added", listSome(add), "removed", listSome(del), "changed", listSome(chg),
		"invalid", len(t.Invalid))
}

// listSome sorts ids and keeps the first 20 for a log line: a burst of a
// thousand keys must not make a line of a thousand ids.
func listSome(ids []string) string {
	slices.Sort(ids)
	const most = 20
	if len(ids) > most {
		return strings.Join(ids[:most], ",") + ",...(" + strconv.Itoa(len(ids)) + " in all)"
	}
	return strings.Join(ids, ",")
}

// logInvalid logs each invalid key once per value: a broken key is
// reported when it appears or changes, not on every table.
func (s *Source) logInvalid(t *proxy.Table) {
	seen := map[string]bool{}
	for _, in := range t.Invalid {
		seen["invalid "+in.Key] = true
		s.reportOnce("invalid "+in.Key, in.Value+"\x00"+in.Reason, func() {
			s.log.Warn("skipping invalid key", "key", in.Key, "value", in.Value, "reason", in.Reason)
		})
	}
	for _, c := range t.Conflicts {
		seen["conflict "+c] = true
	}
	for k := range s.reported {
		if !seen[k] {
			delete(s.reported, k)
		}
	}
}

// reportOnce runs log unless the same key was reported with the same
// what before.
func (s *Source) reportOnce(key, what string, log func()) {
	if old, ok := s.reported[key]; ok && old == what {
		return
	}
	s.reported[key] = what
	log()
}

// logEmptyDefault logs when the default backend comes to have no
// servers, and when it has some again: unmatched requests then get 503.
// This is a state of its own, not the store being unreachable.
func (s *Source) logEmptyDefault(def *proxy.Backend) {
	empty := def != nil && len(def.Servers) == 0
	switch {
	case empty && !s.emptyLogged:
		s.emptyLogged = true
		s.log.Warn("backend has no servers; requests that match no route get 503",
			"backend", def.Name, "mode", string(s.cfg.DefaultMode))
	case !empty && s.emptyLogged:
		s.emptyLogged = false
		if def != nil {
			s.log.Info("backend has servers again", "backend", def.Name, "servers", len(def.Servers))
		}
	}
}

// carryCounters copies the cumulative counters of a backend that a new
// Backend object replaces. Cur is left out: sessions in flight end on
// the old object.
func carryCounters(dst, src *proxy.Counters) {
	for _, p := range [][2]interface {
		Load() int64
		Store(int64)
	}{
		{&dst.Max, &src.Max}, {&dst.Total, &src.Total}, {&dst.LBTotal, &src.LBTotal},
		{&dst.BytesIn, &src.BytesIn}, {&dst.BytesOut, &src.BytesOut},
		{&dst.ErrReq, &src.ErrReq}, {&dst.ErrConn, &src.ErrConn}, {&dst.ErrResp, &src.ErrResp},
		{&dst.Retries, &src.Retries}, {&dst.Redisp, &src.Redisp},
		{&dst.CliAbrt, &src.CliAbrt}, {&dst.SrvAbrt, &src.SrvAbrt}, {&dst.LastSess, &src.LastSess},
	} {
		p[0].Store(p[1].Load())
	}
	for i := range dst.Hrsp {
		dst.Hrsp[i].Store(src.Hrsp[i].Load())
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

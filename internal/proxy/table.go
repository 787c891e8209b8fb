package proxy

import (
	"sort"
	"strings"
	"sync/atomic"
)

// Invalid is a key that could not become a route, with the reason.
type Invalid struct {
	Key, Value, Reason string
}

// Table is one immutable route table.
type Table struct {
	// Index is the store index the table reflects.
	Index uint64
	// Routes are the route backends by lower-cased id.
	Routes map[string]*Backend
	// IDs are the route ids as stored, sorted (HAProxy's rule order).
	IDs []string
	// Default is the default backend, or nil.
	Default *Backend
	// Invalid keys were skipped; Conflicts are ids that differ from an
	// earlier one only in case and were skipped too.
	Invalid   []Invalid
	Conflicts []string
}

// NewTable builds a table from route backends (named by their ids).
// Ids equal but for case keep the first in byte order and report the rest.
func NewTable(index uint64, routes []*Backend, def *Backend, invalid []Invalid) *Table {
	sort.Slice(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })
	t := &Table{Index: index, Routes: make(map[string]*Backend, len(routes)), Default: def, Invalid: invalid}
	for _, b := range routes {
		k := strings.ToLower(b.Name)
		if _, dup := t.Routes[k]; dup {
			t.Conflicts = append(t.Conflicts, b.Name)
			continue
		}
		t.Routes[k] = b
		t.IDs = append(t.IDs, b.Name)
	}
	return t
}

// Route picks the backend for the APPID header values of a request: every
// value is split on commas and trimmed; each candidate is matched without
// regard to case; of several matches the id that sorts first wins, as the
// first matching use_backend rule did in HAProxy. ok is false when nothing
// matched (the default backend's turn).
func (t *Table) Route(values []string) (b *Backend, ok bool) {
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			item = strings.Trim(item, " \t")
			if item == "" {
				continue
			}
			if r, found := t.Routes[strings.ToLower(item)]; found && (b == nil || r.Name < b.Name) {
				b = r
			}
		}
	}
	return b, b != nil
}

// Servers lists every server of the table once: routes in id order, then
// the default backend's servers not already listed.
func (t *Table) Servers() []*Server {
	var out []*Server
	seen := map[*Server]bool{}
	for _, id := range t.IDs {
		for _, s := range t.Routes[strings.ToLower(id)].Servers {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	if t.Default != nil {
		for _, s := range t.Default.Servers {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// Router holds the published table.
type Router struct {
	table atomic.Pointer[Table]
}

// NewRouter starts with an empty table.
func NewRouter() *Router {
	r := &Router{}
	r.table.Store(NewTable(0, nil, nil, nil))
	return r
}

// Table is the current table; callers keep it for the whole request.
func (r *Router) Table() *Table { return r.table.Load() }

// Swap publishes t and returns the previous table.
func (r *Router) Swap(t *Table) *Table { return r.table.Swap(t) }

package source

import (
	"maps"
	"strings"

	"hecd/internal/client"
)

// space is one followed prefix of the store and the raw values found
// under it: the routes, the weights, the default servers or the admin
// states. It knows the store's structure only (which keys are entries);
// whether a value is valid is decided when a table is built, so that an
// invalid value is reported on every table and fixed by the next write.
type space struct {
	name   string // for logs: "routes", "weights", "default", "admin"
	prefix string // clean and absolute: "/app/servers", or "/"
	// depth is how many names below prefix make an entry: 1 for
	// <prefix>/<id>, 2 for the admin prefix's <backend>/<server>.
	depth int
	// vals maps an entry's name relative to prefix ("web1" or
	// "web1/web1") to its raw value.
	vals map[string]string
	// after is where the space's watch goes on from: the index of its
	// snapshot, then of each event it delivered.
	after uint64
}

func newSpace(name, prefix string, depth int) *space {
	return &space{name: name, prefix: prefix, depth: depth, vals: map[string]string{}}
}

// key is the absolute store key of an entry.
func (sp *space) key(rel string) string {
	if sp.prefix == "/" {
		return "/" + rel
	}
	return sp.prefix + "/" + rel
}

// rel returns key relative to the prefix ("" for the prefix itself), and
// false when key is not the prefix or below it.
func (sp *space) rel(key string) (string, bool) {
	if sp.prefix == "/" {
		return strings.TrimPrefix(key, "/"), true
	}
	if key == sp.prefix {
		return "", true
	}
	if r, ok := strings.CutPrefix(key, sp.prefix+"/"); ok {
		return r, true
	}
	return "", false
}

// entry says whether rel names an entry: exactly depth names, none of
// them hidden ("_x", which the store leaves out of listings and which the
// spec excludes) or empty. Deeper and shallower keys are not entries.
func (sp *space) entry(rel string) bool {
	n := 0
	for name := range strings.SplitSeq(rel, "/") {
		if name == "" || name[0] == '_' {
			return false
		}
		n++
	}
	return n == sp.depth
}

// above says whether key is a strict ancestor of the prefix, so that
// removing key removes the whole space. A plain string prefix is not
// enough: the store wakes a watch on /app/servers for the removal of a
// directory /app/serv (an etcd quirk), which removes nothing here.
func (sp *space) above(key string) bool {
	if key == "" || key == "/" {
		return sp.prefix != "/"
	}
	return strings.HasPrefix(sp.prefix, key+"/")
}

// load returns the entries of a recursive GET's node: every leaf that is
// an entry.
func (sp *space) load(root *client.Node) map[string]string {
	vals := map[string]string{}
	if root == nil || !root.Dir {
		// A missing prefix, or a prefix that is a plain key: no entries.
		return vals
	}
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		if n.Dir {
			for _, c := range n.Nodes {
				walk(c)
			}
			return
		}
		if rel, ok := sp.rel(n.Key); ok && rel != "" && sp.entry(rel) {
			vals[rel] = n.Value
		}
	}
	walk(root)
	return vals
}

// replace installs a snapshot's entries and returns the names whose
// value changed, appeared or went away.
func (sp *space) replace(vals map[string]string) []string {
	var changed []string
	for k, v := range vals {
		if old, ok := sp.vals[k]; !ok || old != v {
			changed = append(changed, k)
		}
	}
	for k := range sp.vals {
		if _, ok := vals[k]; !ok {
			changed = append(changed, k)
		}
	}
	sp.vals = maps.Clone(vals)
	return changed
}

// Event actions of the v2 API (spec D.1's mapping).
func isUpsert(action string) bool {
	switch action {
	case "set", "create", "update", "compareAndSwap":
		return true
	}
	return false
}

func isRemoval(action string) bool {
	switch action {
	case "delete", "expire", "compareAndDelete":
		return true
	}
	return false
}

// apply applies one watch event and returns the names whose value
// changed. A removal takes everything at and below its key, which is
// right for a key and for a directory alike (a key has nothing below
// it), and the whole space when the key is the prefix or above it.
func (sp *space) apply(action string, n *client.Node) []string {
	rel, inside := sp.rel(n.Key)
	var changed []string
	switch {
	case isRemoval(action):
		if !inside {
			if !sp.above(n.Key) {
				return nil
			}
			rel = ""
		}
		for name := range sp.vals {
			if rel == "" || name == rel || strings.HasPrefix(name, rel+"/") {
				delete(sp.vals, name)
				changed = append(changed, name)
			}
		}
	case isUpsert(action):
		// A directory (mkdir, or a directory's TTL update) is never an
		// entry, and a key cannot turn into one without a delete first.
		if !inside || n.Dir || !sp.entry(rel) {
			return nil
		}
		if old, ok := sp.vals[rel]; !ok || old != n.Value {
			sp.vals[rel] = n.Value
			changed = append(changed, rel)
		}
	}
	return changed
}

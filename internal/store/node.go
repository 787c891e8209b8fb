package store

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// node is one key or directory in the tree. Keys and directories share the
// type because a set with dir=true may replace one by the other.
//
// The fields are ordered so that the struct is 80 bytes (Go's 80-byte size
// class, not the 96 a plain int and a leading bool cost): a store holds a
// node per key, and it shows in the memory of a large store.
type node struct {
	key      string // absolute path, "/" for the root
	value    string
	children map[string]*node // only for directories; nil when empty
	parent   *node

	// expireAt is the absolute expiration in Unix nanoseconds, 0 when the
	// node is permanent. It is fixed by whoever accepted the write, never
	// recomputed during apply.
	expireAt int64

	createdIndex  uint64
	modifiedIndex uint64

	heapIdx int32 // position in the TTL heap, -1 when not in it
	dir     bool
}

func (n *node) name() string {
	return n.key[strings.LastIndexByte(n.key, '/')+1:]
}

// hidden reports whether a node's own name starts with '_'.
func isHiddenName(name string) bool { return len(name) > 0 && name[0] == '_' }

// NodeView is an immutable copy of a node as the API shows it. Expiration is
// kept absolute; TTL is the remaining time rounded up, computed when the view
// was taken.
type NodeView struct {
	Key           string // empty for the root
	Value         string
	HasValue      bool
	Dir           bool
	Expiration    int64 // Unix nanoseconds; 0 when permanent
	TTL           int64
	Nodes         []*NodeView
	ModifiedIndex uint64
	CreatedIndex  uint64
	root          bool
}

// remainingTTL is ceil((expireAt-now)/1s), truncated toward zero when the
// node is already past its expiration, as etcd computes it.
func remainingTTL(expireAt, now int64) int64 {
	d := expireAt - now
	ttl := d / int64(time.Second)
	if d%int64(time.Second) > 0 {
		ttl++
	}
	return ttl
}

// view copies n without children.
func (n *node) view(now int64) *NodeView {
	v := &NodeView{Key: n.key, Dir: n.dir, ModifiedIndex: n.modifiedIndex, CreatedIndex: n.createdIndex}
	if !n.dir {
		v.Value, v.HasValue = n.value, true
	}
	if n.expireAt != 0 {
		v.Expiration = n.expireAt
		v.TTL = remainingTTL(n.expireAt, now)
	}
	if n.parent == nil {
		v.root = true
	}
	return v
}

// listView copies n and its visible children, recursively when asked.
// Children are always sorted by name: the order etcd gives without sorted is
// unspecified, and a stable order costs little.
func (n *node) listView(now int64, recursive, top bool) *NodeView {
	v := n.view(now)
	if !n.dir || len(n.children) == 0 || (!top && !recursive) {
		return v
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		if !isHiddenName(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return v
	}
	sort.Strings(names)
	v.Nodes = make([]*NodeView, len(names))
	for i, name := range names {
		v.Nodes[i] = n.children[name].listView(now, recursive, false)
	}
	return v
}

// AppendJSON appends the node's JSON with etcd's field order and omissions.
func (v *NodeView) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if !v.root {
		sep()
		b = append(b, `"key":`...)
		b = AppendJSONString(b, v.Key)
	}
	if v.HasValue {
		sep()
		b = append(b, `"value":`...)
		b = AppendJSONString(b, v.Value)
	}
	if v.Dir {
		sep()
		b = append(b, `"dir":true`...)
	}
	if v.Expiration != 0 {
		sep()
		b = append(b, `"expiration":"`...)
		b = time.Unix(0, v.Expiration).UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		if v.TTL != 0 {
			b = append(b, `,"ttl":`...)
			b = strconv.AppendInt(b, v.TTL, 10)
		}
	}
	if len(v.Nodes) > 0 {
		sep()
		b = append(b, `"nodes":[`...)
		for i, c := range v.Nodes {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.AppendJSON(b)
		}
		b = append(b, ']')
	}
	if !v.root {
		sep()
		b = append(b, `"modifiedIndex":`...)
		b = strconv.AppendUint(b, v.ModifiedIndex, 10)
		b = append(b, `,"createdIndex":`...)
		b = strconv.AppendUint(b, v.CreatedIndex, 10)
	}
	return append(b, '}')
}

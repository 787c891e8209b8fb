package store

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz input is a byte string decoded into up to fzMaxOps requests by
// fzDecoder (missing bytes read as 0). Per request:
//
//	op      1 byte  (mod 9): set, create, post, update, cas, delete, cad, expire, member start
//	ncomp   1 byte  (mod 4): number of key components (0 = the root)
//	comp    1 byte each: < 200 picks from fzComps, otherwise (b%4)+1 raw bytes follow
//	value   1 byte: < 200 picks from fzValues, otherwise (b%6) raw bytes follow
//	flags   1 byte: dir, recursive, refresh, ttl, prevValue, prevIndex
//	ttl     1 byte (mod 6): seconds
//	prevValue 1 byte if flagged (picks a non-empty fzValues entry)
//	prevIndex 1 byte if flagged (mod 24)
//	dt      1 byte (mod 8): the clock advances dt*400 ms before the request
const fzMaxOps = 16

var fzComps = []string{"a", "b", "_h", "☃", "", "x y", "a\x00b", "\xff", "00000000000000000009", "_", "é"}

var fzValues = []string{"", "v", "w", "<&>", "\xff\xfe", "héllo", "a\u2028b", "1", "\"q\"\\", "a != b"}

const (
	fzDir = 1 << iota
	fzRecursive
	fzRefresh
	fzTTL
	fzPrevValue
	fzPrevIndex
)

type fzDecoder struct{ b []byte }

func (d *fzDecoder) next() byte {
	if len(d.b) == 0 {
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *fzDecoder) raw(n int) string {
	var s []byte
	for i := 0; i < n; i++ {
		s = append(s, d.next())
	}
	return string(s)
}

// fzRequest is a decoded request plus the clock advance before it.
type fzRequest struct {
	req    *Request
	dt     int64
	hasTTL bool
	ttl    int64 // seconds after the request's time
}

func fzDecode(data []byte) []fzRequest {
	d := &fzDecoder{b: data}
	var out []fzRequest
	for len(d.b) > 0 && len(out) < fzMaxOps {
		opb := d.next() % 9
		var comps []string
		for n := int(d.next() % 4); n > 0; n-- {
			c := d.next()
			var comp string
			if c < 200 {
				comp = fzComps[int(c)%len(fzComps)]
			} else {
				comp = strings.ReplaceAll(d.raw(int(c%4)+1), "/", "")
			}
			// Keys are canonical (the API cleans paths): no empty, "."
			// or ".." components.
			if comp != "" && comp != "." && comp != ".." {
				comps = append(comps, comp)
			}
		}
		key := "/" + strings.Join(comps, "/")
		vb := d.next()
		var value string
		if vb < 200 {
			value = fzValues[int(vb)%len(fzValues)]
		} else {
			value = d.raw(int(vb % 6))
		}
		flags := d.next()
		ttl := int64(d.next() % 6)
		r := &Request{Key: key, Value: value, Dir: flags&fzDir != 0, Recursive: flags&fzRecursive != 0}
		if flags&fzPrevValue != 0 {
			r.PrevValue = fzValues[1+int(d.next())%(len(fzValues)-1)]
		}
		if flags&fzPrevIndex != 0 {
			r.PrevIndex = uint64(d.next() % 24)
		}
		dt := int64(d.next()%8) * 400 * 1e6
		hasTTL := flags&fzTTL != 0
		switch opb {
		case 0:
			r.Op = OpSet
		case 1:
			r.Op = OpCreate
		case 2:
			r.Op = OpCreateInOrder
		case 3:
			r.Op = OpUpdate
		case 4:
			r.Op = OpCompareAndSwap
		case 5:
			r.Op = OpDelete
		case 6:
			r.Op = OpCompareAndDelete
		case 7:
			r.Op = OpExpire
		case 8:
			r.Op = OpMemberStart
		}
		// Requests as the API builds them (parseKeysForm): refresh needs a
		// TTL and no value; create and POST drop refresh; update and CAS
		// drop dir.
		if flags&fzRefresh != 0 && (r.Op == OpSet || r.Op == OpUpdate || r.Op == OpCompareAndSwap) {
			r.Refresh, r.Value, hasTTL = true, "", true
		}
		if r.Op == OpUpdate || r.Op == OpCompareAndSwap {
			r.Dir = false
		}
		out = append(out, fzRequest{req: r, dt: dt, hasTTL: hasTTL, ttl: ttl})
	}
	return out
}

// fzEncode builds fuzz input from readable ops (for the seed corpus).
type fzOp struct {
	op    byte  // as decoded: 0 set .. 8 member start
	comps []int // indexes into fzComps
	val   int   // index into fzValues
	flags byte
	ttl   byte
	pv    int // index into fzValues (1..)
	pi    byte
	dt    byte
}

func fzEncode(ops ...fzOp) []byte {
	var b []byte
	for _, o := range ops {
		b = append(b, o.op, byte(len(o.comps)))
		for _, c := range o.comps {
			b = append(b, byte(c))
		}
		b = append(b, byte(o.val), o.flags, o.ttl)
		if o.flags&fzPrevValue != 0 {
			b = append(b, byte(o.pv-1))
		}
		if o.flags&fzPrevIndex != 0 {
			b = append(b, o.pi)
		}
		b = append(b, o.dt)
	}
	return b
}

// model is the reference key space: absolute path → node (root implicit).
type modelNode struct {
	value    string
	dir      bool
	created  uint64
	modified uint64
	expireAt int64
}

type model struct {
	nodes map[string]*modelNode
	index uint64
	stats map[string]uint64
}

func modelParentOf(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i == 0 {
		return "/"
	}
	return key[:i]
}

func modelComps(key string) []string {
	if key == "/" {
		return nil
	}
	return strings.Split(key[1:], "/")
}

// walk resolves key like the store: 104 through a key, 100 at the first
// missing component.
func (m *model) walk(key string) (*modelNode, int, string) {
	if key == "/" {
		return &modelNode{dir: true}, 0, ""
	}
	cur := "/"
	curDir := true
	var n *modelNode
	for _, c := range modelComps(key) {
		if !curDir {
			return nil, EcodeNotDir, cur
		}
		next := "/" + c
		if cur != "/" {
			next = cur + "/" + c
		}
		n = m.nodes[next]
		if n == nil {
			return nil, EcodeKeyNotFound, next
		}
		cur, curDir = next, n.dir
	}
	return n, 0, ""
}

// checkParents: every existing ancestor must be a directory.
func (m *model) checkParents(key string) (int, string) {
	comps := modelComps(key)
	cur := ""
	for _, c := range comps[:len(comps)-1] {
		cur += "/" + c
		n := m.nodes[cur]
		if n == nil {
			return 0, ""
		}
		if !n.dir {
			return EcodeNotDir, cur
		}
	}
	return 0, ""
}

func (m *model) makeParents(key string, index uint64) {
	comps := modelComps(key)
	cur := ""
	for _, c := range comps[:len(comps)-1] {
		cur += "/" + c
		if m.nodes[cur] == nil {
			m.nodes[cur] = &modelNode{dir: true, created: index, modified: index}
		}
	}
}

func (m *model) hasChildren(key string) bool {
	prefix := key + "/"
	for k := range m.nodes {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// removeTree removes key and its subtree and returns the removed paths.
func (m *model) removeTree(key string) []string {
	removed := []string{key}
	delete(m.nodes, key)
	prefix := key + "/"
	for k := range m.nodes {
		if strings.HasPrefix(k, prefix) {
			delete(m.nodes, k)
			removed = append(removed, k)
		}
	}
	return removed
}

func modelCompare(n *modelNode, pv string, pi uint64) string {
	vBad := pv != "" && pv != n.value
	iBad := pi != 0 && pi != n.modified
	switch {
	case vBad && iBad:
		return "[" + pv + " != " + n.value + "] [" + strconv.FormatUint(pi, 10) + " != " + strconv.FormatUint(n.modified, 10) + "]"
	case vBad:
		return "[" + pv + " != " + n.value + "]"
	case iBad:
		return "[" + strconv.FormatUint(pi, 10) + " != " + strconv.FormatUint(n.modified, 10) + "]"
	}
	return ""
}

// modelResult is what the model predicts for one request.
type modelResult struct {
	code    int    // 0 on success
	cause   string // error cause
	action  string
	key     string // event node key
	prev    bool   // event has a prevNode
	expired []string
	// events are the live-notifiable events of the request, for the
	// watcher model.
	events []modelEvent
}

type modelEvent struct {
	index   uint64
	key     string
	dirGone bool     // a directory was deleted or expired
	removed []string // paths removed with it
}

// modelDelivers is the live notification rule of spec section 12.2.
func modelDelivers(wk string, rec bool, e modelEvent) bool {
	if wk == e.key {
		return true
	}
	if rec {
		rel := ""
		switch {
		case wk == "/":
			rel = e.key[1:]
		case strings.HasPrefix(e.key, wk+"/"):
			rel = e.key[len(wk)+1:]
		}
		if rel != "" && !isHiddenPath("/"+rel) {
			return true
		}
	}
	if e.dirGone {
		for _, k := range e.removed {
			if k == wk {
				return true
			}
		}
	}
	return false
}

func (m *model) count(name string, ok bool) {
	if ok {
		m.stats[name+"Success"]++
	} else {
		m.stats[name+"Fail"]++
	}
}

func (m *model) apply(r *Request) (res modelResult) {
	next := m.index + 1
	fail := func(code int, cause string) modelResult { return modelResult{code: code, cause: cause} }
	defer func() {
		name := map[Op]string{OpSet: "sets", OpCreate: "create", OpCreateInOrder: "create", OpUpdate: "update",
			OpCompareAndSwap: "compareAndSwap", OpDelete: "delete", OpCompareAndDelete: "compareAndDelete"}[r.Op]
		if name != "" {
			m.count(name, res.code == 0)
		}
		if res.code == 0 && res.action != "" {
			m.index = next
			if len(res.events) == 0 && !r.Refresh {
				res.events = []modelEvent{{index: next, key: res.key}}
			}
		}
	}()
	switch r.Op {
	case OpMemberStart:
		m.index++
		m.stats["setsSuccess"]++
		return modelResult{}
	case OpExpire:
		type cand struct {
			key string
			at  int64
		}
		var cs []cand
		for k, n := range m.nodes {
			if n.expireAt != 0 && n.expireAt <= r.Time {
				cs = append(cs, cand{k, n.expireAt})
			}
		}
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].at != cs[j].at {
				return cs[i].at < cs[j].at
			}
			return cs[i].key < cs[j].key
		})
		for _, c := range cs {
			if m.nodes[c.key] == nil {
				continue // went with an expired ancestor
			}
			dir := m.nodes[c.key].dir
			removed := m.removeTree(c.key)
			m.index++
			m.stats["expireCount"]++
			res.expired = append(res.expired, c.key)
			res.events = append(res.events, modelEvent{index: m.index, key: c.key, dirGone: dir, removed: removed})
		}
		return res
	case OpSet:
		if r.Key == "/" {
			return fail(EcodeRootROnly, "/")
		}
		value, dir := r.Value, r.Dir
		if r.Refresh {
			n, code, cause := m.walk(r.Key)
			if code != 0 {
				return fail(code, cause)
			}
			if n.dir {
				return fail(EcodeNotFile, r.Key)
			}
			value, dir = n.value, false
		}
		if code, cause := m.checkParents(r.Key); code != 0 {
			return fail(code, cause)
		}
		old := m.nodes[r.Key]
		if old != nil && old.dir {
			return fail(EcodeNotFile, r.Key)
		}
		m.makeParents(r.Key, next)
		n := &modelNode{dir: dir, created: next, modified: next, expireAt: r.Expiration}
		if !dir {
			n.value = value
		}
		m.nodes[r.Key] = n
		return modelResult{action: ActionSet, key: r.Key, prev: old != nil}
	case OpCreate, OpCreateInOrder:
		key := r.Key
		if r.Op == OpCreateInOrder {
			key = joinKey(r.Key, inOrderName(next))
		}
		if key == "/" {
			return fail(EcodeRootROnly, "/")
		}
		if code, cause := m.checkParents(key); code != 0 {
			return fail(code, cause)
		}
		if m.nodes[key] != nil {
			return fail(EcodeNodeExist, key)
		}
		m.makeParents(key, next)
		n := &modelNode{dir: r.Dir, created: next, modified: next, expireAt: r.Expiration}
		if !r.Dir {
			n.value = r.Value
		}
		m.nodes[key] = n
		return modelResult{action: ActionCreate, key: key}
	case OpUpdate:
		if r.Key == "/" {
			return fail(EcodeRootROnly, "/")
		}
		n, code, cause := m.walk(r.Key)
		if code != 0 {
			return fail(code, cause)
		}
		if n.dir && r.Value != "" && !r.Refresh {
			return fail(EcodeNotFile, r.Key)
		}
		if !n.dir {
			if !r.Refresh {
				n.value = r.Value
			}
			n.modified = next
		}
		n.expireAt = r.Expiration
		return modelResult{action: ActionUpdate, key: r.Key, prev: true}
	case OpCompareAndSwap:
		if r.Key == "/" {
			return fail(EcodeRootROnly, "/")
		}
		n, code, cause := m.walk(r.Key)
		if code != 0 {
			return fail(code, cause)
		}
		if n.dir {
			return fail(EcodeNotFile, r.Key)
		}
		if c := modelCompare(n, r.PrevValue, r.PrevIndex); c != "" {
			return fail(EcodeTestFailed, c)
		}
		if !r.Refresh {
			n.value = r.Value
		}
		n.modified = next
		n.expireAt = r.Expiration
		return modelResult{action: ActionCompareAndSwap, key: r.Key, prev: true}
	case OpDelete:
		if r.Key == "/" {
			return fail(EcodeRootROnly, "/")
		}
		n, code, cause := m.walk(r.Key)
		if code != 0 {
			return fail(code, cause)
		}
		if n.dir {
			if !r.Dir && !r.Recursive {
				return fail(EcodeNotFile, r.Key)
			}
			if !r.Recursive && m.hasChildren(r.Key) {
				return fail(EcodeDirNotEmpty, r.Key)
			}
		}
		removed := m.removeTree(r.Key)
		return modelResult{action: ActionDelete, key: r.Key, prev: true,
			events: []modelEvent{{index: next, key: r.Key, dirGone: n.dir, removed: removed}}}
	case OpCompareAndDelete:
		n, code, cause := m.walk(r.Key)
		if code != 0 {
			return fail(code, cause)
		}
		if n.dir {
			if r.Key == "/" {
				return fail(EcodeNotFile, "")
			}
			return fail(EcodeNotFile, r.Key)
		}
		if c := modelCompare(n, r.PrevValue, r.PrevIndex); c != "" {
			return fail(EcodeTestFailed, c)
		}
		m.removeTree(r.Key)
		return modelResult{action: ActionCompareAndDelete, key: r.Key, prev: true}
	}
	return fail(-1, "unknown op in the model")
}

// historyEvent returns the event with index idx from the store's history.
func historyEvent(s *Store, idx uint64) *Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := 0; i < s.history.count; i++ {
		if ev := s.history.at(i); ev.Index == idx {
			return ev
		}
	}
	return nil
}

func isHiddenPath(key string) bool {
	for _, c := range modelComps(key) {
		if isHiddenName(c) {
			return true
		}
	}
	return false
}

// jsonNode is the decoded form of a node in a get response.
type jsonNode struct {
	Key           string      `json:"key"`
	Value         *string     `json:"value"`
	Dir           bool        `json:"dir"`
	Expiration    *string     `json:"expiration"`
	TTL           int64       `json:"ttl"`
	Nodes         []*jsonNode `json:"nodes"`
	ModifiedIndex uint64      `json:"modifiedIndex"`
	CreatedIndex  uint64      `json:"createdIndex"`
}

type jsonEvent struct {
	Action   string    `json:"action"`
	Node     *jsonNode `json:"node"`
	PrevNode *jsonNode `json:"prevNode"`
}

// checkStore compares every model node with the store's Get, and the
// recursive root listing with the model's visible nodes.
func checkStore(t *testing.T, s *Store, m *model, now int64, step int) {
	t.Helper()
	if s.Index() != m.index {
		t.Fatalf("step %d: index %d, model %d", step, s.Index(), m.index)
	}
	var next int64
	for k, n := range m.nodes {
		ev, idx, err := s.Get(k, false, now)
		if err != nil {
			t.Fatalf("step %d: get %q: %v (model has it)", step, k, err)
		}
		if idx != m.index {
			t.Fatalf("step %d: get index %d, want %d", step, idx, m.index)
		}
		v := ev.Node
		if v.Key != k || v.Dir != n.dir || v.CreatedIndex != n.created || v.ModifiedIndex != n.modified ||
			v.HasValue == n.dir || (!n.dir && v.Value != n.value) || v.Expiration != n.expireAt {
			t.Fatalf("step %d: get %q = %+v, model %+v", step, k, *v, *n)
		}
		if n.expireAt != 0 {
			if want := remainingTTL(n.expireAt, now); v.TTL != want {
				t.Fatalf("step %d: %q ttl %d, want %d", step, k, v.TTL, want)
			}
			if next == 0 || n.expireAt < next {
				next = n.expireAt
			}
		}
		body := ev.JSON()
		if !json.Valid(body) {
			t.Fatalf("step %d: get %q: invalid JSON %q", step, k, body)
		}
		var je jsonEvent
		if err := json.Unmarshal(body, &je); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if utf8.ValidString(k) && je.Node.Key != k {
			t.Fatalf("step %d: key %q round-trips as %q", step, k, je.Node.Key)
		}
		if !n.dir {
			if je.Node.Value == nil {
				t.Fatalf("step %d: %q: no value field in %s", step, k, body)
			}
			if utf8.ValidString(n.value) && *je.Node.Value != n.value {
				t.Fatalf("step %d: %q: value %q round-trips as %q", step, k, n.value, *je.Node.Value)
			}
		} else if je.Node.Value != nil {
			t.Fatalf("step %d: directory %q has a value field", step, k)
		}
	}
	if got := s.NextExpiration(); got != next {
		t.Fatalf("step %d: NextExpiration %d, model %d", step, got, next)
	}
	// The recursive listing shows exactly the visible nodes.
	ev, _, err := s.Get("/", true, now)
	if err != nil {
		t.Fatalf("step %d: get root: %v", step, err)
	}
	body := ev.JSON()
	if !json.Valid(body) {
		t.Fatalf("step %d: invalid root JSON %q", step, body)
	}
	var listed []string
	var walk func(v *NodeView)
	walk = func(v *NodeView) {
		for _, c := range v.Nodes {
			listed = append(listed, c.Key)
			walk(c)
		}
	}
	walk(ev.Node)
	var want []string
	for k := range m.nodes {
		if !isHiddenPath(k) {
			want = append(want, k)
		}
	}
	sort.Strings(listed)
	sort.Strings(want)
	if strings.Join(listed, "\n") != strings.Join(want, "\n") {
		t.Fatalf("step %d: listing %q, model %q", step, listed, want)
	}
}

func FuzzApply(f *testing.F) {
	set := func(v int, comps ...int) fzOp { return fzOp{op: 0, comps: comps, val: v} }
	// Seeds: sequences shaped like the golden transcripts.
	f.Add(fzEncode(set(1, 0), set(2, 0), fzOp{op: 3, comps: []int{0}, val: 7}, fzOp{op: 1, comps: []int{0}}, fzOp{op: 5, comps: []int{0}}))                                                                                                                                                             // keys
	f.Add(fzEncode(set(1, 0), fzOp{op: 4, comps: []int{0}, val: 2, flags: fzPrevValue, pv: 1}, fzOp{op: 4, comps: []int{0}, val: 3, flags: fzPrevValue | fzPrevIndex, pv: 9, pi: 4}, fzOp{op: 6, comps: []int{0}, flags: fzPrevIndex, pi: 5}, fzOp{op: 6, comps: []int{0}, flags: fzPrevValue, pv: 2})) // cas
	f.Add(fzEncode(fzOp{op: 0, comps: []int{0}, flags: fzDir}, set(1, 0, 1), set(1, 0, 2), fzOp{op: 5, comps: []int{0}, flags: fzDir}, fzOp{op: 5, comps: []int{0}}, fzOp{op: 5, comps: []int{0}, flags: fzRecursive}, fzOp{op: 0, comps: []int{0}, flags: fzDir}, fzOp{op: 5}, fzOp{op: 6}))           // dirs, root
	f.Add(fzEncode(fzOp{op: 0, comps: []int{0}, val: 1, flags: fzTTL, ttl: 3}, fzOp{op: 0, comps: []int{0}, flags: fzRefresh, ttl: 5}, fzOp{op: 3, comps: []int{0}, flags: fzRefresh, ttl: 2}, fzOp{op: 7, dt: 7}, fzOp{op: 7, dt: 7}, fzOp{op: 7, dt: 7}))                                             // ttl, refresh, expiry
	f.Add(fzEncode(fzOp{op: 0, comps: []int{0}, flags: fzDir | fzTTL, ttl: 1}, set(1, 0, 1), fzOp{op: 0, comps: []int{0, 2}, flags: fzTTL, ttl: 2}, fzOp{op: 3, comps: []int{0}, flags: fzTTL, ttl: 1}, fzOp{op: 7, dt: 3}, fzOp{op: 7, dt: 7}))                                                        // TTL directory
	f.Add(fzEncode(fzOp{op: 2, comps: []int{0}, val: 1}, fzOp{op: 2, comps: []int{0}, flags: fzDir}, fzOp{op: 2}, set(1, 2), set(1, 0, 2), fzOp{op: 2, comps: []int{2}}, fzOp{op: 8}, fzOp{op: 5, comps: []int{2}, flags: fzDir}))                                                                      // in-order, hidden
	f.Add(fzEncode(set(4, 3), set(6, 5, 6), set(3, 7), set(8, 10, 9), fzOp{op: 0, comps: []int{3}, flags: fzDir}))                                                                                                                                                                                      // odd bytes
	f.Add(fzEncode(set(1, 0, 2), fzOp{op: 5, comps: []int{0}, flags: fzDir}, fzOp{op: 6, comps: []int{0}, flags: fzPrevIndex, pi: 4}, fzOp{op: 5, comps: []int{0, 2}}, fzOp{op: 5, comps: []int{0}, flags: fzDir}))                                                                                     // hidden children count
	f.Add([]byte{0, 1, 250, 0x2f, 0x2e, 0x2e, 0x2f, 201, 1, 2, 0, 0})
	f.Fuzz(fzRun)
}

// TestApplyModelRandom runs the FuzzApply property on pseudo-random inputs,
// which reach long sequences sooner than the coverage-guided mutator.
func TestApplyModelRandom(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < n; i++ {
		data := make([]byte, 8+rnd.Intn(160))
		for j := range data {
			// Small bytes pick table entries and short keys more often.
			if rnd.Intn(4) == 0 {
				data[j] = byte(rnd.Intn(256))
			} else {
				data[j] = byte(rnd.Intn(12))
			}
		}
		t.Run("", func(t *testing.T) { fzRun(t, data) })
		if t.Failed() {
			t.Fatalf("input %q", data)
		}
	}
}

func fzRun(t *testing.T, data []byte) {
	{
		reqs := fzDecode(data)
		s := New()
		m := &model{nodes: map[string]*modelNode{}, stats: map[string]uint64{}}
		type fzWatch struct {
			key string
			rec bool
			w   *Watcher
		}
		var watches []fzWatch
		for _, k := range []string{"/", "/a", "/a/b", "/a/_h", "/_h", "/☃", "/a/b/a"} {
			for _, rec := range []bool{false, true} {
				w, err := s.Watch(k, rec, true, 0)
				if err != nil {
					t.Fatal(err)
				}
				watches = append(watches, fzWatch{k, rec, w})
			}
		}
		defer func() {
			for _, w := range watches {
				w.w.Remove()
			}
			if n := s.Stats().Watchers.Load(); n != 0 {
				t.Fatalf("watchers = %d after Remove", n)
			}
		}()
		now := t0
		for i, fr := range reqs {
			now += fr.dt
			r := *fr.req
			r.Time = now
			if fr.hasTTL {
				r.Expiration = now + fr.ttl*sec
			}
			mr := m.apply(&r)
			before := s.Index()
			ev, err := s.Apply(&r)
			what := opName(r.Op) + " " + strconv.Quote(r.Key)
			switch {
			case r.Op == OpExpire || r.Op == OpMemberStart:
				if ev != nil || err != nil {
					t.Fatalf("step %d %s: returned %v %v", i, what, ev, err)
				}
				if want := before + uint64(len(mr.expired)); r.Op == OpExpire && s.Index() != want {
					t.Fatalf("step %d %s: index %d -> %d, want %d (expired %q)", i, what, before, s.Index(), want, mr.expired)
				}
				// One expire event per removed subtree, in expiry order.
				for j, k := range mr.expired {
					hev := historyEvent(s, before+1+uint64(j))
					if hev == nil || hev.Action != ActionExpire || hev.Node.Key != k || hev.Node.ModifiedIndex != hev.Index {
						t.Fatalf("step %d: expire #%d should be %q at %d, history has %v", i, j, k, before+1+uint64(j), hev)
					}
				}
			case mr.code != 0:
				if err == nil {
					t.Fatalf("step %d %s: succeeded (%s), model says %d %q", i, what, ev.JSON(), mr.code, mr.cause)
				}
				if err.Code != mr.code || err.Cause != mr.cause || err.Index != before || s.Index() != before {
					t.Fatalf("step %d %s: error %v at index %d, model %d %q", i, what, err, s.Index(), mr.code, mr.cause)
				}
				if !json.Valid(err.AppendJSON(nil)) {
					t.Fatalf("step %d: invalid error JSON %q", i, err.AppendJSON(nil))
				}
			default:
				if err != nil {
					t.Fatalf("step %d %s: %v, model says %s", i, what, err, mr.action)
				}
				if ev.Index != before+1 || s.Index() != before+1 || ev.Node.ModifiedIndex != ev.Index {
					t.Fatalf("step %d %s: event index %d (node %d), store %d, before %d", i, what, ev.Index, ev.Node.ModifiedIndex, s.Index(), before)
				}
				if ev.Action != mr.action || ev.Node.Key != mr.key || (ev.PrevNode != nil) != mr.prev {
					t.Fatalf("step %d %s: event %s, model %s %q prev=%v", i, what, ev.JSON(), mr.action, mr.key, mr.prev)
				}
				if ev.Refresh != r.Refresh {
					t.Fatalf("step %d %s: Refresh flag %v", i, what, ev.Refresh)
				}
				if !json.Valid(ev.JSON()) {
					t.Fatalf("step %d: invalid event JSON %q", i, ev.JSON())
				}
				if historyEvent(s, ev.Index) != ev {
					t.Fatalf("step %d: the event is not in the history at %d", i, ev.Index)
				}
			}
			checkStore(t, s, m, now, i)
			for _, w := range watches {
				var want, got []uint64
				for _, e := range mr.events {
					if modelDelivers(w.key, w.rec, e) {
						want = append(want, e.index)
					}
				}
				for _, ev := range drain(w.w.Events, 1000) {
					got = append(got, ev.Index)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("step %d %s: watcher %q (recursive %v) got events %v, model %v", i, what, w.key, w.rec, got, want)
				}
			}
		}
		// Counters.
		st := s.Stats()
		for name, got := range map[string]uint64{
			"setsSuccess": st.SetsSuccess.Load(), "setsFail": st.SetsFail.Load(),
			"createSuccess": st.CreateSuccess.Load(), "createFail": st.CreateFail.Load(),
			"updateSuccess": st.UpdateSuccess.Load(), "updateFail": st.UpdateFail.Load(),
			"compareAndSwapSuccess": st.CompareAndSwapSuccess.Load(), "compareAndSwapFail": st.CompareAndSwapFail.Load(),
			"deleteSuccess": st.DeleteSuccess.Load(), "deleteFail": st.DeleteFail.Load(),
			"compareAndDeleteSuccess": st.CompareAndDeleteSuccess.Load(), "compareAndDeleteFail": st.CompareAndDeleteFail.Load(),
			"expireCount": st.ExpireCount.Load(),
		} {
			if got != m.stats[name] {
				t.Fatalf("stat %s = %d, model %d", name, got, m.stats[name])
			}
		}
	}
}

// FuzzAppendJSONString: our encoder must match encoding/json (with the
// Go 1.19 escapes of \b and \f that etcd 3.4 was built with).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<a href=\"x\">&</a>", "\xff\xfeok", "a\u2028b\u2029", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "héllo ☃", "\\\"", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON for %q: %s", s, got)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); utf8.ValidString(s) && back != want {
			t.Fatalf("%q round-trips as %q", s, back)
		}
		std, _ := json.Marshal(s)
		// Since Go 1.22 encoding/json writes \b and \f; etcd's Go wrote
		// \u0008 and \u000c, which is what we must produce.
		if !strings.ContainsAny(s, "\b\f") && string(std) != string(got) {
			t.Fatalf("%q: got %s, encoding/json %s", s, got, std)
		}
	})
}

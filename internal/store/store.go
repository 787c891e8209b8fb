package store

import (
	"container/heap"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Store is the v2 key space. It is safe for concurrent use: Apply calls are
// serialised by the caller (the Raft FSM) and by an internal lock; reads and
// watch registrations may run concurrently with them.
type Store struct {
	mu      sync.RWMutex
	root    *node
	index   uint64 // the etcd index: last successful mutation
	ttl     ttlHeap
	history history
	hub     hub
	stats   Stats
}

// New returns an empty store at index 0.
func New() *Store {
	s := &Store{root: newDir("/", nil, 0)}
	s.history.init(historyCapacity)
	s.hub.init()
	s.hub.count = &s.stats
	return s
}

func newDir(key string, parent *node, index uint64) *node {
	return &node{key: key, dir: true, parent: parent, heapIdx: -1, createdIndex: index, modifiedIndex: index}
}

// Index returns the current etcd index.
func (s *Store) Index() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.index
}

// NextExpiration returns the earliest expiration of any node (Unix
// nanoseconds), or 0 when no node has a TTL. The leader uses it to decide
// when to propose OpExpire.
func (s *Store) NextExpiration() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.ttl) == 0 {
		return 0
	}
	return s.ttl[0].expireAt
}

// Stats returns the operation counters.
func (s *Store) Stats() *Stats { return &s.stats }

// splitKey returns the components of a canonical key ("/" has none).
func splitKey(key string) []string {
	key = strings.Trim(key, "/")
	if key == "" {
		return nil
	}
	return strings.Split(key, "/")
}

func joinKey(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// walk finds the node at key. A missing component yields 100 with the path
// up to that component; passing through a key yields 104 with the key's path.
func (s *Store) walk(key string) (*node, *Error) {
	n := s.root
	if key == "/" {
		return n, nil
	}
	// Walk the string directly rather than splitting: this is the read path.
	rest := key[1:]
	for {
		i := strings.IndexByte(rest, '/')
		name := rest
		if i >= 0 {
			name = rest[:i]
		}
		if !n.dir {
			return nil, NewError(EcodeNotDir, n.key, s.index)
		}
		c := n.children[name]
		if c == nil {
			end := len(key) - len(rest) + len(name)
			return nil, NewError(EcodeKeyNotFound, key[:end], s.index)
		}
		n = c
		if i < 0 {
			return n, nil
		}
		rest = rest[i+1:]
	}
}

// checkParents verifies that key could be created: every existing ancestor
// is a directory. It changes nothing, so a failed write leaves no trace.
func (s *Store) checkParents(key string) (parent *node, missing []string, err *Error) {
	n := s.root
	comps := splitKey(key)
	for i, name := range comps[:len(comps)-1] {
		c := n.children[name]
		if c == nil {
			return n, comps[i : len(comps)-1], nil
		}
		if !c.dir {
			return nil, nil, NewError(EcodeNotDir, c.key, s.index)
		}
		n = c
	}
	return n, nil, nil
}

// makeParents creates the missing directories found by checkParents.
func makeParents(parent *node, missing []string, index uint64) *node {
	for _, name := range missing {
		d := newDir(joinKey(parent.key, name), parent, index)
		parent.addChild(name, d)
		parent = d
	}
	return parent
}

func (n *node) addChild(name string, c *node) {
	if n.children == nil {
		n.children = make(map[string]*node)
	}
	n.children[name] = c
}

// Get reads key. It never changes the store.
func (s *Store) Get(key string, recursive bool, now int64) (*Event, uint64, *Error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.walk(key)
	if err != nil {
		s.stats.GetsFail.Add(1)
		return nil, s.index, err
	}
	s.stats.GetsSuccess.Add(1)
	var v *NodeView
	if n.dir {
		v = n.listView(now, recursive, true)
	} else {
		v = n.view(now)
	}
	return &Event{Action: ActionGet, Node: v}, s.index, nil
}

// Apply executes one mutation. On success it returns the event (also added
// to the history and sent to matching watchers); on failure the store is
// unchanged and the error carries the current index.
func (s *Store) Apply(r *Request) (*Event, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Op <= OpCreateInOrder && !canonicalKey(r.Key) {
		// The API never sends such a key; a log entry that holds one is
		// refused the same way on every member rather than crashing them.
		return nil, NewError(EcodeRaftInternal, "invalid key "+strconv.Quote(r.Key), s.index)
	}
	var ev *Event
	var err *Error
	switch r.Op {
	case OpSet:
		ev, err = s.set(r)
		s.stats.count(&s.stats.SetsSuccess, &s.stats.SetsFail, err)
	case OpCreate:
		ev, err = s.create(r, r.Key)
		s.stats.count(&s.stats.CreateSuccess, &s.stats.CreateFail, err)
	case OpCreateInOrder:
		key := joinKey(r.Key, inOrderName(s.index+1))
		ev, err = s.create(r, key)
		s.stats.count(&s.stats.CreateSuccess, &s.stats.CreateFail, err)
	case OpUpdate:
		ev, err = s.update(r)
		s.stats.count(&s.stats.UpdateSuccess, &s.stats.UpdateFail, err)
	case OpCompareAndSwap:
		ev, err = s.compareAndSwap(r)
		s.stats.count(&s.stats.CompareAndSwapSuccess, &s.stats.CompareAndSwapFail, err)
	case OpDelete:
		ev, err = s.delete(r)
		s.stats.count(&s.stats.DeleteSuccess, &s.stats.DeleteFail, err)
	case OpCompareAndDelete:
		ev, err = s.compareAndDelete(r)
		s.stats.count(&s.stats.CompareAndDeleteSuccess, &s.stats.CompareAndDeleteFail, err)
	case OpExpire:
		s.expire(r.Time)
		return nil, nil
	case OpMemberBootstrap:
		// A fresh etcd member records itself (a create), its attributes
		// and the cluster version (two sets): user writes start at 4.
		s.internalRecords(&s.stats.CreateSuccess, &s.stats.SetsSuccess, &s.stats.SetsSuccess)
		return nil, nil
	case OpMemberStart:
		// A restarted etcd member republishes its attributes.
		s.internalRecords(&s.stats.SetsSuccess)
		return nil, nil
	case OpMemberUpdate:
		s.internalRecords(&s.stats.UpdateSuccess)
		return nil, nil
	case OpMemberAdd:
		s.internalRecords(&s.stats.CreateSuccess)
		return nil, nil
	case OpMemberRemove:
		s.internalRecords(&s.stats.DeleteSuccess)
		return nil, nil
	case OpNoop:
		return nil, nil
	default:
		return nil, NewError(EcodeRaftInternal, "unknown operation "+strconv.Itoa(int(r.Op)), s.index)
	}
	if err != nil {
		return nil, err
	}
	s.commit(ev)
	return ev, nil
}

// canonicalKey reports whether k is "/" or an absolute path with no empty
// component and no trailing slash.
func canonicalKey(k string) bool {
	return k == "/" || (len(k) > 1 && k[0] == '/' && k[len(k)-1] != '/' && !strings.Contains(k, "//"))
}

func inOrderName(index uint64) string {
	const width = 20
	d := strconv.FormatUint(index, 10)
	return strings.Repeat("0", width-len(d)) + d
}

// commit advances the index to the event's, records it and wakes watchers.
func (s *Store) commit(ev *Event) {
	s.index = ev.Index
	s.history.add(ev)
	if !ev.Refresh {
		s.hub.notify(ev)
	}
}

// internalRecords applies etcd's membership bookkeeping: one internal
// write per counter given, each counted there and each taking an index and
// a history slot that no watch can match.
func (s *Store) internalRecords(counters ...*atomic.Uint64) {
	for _, c := range counters {
		c.Add(1)
		s.index++
		s.history.add(&Event{Action: ActionSet, Node: &NodeView{Key: "/0"}, Index: s.index, internal: true})
	}
}

func (s *Store) setTTL(n *node, expireAt int64) {
	if n.expireAt == expireAt {
		return
	}
	n.expireAt = expireAt
	switch {
	case expireAt == 0 && n.heapIdx >= 0:
		heap.Remove(&s.ttl, int(n.heapIdx))
	case expireAt != 0 && n.heapIdx >= 0:
		heap.Fix(&s.ttl, int(n.heapIdx))
	case expireAt != 0:
		heap.Push(&s.ttl, n)
	}
}

// unlink removes n and its subtree from the tree and the TTL heap, calling
// removed for every node taken out (watchers on those paths must hear of it).
func (s *Store) unlink(n *node, removed func(*node)) {
	if n.parent != nil {
		delete(n.parent.children, n.name())
	}
	s.dropSubtree(n, removed)
}

func (s *Store) dropSubtree(n *node, removed func(*node)) {
	if n.heapIdx >= 0 {
		heap.Remove(&s.ttl, int(n.heapIdx))
	}
	for _, c := range n.children {
		s.dropSubtree(c, removed)
	}
	if removed != nil {
		removed(n)
	}
}

func (s *Store) set(r *Request) (*Event, *Error) {
	if r.Key == "/" {
		return nil, NewError(EcodeRootROnly, "/", s.index)
	}
	value, dir := r.Value, r.Dir
	if r.Refresh {
		n, err := s.walk(r.Key)
		if err != nil {
			return nil, err
		}
		if n.dir {
			return nil, NewError(EcodeNotFile, r.Key, s.index)
		}
		value, dir = n.value, false
	}
	parent, missing, err := s.checkParents(r.Key)
	if err != nil {
		return nil, err
	}
	next := s.index + 1
	name := r.Key[strings.LastIndexByte(r.Key, '/')+1:]
	var prev *NodeView
	if missing == nil {
		if old := parent.children[name]; old != nil {
			if old.dir {
				return nil, NewError(EcodeNotFile, r.Key, s.index)
			}
			prev = old.view(r.Time)
			s.unlink(old, nil)
		}
	}
	parent = makeParents(parent, missing, next)
	n := s.newNode(r.Key, parent, dir, value, r.Expiration, next)
	parent.addChild(name, n)
	return &Event{Action: ActionSet, Node: n.view(r.Time), PrevNode: prev, Index: next, Refresh: r.Refresh}, nil
}

func (s *Store) newNode(key string, parent *node, dir bool, value string, expireAt int64, index uint64) *node {
	n := &node{key: key, dir: dir, parent: parent, heapIdx: -1, createdIndex: index, modifiedIndex: index}
	if !dir {
		n.value = value
	}
	s.setTTL(n, expireAt)
	return n
}

func (s *Store) create(r *Request, key string) (*Event, *Error) {
	if key == "/" {
		return nil, NewError(EcodeRootROnly, "/", s.index)
	}
	parent, missing, err := s.checkParents(key)
	if err != nil {
		return nil, err
	}
	name := key[strings.LastIndexByte(key, '/')+1:]
	if missing == nil && parent.children[name] != nil {
		return nil, NewError(EcodeNodeExist, key, s.index)
	}
	next := s.index + 1
	parent = makeParents(parent, missing, next)
	n := s.newNode(key, parent, r.Dir, r.Value, r.Expiration, next)
	parent.addChild(name, n)
	return &Event{Action: ActionCreate, Node: n.view(r.Time), Index: next}, nil
}

func (s *Store) update(r *Request) (*Event, *Error) {
	if r.Key == "/" {
		return nil, NewError(EcodeRootROnly, "/", s.index)
	}
	n, err := s.walk(r.Key)
	if err != nil {
		return nil, err
	}
	if n.dir && r.Value != "" && !r.Refresh {
		return nil, NewError(EcodeNotFile, r.Key, s.index)
	}
	next := s.index + 1
	prev := n.view(r.Time)
	if !n.dir {
		if !r.Refresh {
			n.value = r.Value
		}
		n.modifiedIndex = next
	}
	// A directory keeps its creation index as modifiedIndex (etcd quirk);
	// only the event reports the new index.
	s.setTTL(n, r.Expiration)
	v := n.view(r.Time)
	v.ModifiedIndex = next
	return &Event{Action: ActionUpdate, Node: v, PrevNode: prev, Index: next, Refresh: r.Refresh}, nil
}

// compareFailure returns the cause of a failed comparison, or "" when the
// node satisfies the request's conditions.
func compareFailure(n *node, prevValue string, prevIndex uint64) string {
	valueBad := prevValue != "" && prevValue != n.value
	indexBad := prevIndex != 0 && prevIndex != n.modifiedIndex
	switch {
	case valueBad && indexBad:
		return "[" + prevValue + " != " + n.value + "] [" + strconv.FormatUint(prevIndex, 10) + " != " + strconv.FormatUint(n.modifiedIndex, 10) + "]"
	case valueBad:
		return "[" + prevValue + " != " + n.value + "]"
	case indexBad:
		return "[" + strconv.FormatUint(prevIndex, 10) + " != " + strconv.FormatUint(n.modifiedIndex, 10) + "]"
	}
	return ""
}

func (s *Store) compareAndSwap(r *Request) (*Event, *Error) {
	if r.Key == "/" {
		return nil, NewError(EcodeRootROnly, "/", s.index)
	}
	n, err := s.walk(r.Key)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, NewError(EcodeNotFile, r.Key, s.index)
	}
	if cause := compareFailure(n, r.PrevValue, r.PrevIndex); cause != "" {
		return nil, NewError(EcodeTestFailed, cause, s.index)
	}
	next := s.index + 1
	prev := n.view(r.Time)
	if !r.Refresh {
		n.value = r.Value
	}
	n.modifiedIndex = next
	s.setTTL(n, r.Expiration)
	return &Event{Action: ActionCompareAndSwap, Node: n.view(r.Time), PrevNode: prev, Index: next, Refresh: r.Refresh}, nil
}

// removalEvent builds the event of a delete, compareAndDelete or expire of n.
func removalEvent(action string, n *node, index uint64, now int64) *Event {
	prev := n.view(now)
	v := &NodeView{Key: n.key, Dir: n.dir, ModifiedIndex: index, CreatedIndex: n.createdIndex}
	return &Event{Action: action, Node: v, PrevNode: prev, Index: index}
}

func (s *Store) delete(r *Request) (*Event, *Error) {
	if r.Key == "/" {
		return nil, NewError(EcodeRootROnly, "/", s.index)
	}
	n, err := s.walk(r.Key)
	if err != nil {
		return nil, err
	}
	if n.dir {
		if !r.Dir && !r.Recursive {
			return nil, NewError(EcodeNotFile, r.Key, s.index)
		}
		if !r.Recursive && len(n.children) > 0 {
			return nil, NewError(EcodeDirNotEmpty, r.Key, s.index)
		}
	}
	ev := removalEvent(ActionDelete, n, s.index+1, r.Time)
	s.remove(n, ev)
	return ev, nil
}

// remove takes n out of the tree and tells watchers of removed descendants.
func (s *Store) remove(n *node, ev *Event) {
	if !n.dir {
		s.unlink(n, nil)
		return
	}
	s.unlink(n, func(gone *node) {
		if gone != n {
			s.hub.notifyRemoved(gone.key, ev)
		}
	})
}

func (s *Store) compareAndDelete(r *Request) (*Event, *Error) {
	n, err := s.walk(r.Key)
	if err != nil {
		return nil, err
	}
	if n.dir {
		cause := r.Key
		if r.Key == "/" {
			cause = ""
		}
		return nil, NewError(EcodeNotFile, cause, s.index)
	}
	if cause := compareFailure(n, r.PrevValue, r.PrevIndex); cause != "" {
		return nil, NewError(EcodeTestFailed, cause, s.index)
	}
	ev := removalEvent(ActionCompareAndDelete, n, s.index+1, r.Time)
	s.unlink(n, nil)
	return ev, nil
}

// expire removes every node whose expiration is at or before now, each
// with its own index and expire event.
func (s *Store) expire(now int64) {
	for len(s.ttl) > 0 && s.ttl[0].expireAt <= now {
		n := s.ttl[0]
		ev := removalEvent(ActionExpire, n, s.index+1, now)
		s.remove(n, ev)
		s.stats.ExpireCount.Add(1)
		s.commit(ev)
	}
}

package store

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"strings"
)

// snapshotVersion changes whenever the encoding below does.
const snapshotVersion = 1

type snapshotHeader struct {
	Version int
	Index   uint64
	Stats   []uint64
	Nodes   int
	Events  int
}

// snapshotNode is one tree node; nodes are written parents first.
type snapshotNode struct {
	Key      string
	Value    string
	Dir      bool
	ExpireAt int64
	Created  uint64
	Modified uint64
}

type snapshotEvent struct {
	Action   string
	Node     *NodeView
	PrevNode *NodeView
	Index    uint64
	Refresh  bool
	Internal bool
}

// Frozen is the store's state at one moment, for a snapshot written
// later. Taking it copies each node's fields but shares the strings (they
// are immutable), so it costs a fraction of the encoded size and the
// writers wait only for the copy, not for the encoding.
type Frozen struct {
	hdr    snapshotHeader
	nodes  []snapshotNode
	events []snapshotEvent
}

// Freeze captures the whole state (tree, index, counters, event history)
// under the read lock.
func (s *Store) Freeze() *Frozen {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Counted first, so that the copy is one allocation of its final size.
	count := 0
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			count++
			if c.dir {
				walk(c)
			}
		}
	}
	walk(s.root)
	f := &Frozen{nodes: make([]snapshotNode, 0, count)}
	var collect func(n *node)
	collect = func(n *node) {
		for _, c := range n.children {
			f.nodes = append(f.nodes, snapshotNode{Key: c.key, Value: c.value, Dir: c.dir, ExpireAt: c.expireAt, Created: c.createdIndex, Modified: c.modifiedIndex})
			if c.dir {
				collect(c)
			}
		}
	}
	collect(s.root)
	f.events = make([]snapshotEvent, 0, s.history.count)
	for i := 0; i < s.history.count; i++ {
		ev := s.history.at(i)
		f.events = append(f.events, snapshotEvent{Action: ev.Action, Node: ev.Node, PrevNode: ev.PrevNode, Index: ev.Index, Refresh: ev.Refresh, Internal: ev.internal})
	}
	f.hdr = snapshotHeader{Version: snapshotVersion, Index: s.index, Stats: s.stats.snapshot(), Nodes: len(f.nodes), Events: len(f.events)}
	return f
}

// Encode writes the frozen state to w, in the format Restore reads.
func (f *Frozen) Encode(w io.Writer) error {
	enc := gob.NewEncoder(w)
	if err := enc.Encode(&f.hdr); err != nil {
		return err
	}
	for i := range f.nodes {
		if err := enc.Encode(&f.nodes[i]); err != nil {
			return err
		}
	}
	for i := range f.events {
		if err := enc.Encode(&f.events[i]); err != nil {
			return err
		}
	}
	return nil
}

// Save writes the whole state to w: Freeze, then Encode.
func (s *Store) Save(w io.Writer) error { return s.Freeze().Encode(w) }

// ErrCorruptSnapshot wraps every reason a snapshot cannot be restored.
var ErrCorruptSnapshot = errors.New("corrupt store snapshot")

// Restore replaces the whole state with a snapshot written by Save. Open
// watches are closed: their clients resynchronise. On error the store is
// left unchanged.
func (s *Store) Restore(r io.Reader) error {
	dec := gob.NewDecoder(r)
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return fmt.Errorf("%w: header: %v", ErrCorruptSnapshot, err)
	}
	if hdr.Version != snapshotVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrCorruptSnapshot, hdr.Version, snapshotVersion)
	}
	if hdr.Nodes < 0 || hdr.Events < 0 || hdr.Events > historyCapacity {
		return fmt.Errorf("%w: bad counts", ErrCorruptSnapshot)
	}
	fresh := New()
	fresh.index = hdr.Index
	fresh.stats.restore(hdr.Stats)
	for i := 0; i < hdr.Nodes; i++ {
		var sn snapshotNode
		if err := dec.Decode(&sn); err != nil {
			return fmt.Errorf("%w: node %d: %v", ErrCorruptSnapshot, i, err)
		}
		if err := fresh.restoreNode(&sn); err != nil {
			return err
		}
	}
	for i := 0; i < hdr.Events; i++ {
		var se snapshotEvent
		if err := dec.Decode(&se); err != nil {
			return fmt.Errorf("%w: event %d: %v", ErrCorruptSnapshot, i, err)
		}
		if se.Node == nil {
			return fmt.Errorf("%w: event %d has no node", ErrCorruptSnapshot, i)
		}
		fresh.history.add(&Event{Action: se.Action, Node: se.Node, PrevNode: se.PrevNode, Index: se.Index, Refresh: se.Refresh, internal: se.Internal})
	}

	// Under the store lock, so that no watch registers between closing
	// the old watchers and swapping the state.
	s.mu.Lock()
	s.hub.closeAll()
	s.root, s.index, s.ttl, s.history = fresh.root, fresh.index, fresh.ttl, fresh.history
	s.stats.restore(hdr.Stats)
	s.mu.Unlock()
	return nil
}

func (s *Store) restoreNode(sn *snapshotNode) error {
	if !strings.HasPrefix(sn.Key, "/") || sn.Key == "/" {
		return fmt.Errorf("%w: bad key %q", ErrCorruptSnapshot, sn.Key)
	}
	i := strings.LastIndexByte(sn.Key, '/')
	parentKey, name := sn.Key[:i], sn.Key[i+1:]
	if parentKey == "" {
		parentKey = "/"
	}
	if name == "" {
		return fmt.Errorf("%w: bad key %q", ErrCorruptSnapshot, sn.Key)
	}
	parent, err := s.walk(parentKey)
	if err != nil || !parent.dir {
		return fmt.Errorf("%w: parent of %q missing", ErrCorruptSnapshot, sn.Key)
	}
	if parent.children[name] != nil {
		return fmt.Errorf("%w: duplicate key %q", ErrCorruptSnapshot, sn.Key)
	}
	n := s.newNode(sn.Key, parent, sn.Dir, sn.Value, sn.ExpireAt, sn.Created)
	n.modifiedIndex = sn.Modified
	parent.addChild(name, n)
	return nil
}

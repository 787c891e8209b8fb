package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/raft"

	"hecd/internal/store"
)

// applyResult is what FSM.Apply hands back to the proposer.
type applyResult struct {
	event *store.Event
	err   *store.Error
}

// fsm applies committed entries to the store and keeps the member list.
// Membership lives beside the key space, never in it: no user key can
// address it.
type fsm struct {
	st *store.Store

	mu        sync.RWMutex
	members   map[uint64]*Member
	removed   map[uint64]bool
	clusterID uint64
}

func newFSM(st *store.Store) *fsm {
	return &fsm{st: st, members: map[uint64]*Member{}, removed: map[uint64]bool{}}
}

func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) == 0 {
		return nil
	}
	switch l.Data[0] {
	case kindStore:
		r, err := decodeRequest(l.Data[1:])
		if err != nil {
			// A command we cannot read was written by a broken or newer
			// member; applying nothing keeps every member identical.
			return applyResult{err: store.NewError(store.EcodeRaftInternal, "undecodable command: "+err.Error(), f.st.Index())}
		}
		ev, e := f.st.Apply(r)
		return applyResult{event: ev, err: e}
	case kindMemberBootstrap, kindMemberStart, kindMemberUpdate, kindMemberAdd, kindMemberRemove:
		var c memberCommand
		if err := json.Unmarshal(l.Data[1:], &c); err != nil {
			return applyResult{err: store.NewError(store.EcodeRaftInternal, "undecodable member command: "+err.Error(), f.st.Index())}
		}
		return f.applyMember(l.Data[0], c)
	}
	return nil
}

func (f *fsm) applyMember(kind byte, c memberCommand) applyResult {
	f.mu.Lock()
	m := f.members[c.Member.ID]
	switch kind {
	case kindMemberBootstrap:
		cp := c.Member
		f.members[cp.ID] = &cp
		f.clusterID = c.ClusterID
		f.mu.Unlock()
		f.st.Apply(&store.Request{Op: store.OpMemberBootstrap, Time: c.Time})
	case kindMemberStart:
		if m == nil {
			cp := c.Member
			m = &cp
			f.members[cp.ID] = m
		}
		m.Name, m.ClientURLs = c.Member.Name, c.Member.ClientURLs
		f.mu.Unlock()
		f.st.Apply(&store.Request{Op: store.OpMemberStart, Time: c.Time})
	case kindMemberUpdate:
		if m == nil {
			f.mu.Unlock()
			return applyResult{err: store.NewError(store.EcodeKeyNotFound, fmt.Sprintf("member %x", c.Member.ID), f.st.Index())}
		}
		m.PeerURLs = c.Member.PeerURLs
		f.mu.Unlock()
		f.st.Apply(&store.Request{Op: store.OpMemberUpdate, Time: c.Time})
	case kindMemberAdd:
		cp := c.Member
		f.members[cp.ID] = &cp
		f.mu.Unlock()
		f.st.Apply(&store.Request{Op: store.OpMemberAdd, Time: c.Time})
	case kindMemberRemove:
		if m == nil {
			f.mu.Unlock()
			return applyResult{err: store.NewError(store.EcodeKeyNotFound, fmt.Sprintf("member %x", c.Member.ID), f.st.Index())}
		}
		delete(f.members, m.ID)
		f.removed[m.ID] = true
		f.mu.Unlock()
		f.st.Apply(&store.Request{Op: store.OpMemberRemove, Time: c.Time})
	default:
		f.mu.Unlock()
	}
	return applyResult{}
}

// Members returns the members ordered by id, as etcd lists them.
func (f *fsm) Members() []Member {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Member, 0, len(f.members))
	for _, m := range f.members {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Removed reports whether id was removed from the cluster.
func (f *fsm) Removed(id uint64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.removed[id]
}

func (f *fsm) ClusterID() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.clusterID
}

// snapshotMagic starts every snapshot so that a foreign file is refused.
var snapshotMagic = []byte("hecd-fsm-1\n")

// Snapshot freezes the state (Apply is paused while it runs, so the copy
// is consistent); Persist encodes it straight into the sink. The frozen
// copy shares the tree's strings, so a snapshot of a large store costs a
// fraction of its encoded size in memory, not the whole encoding.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	removed := make([]uint64, 0, len(f.removed))
	for id := range f.removed {
		removed = append(removed, id)
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
	meta, err := json.Marshal(struct {
		Members   []Member
		Removed   []uint64
		ClusterID uint64
	}{f.membersLocked(), removed, f.clusterID})
	f.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{meta: meta, state: f.st.Freeze()}, nil
}

func (f *fsm) membersLocked() []Member {
	out := make([]Member, 0, len(f.members))
	for _, m := range f.members {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(data, snapshotMagic) {
		return fmt.Errorf("%w: not a hecd snapshot", store.ErrCorruptSnapshot)
	}
	data = data[len(snapshotMagic):]
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return fmt.Errorf("%w: bad member section", store.ErrCorruptSnapshot)
	}
	var meta struct {
		Members   []Member
		Removed   []uint64
		ClusterID uint64
	}
	if err := json.Unmarshal(data[k:k+int(n)], &meta); err != nil {
		return fmt.Errorf("%w: members: %v", store.ErrCorruptSnapshot, err)
	}
	if err := f.st.Restore(bytes.NewReader(data[k+int(n):])); err != nil {
		return err
	}
	f.mu.Lock()
	f.members = map[uint64]*Member{}
	for i := range meta.Members {
		m := meta.Members[i]
		f.members[m.ID] = &m
	}
	f.removed = map[uint64]bool{}
	for _, id := range meta.Removed {
		f.removed[id] = true
	}
	f.clusterID = meta.ClusterID
	f.mu.Unlock()
	return nil
}

type fsmSnapshot struct {
	meta  []byte
	state *store.Frozen
}

// Persist writes the magic, the member section (length-prefixed JSON) and
// the store's state.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	bw := bufio.NewWriterSize(sink, 256<<10)
	var l [binary.MaxVarintLen64]byte
	bw.Write(snapshotMagic)
	bw.Write(l[:binary.PutUvarint(l[:], uint64(len(s.meta)))])
	bw.Write(s.meta)
	err := s.state.Encode(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

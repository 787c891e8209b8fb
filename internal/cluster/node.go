package cluster

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"hecd/internal/store"
)

// memberIDKey holds this member's id in the raft stable store.
var memberIDKey = []byte("hecd-member-id")

// Config describes this member and how to run consensus.
type Config struct {
	Name       string
	DataDir    string
	PeerURLs   []string // advertised peer URLs
	ClientURLs []string // advertised client URLs
	// Token separates clusters that share peer URLs (etcd's
	// --initial-cluster-token); it feeds the member and cluster ids.
	Token string

	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration
	// RequestTimeout bounds how long a write or quorum read waits for a
	// leader (default: 5 s plus twice the election timeout, as etcd).
	RequestTimeout time.Duration
	// SnapshotCount is how many applied entries trigger a snapshot.
	SnapshotCount uint64
	// SegmentSize is the size of a raft log segment file (default 64 MiB);
	// the log is truncated a whole segment at a time.
	SegmentSize int

	Store  *store.Store
	Logger *slog.Logger
	// Clock is the leader's clock for TTL expiry; time.Now by default.
	Clock func() time.Time
}

// Node is one running member.
type Node struct {
	cfg   Config
	raft  *raft.Raft
	fsm   *fsm
	logs  *wal.WAL
	meta  *metadb.BoltMetaDB
	trans *raft.InmemTransport
	snaps *raft.FileSnapshotStore
	self  Member
	log   *slog.Logger

	startTime   time.Time
	leaderSince atomic.Int64 // Unix ns when this member last became leader

	// storageFailed is set after a write to the raft log failed: from
	// then on the member refuses writes, because a failed fsync may have
	// lost data that a retry would wrongly report as stored.
	storageFailed atomic.Pointer[error]

	stop chan struct{}
	wg   sync.WaitGroup
}

// ProposeError is why a proposal failed. Cause is the text etcd gives for
// the same situation; Proposed says whether the entry may still commit
// (false: it certainly had no effect, so the client can simply retry).
type ProposeError struct {
	Cause    string
	Proposed bool
	Err      error
}

// Error is the cause alone: clients see it as the "cause" of a 300 error,
// worded as etcd words it. Err keeps the underlying reason for logs.
func (e *ProposeError) Error() string { return e.Cause }

func (e *ProposeError) Unwrap() error { return e.Err }

// Causes, worded as etcd words them.
const (
	causeTimeout = "etcdserver: request timed out"
	causeStopped = "etcdserver: server stopped"
)

// MemberID derives a member's id from its peer URLs and the cluster token,
// so that the same configuration always yields the same id.
func MemberID(peerURLs []string, token string) uint64 {
	us := append([]string(nil), peerURLs...)
	sort.Strings(us)
	sum := sha1.Sum([]byte(strings.Join(us, "") + token))
	return binary.BigEndian.Uint64(sum[:8])
}

func clusterIDOf(ids []uint64) uint64 {
	b := make([]byte, 8*len(ids))
	sorted := append([]uint64(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for i, id := range sorted {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	sum := sha1.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// Open starts the member: it opens (or creates) the raft state in
// DataDir, waits until this member leads and has applied everything in its
// log, and records its start in the store.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5*time.Second + 2*cfg.ElectionTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, fsm: newFSM(cfg.Store), log: cfg.Logger.With("component", "cluster"), stop: make(chan struct{}), startTime: time.Now()}
	n.self = Member{ID: MemberID(cfg.PeerURLs, cfg.Token), Name: cfg.Name, PeerURLs: cfg.PeerURLs, ClientURLs: cfg.ClientURLs}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	walDir := filepath.Join(cfg.DataDir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{n.log}, DisableTime: true})
	// The WAL does not close the metadata database it opens itself, which
	// would keep its file lock after Close; so we own it.
	meta := &metadb.BoltMetaDB{}
	segmentSize := cfg.SegmentSize
	if segmentSize <= 0 {
		segmentSize = 64 << 20
	}
	logs, err := wal.Open(walDir, wal.WithLogger(hlog.Named("wal")), wal.WithMetaStore(meta), wal.WithSegmentSize(segmentSize))
	if err != nil {
		meta.Close()
		return nil, fmt.Errorf("opening raft log in %s: %w", walDir, err)
	}
	n.logs, n.meta = logs, meta
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, hlog.Named("snapshot"))
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	n.snaps = snaps

	rc := raft.DefaultConfig()
	rc.HeartbeatTimeout = cfg.ElectionTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.ElectionTimeout / 2
	rc.CommitTimeout = cfg.HeartbeatInterval / 2
	rc.SnapshotThreshold = cfg.SnapshotCount
	rc.TrailingLogs = min(cfg.SnapshotCount, 5000)
	// How often raft checks whether SnapshotCount entries have piled up;
	// the check itself is cheap.
	rc.SnapshotInterval = 2 * time.Second
	rc.Logger = hlog
	// BatchApplyCh stays false: with it, an enqueue timeout would no
	// longer mean "not proposed".
	rc.BatchApplyCh = false

	addr := raft.ServerAddress(firstHost(cfg.PeerURLs))
	_, trans := raft.NewInmemTransport(addr)
	n.trans = trans

	logStore := &failStopLogStore{LogStore: logs, node: n}
	existing, err := raft.HasExistingState(logStore, logs, snaps)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("reading raft state: %w", err)
	}
	// The member id is fixed when the member is first created and kept in
	// the data directory: a restart with other peer URLs is the same
	// member, as in etcd.
	storedID, err := logs.GetUint64(memberIDKey)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("reading the member id: %w", err)
	}
	switch {
	case storedID != 0:
		n.self.ID = storedID
	case existing:
		n.closeStores()
		return nil, fmt.Errorf("data dir %s holds raft state but no member id", cfg.DataDir)
	default:
		if err := logs.SetUint64(memberIDKey, n.self.ID); err != nil {
			n.closeStores()
			return nil, fmt.Errorf("recording the member id: %w", err)
		}
	}
	rc.LocalID = raft.ServerID(strconv.FormatUint(n.self.ID, 16))
	if !existing {
		boot := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: addr}}}
		if err := raft.BootstrapCluster(rc, logStore, logs, snaps, trans, boot); err != nil {
			n.closeStores()
			return nil, fmt.Errorf("bootstrapping: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, n.fsm, logStore, logs, snaps, trans)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("starting raft: %w", err)
	}
	n.raft = r
	if err := n.awaitReady(ctx, !existing); err != nil {
		n.Close()
		return nil, err
	}
	n.wg.Add(1)
	go n.expiryLoop()
	return n, nil
}

func firstHost(urls []string) string {
	if len(urls) == 0 {
		return "local"
	}
	u := urls[0]
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	return u
}

// awaitReady waits for leadership and for the log to be applied, then
// records the member's start: a fresh cluster's bootstrap records, or the
// restart record.
func (n *Node) awaitReady(ctx context.Context, fresh bool) error {
	for n.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for leadership: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	n.leaderSince.Store(time.Now().UnixNano())
	if err := n.raft.Barrier(0).Error(); err != nil {
		return fmt.Errorf("applying the log: %w", err)
	}
	now := n.cfg.Clock().UnixNano()
	var cmd []byte
	if n.cfg.Store.Index() == 0 {
		cmd = encodeMemberCommand(kindMemberBootstrap, memberCommand{Member: n.self, ClusterID: clusterIDOf([]uint64{n.self.ID}), Time: now})
	} else {
		cmd = encodeMemberCommand(kindMemberStart, memberCommand{Member: n.self, Time: now})
	}
	if err := n.raft.Apply(cmd, 0).Error(); err != nil {
		return fmt.Errorf("recording member start: %w", err)
	}
	return nil
}

// Propose replicates a store request and returns the store's answer with
// the raft index of the entry.
func (n *Node) Propose(ctx context.Context, r *store.Request) (*store.Event, *store.Error, uint64, error) {
	f, err := n.apply(ctx, encodeRequest(r))
	if err != nil {
		return nil, nil, 0, err
	}
	res, _ := f.Response().(applyResult)
	return res.event, res.err, f.Index(), nil
}

// leaderWait is how often a proposal without a leader looks again.
const leaderWait = 20 * time.Millisecond

// apply proposes cmd and waits for it to be applied here. While this
// member is not the leader (an election, or quorum lost) it waits for
// leadership until ctx ends or the request timeout passes, as etcd holds
// requests during elections. The timer exists only while waiting: the
// common case, a leader, pays nothing for it.
func (n *Node) apply(ctx context.Context, cmd []byte) (raft.ApplyFuture, error) {
	var timeout <-chan time.Time
	for {
		if errp := n.storageFailed.Load(); errp != nil {
			return nil, &ProposeError{Cause: "etcdserver: storage failed; restart the member", Err: *errp}
		}
		if n.raft.State() == raft.Leader {
			f := n.raft.Apply(cmd, requestEnqueueTimeout(ctx))
			err := f.Error()
			if err == nil {
				return f, nil
			}
			if !errors.Is(err, raft.ErrNotLeader) {
				return nil, n.classify(err)
			}
		}
		if timeout == nil {
			t := time.NewTimer(n.cfg.RequestTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ctx.Done():
			return nil, &ProposeError{Cause: causeTimeout, Err: ctx.Err()}
		case <-timeout:
			return nil, &ProposeError{Cause: causeTimeout, Err: context.DeadlineExceeded}
		case <-n.stop:
			return nil, &ProposeError{Cause: causeStopped}
		case <-time.After(leaderWait):
		}
	}
}

func requestEnqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return 0
}

// classify turns raft's errors into a ProposeError that says whether the
// entry may still commit.
func (n *Node) classify(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout):
		return &ProposeError{Cause: causeTimeout, Err: err}
	case errors.Is(err, raft.ErrRaftShutdown):
		return &ProposeError{Cause: causeStopped, Err: err}
	case errors.Is(err, raft.ErrLeadershipLost):
		// etcd's v2 path reports a lost leadership as a timeout too.
		return &ProposeError{Cause: causeTimeout, Proposed: true, Err: err}
	}
	if errp := n.storageFailed.Load(); errp != nil {
		return &ProposeError{Cause: "etcdserver: writing the raft log failed", Err: *errp}
	}
	return &ProposeError{Cause: causeTimeout, Proposed: true, Err: err}
}

// noopCommand orders quorum reads through the log.
var noopCommand = encodeRequest(&store.Request{Op: store.OpNoop})

// QuorumRead returns once a no-op entry proposed now has been committed
// and applied here: every write acknowledged before the call is visible.
func (n *Node) QuorumRead(ctx context.Context) error {
	_, err := n.apply(ctx, noopCommand)
	return err
}

// RaftStatus is the applied index and current term.
func (n *Node) RaftStatus() (uint64, uint64) {
	return n.raft.AppliedIndex(), n.raft.CurrentTerm()
}

// Self is this member.
func (n *Node) Self() Member { return n.self }

// Members lists the members.
func (n *Node) Members() []Member { return n.fsm.Members() }

// ClusterID is the id every member reports.
func (n *Node) ClusterID() uint64 { return n.fsm.ClusterID() }

// IsLeader reports whether this member leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// State is the raft state in etcd's words (StateLeader, StateFollower...).
func (n *Node) State() string {
	switch n.raft.State() {
	case raft.Leader:
		return "StateLeader"
	case raft.Candidate:
		return "StateCandidate"
	default:
		return "StateFollower"
	}
}

// LeaderID returns the leader's member id, 0 when there is none.
func (n *Node) LeaderID() uint64 {
	_, id := n.raft.LeaderWithID()
	v, err := strconv.ParseUint(string(id), 16, 64)
	if err != nil {
		return 0
	}
	return v
}

// StartTime is when this member started; LeaderSince when it last became
// leader.
func (n *Node) StartTime() time.Time   { return n.startTime }
func (n *Node) LeaderSince() time.Time { return time.Unix(0, n.leaderSince.Load()) }

// UpdateMember replaces a member's peer URLs.
func (n *Node) UpdateMember(ctx context.Context, id uint64, peerURLs []string) error {
	return n.memberChange(ctx, kindMemberUpdate, Member{ID: id, PeerURLs: peerURLs})
}

// AddMember records a new member (no name or client URLs until it starts)
// and makes it a voter. Like etcd, a one-member cluster that adds a member
// that never starts loses its quorum.
func (n *Node) AddMember(ctx context.Context, peerURLs []string) (Member, error) {
	m := Member{ID: MemberID(peerURLs, n.cfg.Token+strconv.FormatInt(n.cfg.Clock().UnixNano(), 10)), PeerURLs: peerURLs, ClientURLs: []string{}}
	if err := n.memberChange(ctx, kindMemberAdd, m); err != nil {
		return Member{}, err
	}
	n.raft.AddVoter(raft.ServerID(strconv.FormatUint(m.ID, 16)), raft.ServerAddress(firstHost(peerURLs)), 0, 0)
	return m, nil
}

// RemoveMember removes a member for good.
func (n *Node) RemoveMember(ctx context.Context, id uint64) error {
	if err := n.memberChange(ctx, kindMemberRemove, Member{ID: id}); err != nil {
		return err
	}
	n.raft.RemoveServer(raft.ServerID(strconv.FormatUint(id, 16)), 0, 0)
	return nil
}

// Removed reports whether id belonged to a member that was removed.
func (n *Node) Removed(id uint64) bool { return n.fsm.Removed(id) }

func (n *Node) memberChange(ctx context.Context, kind byte, m Member) error {
	f, err := n.apply(ctx, encodeMemberCommand(kind, memberCommand{Member: m, Time: n.cfg.Clock().UnixNano()}))
	if err != nil {
		return err
	}
	if res, ok := f.Response().(applyResult); ok && res.err != nil {
		return res.err
	}
	return nil
}

// expiryInterval is how often the leader looks for expired keys, as etcd's
// leader does.
const expiryInterval = 500 * time.Millisecond

func (n *Node) expiryLoop() {
	defer n.wg.Done()
	t := time.NewTicker(expiryInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if n.raft.State() != raft.Leader {
			continue
		}
		now := n.cfg.Clock().UnixNano()
		next := n.cfg.Store.NextExpiration()
		if next == 0 || next > now {
			continue
		}
		f := n.raft.Apply(encodeRequest(&store.Request{Op: store.OpExpire, Time: now}), expiryInterval)
		if err := f.Error(); err != nil {
			n.log.Warn("proposing expiry failed", "error", err)
		}
	}
}

// Close stops the member. Acknowledged writes are already durable.
func (n *Node) Close() error {
	select {
	case <-n.stop:
		return nil
	default:
		close(n.stop)
	}
	n.wg.Wait()
	var err error
	if n.raft != nil {
		err = n.raft.Shutdown().Error()
	}
	n.closeStores()
	return err
}

func (n *Node) closeStores() {
	if n.logs != nil {
		n.logs.Close()
	}
	if n.meta != nil {
		n.meta.Close()
	}
}

// failStopLogStore remembers the first write failure of the raft log so the
// member stops taking writes (see Node.storageFailed).
type failStopLogStore struct {
	raft.LogStore
	node *Node
}

func (s *failStopLogStore) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

func (s *failStopLogStore) StoreLogs(ls []*raft.Log) error {
	err := s.LogStore.StoreLogs(ls)
	if err != nil {
		s.node.storageFailed.CompareAndSwap(nil, &err)
		s.node.log.Error("writing the raft log failed; this member now refuses writes until restarted", "error", err)
	}
	return err
}

var _ io.Closer = (*Node)(nil)

// slogWriter carries hashicorp/raft's log lines into our slog logger, so
// that they go where the rest of the member's logs go.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}

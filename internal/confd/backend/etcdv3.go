package backend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdV3Config says how to reach an etcd cluster over the v3 API.
type EtcdV3Config struct {
	// Nodes are the members, as host:port or as http:// or https:// URLs;
	// empty means 127.0.0.1:2379. All are given to the client, which
	// fails over between them by itself.
	Nodes []string

	// CAFile, CertFile and KeyFile are PEM files (confd's
	// -client-ca-keys, -client-cert, -client-key). Any of them, or
	// InsecureSkipVerify, turns TLS on for nodes without a scheme (https://
	// nodes always use it; http:// ones never do). The certificate and key
	// go together. InsecureSkipVerify turns off the server certificate
	// check.
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool

	// Username and Password are used when Username is set.
	Username, Password string

	// DialTimeout bounds each attempt to connect, and to log in; 5 s when
	// zero, as in confd.
	DialTimeout time.Duration

	// RequestTimeout bounds each read, so that GetValues fails instead of
	// waiting for an unreachable cluster; 5 s when zero.
	RequestTimeout time.Duration
}

// DefaultEtcdV3Node is the member used when no node is given.
const DefaultEtcdV3Node = "127.0.0.1:2379"

// etcdV3MaxTxnOps is how many range reads go in one transaction: etcd
// refuses more than 128 operations per transaction by default.
const etcdV3MaxTxnOps = 128

// EtcdV3 reads keys from etcd over the v3 API.
//
// A key K stands for K itself and everything below K/: unlike the file
// and env backends, /app/serversX/y is not under /app/servers, as confd's
// etcdv3 backend had it. The index is the store revision.
type EtcdV3 struct {
	cfg       EtcdV3Config
	clientCfg clientv3.Config

	mu     sync.Mutex
	cli    *clientv3.Client
	closed chan struct{}
	isShut bool
}

// NewEtcdV3 checks cfg and returns a backend. It does not connect: the
// client is made on first use, and made again after a failure, so a
// cluster that is down at start-up is an error of the reads (which the
// renderer retries) rather than of start-up. Unreadable TLS files are
// reported here.
func NewEtcdV3(cfg EtcdV3Config) (*EtcdV3, error) {
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{DefaultEtcdV3Node}
	}
	nodes := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		nodes[i] = strings.TrimRight(strings.TrimSpace(n), "/")
		if nodes[i] == "" {
			return nil, errors.New("etcdv3: an empty node address")
		}
	}
	cfg.Nodes = nodes
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	tlsCfg, err := etcdV3TLS(cfg)
	if err != nil {
		return nil, err
	}
	e := &EtcdV3{
		cfg: cfg,
		clientCfg: clientv3.Config{
			Endpoints:   nodes,
			DialTimeout: cfg.DialTimeout,
			// Pings find a member that went away without closing the
			// connection, so a watch moves to another member instead of
			// hanging. etcd refuses pings more often than every 5 s.
			DialKeepAliveTime:    10 * time.Second,
			DialKeepAliveTimeout: cfg.DialTimeout,
			TLS:                  tlsCfg,
			// The client's own log is JSON on stderr; every error it
			// would report reaches the renderer's log through ours.
			Logger: zap.NewNop(),
		},
		closed: make(chan struct{}),
	}
	if cfg.Username != "" {
		e.clientCfg.Username = cfg.Username
		e.clientCfg.Password = cfg.Password
	}
	return e, nil
}

func etcdV3TLS(cfg EtcdV3Config) (*tls.Config, error) {
	return clientTLS("etcdv3", cfg.CAFile, cfg.CertFile, cfg.KeyFile, cfg.InsecureSkipVerify)
}

// client returns the client, making it if needed. With a username the
// client logs in while being made, which needs the cluster: a failure
// leaves nothing behind, so the next call tries again.
func (e *EtcdV3) client(ctx context.Context) (*clientv3.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.isShut {
		return nil, errClosedBackend
	}
	if e.cli == nil {
		cli, err := clientv3.New(e.clientCfg)
		if err != nil {
			return nil, e.failure(ctx, "connecting to", e.cfg.DialTimeout, err)
		}
		e.cli = cli
	}
	return e.cli, nil
}

// failure words the error of a request. The client waits for a usable
// connection, so a refused connection or a rejected certificate shows as
// nothing but a timeout; then failure connects to the nodes itself to
// say why.
func (e *EtcdV3) failure(ctx context.Context, doing string, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("etcdv3: %s %s: %w", doing, e.nodeList(), err)
	}
	msg := fmt.Sprintf("etcdv3: %s %s: no answer within %v", doing, e.nodeList(), timeout)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if perr := e.probe(pctx); perr != nil {
		msg += " (" + perr.Error() + ")"
	}
	return errors.New(msg)
}

// probe connects to each node as the client would, over TCP and TLS, and
// returns the first problem it meets, or nil.
func (e *EtcdV3) probe(ctx context.Context) error {
	for _, n := range e.cfg.Nodes {
		scheme, addr, found := strings.Cut(n, "://")
		if !found {
			scheme, addr = "", n
		}
		if scheme == "unix" || scheme == "unixs" {
			continue
		}
		useTLS := scheme == "https" || (scheme == "" && e.clientCfg.TLS != nil)
		if err := probeNode(ctx, addr, useTLS, e.clientCfg.TLS); err != nil {
			return err
		}
	}
	return nil
}

func probeNode(ctx context.Context, addr string, useTLS bool, tlsCfg *tls.Config) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if !useTLS {
		return nil
	}
	cfg := &tls.Config{}
	if tlsCfg != nil {
		cfg = tlsCfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	// Under TLS 1.3 the server refuses a client certificate only after
	// the handshake, with an alert; a server content with it sends
	// nothing until spoken to, and the read times out.
	tc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := tc.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return fmt.Errorf("%s: %w", addr, err)
		}
	}
	return nil
}

func (e *EtcdV3) nodeList() string {
	return strings.Join(e.cfg.Nodes, ",")
}

// etcdV3Range is one range read: a single key, or every key starting with
// key.
type etcdV3Range struct {
	key    string
	prefix bool
}

// etcdV3Ranges turns keys into the ranges that hold them: K itself and
// the keys below K/, so that /app/serversX is not read for /app/servers.
func etcdV3Ranges(keys []string) []etcdV3Range {
	var rs []etcdV3Range
	for _, k := range keys {
		k = strings.TrimRight(k, "/")
		if k == "" {
			rs = append(rs, etcdV3Range{"/", true})
			continue
		}
		rs = append(rs, etcdV3Range{k, false}, etcdV3Range{k + "/", true})
	}
	return rs
}

func (r etcdV3Range) has(key string) bool {
	if r.prefix {
		return strings.HasPrefix(key, r.key)
	}
	return key == r.key
}

// GetValues reads every key at one revision, 128 ranges per transaction,
// and returns the revision as the index. Missing keys are absent.
func (e *EtcdV3) GetValues(ctx context.Context, keys []string) (map[string]string, uint64, error) {
	cli, err := e.client(ctx)
	if err != nil {
		return nil, 0, err
	}
	ranges := etcdV3Ranges(keys)
	if len(ranges) == 0 {
		return map[string]string{}, 0, nil
	}
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	// A compaction between two transactions of one read makes the later
	// ones fail; start again at the new revision (twice at most).
	for attempt := 0; ; attempt++ {
		values, rev, err := e.read(rctx, cli, ranges)
		if err == nil {
			return values, uint64(rev), nil
		}
		if errors.Is(err, rpctypes.ErrCompacted) && attempt < 2 {
			continue
		}
		return nil, 0, e.failure(ctx, "reading from", e.cfg.RequestTimeout, err)
	}
}

func (e *EtcdV3) read(ctx context.Context, cli *clientv3.Client, ranges []etcdV3Range) (map[string]string, int64, error) {
	values := make(map[string]string)
	var rev int64
	for start := 0; start < len(ranges); start += etcdV3MaxTxnOps {
		chunk := ranges[start:min(start+etcdV3MaxTxnOps, len(ranges))]
		ops := make([]clientv3.Op, len(chunk))
		for i, r := range chunk {
			var opts []clientv3.OpOption
			if r.prefix {
				opts = append(opts, clientv3.WithPrefix())
			}
			if rev != 0 {
				// The first transaction fixes the revision for the rest.
				opts = append(opts, clientv3.WithRev(rev))
			}
			ops[i] = clientv3.OpGet(r.key, opts...)
		}
		resp, err := cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, op := range resp.Responses {
			for _, kv := range op.GetResponseRange().GetKvs() {
				values[string(kv.Key)] = string(kv.Value)
			}
		}
	}
	return values, rev, nil
}

// WatchPrefix watches keys (K and below K/) from revision index+1 and
// returns the revision of the first change it sees. Changes made after
// the read that gave index are therefore seen even if they happened
// before this call. With index 0 it returns the current revision at once.
// A compacted index gives ErrIndexCleared. The prefix is not needed: keys
// carry it.
func (e *EtcdV3) WatchPrefix(ctx context.Context, prefix string, keys []string, index uint64) (uint64, error) {
	ranges := etcdV3Ranges(keys)
	if len(ranges) == 0 {
		// Nothing can change.
		select {
		case <-ctx.Done():
			return index, ctx.Err()
		case <-e.closed:
			return index, errClosedBackend
		}
	}
	cli, err := e.client(ctx)
	if err != nil {
		return index, err
	}
	if index == 0 {
		rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
		defer cancel()
		resp, err := cli.Get(rctx, ranges[0].key, clientv3.WithLimit(1), clientv3.WithKeysOnly())
		if err != nil {
			return index, e.failure(ctx, "reading the revision from", e.cfg.RequestTimeout, err)
		}
		return uint64(resp.Header.Revision), nil
	}

	// Without a leader a member cannot know it is missing writes; asking
	// for one makes the member end the watch instead, and the caller
	// retries, reaching a member that has one.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	type result struct {
		resp  clientv3.WatchResponse
		ended bool
	}
	results := make(chan result)
	var wg sync.WaitGroup
	// Ending wctx closes the watch channels and so ends the forwarding
	// goroutines, which are waited for.
	defer wg.Wait()
	defer cancel()
	for _, r := range ranges {
		var opts []clientv3.OpOption
		if r.prefix {
			opts = append(opts, clientv3.WithPrefix())
		}
		opts = append(opts, clientv3.WithRev(int64(index)+1))
		wch := cli.Watch(wctx, r.key, opts...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for resp := range wch {
				select {
				case results <- result{resp: resp}:
				case <-wctx.Done():
					return
				}
			}
			// The client closes the channel when wctx ends or the client
			// is closed.
			select {
			case results <- result{ended: true}:
			case <-wctx.Done():
			}
		}()
	}
	for {
		var res result
		select {
		case <-ctx.Done():
			return index, ctx.Err()
		case res = <-results:
		}
		if ctx.Err() != nil {
			return index, ctx.Err()
		}
		if res.ended {
			return index, fmt.Errorf("etcdv3: the watch on %s ended", e.nodeList())
		}
		if res.resp.CompactRevision != 0 || errors.Is(res.resp.Err(), rpctypes.ErrCompacted) {
			return index, ErrIndexCleared
		}
		if err := res.resp.Err(); err != nil {
			return index, fmt.Errorf("etcdv3: watching %s: %w", e.nodeList(), err)
		}
		for _, ev := range res.resp.Events {
			k := string(ev.Kv.Key)
			for _, r := range ranges {
				if r.has(k) {
					return uint64(ev.Kv.ModRevision), nil
				}
			}
		}
	}
}

// Close closes the connection; watches in progress end with an error.
func (e *EtcdV3) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.isShut {
		return nil
	}
	e.isShut = true
	close(e.closed)
	if e.cli != nil {
		return e.cli.Close()
	}
	return nil
}

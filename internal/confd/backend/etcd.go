package backend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"hecd/internal/client"
)

// EtcdConfig says how to reach a store over the etcd v2 keys API (hecd,
// or an etcd that serves v2).
type EtcdConfig struct {
	// Nodes are the members as full URLs ("http://127.0.0.1:2379"); a node
	// without a scheme is an error, as in confd. Empty means
	// DefaultEtcdNode. Requests fail over from one to the next.
	Nodes []string

	// CAFile, CertFile and KeyFile are PEM files for https nodes (confd's
	// -client-ca-keys, -client-cert, -client-key). The certificate and key
	// go together. InsecureSkipVerify turns off the server certificate
	// check (later confd's -client-insecure).
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool

	// Username and Password are sent as basic auth when Username is set.
	Username, Password string

	// HeaderTimeout bounds each read's wait for an answer (not a watch's);
	// 3 s when zero, as in confd.
	HeaderTimeout time.Duration
}

// DefaultEtcdNode is the member used when no node is given.
const DefaultEtcdNode = "http://127.0.0.1:2379"

// Etcd reads keys over the etcd v2 keys API.
//
// A key K stands for K itself when it is a leaf, and every leaf below it
// when it is a directory; hidden names (starting with "_") below K are
// left out by the server. The index is the store's etcd index
// (X-Etcd-Index).
type Etcd struct {
	c *client.Client
}

// NewEtcd checks cfg and returns a backend. It does not connect; an
// unreachable cluster is an error of the reads, which the renderer
// retries. Bad nodes and unreadable TLS files are reported here.
func NewEtcd(cfg EtcdConfig) (*Etcd, error) {
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{DefaultEtcdNode}
	}
	tlsConf, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(client.Config{
		Endpoints:     cfg.Nodes,
		Username:      cfg.Username,
		Password:      cfg.Password,
		TLS:           tlsConf,
		HeaderTimeout: cfg.HeaderTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	return &Etcd{c: c}, nil
}

func (cfg EtcdConfig) tlsConfig() (*tls.Config, error) {
	return clientTLS("etcd", cfg.CAFile, cfg.CertFile, cfg.KeyFile, cfg.InsecureSkipVerify)
}

// GetValues reads each key with a recursive, sorted, quorum GET. A
// missing key is absent from the answer rather than an error (confd 0.16
// failed the whole resource).
//
// The index returned is the smallest X-Etcd-Index of the reads. The keys
// are read one after the other, so the read of key j reflects the store at
// index i_j, and i_1 <= i_2 <= ... (quorum reads are linearizable). A
// change to key 1 at an index between i_1 and i_n is not in the answer;
// returning the largest index would make the next WatchPrefix start
// after it and lose that change for good. Starting after the smallest
// index can only see again changes that later reads already included,
// which costs a redundant render, never a lost one. A missing key counts
// too: its error carries the index at which it was missing.
func (e *Etcd) GetValues(ctx context.Context, keys []string) (map[string]string, uint64, error) {
	values := make(map[string]string)
	var index uint64
	lower := func(i uint64) {
		if index == 0 || i < index {
			index = i
		}
	}
	for _, key := range keys {
		r, err := e.c.Get(ctx, key, client.GetOptions{Recursive: true, Sorted: true, Quorum: true})
		if err != nil {
			var ce *client.Error
			if errors.As(err, &ce) && ce.Code == client.CodeKeyNotFound {
				lower(ce.Index)
				continue
			}
			return nil, 0, err
		}
		lower(r.Index)
		etcdLeaves(r.Node, values)
	}
	if len(keys) == 0 {
		// Nothing to read, but the caller still needs a point to watch
		// from: the store's current index.
		i, err := e.currentIndex(ctx, "/")
		if err != nil {
			return nil, 0, err
		}
		index = i
	}
	return values, index, nil
}

// etcdLeaves adds n, if it is a leaf, or every leaf below it.
func etcdLeaves(n *client.Node, values map[string]string) {
	if n == nil {
		return
	}
	if !n.Dir {
		values[n.Key] = n.Value
		return
	}
	for _, c := range n.Nodes {
		etcdLeaves(c, values)
	}
}

// currentIndex returns the store's index as a plain read of key reports
// it. A plain read may come from a member that lags: its index is then
// lower, which is safe for a watch start (it can only see more).
func (e *Etcd) currentIndex(ctx context.Context, key string) (uint64, error) {
	r, err := e.c.Get(ctx, key, client.GetOptions{})
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code == client.CodeKeyNotFound {
			return ce.Index, nil
		}
		return 0, err
	}
	return r.Index, nil
}

// WatchPrefix waits for a change after index that touches one of keys,
// with a recursive v2 watch on prefix from index+1, and returns the
// change's index.
//
// An event on a key that does not start (as a string, as in confd) with
// one of keys is skipped, and the watch goes on from that event's index+1,
// so nothing in between is lost. The deletion or expiry of a directory
// above a key counts too, since it removes the key (confd missed it).
//
// index 0 means "nothing seen yet": every change is after it, so the call
// returns at once with the store's current index, which is how the first
// render happens in watch mode.
//
// etcd does not wake a recursive watch for keys whose path below the
// watched directory has a hidden component ("_name"), although a key
// listed explicitly may be one. Such keys get a watch of their own, run
// alongside the one on prefix; the first change wins. Returning it while
// another watch may hold an older undelivered event is safe, because the
// caller re-reads everything after a change.
func (e *Etcd) WatchPrefix(ctx context.Context, prefix string, keys []string, index uint64) (uint64, error) {
	if prefix == "" {
		prefix = "/"
	}
	if index == 0 {
		return e.currentIndex(ctx, prefix)
	}
	if len(keys) == 0 {
		// Nothing can match; do not consume events for nothing.
		<-ctx.Done()
		return 0, ctx.Err()
	}
	roots := etcdWatchRoots(prefix, keys)
	if len(roots) == 1 {
		return e.watch(ctx, roots[0], keys, index)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		index uint64
		err   error
	}
	results := make(chan result, len(roots))
	for _, root := range roots {
		go func() {
			i, err := e.watch(wctx, root, keys, index)
			results <- result{i, err}
		}()
	}
	first := <-results
	cancel()
	// The others end promptly once cancelled; wait, so that no goroutine
	// outlives the call.
	for range len(roots) - 1 {
		<-results
	}
	if first.err != nil && ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return first.index, first.err
}

// watch follows root recursively from index+1 until an event touches one
// of keys.
func (e *Etcd) watch(ctx context.Context, root string, keys []string, index uint64) (uint64, error) {
	after := index
	for {
		r, err := e.c.Watch(ctx, root, client.WatchOptions{AfterIndex: after, Recursive: true})
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if client.IsIndexCleared(err) {
				return 0, ErrIndexCleared
			}
			return 0, err
		}
		if r.Node == nil || r.Node.ModifiedIndex <= after {
			// The server broke the protocol; going on could loop forever.
			return 0, fmt.Errorf("etcd: watch on %s from index %d answered an event at index %d", root, after+1, nodeIndex(r.Node))
		}
		if etcdEventTouches(r, keys) {
			return r.Node.ModifiedIndex, nil
		}
		after = r.Node.ModifiedIndex
	}
}

func nodeIndex(n *client.Node) uint64 {
	if n == nil {
		return 0
	}
	return n.ModifiedIndex
}

// etcdEventTouches reports whether the event may change what GetValues
// returns for keys.
func etcdEventTouches(r *client.Response, keys []string) bool {
	key := r.Node.Key
	removal := r.Action == "delete" || r.Action == "expire"
	for _, k := range keys {
		if strings.HasPrefix(key, k) {
			return true
		}
		if removal && strings.HasPrefix(k, strings.TrimSuffix(key, "/")+"/") {
			return true
		}
	}
	return false
}

// etcdWatchRoots returns the keys to watch recursively so that a live
// event on every key is delivered: prefix, plus each key that a watch on
// prefix (or on another root) would not be woken for, because it lies
// outside it or below a hidden name.
func etcdWatchRoots(prefix string, keys []string) []string {
	sorted := append([]string(nil), keys...)
	// Shorter keys first, so that a key's ancestor becomes a root before
	// the key is considered.
	slices.SortStableFunc(sorted, func(a, b string) int { return len(a) - len(b) })
	roots := []string{prefix}
	for _, k := range sorted {
		covered := false
		for _, r := range roots {
			if etcdWatchCovers(r, k) {
				covered = true
				break
			}
		}
		if !covered {
			roots = append(roots, k)
		}
	}
	return roots
}

// etcdWatchCovers reports whether a recursive watch on root is woken for
// changes to key and below it: key is root or below it, and no name on
// the way down from root is hidden.
func etcdWatchCovers(root, key string) bool {
	root = strings.TrimSuffix(root, "/")
	key = strings.TrimSuffix(key, "/")
	if key == root {
		return true
	}
	if !strings.HasPrefix(key, root+"/") {
		return false
	}
	for name := range strings.SplitSeq(key[len(root)+1:], "/") {
		if strings.HasPrefix(name, "_") {
			return false
		}
	}
	return true
}

// Close releases the client's idle connections.
func (e *Etcd) Close() error {
	return e.c.Close()
}

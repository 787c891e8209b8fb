package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Node is a key or a directory as the keys API shows it. Fields are in
// etcd's wire order, so that encoding a Node gives etcd's JSON.
type Node struct {
	Key        string     `json:"key,omitempty"` // absolute; empty only for the root
	Value      string     `json:"value,omitempty"`
	Dir        bool       `json:"dir,omitempty"`
	Expiration *time.Time `json:"expiration,omitempty"`
	// TTL is the remaining time to live in whole seconds, computed by the
	// server when it answered; 0 without a TTL.
	TTL           int64   `json:"ttl,omitempty"`
	Nodes         []*Node `json:"nodes,omitempty"`
	ModifiedIndex uint64  `json:"modifiedIndex,omitempty"`
	CreatedIndex  uint64  `json:"createdIndex,omitempty"`
}

// Response is the answer to a keys request: an action and the node before
// and after it.
type Response struct {
	// Action is get, set, create, update, compareAndSwap, delete,
	// compareAndDelete or expire.
	Action   string `json:"action"`
	Node     *Node  `json:"node,omitempty"` // nil for a write with NoValueOnSuccess
	PrevNode *Node  `json:"prevNode,omitempty"`
	// Index is X-Etcd-Index: for a read, the store's index that the answer
	// reflects; for a write, the index it produced; for a watch, the index
	// when the watch was registered.
	Index     uint64 `json:"-"`
	RaftIndex uint64 `json:"-"` // X-Raft-Index
	RaftTerm  uint64 `json:"-"` // X-Raft-Term
	ClusterID string `json:"-"` // X-Etcd-Cluster-Id
}

// GetOptions are the options of Get.
type GetOptions struct {
	Recursive bool // the whole subtree of a directory, not just its children
	Sorted    bool // children sorted by key at every level
	Quorum    bool // a linearizable read, ordered through consensus
}

// Existence is a precondition on whether the key exists. The zero value
// sets none.
type Existence int

const (
	ExistAny     Existence = iota // no precondition
	MustExist                     // prevExist=true: update, fails with 100 if missing
	MustNotExist                  // prevExist=false: create, fails with 105 if present
)

// SetOptions are the options of Set.
type SetOptions struct {
	// TTL gives the node a time to live, rounded up to whole seconds (the
	// API's unit), so that a short positive TTL never becomes ttl=0, which
	// would expire the key at once. Zero sends no ttl, which means no
	// TTL: a set replaces the node without one, and an update or
	// compare-and-swap removes an existing TTL (etcd's semantics).
	TTL time.Duration
	// PrevExist is the existence precondition.
	PrevExist Existence
	// PrevValue, if not empty, must equal the current value (etcd cannot
	// express "the current value is empty").
	PrevValue string
	// PrevIndex, if not zero, must equal the current modifiedIndex.
	PrevIndex uint64
	// Refresh resets the TTL without changing the value and without
	// waking watchers; it needs TTL and ignores the value argument.
	Refresh bool
	// Dir creates a directory; the value argument is ignored.
	Dir bool
	// NoValueOnSuccess asks the server to answer a success with the
	// action only (Response.Node is then nil).
	NoValueOnSuccess bool
}

// DeleteOptions are the options of Delete.
type DeleteOptions struct {
	Recursive bool   // delete a directory and everything below it
	Dir       bool   // allow deleting an empty directory
	PrevValue string // if not empty, must equal the current value
	PrevIndex uint64 // if not zero, must equal the current modifiedIndex
}

// WatchOptions are the options of Watch.
type WatchOptions struct {
	// AfterIndex asks for the first matching event with an index above it
	// (waitIndex = AfterIndex+1). Zero means the next event from now on.
	// To follow a key, pass the X-Etcd-Index of a read, then each event's
	// Node.ModifiedIndex.
	AfterIndex uint64
	// Recursive includes events below the key.
	Recursive bool
}

// keysPath is the escaped request path of key. The key is cleaned as a
// rooted path first, as etcd's server would: ".." cannot leave the key
// space, and "a//b/" is "/a/b". Every segment is escaped on its own, so
// that '%', '?', '#', spaces and any other byte reach the server as they
// are; a '/' inside a key is always a separator in the v2 API.
func keysPath(key string) string {
	clean := path.Clean("/" + key)
	var b strings.Builder
	b.WriteString("/v2/keys")
	if clean == "/" {
		b.WriteByte('/')
		return b.String()
	}
	for seg := range strings.SplitSeq(clean[1:], "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	return b.String()
}

// Get reads key.
func (c *Client) Get(ctx context.Context, key string, opts GetOptions) (*Response, error) {
	q := url.Values{}
	setBool(q, "recursive", opts.Recursive)
	setBool(q, "sorted", opts.Sorted)
	setBool(q, "quorum", opts.Quorum)
	return c.keys(ctx, &call{method: http.MethodGet, path: keysPath(key), query: q})
}

// Set writes value to key (PUT). With no preconditions it creates or
// replaces the key; PrevExist, PrevValue and PrevIndex turn it into
// create, update or compare-and-swap.
func (c *Client) Set(ctx context.Context, key, value string, opts SetOptions) (*Response, error) {
	// Every parameter travels in the form body: the server reads PUT
	// bodies and lets them win over the query, a body has no length
	// limit worth the name, and any bytes survive form encoding.
	f := url.Values{}
	if !opts.Dir && !(opts.Refresh && value == "") {
		f.Set("value", value)
	}
	if err := setTTL(f, opts.TTL); err != nil {
		return nil, err
	}
	setBool(f, "dir", opts.Dir)
	switch opts.PrevExist {
	case ExistAny:
	case MustExist:
		f.Set("prevExist", "true")
	case MustNotExist:
		f.Set("prevExist", "false")
	default:
		return nil, fmt.Errorf("client: invalid PrevExist %d", opts.PrevExist)
	}
	if opts.PrevValue != "" {
		f.Set("prevValue", opts.PrevValue)
	}
	if opts.PrevIndex != 0 {
		f.Set("prevIndex", strconv.FormatUint(opts.PrevIndex, 10))
	}
	setBool(f, "refresh", opts.Refresh)
	setBool(f, "noValueOnSuccess", opts.NoValueOnSuccess)
	return c.keys(ctx, &call{method: http.MethodPut, path: keysPath(key), form: f})
}

// CreateInOrder creates a key below dir (POST) whose name is the new
// index, zero-padded to 20 digits so that names sort in creation order.
// A zero ttl means none.
func (c *Client) CreateInOrder(ctx context.Context, dir, value string, ttl time.Duration) (*Response, error) {
	f := url.Values{"value": {value}}
	if err := setTTL(f, ttl); err != nil {
		return nil, err
	}
	return c.keys(ctx, &call{method: http.MethodPost, path: keysPath(dir), form: f})
}

// Delete removes key; with PrevValue or PrevIndex it is a
// compare-and-delete.
func (c *Client) Delete(ctx context.Context, key string, opts DeleteOptions) (*Response, error) {
	// The server never reads a DELETE body, so the query it is.
	q := url.Values{}
	setBool(q, "recursive", opts.Recursive)
	setBool(q, "dir", opts.Dir)
	if opts.PrevValue != "" {
		q.Set("prevValue", opts.PrevValue)
	}
	if opts.PrevIndex != 0 {
		q.Set("prevIndex", strconv.FormatUint(opts.PrevIndex, 10))
	}
	return c.keys(ctx, &call{method: http.MethodDelete, path: keysPath(key), query: q})
}

// Watch waits for the next event on key (a long poll) and returns it.
// Resume after an event with AfterIndex = its Node.ModifiedIndex. A
// response the server ends without an event is asked again from the same
// point, so Watch returns only with an event, an error (IsIndexCleared:
// re-read and start over) or when ctx ends (ctx.Err()).
func (c *Client) Watch(ctx context.Context, key string, opts WatchOptions) (*Response, error) {
	after := opts.AfterIndex
	for attempt := 0; ; attempt++ {
		q := url.Values{"wait": {"true"}}
		if after > 0 {
			q.Set("waitIndex", strconv.FormatUint(after+1, 10))
		}
		setBool(q, "recursive", opts.Recursive)
		ans, err := c.do(ctx, &call{method: http.MethodGet, path: keysPath(key), query: q, watch: true})
		if err != nil {
			return nil, err
		}
		if ans.status/100 != 2 || len(bytes.TrimSpace(ans.body)) > 0 {
			return decodeKeys(ans)
		}
		// Ended without an event: the server shut down or dropped a slow
		// watcher. A watch "from now" continues from the index at which
		// it was registered, or events in between would be lost.
		if after == 0 {
			after, _ = strconv.ParseUint(ans.header.Get("X-Etcd-Index"), 10, 64)
		}
		if attempt > 0 {
			// Back off a little if the server keeps doing it.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(min(time.Duration(attempt)*100*time.Millisecond, time.Second)):
			}
		}
	}
}

// keys sends a keys request and decodes the answer.
func (c *Client) keys(ctx context.Context, cl *call) (*Response, error) {
	ans, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	return decodeKeys(ans)
}

func decodeKeys(ans *answer) (*Response, error) {
	if ans.status/100 != 2 {
		return nil, decodeError(ans)
	}
	r := &Response{}
	if err := json.Unmarshal(ans.body, r); err != nil {
		return nil, fmt.Errorf("client: %s: decoding the answer: %w", ans.path, err)
	}
	if r.Action == "" {
		return nil, fmt.Errorf("client: %s: the answer has no action: %.200q", ans.path, ans.body)
	}
	h := ans.header
	r.Index, _ = strconv.ParseUint(h.Get("X-Etcd-Index"), 10, 64)
	r.RaftIndex, _ = strconv.ParseUint(h.Get("X-Raft-Index"), 10, 64)
	r.RaftTerm, _ = strconv.ParseUint(h.Get("X-Raft-Term"), 10, 64)
	r.ClusterID = h.Get("X-Etcd-Cluster-Id")
	return r, nil
}

// decodeError turns a non-success answer into an *Error when it is a keys
// error, otherwise into an *HTTPError.
func decodeError(ans *answer) error {
	var e Error
	if json.Unmarshal(ans.body, &e) == nil && e.Code != 0 {
		return &e
	}
	he := &HTTPError{StatusCode: ans.status, Path: ans.path}
	var m struct {
		Message *string `json:"message"`
	}
	if json.Unmarshal(ans.body, &m) == nil && m.Message != nil {
		he.Message = *m.Message
	} else {
		he.Message = shorten(strings.TrimSpace(string(ans.body)), 200)
	}
	return he
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func setBool(v url.Values, name string, b bool) {
	if b {
		v.Set(name, "true")
	}
}

func setTTL(v url.Values, ttl time.Duration) error {
	if ttl < 0 {
		return errors.New("client: negative TTL")
	}
	if ttl > 0 {
		secs := ttl / time.Second
		if ttl%time.Second != 0 {
			secs++
		}
		v.Set("ttl", strconv.FormatInt(int64(secs), 10))
	}
	return nil
}

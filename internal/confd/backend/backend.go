// Package backend holds the key/value sources that hecd confd renders from:
// etcd over the v2 keys API (hecd's own store, or any etcd still serving
// v2), etcd over the v3 API, the process environment, and YAML/JSON files.
//
// Every backend answers the same two questions: what are the leaves under
// these keys now, and has anything under them changed since a point the
// caller already saw. The second question is asked with the point returned
// by the first, so a change made while the caller was rendering is never
// lost (confd 0.16's etcd backend restarted each watch "from now").
package backend

import (
	"context"
	"errors"
)

// Backend is one key/value source.
type Backend interface {
	// GetValues returns every leaf at or below each of keys, keyed by its
	// full path ("/app/servers/a"), and the point in the source's history
	// the answer reflects (etcd v2: X-Etcd-Index; etcd v3: the header
	// revision; others: a change counter). A key that does not exist is
	// simply absent from the map: it is not an error.
	GetValues(ctx context.Context, keys []string) (values map[string]string, index uint64, err error)

	// WatchPrefix blocks until a change under prefix that touches one of
	// keys (string-prefix match, as confd does) happened after index, and
	// returns the index of that change. It returns ErrIndexCleared when the
	// source can no longer say what happened after index (etcd's 401); the
	// caller then re-reads everything with GetValues. It returns ctx.Err()
	// when ctx ends. Sources that cannot be watched block until ctx ends.
	WatchPrefix(ctx context.Context, prefix string, keys []string, index uint64) (uint64, error)

	// Close releases connections and goroutines.
	Close() error
}

// ErrIndexCleared says the source's history no longer reaches back to the
// index a watch asked for; a full re-read is needed.
var ErrIndexCleared = errors.New("the store's event history no longer holds the watched index; re-reading")

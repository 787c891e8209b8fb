// Package store is the etcd v2 key space: the tree of keys and directories,
// the etcd index, TTL bookkeeping, the 1000-event history and the watch hub.
//
// It knows nothing of HTTP or Raft. Every mutation enters through Apply with
// a Request whose times were fixed by the caller (the member that accepted the
// write, or the leader for expiry), so that applying the same sequence of
// requests gives the same state on every member and on replay. Reads (Get,
// Watch) never change the key space. See DESIGN.md for the invariants.
package store

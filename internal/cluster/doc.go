// Package cluster replicates the store with hashicorp/raft: it is the only
// importer of raft. It owns the command codec, the FSM that applies
// committed entries to the store, snapshots, the member list, and the
// leader's expiry ticker (TTL expiry is a command the leader proposes with
// its own clock, so every member expires the same keys at the same index).
package cluster

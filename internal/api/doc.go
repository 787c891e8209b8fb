// Package api serves the etcd v2 HTTP API: keys, members, machines, stats,
// version and health. Handlers are thin: parsing is pure (params.go) and
// every write is handed to a Cluster, which replicates it and returns the
// store's answer.
package api

// Package source builds the proxy's route tables from the store and
// publishes them without reloads (spec proxy.md D.1).
//
// A Source reads the route prefix (/app/servers/<id> = host:port) and the
// optional metadata prefixes (weights, default-backend servers, persisted
// admin states) with recursive quorum GETs, then follows each with
// chained recursive watches from the snapshot's index. Changes are
// gathered for a short settle time and become one new immutable
// proxy.Table, swapped into the proxy.Router: a burst of a thousand
// writes makes one or a few tables, not a thousand.
//
// What the package guarantees, and its tests check:
//
//   - Continuity: a route whose address is unchanged keeps its
//     *proxy.Server (health, admin state, weight, counters) and its
//     *proxy.Backend; a changed address is a new server; a server in no
//     table any more is stopped after the swap.
//   - Never backwards: data with a lower index than what was applied is
//     not applied (a lagging member after a failover); events are
//     applied in index order per prefix.
//   - Nothing lost: when following breaks (401 index cleared, 400, a
//     lost connection, a lagging member) the snapshot is read again and
//     following goes on from its index.
//   - Fail-static: while the store is unreachable the last table stays
//     published, and Status says so.
//   - Bad keys stay local: an invalid id or value is skipped and
//     reported (log, Table.Invalid, Status.InvalidKeys); the other routes
//     are unaffected. An empty or missing prefix is an empty table.
package source

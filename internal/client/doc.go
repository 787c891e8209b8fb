// Package client is hecd's small client for the etcd v2 HTTP API.
//
// Every hecd part that is not the store itself (confd, proxy, registrator,
// ctl) reaches the store only through this package, so it works the same
// against hecd and against a real etcd 3.4 serving the v2 API. It uses the
// standard library only.
//
// The package keeps four promises that its callers build on:
//
//   - An HTTP answer is an answer. Whatever status a server returns (an
//     etcd error included) is returned to the caller as it is and never
//     retried on another endpoint: the caller decides what an error means,
//     and a write must not be applied twice.
//   - Connection-level failures move on to the next endpoint, starting from
//     the one that answered last. A write moves on only when it never got a
//     connection (dial or TLS handshake failed), because once a request may
//     have reached a server it may have been applied.
//   - Keys and values reach the server exactly: keys are cleaned and
//     path-escaped segment by segment, values travel form-encoded in the
//     request body, and non-canonical paths that a server redirects (hecd
//     307, etcd 301) are followed with the same method and body.
//   - Watch returns one event. A watch the server ends without an event
//     (shutdown, a slow watcher dropped) is asked again from the same index,
//     so no event is lost; a 401 "index cleared" is returned as an *Error
//     so the caller can re-read and start over.
package client

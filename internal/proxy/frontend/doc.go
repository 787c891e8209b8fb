// Package frontend is hecd proxy's forwarding listener: HAProxy's
// "frontend" with the legacy HECD configuration's semantics (spec
// proxy.md Parts A and D, reliability-security.md 7.6.3), and no reloads.
//
// Every request is read with Go's own HTTP/1 parser (http.ReadRequest),
// routed by its route header (APPID) through the router's current table,
// and forwarded on a pooled upstream connection in normalised form; the
// response is read with http.ReadResponse and relayed. The connection
// loop is this package's, not net/http's server: the proxy needs to own
// the client connection (stop accepting at maxconn, answer 408 on slow
// headers, close after each response for httpclose, tunnel upgrades) and
// measurements showed the net/http server plus httputil.ReverseProxy
// costing 1.4 to 1.6 times the CPU per request (STACK.md).
//
// What Go's server would guarantee is kept: conflicting Content-Length
// values, unknown transfer codings and malformed header lines are refused
// by the parser; a missing or malformed Host, HTTP/2 preface and CONNECT
// are refused here; framing is always written from what was parsed, never
// copied; hop-by-hop headers and those named in Connection are removed;
// query parameters Go cannot parse are dropped.
//
// Failures to connect are retried (retries, redispatch on the last retry,
// min(timeout connect, 1s) between attempts on the same server); nothing
// is retried once a request has gone out, except a replayable request on
// a pooled connection that the server had already closed.
package frontend

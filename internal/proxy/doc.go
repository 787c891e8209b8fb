// Package proxy holds the router's model: servers with HAProxy's health
// and admin states and counters, backends that balance over them, and the
// immutable route table that the store feeds and the frontend reads.
//
// A Table is never changed once published: the route source builds a new
// one and swaps it in atomically (Router.Swap), so a request routes on the
// table it started with. Server objects, however, live across tables:
// a route whose address is unchanged keeps its Server, and with it its
// health counter, admin state, counters and pooled connections.
//
// Subpackages: source (tables from the store), frontend (the HTTP
// listener that forwards), stats (the HAProxy-style page, admin actions
// and metrics).
package proxy

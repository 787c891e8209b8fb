package main

import (
	"fmt"
	"runtime"
	"strings"
)

// haproxyThreads is the nbthread HAProxy 2.6 picks by itself: one thread
// per CPU the process may run on. It is written out so that the
// configuration says what was compared.
func haproxyThreads() int { return runtime.NumCPU() }

// haproxyCheck is the health check of every server, as in the seed's
// per-application backends.
const haproxyCheck = "check inter 5000 fall 1 rise 2"

// haproxyConfig is the seed's HAProxy configuration (spec proxy.md A.1)
// in current syntax, for the given listen address and backends: the old
// contimeout/clitimeout/srvtimeout become timeout connect/client/server,
// the accidental "eq" pattern of the seed's ACLs is dropped, and the
// default backend round-robins over the same backends, as hecd's
// -default-backend all does. There is no log line: HAProxy logs nothing
// and hecd runs with -access-log off. Without httpclose the frontend uses
// HAProxy's default, keep-alive on both sides, as hecd -httpclose=false.
func haproxyConfig(listen string, backends []*backend, threads int, httpclose bool) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by hecd-proxybench: the seed's configuration in current syntax.")
	w("global")
	w("    maxconn 5000")
	w("    nbthread %d", threads)
	w("")
	w("defaults")
	w("    mode http")
	w("    option dontlognull")
	w("    retries 3")
	w("    option redispatch")
	w("    maxconn 2000")
	w("    timeout connect 5s")
	w("    timeout client 50s")
	w("    timeout server 50s")
	w("")
	w("frontend http-in")
	w("    bind %s", listen)
	if httpclose {
		w("    option httpclose")
	}
	w("    option forwardfor")
	for _, be := range backends {
		w("    acl header_%s hdr(APPID) -i %s", be.name, be.name)
	}
	for _, be := range backends {
		w("    use_backend %s if header_%s", be.name, be.name)
	}
	w("    default_backend default_backend")
	for _, be := range backends {
		w("")
		w("backend %s", be.name)
		w("    server %s %s %s", be.name, be.addr, haproxyCheck)
	}
	w("")
	w("backend default_backend")
	w("    balance roundrobin")
	w("    option forwardfor")
	for _, be := range backends {
		w("    server %s %s %s", be.name, be.addr, haproxyCheck)
	}
	return b.String()
}

package frontend

import (
	"bufio"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 7.6.1, plus the de-facto Proxy-Connection and Keep-Alive); the
// framing headers are here too because the proxy writes its own framing
// from what it parsed and never copies the client's (7.6.3: no smuggling
// through a Content-Length the parser did not act on).
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Content-Length":
		return true
	}
	return false
}

// connTokens returns the canonical names listed in Connection headers; the
// headers they name are hop-by-hop for this message only.
func connTokens(h http.Header, dst []string) []string {
	for _, v := range h["Connection"] {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if t = strings.TrimSpace(t); t != "" {
				dst = append(dst, textproto.CanonicalMIMEHeaderKey(t))
			}
		}
	}
	return dst
}

func hasToken(list []string, k string) bool {
	for _, t := range list {
		if t == k {
			return true
		}
	}
	return false
}

// wantsUpgrade reports a protocol switch request (websocket): HTTP/1.1,
// an Upgrade header and "upgrade" among the Connection tokens.
func wantsUpgrade(req *http.Request, tokens []string) bool {
	return req.ProtoAtLeast(1, 1) && len(req.Header["Upgrade"]) > 0 && hasToken(tokens, "Upgrade")
}

// validHost accepts the characters of a URI authority (RFC 3986 reg-name,
// IP literal, port) and nothing else, as Go's server does, so a Host with
// spaces, slashes or control bytes never reaches a backend.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// cleanQuery drops the query parameters Go cannot parse (a ';' or a bad
// escape), as httputil.ReverseProxy does since CVE-2022-2880: a backend
// must not see parameters that this proxy would read differently.
func cleanQuery(q string) string {
	if strings.IndexByte(q, ';') < 0 && strings.IndexByte(q, '%') < 0 {
		return q
	}
	var b strings.Builder
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		if part == "" || strings.IndexByte(part, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if _, err := url.QueryUnescape(k); err != nil {
			continue
		}
		if _, err := url.QueryUnescape(v); err != nil {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}

// target is the origin-form request target sent upstream, rebuilt from the
// parsed URL (an absolute-form request goes out in origin form).
func target(req *http.Request) string {
	u := req.URL
	if req.RequestURI == "*" {
		return "*"
	}
	if u.RawQuery != "" {
		u.RawQuery = cleanQuery(u.RawQuery)
	}
	if u.Scheme == "" && u.Opaque == "" && u.RawQuery == "" && !u.ForceQuery && strings.HasPrefix(req.RequestURI, "/") &&
		strings.IndexByte(req.RequestURI, '?') < 0 && u.RawPath == "" && !strings.ContainsAny(req.RequestURI, "%") {
		// The common case: a plain path that Go would re-encode to itself.
		return req.RequestURI
	}
	return u.RequestURI()
}

// writeHeaderLine writes "k: v\r\n".
func writeHeaderLine(w *bufio.Writer, k, v string) {
	w.WriteString(k)
	w.WriteString(": ")
	w.WriteString(v)
	w.WriteString("\r\n")
}

// writeChunkHead starts a chunk of n bytes.
func writeChunkHead(w *bufio.Writer, n int) {
	var b [20]byte
	w.Write(strconv.AppendUint(b[:0], uint64(n), 16))
	w.WriteString("\r\n")
}

// writeLastChunk ends a chunked body, with the trailers when there are some.
func writeLastChunk(w *bufio.Writer, trailer http.Header) {
	w.WriteString("0\r\n")
	for k, vs := range trailer {
		if hopByHop(k) {
			continue
		}
		for _, v := range vs {
			writeHeaderLine(w, k, v)
		}
	}
	w.WriteString("\r\n")
}

// isToken reports an RFC 9110 token (a valid header field name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func canonicalKey(s string) string { return textproto.CanonicalMIMEHeaderKey(s) }

// validNames checks the header names. The parser (net/textproto) checks
// the values but lets names with spaces through, which Go's server then
// refuses; so does the proxy, a name with a space being read differently
// by different servers.
func validNames(h http.Header) bool {
	for k := range h {
		if !isToken(k) {
			return false
		}
	}
	return true
}

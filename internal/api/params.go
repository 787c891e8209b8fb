package api

import (
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hecd/internal/store"
)

// maxFormBytes is the largest url-encoded body etcd (through Go's
// ParseForm) accepts: 10 MiB.
const maxFormBytes = 10 << 20

// keysRequest is a parsed and validated /v2/keys request.
type keysRequest struct {
	method string
	key    string

	// For reads.
	recursive bool
	sorted    bool
	quorum    bool
	wait      bool
	stream    bool
	waitIndex uint64

	noValueOnSuccess bool
	// write is the mutation for PUT, POST and DELETE (Time and Expiration
	// are filled in by the handler, which owns the clock).
	write *store.Request
	// ttl is the requested TTL in seconds when hasTTL.
	ttl    uint64
	hasTTL bool
}

// form holds the body fields (url-encoded PUT/POST bodies) and the query
// fields; a field in the body wins over the query, and the first occurrence
// of a repeated field wins, as with Go's Request.Form.
type form struct {
	body, query url.Values
}

func (f *form) lookup(name string) (string, bool) {
	if vs, ok := f.body[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	if vs, ok := f.query[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

func (f *form) get(name string) string {
	v, _ := f.lookup(name)
	return v
}

var errPostTooLarge = errors.New("http: POST too large")

// readForm decodes the query and, for PUT and POST with a url-encoded body,
// the body. Other bodies are ignored, as etcd ignores them.
func readForm(r *http.Request) (*form, error) {
	f := &form{}
	var bodyErr error
	isForm := false
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		// Go's ParseForm, which etcd uses, fails on a malformed
		// Content-Type and ignores bodies of any other type.
		if ct := r.Header.Get("Content-Type"); ct == "application/x-www-form-urlencoded" {
			isForm = true // what curl and Go's client send; no parsing needed
		} else if ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil {
				bodyErr = err
			}
			isForm = err == nil && mt == "application/x-www-form-urlencoded"
		}
	}
	if isForm && r.Body != nil {
		data, err := readBody(r)
		switch {
		case err != nil:
			bodyErr = err
		case len(data) > maxFormBytes:
			bodyErr = errPostTooLarge
		default:
			f.body, bodyErr = url.ParseQuery(string(data))
		}
	}
	var queryErr error
	if r.URL.RawQuery != "" {
		f.query, queryErr = url.ParseQuery(r.URL.RawQuery)
	}
	if bodyErr != nil {
		return nil, bodyErr
	}
	if queryErr != nil {
		return nil, queryErr
	}
	return f, nil
}

// readBody reads at most maxFormBytes+1 bytes of the body, in one
// allocation when the client declared the length.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= maxFormBytes {
		data := make([]byte, n)
		if _, err := io.ReadFull(r.Body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
}

func formError(code int, cause string) *store.Error { return store.NewError(code, cause, 0) }

// parseBool accepts exactly what strconv.ParseBool does (etcd uses it).
func optBool(f *form, name string, quoted bool) (bool, *store.Error) {
	v, ok := f.lookup(name)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		if quoted {
			return false, formError(store.EcodeInvalidField, `invalid value for "`+name+`"`)
		}
		return false, formError(store.EcodeInvalidField, "invalid value for "+name)
	}
	return b, nil
}

func optUint(f *form, name string, code int) (uint64, bool, *store.Error) {
	v, ok := f.lookup(name)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, formError(code, `invalid value for "`+name+`"`)
	}
	return n, true, nil
}

// keyFromPath turns the decoded URL path into the store key: the part
// after /v2/keys, absolute, without a trailing slash.
func keyFromPath(p string) string {
	k := strings.TrimPrefix(p, keysPrefix)
	k = strings.TrimRight(k, "/")
	if k == "" {
		return "/"
	}
	if k[0] != '/' {
		k = "/" + k
	}
	return k
}

// parseKeysRequest validates the request in etcd's order (the first failure
// wins) and decides the operation from method and parameters.
func parseKeysRequest(r *http.Request) (*keysRequest, *store.Error) {
	f, err := readForm(r)
	if err != nil {
		return nil, formError(store.EcodeInvalidForm, err.Error())
	}
	return parseKeysForm(r.Method, keyFromPath(r.URL.Path), f)
}

func parseKeysForm(method, key string, f *form) (*keysRequest, *store.Error) {
	kr := &keysRequest{method: method, key: key}
	prevIndex, _, e := optUint(f, "prevIndex", store.EcodeIndexNaN)
	if e != nil {
		return nil, e
	}
	if kr.waitIndex, _, e = optUint(f, "waitIndex", store.EcodeIndexNaN); e != nil {
		return nil, e
	}
	var dir bool
	// In etcd's order; the first bad one is reported.
	if kr.recursive, e = optBool(f, "recursive", true); e != nil {
		return nil, e
	}
	if kr.sorted, e = optBool(f, "sorted", true); e != nil {
		return nil, e
	}
	if kr.wait, e = optBool(f, "wait", true); e != nil {
		return nil, e
	}
	if dir, e = optBool(f, "dir", true); e != nil {
		return nil, e
	}
	if kr.quorum, e = optBool(f, "quorum", true); e != nil {
		return nil, e
	}
	if kr.stream, e = optBool(f, "stream", true); e != nil {
		return nil, e
	}
	if kr.wait && method != http.MethodGet {
		return nil, formError(store.EcodeInvalidField, `"wait" can only be used with GET requests`)
	}
	prevValue, hasPrevValue := f.lookup("prevValue")
	if hasPrevValue && prevValue == "" {
		return nil, formError(store.EcodePrevValueRequired, `"prevValue" cannot be empty`)
	}
	if kr.noValueOnSuccess, e = optBool(f, "noValueOnSuccess", true); e != nil {
		return nil, e
	}
	if ttl := f.get("ttl"); ttl != "" {
		n, err := strconv.ParseUint(ttl, 10, 64)
		if err != nil {
			return nil, formError(store.EcodeTTLNaN, `invalid value for "ttl"`)
		}
		kr.ttl, kr.hasTTL = n, true
	}
	_, hasPrevExist := f.lookup("prevExist")
	prevExist, e := optBool(f, "prevExist", false)
	if e != nil {
		return nil, e
	}
	refresh, e := optBool(f, "refresh", false)
	if e != nil {
		return nil, e
	}
	value := f.get("value")
	if refresh {
		if value != "" {
			return nil, formError(store.EcodeRefreshValue, "A value was provided on a refresh")
		}
		if !kr.hasTTL {
			return nil, formError(store.EcodeRefreshTTLRequired, "No TTL value set")
		}
	}

	w := &store.Request{Key: key, Value: value, Dir: dir, Recursive: kr.recursive,
		PrevValue: prevValue, PrevIndex: prevIndex, Refresh: refresh}
	switch method {
	case http.MethodPut:
		switch {
		case hasPrevExist && prevExist:
			if prevValue == "" && prevIndex == 0 {
				w.Op = store.OpUpdate
			} else {
				w.Op = store.OpCompareAndSwap
			}
		case hasPrevExist:
			w.Op = store.OpCreate
			w.Refresh = false
		case prevValue != "" || prevIndex > 0:
			w.Op = store.OpCompareAndSwap
		default:
			w.Op = store.OpSet
		}
		if w.Op == store.OpUpdate || w.Op == store.OpCompareAndSwap {
			// update and compareAndSwap ignore dir (etcd dirs:018).
			w.Dir = false
		}
	case http.MethodPost:
		w.Op = store.OpCreateInOrder
		w.Refresh = false
	case http.MethodDelete:
		if prevValue != "" || prevIndex > 0 {
			w.Op = store.OpCompareAndDelete
		} else {
			w.Op = store.OpDelete
		}
	default:
		return kr, nil
	}
	kr.write = w
	return kr, nil
}

// expiration turns a TTL in seconds into an absolute time. A TTL so large
// that the time overflows gives a permanent node, as in etcd.
func expiration(now int64, ttl uint64) int64 {
	if ttl > uint64(math.MaxInt64/int64(time.Second)) {
		return 0
	}
	d := int64(ttl) * int64(time.Second)
	if now > math.MaxInt64-d {
		return 0
	}
	return now + d
}

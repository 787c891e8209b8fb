package client

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Error codes of the etcd v2 keys API that callers commonly test for. The
// numbers are part of the wire protocol.
const (
	CodeKeyNotFound   = 100
	CodeCompareFailed = 101
	CodeNotFile       = 102
	CodeNotDir        = 104
	CodeKeyExists     = 105
	CodeRootReadOnly  = 107
	CodeDirNotEmpty   = 108
	CodeUnauthorized  = 110
	CodeRaftInternal  = 300
	CodeIndexCleared  = 401
)

// Error is an error answer of the keys API:
// {"errorCode":N,"message":M,"cause":C,"index":I}.
type Error struct {
	Code    int    `json:"errorCode"`
	Message string `json:"message"`
	Cause   string `json:"cause,omitempty"`
	// Index is the store's etcd index when the error happened (0 for
	// request and authorization errors).
	Index uint64 `json:"index"`
}

// Error formats e as etcd's own clients print it, e.g.
// "100: Key not found (/foo) [6]": confd and etcdctl users know this form.
func (e *Error) Error() string {
	return strconv.Itoa(e.Code) + ": " + e.Message + " (" + e.Cause + ") [" + strconv.FormatUint(e.Index, 10) + "]"
}

func hasCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// IsKeyNotFound reports whether err is the keys error 100.
func IsKeyNotFound(err error) bool { return hasCode(err, CodeKeyNotFound) }

// IsCompareFailed reports whether err is the keys error 101 (a prevValue
// or prevIndex condition did not hold).
func IsCompareFailed(err error) bool { return hasCode(err, CodeCompareFailed) }

// IsNotFile reports whether err is the keys error 102.
func IsNotFile(err error) bool { return hasCode(err, CodeNotFile) }

// IsNotDir reports whether err is the keys error 104.
func IsNotDir(err error) bool { return hasCode(err, CodeNotDir) }

// IsKeyExists reports whether err is the keys error 105 (prevExist=false
// on an existing key).
func IsKeyExists(err error) bool { return hasCode(err, CodeKeyExists) }

// IsDirNotEmpty reports whether err is the keys error 108.
func IsDirNotEmpty(err error) bool { return hasCode(err, CodeDirNotEmpty) }

// IsUnauthorized reports whether err is the keys error 110 (v2 auth
// denied the request).
func IsUnauthorized(err error) bool { return hasCode(err, CodeUnauthorized) }

// IsIndexCleared reports whether err is the keys error 401: a watch asked
// for an index older than the server's event history; the caller must
// re-read and watch again from the new index.
func IsIndexCleared(err error) bool { return hasCode(err, CodeIndexCleared) }

// HTTPError is a non-success answer that is not a keys error: the
// {"message":...} errors of the members API, a 404 from a server without
// the v2 API, an error page of a proxy in between.
type HTTPError struct {
	StatusCode int
	// Message is the JSON "message" if there was one, otherwise the start
	// of the body.
	Message string
	// Path is the request path the answer was for.
	Path string
}

func (e *HTTPError) Error() string {
	s := "client: " + e.Path + ": " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	// etcd 3.4 answers every /v2 path with a plain 404 unless it was
	// started with --enable-v2; say so instead of leaving users to guess
	// (confd's users often did).
	if e.StatusCode == 404 && strings.HasPrefix(e.Path, "/v2/") && strings.HasPrefix(e.Message, "404 page not found") {
		s += " (does the server serve the etcd v2 API? etcd 3.4 needs --enable-v2=true)"
	}
	return s
}

// ClusterError says that no endpoint gave an answer. Its text is the one
// etcd's own v2 client uses, which is what confd users see and search
// for.
type ClusterError struct {
	// Errors has one *EndpointError per endpoint tried, in the order tried.
	Errors []error
	// MaybeApplied is set when a write was stopped after an endpoint
	// failed once the request could have reached it: the write may or may
	// not have been applied, so it was not sent to the other endpoints.
	MaybeApplied bool
}

func (e *ClusterError) Error() string {
	var b strings.Builder
	b.WriteString("client: etcd cluster is unavailable or misconfigured")
	for i, err := range e.Errors {
		b.WriteString("; error #")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(": ")
		b.WriteString(err.Error())
	}
	if e.MaybeApplied {
		b.WriteString(" (the write may have reached the server and was not sent to another endpoint)")
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As look at each endpoint's error (for
// example syscall.ECONNREFUSED).
func (e *ClusterError) Unwrap() []error { return e.Errors }

// EndpointError is why one endpoint gave no answer.
type EndpointError struct {
	Endpoint string
	Err      error
}

func (e *EndpointError) Error() string {
	// A *net.OpError already names the address ("dial tcp 127.0.0.1:2379:
	// connect: connection refused"), which is etcd's wording; anything
	// else gets the endpoint in front so the list says who failed.
	var op *net.OpError
	if errors.As(e.Err, &op) {
		return e.Err.Error()
	}
	return e.Endpoint + ": " + e.Err.Error()
}

func (e *EndpointError) Unwrap() error { return e.Err }

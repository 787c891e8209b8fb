package api

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"hecd/internal/store"
)

const keysPrefix = "/v2/keys"

// Result is the outcome of a replicated write.
type Result struct {
	Event *store.Event
	Err   *store.Error
	// RaftIndex and RaftTerm are the consensus position of the entry.
	RaftIndex, RaftTerm uint64
}

// Member is one cluster member as the members API shows it.
type Member struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
}

// Cluster is what the API needs from the consensus layer.
type Cluster interface {
	// Propose replicates w and returns the store's answer. It gives up
	// when ctx ends or after the cluster's request timeout. A non-nil error
	// means the write's fate is unknown or it was never proposed; the
	// message is shown to the client as the cause of a 300 error.
	// The error's text is the cause reported to the client.
	Propose(ctx context.Context, w *store.Request) (Result, error)
	// QuorumRead returns once this member has applied every write that
	// was committed before the call (a linearizable read point).
	QuorumRead(ctx context.Context) error
	// RaftStatus reports the last applied raft index and the current term.
	RaftStatus() (index, term uint64)
	ClusterID() uint64
	Members() []Member
	// Leader returns the leader's member, if there is one.
	Leader() (Member, bool)
	Self() Member
	// UpdateMember changes a member's peer URLs.
	UpdateMember(ctx context.Context, id uint64, peerURLs []string) error
	// AddMember adds a member that has not started yet.
	AddMember(ctx context.Context, peerURLs []string) (Member, error)
	// RemoveMember removes a member for good.
	RemoveMember(ctx context.Context, id uint64) error
	// Removed reports whether id belonged to a removed member.
	Removed(id uint64) bool
	// SelfStats are the figures of /v2/stats/self.
	SelfStats() SelfStats
}

// SelfStats is what /v2/stats/self reports.
type SelfStats struct {
	State          string
	StartTime      time.Time
	LeaderID       uint64
	LeaderStart    time.Time
	RecvAppendCnt  uint64
	SendAppendCnt  uint64
	RecvPkgRate    float64
	RecvBytesRate  float64
	SendPkgRate    float64
	SendBytesRate  float64
	LeaderUptime   time.Duration
	HasLeaderStart bool
}

// Config wires the handler.
type Config struct {
	Store   *store.Store
	Cluster Cluster
	// CORS lists allowed origins; "*" allows all; empty sends no CORS
	// headers.
	CORS []string
	// MaxRequestBytes bounds JSON bodies (members API).
	MaxRequestBytes int64
	// Clock returns the current time; tests may fix it.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Handler serves the v2 API.
type Handler struct {
	cfg      Config
	st       *store.Store
	cl       Cluster
	corsAll  bool
	corsSet  map[string]bool
	shutdown chan struct{}
	now      func() time.Time

	clusterID atomic.Pointer[[]string] // the X-Etcd-Cluster-Id value
}

// New returns the API handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, st: cfg.Store, cl: cfg.Cluster, corsSet: map[string]bool{}, shutdown: make(chan struct{}), now: cfg.Clock}
	if h.now == nil {
		h.now = time.Now
	}
	if cfg.MaxRequestBytes <= 0 {
		h.cfg.MaxRequestBytes = 1572864
	}
	for _, o := range cfg.CORS {
		if o == "*" {
			h.corsAll = true
		}
		h.corsSet[o] = true
	}
	return h
}

// Shutdown ends open watches: their responses finish (empty if no event
// came), so that the HTTP server can close.
func (h *Handler) Shutdown() {
	select {
	case <-h.shutdown:
	default:
		close(h.shutdown)
	}
}

func (h *Handler) setCORS(w http.ResponseWriter, r *http.Request) {
	origin := "*"
	if !h.corsAll {
		origin = r.Header.Get("Origin")
		if origin == "" || !h.corsSet[origin] {
			return
		}
	}
	hdr := w.Header()
	hdr["Access-Control-Allow-Methods"] = corsMethods
	hdr["Access-Control-Allow-Origin"] = []string{origin}
	hdr["Access-Control-Allow-Headers"] = corsHeaders
}

var (
	corsMethods = []string{"POST, GET, OPTIONS, PUT, DELETE"}
	corsHeaders = []string{"accept, content-type, authorization"}
)

// cleanPath returns the canonical form of p: no empty, "." or ".."
// segments; a trailing slash is kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(h.corsSet) > 0 {
		h.setCORS(w, r)
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	p := r.URL.Path
	if cp := cleanPath(p); cp != p {
		h.redirect(w, r, cp)
		return
	}
	switch {
	case p == keysPrefix || strings.HasPrefix(p, keysPrefix+"/"):
		h.serveKeys(w, r)
	case p == "/v2/machines":
		h.serveMachines(w, r)
	case p == "/v2/members" || strings.HasPrefix(p, "/v2/members/"):
		h.serveMembers(w, r)
	case p == "/v2/stats/store":
		h.serveStoreStats(w, r)
	case p == "/v2/stats/self":
		h.serveSelfStats(w, r)
	case p == "/v2/stats/leader":
		h.serveLeaderStats(w, r)
	case p == "/version":
		h.serveVersion(w, r)
	case p == "/health":
		h.serveHealth(w, r)
	default:
		http.NotFound(w, r)
	}
}

// redirect sends a client at a non-canonical path to the canonical one.
// etcd answered 301, which Go's client follows for PUT, POST and DELETE as a
// body-less GET, silently dropping the write; 307 keeps method and body
// (see DIFFERENCES.md).
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, to string) {
	u := *r.URL
	u.Path = to
	u.RawPath = ""
	loc := u.String()
	// Only the path and query: the client resolves it against its own URL.
	if i := strings.Index(loc, "://"); i >= 0 {
		if j := strings.IndexByte(loc[i+3:], '/'); j >= 0 {
			loc = loc[i+3+j:]
		}
	}
	http.Redirect(w, r, loc, http.StatusTemporaryRedirect)
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ","))
	http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	return false
}

func (h *Handler) clusterIDHeader(w http.ResponseWriter) {
	id := h.clusterID.Load()
	if id == nil {
		// The id is fixed once the cluster is bootstrapped; format it
		// once rather than on every response.
		cid := h.cl.ClusterID()
		v := []string{strconv.FormatUint(cid, 16)}
		if cid != 0 {
			h.clusterID.Store(&v)
		}
		id = &v
	}
	w.Header()["X-Etcd-Cluster-Id"] = *id
}

// writeError writes a v2 keys error.
func (h *Handler) writeError(w http.ResponseWriter, e *store.Error) {
	hdr := w.Header()
	hdr["Content-Type"] = jsonType
	h.clusterIDHeader(w)
	hdr["X-Etcd-Index"] = []string{strconv.FormatUint(e.Index, 10)}
	w.WriteHeader(e.StatusCode())
	w.Write(e.AppendJSON(make([]byte, 0, 128)))
}

var jsonType = []string{"application/json"}

// writeMessage writes the {"message":...} errors of the non-keys handlers.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(status)
	b := append([]byte(`{"message":`), jsonString(msg)...)
	w.Write(append(b, '}'))
}

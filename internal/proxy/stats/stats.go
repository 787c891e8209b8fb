// Package stats is the proxy's HAProxy-style statistics page: the HTML
// report with HAProxy's column groups and state colours, the ;csv export
// with HAProxy's column order (fields 0-80, so existing monitoring tools
// keep working), a ;json export, the admin form (fields b, s, action;
// answers 303 with ;st=<code>) and a Prometheus /metrics endpoint.
//
// ;json is an array with one object per CSV line, keyed by the CSV column
// names in CSV order, numbers as JSON numbers and the columns hecd cannot
// compute left out; it is not HAProxy's typed JSON (;typed), whose
// per-field metadata no consumer of this page needs.
//
// Everything is read from the live model at request time: the current
// route table of a *proxy.Router, the frontends' counters, the servers'
// atomics. Nothing is counted twice on the request path.
//
// Security follows reliability-security.md 7.6.3 and proxy.md D.6 rather
// than HAProxy's defaults: every request needs HTTP Basic authentication
// against bcrypt htpasswd files (there are no default credentials; a plain
// legacy "user:pass" pair works only with InsecureLegacyAuth), admin
// actions need the admin role, a POST and a same-origin request, and no
// version is ever shown.
package stats

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hecd/internal/proxy"
)

// Frontend is a listener's row on the page (the FRONTEND row of its own
// table). Counters are the frontend's own, updated by the frontend package.
type Frontend struct {
	Name     string
	Counters *proxy.Counters
	// MaxConn is the listener's limit (slim); 0 leaves it empty.
	MaxConn int
}

// StoreStatus is the route source's view of the store, shown as banners
// and exported as metrics; its fields are those of source.Status. The zero
// value means "not known".
type StoreStatus struct {
	// Connected says whether the store is followed live; while it is
	// false the proxy serves the last table (fail-static).
	Connected bool
	// Since is when Connected last changed; while disconnected, the time
	// since then is how stale the route table may be (the watch lag).
	Since time.Time
	// LastError is the last error that ended a read or a watch.
	LastError string
	// LastIndex is the highest store index applied.
	LastIndex uint64
	// InvalidKeys counts keys skipped as invalid.
	InvalidKeys int
}

// Config is everything the stats handler needs.
type Config struct {
	// URI is the page's prefix ("stats uri"); legacy /admin-status.
	// Variants are selected by suffixes: ;csv ;json ;up ;no-maint
	// ;norefresh ;st=<code>.
	URI string
	// Refresh is the HTML page's auto-refresh period; 0 turns it off.
	Refresh time.Duration
	// Realm is the Basic authentication realm.
	Realm string
	// MetricsPath serves Prometheus metrics; "" turns them off.
	MetricsPath string
	// Collectors are more series served beside the proxy's on
	// MetricsPath: "hecd up" adds the registrator's.
	Collectors []prometheus.Collector
	// MaxConn is the process-wide limit shown in the process section.
	MaxConn int

	// Router supplies the current route table (required).
	Router *proxy.Router
	// Frontends are listed first, one table each.
	Frontends []Frontend
	// StoreStatus, when set, feeds the store banners and metrics.
	StoreStatus func() StoreStatus
	// Health reports a server's health; nil means
	// (*proxy.Server).HealthSnapshot.
	Health func(*proxy.Server) proxy.HealthSnapshot
	// HealthAdmin carries out dhlth, ehlth, hrunn, hnolb and hdown on a
	// server and says whether it applied (false: the server has no checks,
	// and HAProxy skips it); nil means (*proxy.Server).HealthAction.
	HealthAdmin func(s *proxy.Server, action string) bool
	// ShutdownSessions ends a server's current sessions ("shutdown") and
	// says whether it could. Without it "shutdown" alters nothing.
	ShutdownSessions func(*proxy.Server) bool
	// PersistAdmin, when set, records an admin state ("ready", "drain" or
	// "maint") of backend/server in the store before it is applied, so
	// that every proxy applies it and it survives restarts. An error
	// leaves the server unchanged and is reported by the ;st= code.
	PersistAdmin func(backend, server, state string) error

	// Htpasswd names a file of read-only users; AdminHtpasswd a file of
	// admin users. Entries must be bcrypt ("user:$2y$..."). A user listed
	// in both is an admin.
	Htpasswd      string
	AdminHtpasswd string
	// LegacyAuth is HAProxy's "stats auth user:pass". It is refused unless
	// InsecureLegacyAuth is set; LegacyAdmin makes that user an admin
	// ("stats admin if TRUE").
	LegacyAuth         string
	LegacyAdmin        bool
	InsecureLegacyAuth bool

	// Started is the process start shown as uptime; zero means New's time.
	Started time.Time
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultConfig returns the legacy page's settings (no credentials: those
// must be configured).
func DefaultConfig() Config {
	return Config{
		URI:         "/admin-status",
		Refresh:     30 * time.Second,
		Realm:       "HAProxy Statistics",
		MetricsPath: "/metrics",
		MaxConn:     5000,
		Logger:      slog.New(slog.DiscardHandler),
	}
}

// Validate reports settings that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Router == nil:
		return errors.New("stats: no router")
	case !strings.HasPrefix(c.URI, "/"):
		return fmt.Errorf("stats: uri %q must start with /", c.URI)
	case c.MetricsPath != "" && !strings.HasPrefix(c.MetricsPath, "/"):
		return fmt.Errorf("stats: metrics path %q must start with /", c.MetricsPath)
	case c.MetricsPath != "" && c.MetricsPath == c.URI:
		return errors.New("stats: metrics path and page uri must differ")
	case c.Refresh < 0:
		return errors.New("stats: refresh must not be negative")
	case c.LegacyAuth != "" && !c.InsecureLegacyAuth:
		return errors.New("stats: a plain user:pass needs the insecure legacy auth option; use a bcrypt htpasswd file")
	case c.LegacyAuth != "" && !strings.Contains(c.LegacyAuth, ":"):
		return errors.New("stats: legacy auth must be user:pass")
	case c.Htpasswd == "" && c.AdminHtpasswd == "" && c.LegacyAuth == "":
		return errors.New("stats: authentication is required and there are no default credentials: set an htpasswd file")
	case strings.ContainsAny(c.Realm, "\"\\\r\n"):
		return errors.New("stats: realm must not contain quotes, backslashes or newlines")
	}
	for _, f := range c.Frontends {
		if f.Counters == nil {
			return fmt.Errorf("stats: frontend %q has no counters", f.Name)
		}
	}
	return nil
}

// Handler serves the page, its exports, the admin form and the metrics.
type Handler struct {
	cfg     Config
	auth    *authenticator
	metrics http.Handler
	coll    *collector
	pid     int
}

// New checks cfg, loads the htpasswd files and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Realm == "" {
		cfg.Realm = "HAProxy Statistics"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Health == nil {
		cfg.Health = (*proxy.Server).HealthSnapshot
	}
	if cfg.HealthAdmin == nil {
		cfg.HealthAdmin = (*proxy.Server).HealthAction
	}
	if cfg.Started.IsZero() {
		cfg.Started = cfg.Now()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Logger = cfg.Logger.With("component", "stats")
	a, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, auth: a, pid: os.Getpid()}
	h.coll = &collector{h: h}
	if cfg.MetricsPath != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(h.coll)
		for _, c := range cfg.Collectors {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("stats: metrics: %w", err)
			}
		}
		// ContinueOnError: one bad series (say, a default backend named
		// like a route) must not blank the whole scrape.
		h.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError,
			ErrorLog:      slogPromLogger{cfg.Logger},
		})
	}
	return h, nil
}

// Collector returns the metrics collector, for a process that wants the
// proxy's series in its own registry.
func (h *Handler) Collector() prometheus.Collector { return h.coll }

// ServeHTTP authenticates every request first, so that nothing, not even
// which paths exist, is visible to a client without credentials.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	user, admin, ok := h.auth.check(r)
	if !ok {
		hdr.Set("WWW-Authenticate", `Basic realm="`+h.cfg.Realm+`", charset="UTF-8"`)
		http.Error(w, "401 Unauthorized: this page requires authentication.", http.StatusUnauthorized)
		return
	}
	uri := r.URL.RequestURI()
	if h.metrics != nil && r.URL.Path == h.cfg.MetricsPath {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		h.metrics.ServeHTTP(w, r)
		return
	}
	// HAProxy intercepts every URI that starts with the prefix; here the
	// prefix must also end at a boundary, so that /admin-statusx is not
	// the page.
	rest, found := strings.CutPrefix(uri, h.cfg.URI)
	if !found || (rest != "" && !strings.ContainsAny(rest[:1], ";/?") && !strings.HasSuffix(h.cfg.URI, "/")) {
		http.NotFound(w, r)
		return
	}
	opts := parseOptions(rest)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.serveReport(w, opts, admin)
	case http.MethodPost:
		h.serveAdmin(w, r, opts, user, admin)
	default:
		methodNotAllowed(w, "GET, HEAD, POST")
	}
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
}

// options are the ;suffixes of the stats URI. Like HAProxy, each is found
// anywhere after the prefix, in any order.
type options struct {
	csv, json, hideDown, hideMaint, noRefresh bool
	// st is the admin result to show (a known code or "UNKN"); "" none.
	st string
}

func parseOptions(rest string) options {
	o := options{
		csv:       strings.Contains(rest, ";csv"),
		json:      strings.Contains(rest, ";json"),
		hideDown:  strings.Contains(rest, ";up"),
		hideMaint: strings.Contains(rest, ";no-maint"),
		noRefresh: strings.Contains(rest, ";norefresh"),
	}
	if _, code, ok := strings.Cut(rest, ";st="); ok {
		o.st = "UNKN"
		if len(code) >= 4 {
			if _, known := statusText[code[:4]]; known {
				o.st = code[:4]
			}
		}
	}
	return o
}

// suffix rebuilds the display flags for links and redirects.
func (o options) suffix() string {
	var b strings.Builder
	if o.hideDown {
		b.WriteString(";up")
	}
	if o.hideMaint {
		b.WriteString(";no-maint")
	}
	if o.noRefresh {
		b.WriteString(";norefresh")
	}
	return b.String()
}

func (h *Handler) serveReport(w http.ResponseWriter, o options, admin bool) {
	v := h.snapshot(o)
	switch {
	case o.csv:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		writeCSV(w, v)
	case o.json:
		w.Header().Set("Content-Type", "application/json")
		writeJSON(w, v)
	default:
		hdr := w.Header()
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		// The page has no script at all; the policy makes sure that a
		// value that slipped through escaping still could not run one,
		// and that the admin form is not framed (clickjacking).
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hdr.Set("X-Frame-Options", "DENY")
		if err := h.writeHTML(w, v, o, admin); err != nil {
			h.cfg.Logger.Warn("writing the stats page", "err", err)
		}
	}
}

// slogPromLogger gives promhttp's error log to slog.
type slogPromLogger struct{ l *slog.Logger }

func (s slogPromLogger) Println(v ...any) { s.l.Warn("metrics: " + fmt.Sprint(v...)) }

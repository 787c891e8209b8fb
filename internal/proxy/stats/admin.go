package stats

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"hecd/internal/proxy"
)

// statusText is the banner for each ;st= code (HAProxy's meanings).
var statusText = map[string]string{
	"DONE": "Action processed successfully.",
	"NONE": "Nothing has changed.",
	"PART": "Action partially processed: some server names are probably unknown.",
	"ERRP": "Action not processed because of invalid parameters: the action, the backend or the server names are probably unknown.",
	"EXCD": "Action not processed: the request was too large. Retry with fewer servers at a time.",
	"DENY": "Action denied: your account has no admin role.",
	"IVAL": "Invalid request: unsupported action or request format.",
	"UNKN": "Unexpected result.",
}

// maxFormBytes bounds an admin POST body; the form of a backend with a
// few thousand servers still fits.
const maxFormBytes = 1 << 20

// actions lists what the form may ask; agent actions exist in HAProxy's
// form but hecd has no agent checks, so they answer IVAL.
var actions = map[string]bool{
	"ready": true, "drain": true, "maint": true, "shutdown": true,
	"dhlth": true, "ehlth": true, "hrunn": true, "hnolb": true, "hdown": true,
}

var agentActions = map[string]bool{"dagent": true, "eagent": true, "arunn": true, "adown": true}

// serveAdmin handles the admin form's POST: a 303 back to the page with
// the result code, as HAProxy answers, except for a cross-origin request,
// which is refused outright (403) because it is not the operator's page
// that sent it.
func (h *Handler) serveAdmin(w http.ResponseWriter, r *http.Request, o options, user string, admin bool) {
	if !sameOrigin(r) {
		h.cfg.Logger.Warn("admin POST refused: cross-origin", "user", user, "origin", r.Header.Get("Origin"), "referer", r.Header.Get("Referer"), "host", r.Host)
		http.Error(w, "403 Forbidden: cross-origin request", http.StatusForbidden)
		return
	}
	code := "DENY"
	if admin {
		code = h.applyForm(w, r, user)
	} else {
		h.cfg.Logger.Warn("admin POST denied: not an admin", "user", user)
	}
	w.Header().Set("Location", h.cfg.URI+o.suffix()+";st="+code)
	w.WriteHeader(http.StatusSeeOther)
}

// sameOrigin accepts a request whose Origin and Referer, when present,
// name the host it was sent to. Scripts (curl) send neither and pass;
// browsers send Origin on every cross-site POST.
func sameOrigin(r *http.Request) bool {
	for _, name := range []string{"Origin", "Referer"} {
		v := r.Header.Get(name)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || !sameHost(u, r.Host) {
			return false
		}
	}
	return true
}

// sameHost compares host[:port], treating an omitted default port of the
// URL's scheme as equal to the explicit one.
func sameHost(u *url.URL, host string) bool {
	a, b := strings.ToLower(u.Host), strings.ToLower(host)
	if a == b {
		return true
	}
	def := map[string]string{"http": ":80", "https": ":443"}[u.Scheme]
	return def != "" && (a+def == b || a == b+def)
}

// applyForm carries out the form and returns the ;st= code. Like HAProxy:
// an unknown backend or action is ERRP; each named server counts, and one
// that is unknown or could not be changed is not "altered"; no server at
// all is NONE; all altered DONE; some PART; none ERRP.
func (h *Handler) applyForm(w http.ResponseWriter, r *http.Request, user string) string {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		return "IVAL"
	}
	// The body is parsed by hand rather than with ParseForm, which would
	// also read the URL's query: only the posted form may act.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "EXCD"
		}
		return "IVAL"
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "IVAL"
	}
	action := last(form["action"])
	switch {
	case agentActions[action]:
		return "IVAL"
	case !actions[action]:
		return "ERRP"
	}
	b := h.findBackend(last(form["b"]))
	if b == nil {
		return "ERRP"
	}
	total, altered := 0, 0
	var changed []string
	for _, name := range form["s"] {
		total++
		s := findServer(b, name)
		if s == nil {
			continue
		}
		if h.apply(b, s, action) {
			altered++
			changed = append(changed, s.ID)
		}
	}
	code := "DONE"
	switch {
	case total == 0:
		code = "NONE"
	case altered == 0:
		code = "ERRP"
	case altered < total:
		code = "PART"
	}
	h.cfg.Logger.Info("admin action", "user", user, "backend", b.Name, "action", action, "servers", changed, "requested", total, "result", code)
	return code
}

// last is the value HAProxy uses when a field is repeated.
func last(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// findBackend looks a backend up by its exact name among the current
// routes and the default backend; a name that is both is ambiguous and
// not found, as HAProxy treats duplicate names.
func (h *Handler) findBackend(name string) *proxy.Backend {
	if name == "" {
		return nil
	}
	t := h.cfg.Router.Table()
	var found *proxy.Backend
	if b := t.Routes[strings.ToLower(name)]; b != nil && b.Name == name {
		found = b
	}
	if t.Default != nil && t.Default.Name == name {
		if found != nil {
			return nil
		}
		found = t.Default
	}
	return found
}

// findServer finds a server of b by name; a duplicated name is ambiguous.
func findServer(b *proxy.Backend, name string) *proxy.Server {
	var found *proxy.Server
	for _, s := range b.Servers {
		if s.ID == name {
			if found != nil {
				return nil
			}
			found = s
		}
	}
	return found
}

// apply changes one live server; routing sees it on the next request.
func (h *Handler) apply(b *proxy.Backend, s *proxy.Server, action string) bool {
	switch action {
	case "ready", "drain", "maint":
		state := map[string]proxy.AdminState{"ready": proxy.Ready, "drain": proxy.Drain, "maint": proxy.Maint}[action]
		// Persist first: a state that could not be recorded is not
		// applied, so this proxy never disagrees with the others.
		if h.cfg.PersistAdmin != nil {
			if err := h.cfg.PersistAdmin(b.Name, s.ID, action); err != nil {
				h.cfg.Logger.Error("persisting admin state", "backend", b.Name, "server", s.ID, "state", action, "err", err)
				return false
			}
		}
		s.SetAdmin(state)
		return true
	case "shutdown":
		return h.cfg.ShutdownSessions != nil && h.cfg.ShutdownSessions(s)
	default:
		return h.cfg.HealthAdmin(s, action)
	}
}

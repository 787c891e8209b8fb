package stats

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hecd/internal/proxy"
)

// Credentials of the fixture's htpasswd files.
const (
	viewerUser, viewerPass = "viewer", "view-secret"
	adminUser, adminPass   = "operator", "admin-secret"
)

var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fixture is a router with two routes (app1 UP with checks, app2 DOWN by
// its checker) and a default backend default_pool (s1 UP with an L7
// check, s2 without checks), one frontend, and stubs for everything
// other packages provide.
type fixture struct {
	h      *Handler
	router *proxy.Router
	fe     *proxy.Counters

	app1, app2, s1, s2 *proxy.Server
	be1, be2, pool     *proxy.Backend

	mu          sync.Mutex
	health      map[*proxy.Server]proxy.HealthSnapshot
	healthCalls []string // "server:action"
	healthOK    bool
	shutdowns   []string
	persisted   []string // "backend/server=state"
	persistErr  error
	store       StoreStatus
}

func writeHtpasswd(t *testing.T, dir, name string, users map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test users\n\n")
	for u, p := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + string(hash) + "\n")
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newFixture(t *testing.T, mod ...func(*Config)) *fixture {
	t.Helper()
	fx := &fixture{router: proxy.NewRouter(), fe: &proxy.Counters{}, healthOK: true}
	fx.app1 = proxy.NewServer("app1", "10.0.0.1:8080")
	fx.app2 = proxy.NewServer("app2", "10.0.0.2:8080")
	fx.s1 = proxy.NewServer("s1", "10.0.1.1:80")
	fx.s1.SetWeight(3)
	fx.s2 = proxy.NewServer("s2", "10.0.1.2:80")
	// No checks, but quiet transition logs (health.go logs admin changes).
	for _, s := range []*proxy.Server{fx.app1, fx.app2, fx.s1, fx.s2} {
		if err := s.StartChecks(proxy.CheckConfig{}, proxy.WithLogger(slog.New(slog.DiscardHandler))); err != nil {
			t.Fatal(err)
		}
	}
	fx.be1 = proxy.NewBackend("app1", fx.app1)
	fx.be2 = proxy.NewBackend("app2", fx.app2)
	fx.pool = proxy.NewBackend("default_pool", fx.s1, fx.s2)
	fx.router.Swap(proxy.NewTable(42, []*proxy.Backend{fx.be2, fx.be1}, fx.pool,
		[]proxy.Invalid{{Key: "/app/servers/bad", Value: "not-an-address", Reason: "missing port"}}))

	// Traffic: three sessions on app1 (one still open), two 2xx and one 5xx.
	for _, c := range []*proxy.Counters{&fx.app1.Counters, &fx.be1.Counters, fx.fe} {
		c.Enter()
		c.Enter()
		c.Enter()
		c.Leave()
		c.Status(200)
		c.Status(204)
		c.Status(503)
		c.BytesIn.Add(100)
		c.BytesOut.Add(2000)
		c.LastSess.Store(fixedNow.Add(-5 * time.Second).Unix())
	}
	fx.fe.ErrReq.Add(1)
	for _, c := range []*proxy.Counters{&fx.app1.Counters, &fx.be1.Counters} {
		c.ErrConn.Add(4)
		c.Retries.Add(3)
		c.Redisp.Add(1)
		c.LBTotal.Add(3)
	}

	fx.health = map[*proxy.Server]proxy.HealthSnapshot{
		fx.app1: {Status: "UP", CheckEnabled: true, CheckShown: true, CheckStatus: "L4OK",
			CheckDuration: 2 * time.Millisecond, HasDuration: true, CheckDesc: "Layer4 check passed",
			ChkFail: 5, ChkDown: 2, LastChange: fixedNow.Add(-90 * time.Second), Downtime: 30 * time.Second,
			Rise: 2, Fall: 1, Health: 2},
		fx.app2: {Status: "DOWN", CheckEnabled: true, CheckShown: true, CheckStatus: "L4CON",
			CheckDuration: time.Millisecond, HasDuration: true, CheckDesc: "Layer4 connection problem",
			LastChk: "Connection refused", ChkFail: 1, ChkDown: 1, LastChange: fixedNow.Add(-10 * time.Second),
			Rise: 2, Fall: 1},
		fx.s1: {Status: "UP 1/2", CheckEnabled: true, CheckShown: true, CheckStatus: "L7STS",
			CheckCode: 500, HasCode: true, CheckDuration: 3 * time.Millisecond, HasDuration: true,
			CheckDesc: "Layer7 wrong status", Rise: 2, Fall: 2, Health: 2, LastChange: fixedNow.Add(-3 * time.Hour)},
	}
	fx.store = StoreStatus{Connected: false, Since: fixedNow.Add(-150 * time.Second), LastError: "connection refused", LastIndex: 41, InvalidKeys: 1}

	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Router = fx.router
	cfg.Frontends = []Frontend{{Name: "http_80_in", Counters: fx.fe, MaxConn: 2000}}
	cfg.Htpasswd = writeHtpasswd(t, dir, "users", map[string]string{viewerUser: viewerPass})
	cfg.AdminHtpasswd = writeHtpasswd(t, dir, "admins", map[string]string{adminUser: adminPass})
	cfg.Now = func() time.Time { return fixedNow }
	cfg.Started = fixedNow.Add(-(26*time.Hour + 3*time.Minute + 4*time.Second))
	cfg.StoreStatus = func() StoreStatus { fx.mu.Lock(); defer fx.mu.Unlock(); return fx.store }
	// Stubbed servers show fixed check results; the others (s2) report
	// their real health (health.go).
	cfg.Health = func(s *proxy.Server) proxy.HealthSnapshot {
		fx.mu.Lock()
		hs, ok := fx.health[s]
		fx.mu.Unlock()
		if !ok {
			return s.HealthSnapshot()
		}
		return hs
	}
	cfg.HealthAdmin = func(s *proxy.Server, action string) bool {
		fx.mu.Lock()
		defer fx.mu.Unlock()
		fx.healthCalls = append(fx.healthCalls, s.ID+":"+action)
		return fx.healthOK
	}
	cfg.ShutdownSessions = func(s *proxy.Server) bool {
		fx.mu.Lock()
		defer fx.mu.Unlock()
		fx.shutdowns = append(fx.shutdowns, s.ID)
		return true
	}
	cfg.PersistAdmin = func(backend, server, state string) error {
		fx.mu.Lock()
		defer fx.mu.Unlock()
		if fx.persistErr != nil {
			return fx.persistErr
		}
		fx.persisted = append(fx.persisted, backend+"/"+server+"="+state)
		return nil
	}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fx.h = h
	return fx
}

// req describes one request to the handler.
type req struct {
	method, target  string
	user, pass      string
	noAuth          bool
	form            url.Values
	contentType     string
	body            string
	origin, referer string
	host            string
}

func (fx *fixture) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	body := r.body
	if r.form != nil {
		body = r.form.Encode()
		if r.contentType == "" {
			r.contentType = "application/x-www-form-urlencoded"
		}
	}
	hr := httptest.NewRequest(r.method, r.target, strings.NewReader(body))
	hr.Host = "stats.example:8080"
	if r.host != "" {
		hr.Host = r.host
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	if r.origin != "" {
		hr.Header.Set("Origin", r.origin)
	}
	if r.referer != "" {
		hr.Header.Set("Referer", r.referer)
	}
	if !r.noAuth {
		if r.user == "" {
			r.user, r.pass = viewerUser, viewerPass
		}
		hr.SetBasicAuth(r.user, r.pass)
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, hr)
	return w
}

func secsDur(s int64) time.Duration { return time.Duration(s) * time.Second }

package stats

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"hecd/internal/proxy"
	"hecd/internal/proxy/proxytest"
)

// liveFixture drops the health stubs: the page reads health.go's
// HealthSnapshot and the admin form calls its HealthAction.
func liveFixture(t *testing.T) *fixture {
	return newFixture(t, func(c *Config) { c.Health, c.HealthAdmin = nil, nil })
}

func post(t *testing.T, fx *fixture, kv ...string) string {
	t.Helper()
	w := fx.do(t, req{method: "POST", target: "/admin-status", user: adminUser, pass: adminPass, form: form(kv...)})
	if w.Code != 303 {
		t.Fatalf("POST %v: %d", kv, w.Code)
	}
	return w.Header().Get("Location")
}

func status(t *testing.T, fx *fixture, row string) string {
	t.Helper()
	_, _, rows := readCSV(t, fx, "/admin-status;csv")
	return rows[row][fStatus]
}

func TestLiveHealthActions(t *testing.T) {
	fx := liveFixture(t)
	steps := []struct {
		form       []string
		wantLoc    string
		row        string
		wantStatus string
		stale      func() bool // true while routing does not follow the change
	}{
		{[]string{"b", "app1", "s", "app1", "action", "hdown"}, "/admin-status;st=DONE", "app1/app1", "DOWN",
			func() bool { return fx.be1.Pick(nil) == fx.app1 }},
		{[]string{"b", "app1", "s", "app1", "action", "hrunn"}, "/admin-status;st=DONE", "app1/app1", "no check",
			func() bool { return fx.be1.Pick(nil) != fx.app1 }},
		{[]string{"b", "default_pool", "s", "s1", "action", "hnolb"}, "/admin-status;st=DONE", "default_pool/s1", "NOLB",
			func() bool {
				for range 4 {
					if fx.pool.Pick(nil) == fx.s1 {
						return true
					}
				}
				return false
			}},
		{[]string{"b", "default_pool", "s", "s2", "action", "maint"}, "/admin-status;st=DONE", "default_pool/s2", "MAINT",
			func() bool { return fx.s2.Usable() }},
		{[]string{"b", "default_pool", "s", "s2", "action", "ready"}, "/admin-status;st=DONE", "default_pool/s2", "no check",
			func() bool { return !fx.s2.Usable() }},
		{[]string{"b", "default_pool", "s", "s2", "action", "drain"}, "/admin-status;st=DONE", "default_pool/s2", "DRAIN",
			func() bool { return fx.s2.Balanced() }},
		// No checks configured: HAProxy skips the server, nothing altered.
		{[]string{"b", "app2", "s", "app2", "action", "dhlth"}, "/admin-status;st=ERRP", "app2/app2", "no check",
			func() bool { return false }},
	}
	for _, st := range steps {
		if loc := post(t, fx, st.form...); loc != st.wantLoc {
			t.Errorf("%v: Location %q, want %q", st.form, loc, st.wantLoc)
		}
		if got := status(t, fx, st.row); got != st.wantStatus {
			t.Errorf("%v: status %q, want %q", st.form, got, st.wantStatus)
		}
		if st.stale() {
			t.Errorf("%v: routing did not follow", st.form)
		}
	}
	// ;up hides the server that hdown brought down.
	post(t, fx, "b", "app2", "s", "app2", "action", "hdown")
	if _, order, _ := readCSV(t, fx, "/admin-status;up;csv"); strings.Contains(strings.Join(order, " "), "app2/app2") {
		t.Errorf(";up shows a DOWN server: %q", order)
	}
	if body := scrape(t, fx); !strings.Contains(body, `hecd_proxy_server_up{backend="app2",server="app2"} 0`+"\n") ||
		!strings.Contains(body, `hecd_proxy_server_state{backend="app2",server="app2",state="DOWN"} 1`+"\n") {
		t.Error("metrics do not show app2 down")
	}
}

// TestLiveChecks runs real TCP checks: the page shows their result, and
// dhlth/ehlth switch them off and on.
func TestLiveChecks(t *testing.T) {
	addr := proxytest.ServeLoopback(t, func(c net.Conn) { c.Close() })
	fx := liveFixture(t)
	srv := proxy.NewServer("web", addr)
	t.Cleanup(srv.Stop)
	if err := srv.StartChecks(proxy.CheckConfig{Enabled: true, Inter: time.Hour, Rise: 2, Fall: 1},
		proxy.Immediate(), proxy.WithLogger(slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
	fx.router.Swap(proxy.NewTable(60, []*proxy.Backend{proxy.NewBackend("web", srv)}, nil, nil))
	if !proxytest.Poll(5*time.Second, func() bool { return srv.HealthSnapshot().Last.Status == proxy.CheckL4OK }) {
		t.Fatalf("no check result: %+v", srv.HealthSnapshot())
	}
	_, _, rows := readCSV(t, fx, "/admin-status;csv")
	r := rows["web/web"]
	for i, want := range map[int]string{fStatus: "UP", fCheckStatus: "L4OK", fCheckDesc: "Layer4 check passed",
		fCheckRise: "2", fCheckFall: "1", fCheckHealth: "2", fChkfail: "0", fChkdown: "0"} {
		if r[i] != want {
			t.Errorf("%s = %q, want %q", columns[i], r[i], want)
		}
	}
	if r[fCheckDuration] == "" {
		t.Error("no check duration")
	}
	if loc := post(t, fx, "b", "web", "s", "web", "action", "dhlth"); loc != "/admin-status;st=DONE" {
		t.Errorf("dhlth: %q", loc)
	}
	if _, _, rows := readCSV(t, fx, "/admin-status;csv"); rows["web/web"][fStatus] != "no check" || rows["web/web"][fCheckStatus] != "" {
		t.Errorf("after dhlth: %q %q", rows["web/web"][fStatus], rows["web/web"][fCheckStatus])
	}
	if loc := post(t, fx, "b", "web", "s", "web", "action", "ehlth"); loc != "/admin-status;st=DONE" {
		t.Errorf("ehlth: %q", loc)
	}
	if !srv.HealthChecksEnabled() {
		t.Error("checks still disabled")
	}
}

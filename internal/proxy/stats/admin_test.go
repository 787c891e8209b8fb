package stats

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"hecd/internal/proxy"
)

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// adminCase is one admin POST and its expected outcome; without check, no
// server's admin state may change.
type adminCase struct {
	name    string
	user    string // default: the admin
	target  string // default: /admin-status
	form    url.Values
	setup   func(*fixture)
	wantLoc string
	check   func(*testing.T, *fixture)
}

func TestAdminActions(t *testing.T) {
	tests := []adminCase{
		{
			name:    "maint stops routing at once",
			form:    form("s", "app1", "action", "maint", "b", "app1"),
			wantLoc: "/admin-status;st=DONE",
			check: func(t *testing.T, fx *fixture) {
				if fx.app1.Admin() != proxy.Maint {
					t.Errorf("admin %v", fx.app1.Admin())
				}
				if s := fx.router.Table().Routes["app1"].Pick(nil); s != nil {
					t.Errorf("maint server still picked")
				}
				if !slices.Equal(fx.persisted, []string{"app1/app1=maint"}) {
					t.Errorf("persisted %q", fx.persisted)
				}
			},
		},
		{
			name:    "drain leaves the balancer",
			form:    form("b", "default_pool", "s", "s1", "action", "drain"),
			wantLoc: "/admin-status;st=DONE",
			check: func(t *testing.T, fx *fixture) {
				if fx.s1.Admin() != proxy.Drain {
					t.Errorf("admin %v", fx.s1.Admin())
				}
				for range 10 {
					if fx.pool.Pick(nil) == fx.s1 {
						t.Fatal("drained server picked")
					}
				}
			},
		},
		{
			name:    "ready returns to traffic",
			setup:   func(fx *fixture) { fx.app1.SetAdmin(proxy.Maint) },
			form:    form("b", "app1", "s", "app1", "action", "ready"),
			wantLoc: "/admin-status;st=DONE",
			check: func(t *testing.T, fx *fixture) {
				if fx.app1.Admin() != proxy.Ready || fx.be1.Pick(nil) != fx.app1 {
					t.Errorf("admin %v", fx.app1.Admin())
				}
			},
		},
		{
			name:    "two servers",
			form:    form("b", "default_pool", "s", "s1", "s", "s2", "action", "maint"),
			wantLoc: "/admin-status;st=DONE",
			check: func(t *testing.T, fx *fixture) {
				if fx.s1.Admin() != proxy.Maint || fx.s2.Admin() != proxy.Maint {
					t.Errorf("admin %v %v", fx.s1.Admin(), fx.s2.Admin())
				}
			},
		},
		{
			name:    "mixed known and unknown servers",
			form:    form("b", "default_pool", "s", "s1", "s", "nope", "action", "maint"),
			wantLoc: "/admin-status;st=PART",
			check: func(t *testing.T, fx *fixture) {
				if fx.s1.Admin() != proxy.Maint {
					t.Errorf("admin %v", fx.s1.Admin())
				}
			},
		},
		{
			// HAProxy counts an unknown name as a server it failed to
			// alter: nothing altered of one requested is ERRP.
			name:    "unknown server",
			form:    form("b", "app1", "s", "nope", "action", "maint"),
			wantLoc: "/admin-status;st=ERRP",
		},
		{
			name:    "no server named",
			form:    form("b", "app1", "action", "maint"),
			wantLoc: "/admin-status;st=NONE",
		},
		{
			name:    "unknown backend",
			form:    form("b", "nope", "s", "app1", "action", "maint"),
			wantLoc: "/admin-status;st=ERRP",
		},
		{
			name:    "backend names are exact",
			form:    form("b", "APP1", "s", "app1", "action", "maint"),
			wantLoc: "/admin-status;st=ERRP",
		},
		{
			name:    "unknown action",
			form:    form("b", "app1", "s", "app1", "action", "explode"),
			wantLoc: "/admin-status;st=ERRP",
		},
		{
			name:    "agent action",
			form:    form("b", "app1", "s", "app1", "action", "arunn"),
			wantLoc: "/admin-status;st=IVAL",
		},
		{
			name:    "read-only user",
			user:    viewerUser,
			form:    form("b", "app1", "s", "app1", "action", "maint"),
			wantLoc: "/admin-status;st=DENY",
		},
		{
			name:    "display flags survive",
			target:  "/admin-status;up;norefresh",
			form:    form("b", "app1", "s", "app1", "action", "drain"),
			wantLoc: "/admin-status;up;norefresh;st=DONE",
			check: func(t *testing.T, fx *fixture) {
				if fx.app1.Admin() != proxy.Drain {
					t.Errorf("admin %v", fx.app1.Admin())
				}
			},
		},
		{
			name:    "persist failure leaves the server unchanged",
			setup:   func(fx *fixture) { fx.persistErr = errors.New("store down") },
			form:    form("b", "app1", "s", "app1", "action", "maint"),
			wantLoc: "/admin-status;st=ERRP",
		},
		{
			name:    "shutdown",
			form:    form("b", "default_pool", "s", "s2", "action", "shutdown"),
			wantLoc: "/admin-status;st=DONE",
			check: func(t *testing.T, fx *fixture) {
				if !slices.Equal(fx.shutdowns, []string{"s2"}) {
					t.Errorf("shutdowns %q", fx.shutdowns)
				}
			},
		},
	}
	for _, action := range []string{"dhlth", "ehlth", "hrunn", "hnolb", "hdown"} {
		tests = append(tests, adminCase{
			name:    "health " + action,
			form:    form("b", "app2", "s", "app2", "action", action),
			wantLoc: "/admin-status;st=DONE",
			check: func(t *testing.T, fx *fixture) {
				if !slices.Equal(fx.healthCalls, []string{"app2:" + action}) {
					t.Errorf("health calls %q", fx.healthCalls)
				}
			},
		}, adminCase{
			// A server without checks is skipped, as HAProxy does.
			name:    "health " + action + " without checks",
			setup:   func(fx *fixture) { fx.healthOK = false },
			form:    form("b", "default_pool", "s", "s2", "action", action),
			wantLoc: "/admin-status;st=ERRP",
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			if tc.setup != nil {
				tc.setup(fx)
			}
			before := [4]proxy.AdminState{fx.app1.Admin(), fx.app2.Admin(), fx.s1.Admin(), fx.s2.Admin()}
			user, pass := adminUser, adminPass
			if tc.user == viewerUser {
				user, pass = viewerUser, viewerPass
			}
			target := tc.target
			if target == "" {
				target = "/admin-status"
			}
			w := fx.do(t, req{method: "POST", target: target, user: user, pass: pass, form: tc.form})
			if w.Code != 303 {
				t.Fatalf("status %d, want 303: %s", w.Code, w.Body)
			}
			if loc := w.Header().Get("Location"); loc != tc.wantLoc {
				t.Errorf("Location %q, want %q", loc, tc.wantLoc)
			}
			if tc.check != nil {
				tc.check(t, fx)
			} else if after := [4]proxy.AdminState{fx.app1.Admin(), fx.app2.Admin(), fx.s1.Admin(), fx.s2.Admin()}; after != before {
				t.Errorf("admin states changed: %v -> %v", before, after)
			}
		})
	}
}

func TestAdminRequestFormat(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name    string
		r       req
		wantLoc string
	}{
		{"not a form", req{contentType: "application/json", body: `{"action":"maint"}`}, "/admin-status;st=IVAL"},
		{"multipart", req{contentType: "multipart/form-data; boundary=x", body: "--x--"}, "/admin-status;st=IVAL"},
		{"too large", req{contentType: "application/x-www-form-urlencoded",
			body: "b=app1&action=maint&s=" + strings.Repeat("a", maxFormBytes)}, "/admin-status;st=EXCD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.method, tc.r.target, tc.r.user, tc.r.pass = "POST", "/admin-status", adminUser, adminPass
			w := fx.do(t, tc.r)
			if w.Code != 303 || w.Header().Get("Location") != tc.wantLoc {
				t.Errorf("%d %q, want 303 %q", w.Code, w.Header().Get("Location"), tc.wantLoc)
			}
			if fx.app1.Admin() != proxy.Ready {
				t.Error("state changed")
			}
		})
	}
}

func TestGetWithActionIsNotApplied(t *testing.T) {
	fx := newFixture(t)
	w := fx.do(t, req{target: "/admin-status?b=app1&s=app1&action=maint", user: adminUser, pass: adminPass})
	if w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	if fx.app1.Admin() != proxy.Ready || len(fx.persisted) != 0 {
		t.Errorf("GET applied an action: %v %q", fx.app1.Admin(), fx.persisted)
	}
	w = fx.do(t, req{method: "PUT", target: "/admin-status", user: adminUser, pass: adminPass, form: form("b", "app1", "s", "app1", "action", "maint")})
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD, POST" || fx.app1.Admin() != proxy.Ready {
		t.Errorf("PUT: %d Allow %q admin %v", w.Code, w.Header().Get("Allow"), fx.app1.Admin())
	}
}

func TestCSRF(t *testing.T) {
	tests := []struct {
		name            string
		origin, referer string
		host            string
		want            int
	}{
		{"no origin (scripts)", "", "", "", 303},
		{"same origin", "http://stats.example:8080", "", "", 303},
		{"same origin, case", "http://STATS.example:8080", "", "", 303},
		{"same referer", "", "http://stats.example:8080/admin-status", "", 303},
		{"default port", "http://stats.example", "", "stats.example:80", 303},
		{"foreign origin", "http://evil.example", "", "", 403},
		{"foreign port", "http://stats.example:9999", "", "", 403},
		{"null origin", "null", "", "", 403},
		{"foreign referer", "", "http://evil.example/page", "", 403},
		{"same origin, foreign referer", "http://stats.example:8080", "http://evil.example/", "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			w := fx.do(t, req{method: "POST", target: "/admin-status", user: adminUser, pass: adminPass,
				form: form("b", "app1", "s", "app1", "action", "maint"), origin: tc.origin, referer: tc.referer, host: tc.host})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
			applied := fx.app1.Admin() == proxy.Maint
			if applied != (tc.want == 303) {
				t.Errorf("applied = %v", applied)
			}
		})
	}
}

package stats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"hecd/internal/proxy"
)

func TestAuthentication(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name  string
		r     req
		want  int
		admin bool // the admin form is shown
	}{
		{"no credentials", req{noAuth: true}, 401, false},
		{"wrong password", req{user: viewerUser, pass: "nope"}, 401, false},
		{"unknown user", req{user: "mallory", pass: viewerPass}, 401, false},
		{"admin password for viewer", req{user: viewerUser, pass: adminPass}, 401, false},
		{"viewer", req{user: viewerUser, pass: viewerPass}, 200, false},
		{"admin", req{user: adminUser, pass: adminPass}, 200, true},
		{"admin again (cached)", req{user: adminUser, pass: adminPass}, 200, true},
		{"wrong password after a cached success", req{user: adminUser, pass: adminPass + "x"}, 401, false},
	}
	for _, path := range []string{"/admin-status", "/admin-status;csv", "/admin-status;json", "/metrics", "/elsewhere"} {
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				tc.r.target = path
				w := fx.do(t, tc.r)
				want := tc.want
				if path == "/elsewhere" && want == 200 {
					want = 404
				}
				if w.Code != want {
					t.Fatalf("status %d, want %d", w.Code, want)
				}
				if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
				if want == 401 {
					if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="HAProxy Statistics", charset="UTF-8"` {
						t.Errorf("WWW-Authenticate %q", got)
					}
					if strings.Contains(w.Body.String(), "app1") {
						t.Error("401 leaks data")
					}
				}
				if path == "/admin-status" && want == 200 {
					if got := strings.Contains(w.Body.String(), "<form"); got != tc.admin {
						t.Errorf("admin form shown = %v, want %v", got, tc.admin)
					}
				}
			})
		}
	}
}

func TestRealm(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.Realm = "hecd stats" })
	w := fx.do(t, req{target: "/admin-status", noAuth: true})
	if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="hecd stats", charset="UTF-8"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
}

func TestLegacyAuth(t *testing.T) {
	legacy := func(c *Config) {
		c.Htpasswd, c.AdminHtpasswd = "", ""
		c.LegacyAuth = "admin:s3cret"
		c.InsecureLegacyAuth = true
		c.LegacyAdmin = true
	}
	fx := newFixture(t, legacy)
	if w := fx.do(t, req{target: "/admin-status", user: "admin", pass: "s3cret"}); w.Code != 200 || !strings.Contains(w.Body.String(), "<form") {
		t.Errorf("legacy admin: %d", w.Code)
	}
	for _, bad := range [][2]string{{"admin", "s3cre"}, {"admin", "s3cret "}, {"Admin", "s3cret"}, {"admin:s3cret", ""}} {
		if w := fx.do(t, req{target: "/admin-status", user: bad[0], pass: bad[1]}); w.Code != 401 {
			t.Errorf("%q: %d", bad, w.Code)
		}
	}
	w := fx.do(t, req{method: "POST", target: "/admin-status", user: "admin", pass: "s3cret", form: form("b", "app1", "s", "app1", "action", "drain")})
	if w.Header().Get("Location") != "/admin-status;st=DONE" || fx.app1.Admin() != proxy.Drain {
		t.Errorf("legacy admin POST: %q", w.Header().Get("Location"))
	}

	ro := newFixture(t, legacy, func(c *Config) { c.LegacyAdmin = false })
	w = ro.do(t, req{method: "POST", target: "/admin-status", user: "admin", pass: "s3cret", form: form("b", "app1", "s", "app1", "action", "drain")})
	if w.Header().Get("Location") != "/admin-status;st=DENY" {
		t.Errorf("read-only legacy POST: %q", w.Header().Get("Location"))
	}
}

func TestConfigRefusesWeakAuth(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("admin:secret\n"), 0o600)
	apr1 := filepath.Join(dir, "apr1")
	os.WriteFile(apr1, []byte("admin:$apr1$abc$defghijklmnopqrstuv\n"), 0o600)
	good := writeHtpasswd(t, dir, "good", map[string]string{"a": "b"})
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no credentials", func(c *Config) {}, "no default credentials"},
		{"plain pair without the insecure option", func(c *Config) { c.LegacyAuth = "admin:admin" }, "insecure legacy auth"},
		{"legacy pair without a colon", func(c *Config) { c.LegacyAuth = "admin"; c.InsecureLegacyAuth = true }, "user:pass"},
		{"plain htpasswd", func(c *Config) { c.Htpasswd = plain }, "only bcrypt"},
		{"apr1 htpasswd", func(c *Config) { c.AdminHtpasswd = apr1 }, "only bcrypt"},
		{"missing file", func(c *Config) { c.Htpasswd = filepath.Join(dir, "none") }, "no such file"},
		{"no router", func(c *Config) { c.Htpasswd = good; c.Router = nil }, "no router"},
		{"relative uri", func(c *Config) { c.Htpasswd = good; c.URI = "stats" }, "must start with /"},
		{"quote in realm", func(c *Config) { c.Htpasswd = good; c.Realm = `a"b` }, "realm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Router = proxy.NewRouter()
			tc.mod(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.Router = proxy.NewRouter()
	cfg.Htpasswd = good
	if _, err := New(cfg); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestCustomURI(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.URI = "/haproxy?stats" })
	for target, want := range map[string]int{
		"/haproxy?stats":     200,
		"/haproxy?stats;csv": 200,
		"/admin-status":      404,
		"/haproxy":           404,
	} {
		if w := fx.do(t, req{target: target}); w.Code != want {
			t.Errorf("%s: %d, want %d", target, w.Code, want)
		}
	}
	w := fx.do(t, req{target: "/haproxy?stats;csv"})
	if !strings.HasPrefix(w.Body.String(), "# pxname,") {
		t.Errorf("not CSV: %.40s", w.Body)
	}
	w = fx.do(t, req{method: "POST", target: "/haproxy?stats;norefresh", user: adminUser, pass: adminPass, form: form("b", "app1", "s", "app1", "action", "drain")})
	if got := w.Header().Get("Location"); got != "/haproxy?stats;norefresh;st=DONE" {
		t.Errorf("Location %q", got)
	}
}

// TestHtpasswdFormats: Apache's htpasswd -B writes $2y$ hashes, the same
// algorithm as Go's $2a$; comments and blank lines are skipped.
func TestHtpasswdFormats(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	y := "$2y$" + strings.TrimPrefix(string(hash), "$2a$")
	path := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(path, []byte("# admins\n\n  apache:"+y+"  \ngo:"+string(hash)+"\n"), 0o600)
	fx := newFixture(t, func(c *Config) { c.Htpasswd, c.AdminHtpasswd = "", path })
	for _, u := range []string{"apache", "go"} {
		if w := fx.do(t, req{target: "/admin-status", user: u, pass: "pw"}); w.Code != 200 {
			t.Errorf("%s: %d", u, w.Code)
		}
	}
	dup := filepath.Join(t.TempDir(), "dup")
	os.WriteFile(dup, []byte("a:"+string(hash)+"\na:"+string(hash)+"\n"), 0o600)
	cfg := DefaultConfig()
	cfg.Router, cfg.Htpasswd = proxy.NewRouter(), dup
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate user: %v", err)
	}
}

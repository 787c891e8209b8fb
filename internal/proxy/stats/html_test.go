package stats

import (
	"strings"
	"testing"

	"hecd/internal/proxy"
)

func TestHTMLPage(t *testing.T) {
	fx := newFixture(t)
	w := fx.do(t, req{target: "/admin-status"})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	for k, want := range map[string]string{
		"Content-Type":    "text/html; charset=utf-8",
		"Cache-Control":   "no-store",
		"X-Frame-Options": "DENY",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	page := w.Body.String()
	for _, want := range []string{
		// Column groups and their sub-columns.
		`<th colspan="3">Queue</th><th colspan="3">Session rate</th><th colspan="6">Sessions</th><th colspan="2">Bytes</th><th colspan="2">Denied</th><th colspan="3">Errors</th><th colspan="2">Warnings</th><th colspan="9">Server</th>`,
		`<tr class="sub"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr>`,
		// One table per proxy, FRONTEND / server / BACKEND rows.
		`<th class="pxname" colspan="31">http_80_in</th>`,
		`<th class="pxname" colspan="31">app1</th>`,
		`<th class="pxname" colspan="31">app2</th>`,
		`<th class="pxname" colspan="31">default_pool</th>`,
		`<tr class="up">` + "\n" + `<td class="name">FRONTEND</td>`,
		`<tr class="up">` + "\n" + `<td class="name">app1</td>`,
		`<tr class="down">` + "\n" + `<td class="name">app2</td>`,
		`<tr class="goingdown">` + "\n" + `<td class="name">s1</td>`,
		`<tr class="nocheck">` + "\n" + `<td class="name">s2</td>`,
		`<td class="name">BACKEND</td>`,
		// Status with the time since the last change, last check.
		`<td>1m30s UP</td><td title="Layer4 check passed">L4OK in 2ms</td>`,
		`<td title="Layer7 wrong status">L7STS/500 in 3ms</td>`,
		`<td title="HTTP responses: 1xx=0 2xx=2 3xx=0 4xx=0 5xx=1 other=0">3</td>`,
		// Process section and legend.
		"pid = ", "uptime = 1d 2h03m04s", "maxconn = 5000", "current conns = 2",
		"routes = 2; route table from store index 42",
		`<td class="maint">`, "active or backup MAINT",
		// Refresh and the stop-refresh link.
		`<meta http-equiv="refresh" content="30; url=/admin-status">`,
		`<a href="/admin-status;norefresh">Stop refresh</a>`,
		`<a href="/admin-status;csv">CSV export</a>`,
		// Store banners.
		`Store unreachable for 2m30s (connection refused): serving the last route table (last applied index 41).`,
		`<td title="Layer4 connection problem: Connection refused">L4CON in 1ms</td>`,
		`Invalid keys skipped: 1.`,
		`<li>/app/servers/bad = &#34;not-an-address&#34;: missing port</li>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// A read-only user gets no admin form.
	for _, unwanted := range []string{"<form", `type="checkbox"`, `name="action"`} {
		if strings.Contains(page, unwanted) {
			t.Errorf("read-only page contains %s", unwanted)
		}
	}
	// No version anywhere.
	if strings.Contains(strings.ToLower(page), "version") {
		t.Error("page mentions a version")
	}
}

func TestHTMLAdminForm(t *testing.T) {
	fx := newFixture(t)
	page := fx.do(t, req{target: "/admin-status;up", user: adminUser, pass: adminPass}).Body.String()
	for _, want := range []string{
		`<form method="post" action="/admin-status;up">`,
		`<th class="pxname" colspan="32">app1</th>`,
		`<td><input type="checkbox" name="s" value="app1"></td>`,
		`<td><input type="checkbox" name="s" value="s1"></td>`,
		`<input type="hidden" name="b" value="default_pool">`,
		`<option value="drain">Set state to DRAIN</option>`,
		`<option value="hdown">Health: force DOWN</option>`,
		`<option value="shutdown">Kill sessions</option>`,
		// The frontend has no form and keeps its width.
		`<th class="pxname" colspan="31">http_80_in</th>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("admin page lacks %s", want)
		}
	}
	if strings.Contains(page, `value="dagent"`) {
		t.Error("agent actions offered")
	}
}

func TestHTMLNoRefresh(t *testing.T) {
	fx := newFixture(t)
	page := fx.do(t, req{target: "/admin-status;norefresh"}).Body.String()
	if strings.Contains(page, `http-equiv="refresh"`) {
		t.Error(";norefresh page refreshes")
	}
	if !strings.Contains(page, `<a href="/admin-status">Enable refresh</a>`) {
		t.Error("no link back to refreshing")
	}
	fx2 := newFixture(t, func(c *Config) { c.Refresh = 0 })
	if page := fx2.do(t, req{target: "/admin-status"}).Body.String(); strings.Contains(page, `http-equiv="refresh"`) || strings.Contains(page, "Stop refresh") {
		t.Error("refresh 0 still refreshes")
	}
}

func TestHTMLEscapesHostileIDs(t *testing.T) {
	fx := newFixture(t)
	const evil = `<script>alert("x")</script>&'`
	s := proxy.NewServer(evil, `10.0.0.7:80"><img src=x>`)
	fx.router.Swap(proxy.NewTable(50, []*proxy.Backend{proxy.NewBackend(evil, s)}, nil,
		[]proxy.Invalid{{Key: "/app/servers/<i>k</i>", Value: "v\n<svg onload=alert(1)>", Reason: "<u>bad</u>"}}))
	for _, user := range [][2]string{{viewerUser, viewerPass}, {adminUser, adminPass}} {
		page := fx.do(t, req{target: "/admin-status", user: user[0], pass: user[1]}).Body.String()
		for _, raw := range []string{"<script>", "<img", "<i>k</i>", "<u>bad</u>", "<svg"} {
			if strings.Contains(page, raw) {
				t.Errorf("%s: page contains unescaped %q", user[0], raw)
			}
		}
		for _, escaped := range []string{
			`<td class="name">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;</td>`,
			`<li>/app/servers/&lt;i&gt;k&lt;/i&gt; = &#34;v\n&lt;svg onload=alert(1)&gt;&#34;: &lt;u&gt;bad&lt;/u&gt;</li>`,
		} {
			if !strings.Contains(page, escaped) {
				t.Errorf("%s: page lacks %s", user[0], escaped)
			}
		}
	}
}

func TestResultBanner(t *testing.T) {
	fx := newFixture(t)
	tests := []struct{ target, want string }{
		{"/admin-status;st=DONE", `<div class="banner up" id="result"><a href="/admin-status" title="Remove this message">[X]</a> Action processed successfully.</div>`},
		{"/admin-status;up;st=PART", `<div class="banner goingdown" id="result"><a href="/admin-status;up" title="Remove this message">[X]</a> Action partially processed`},
		{"/admin-status;st=DENY", `Action denied`},
		{"/admin-status;st=ZZZZ", `Unexpected result.`},
	}
	for _, tc := range tests {
		page := fx.do(t, req{target: tc.target}).Body.String()
		if !strings.Contains(page, tc.want) {
			t.Errorf("%s: page lacks %s", tc.target, tc.want)
		}
		// The page refreshes to itself without the result code.
		if strings.Contains(page, "url=/admin-status;st") || strings.Contains(page, `;st=`+"\"") {
			t.Errorf("%s: refresh keeps the result", tc.target)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		secs int64
		want string
	}{{0, "0s"}, {59, "59s"}, {61, "1m1s"}, {3600, "1h0m"}, {3*86400 + 5*3600 + 7, "3d5h"}}
	for _, tc := range tests {
		if got := humanDuration(secsDur(tc.secs)); got != tc.want {
			t.Errorf("%d: %q, want %q", tc.secs, got, tc.want)
		}
	}
	if got := uptime(secsDur(86400 + 2*3600 + 3*60 + 4)); got != "1d 2h03m04s" {
		t.Errorf("uptime %q", got)
	}
}

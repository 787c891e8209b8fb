package stats

import (
	"bytes"
	"html/template"
	"io"
	"time"

	"hecd/internal/proxy"
)

// The page is rendered with html/template, so every value that comes from
// the store (route ids, addresses, invalid keys and their values) is
// escaped for the context it lands in.

type cell struct{ Text, Title string }

type pageRow struct {
	Class    string
	Name     string
	ServerID string // set on server rows: the admin checkbox's value
	IsServer bool
	Cells    []cell
}

type pageProxy struct {
	Name string
	Form bool // a backend shown to an admin: checkboxes and actions
	Rows []pageRow
}

type pageLink struct{ Href, Text string }

type page struct {
	URI, Self       string // Self: the prefix with the current display flags
	Refresh         int
	RefreshURL      string
	PID             int
	Uptime          string
	MaxConn         int
	CurConn         int64
	Routes          int
	TableIndex      uint64
	Admin           bool
	ResultCode      string
	ResultText      string
	ResultClass     string
	Store           *StoreStatus
	StoreLag        string
	Invalid         []proxy.Invalid
	InvalidMore     int
	InvalidCount    int
	Conflicts       []string
	Links           []pageLink
	Proxies         []pageProxy
	Legend          []pageLink // Href holds the class
	Groups          []group
	SubHeads        []string
	Columns         int        // the name column and the sub-columns
	ColumnsForm     int        // plus the checkbox column of an admin's backend
	AdminActionList []pageLink // Href holds the action
}

type group struct {
	Name string
	Span int
}

var groups = []group{
	{"Queue", 3}, {"Session rate", 3}, {"Sessions", 6}, {"Bytes", 2}, {"Denied", 2},
	{"Errors", 3}, {"Warnings", 2}, {"Server", 9},
}

var subHeads = []string{
	"Cur", "Max", "Limit", // Queue
	"Cur", "Max", "Limit", // Session rate
	"Cur", "Max", "Limit", "Total", "LbTot", "Last", // Sessions
	"In", "Out", // Bytes
	"Req", "Resp", // Denied
	"Req", "Conn", "Resp", // Errors
	"Retr", "Redis", // Warnings
	"Status", "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme", "Thrtle", // Server
}

var legend = []pageLink{
	{"up", "active UP"},
	{"goingdown", "active UP, going down"},
	{"goingup", "active DOWN, going up"},
	{"down", "active or backup DOWN"},
	{"nolb", "active or backup NOLB (up, not load-balanced)"},
	{"drain", "active or backup DRAIN (up, draining)"},
	{"maint", "active or backup MAINT (maintenance)"},
	{"nocheck", "not checked"},
}

var adminActions = []pageLink{
	{"ready", "Set state to READY"},
	{"drain", "Set state to DRAIN"},
	{"maint", "Set state to MAINT"},
	{"dhlth", "Health: disable checks"},
	{"ehlth", "Health: enable checks"},
	{"hrunn", "Health: force UP"},
	{"hnolb", "Health: force NOLB"},
	{"hdown", "Health: force DOWN"},
	{"shutdown", "Kill sessions"},
}

// maxInvalidShown bounds the list of skipped keys on the page; the count
// is always shown.
const maxInvalidShown = 50

func (h *Handler) writeHTML(w io.Writer, v *view, o options, admin bool) error {
	p := page{
		URI:             h.cfg.URI,
		Self:            h.cfg.URI + o.suffix(),
		PID:             h.pid,
		Uptime:          uptime(v.now.Sub(h.cfg.Started)),
		MaxConn:         h.cfg.MaxConn,
		CurConn:         v.curConn,
		Routes:          len(v.table.IDs),
		TableIndex:      v.table.Index,
		Admin:           admin,
		Store:           v.store,
		Conflicts:       v.table.Conflicts,
		Legend:          legend,
		Groups:          groups,
		SubHeads:        subHeads,
		Columns:         len(subHeads) + 1,
		ColumnsForm:     len(subHeads) + 2,
		AdminActionList: adminActions,
	}
	if h.cfg.Refresh > 0 && !o.noRefresh {
		p.Refresh = max(1, int(h.cfg.Refresh/time.Second))
		// Reload without ;st= so that an old admin result does not stay.
		p.RefreshURL = p.Self
	}
	if o.st != "" {
		p.ResultCode, p.ResultText = o.st, statusText[o.st]
		switch o.st {
		case "DONE":
			p.ResultClass = "up"
		case "NONE", "PART":
			p.ResultClass = "goingdown"
		default:
			p.ResultClass = "down"
		}
	}
	if v.store != nil && !v.store.Connected && !v.store.Since.IsZero() {
		p.StoreLag = humanDuration(v.now.Sub(v.store.Since))
	}
	p.InvalidCount = len(v.table.Invalid)
	if v.store != nil && v.store.InvalidKeys > p.InvalidCount {
		p.InvalidCount = v.store.InvalidKeys
	}
	p.Invalid = v.table.Invalid
	if len(p.Invalid) > maxInvalidShown {
		p.InvalidMore = len(p.Invalid) - maxInvalidShown
		p.Invalid = p.Invalid[:maxInvalidShown]
	}
	p.Links = h.links(o)
	for _, pv := range v.proxies {
		pp := pageProxy{Name: pv.name, Form: admin && pv.backend != nil}
		for i := range pv.rows {
			pp.Rows = append(pp.Rows, htmlRow(&pv.rows[i]))
		}
		p.Proxies = append(p.Proxies, pp)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, &p); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (h *Handler) links(o options) []pageLink {
	with := func(mod func(*options)) string {
		c := o
		c.st = ""
		mod(&c)
		return h.cfg.URI + c.suffix()
	}
	var l []pageLink
	if o.hideDown {
		l = append(l, pageLink{with(func(c *options) { c.hideDown = false }), "Show all servers"})
	} else {
		l = append(l, pageLink{with(func(c *options) { c.hideDown = true }), "Hide servers that are not UP"})
	}
	if o.hideMaint {
		l = append(l, pageLink{with(func(c *options) { c.hideMaint = false }), "Show MAINT servers"})
	} else {
		l = append(l, pageLink{with(func(c *options) { c.hideMaint = true }), "Hide MAINT servers"})
	}
	if h.cfg.Refresh > 0 {
		if o.noRefresh {
			l = append(l, pageLink{with(func(c *options) { c.noRefresh = false }), "Enable refresh"})
		} else {
			l = append(l, pageLink{with(func(c *options) { c.noRefresh = true }), "Stop refresh"})
		}
	}
	l = append(l,
		pageLink{with(func(*options) {}), "Refresh now"},
		pageLink{h.cfg.URI + ";csv", "CSV export"},
		pageLink{h.cfg.URI + ";json", "JSON export"},
	)
	return l
}

func htmlRow(r *row) pageRow {
	f := &r.f
	pr := pageRow{Class: r.state, Name: f[fSvname]}
	if r.server != nil {
		pr.IsServer, pr.ServerID = true, r.server.ID
	}
	last := ""
	if r.typ != typeFrontend {
		last = humanDuration(r.lastsess)
		if r.lastsess < 0 {
			last = "never"
		}
	}
	responses := "HTTP responses: 1xx=" + f[fHrsp1xx] + " 2xx=" + f[fHrsp2xx] + " 3xx=" + f[fHrsp3xx] +
		" 4xx=" + f[fHrsp4xx] + " 5xx=" + f[fHrsp5xx] + " other=" + f[fHrspOther]
	status := f[fStatus]
	if r.lastchg >= 0 {
		status = humanDuration(r.lastchg) + " " + status
	}
	lastChk, chkTitle := f[fCheckStatus], f[fCheckDesc]
	if f[fCheckCode] != "" {
		lastChk += "/" + f[fCheckCode]
	}
	if f[fCheckDuration] != "" {
		lastChk += " in " + f[fCheckDuration] + "ms"
	}
	if f[fLastChk] != "" {
		chkTitle += ": " + f[fLastChk]
	}
	act, bck, thr, dwntme := f[fAct], f[fBck], "", ""
	if r.typ == typeServer {
		act, bck, thr = "Y", "-", "-"
		dwntme = humanDuration(r.downtime)
	}
	pr.Cells = []cell{
		{f[fQcur], ""}, {f[fQmax], ""}, {f[fQlimit], ""},
		{f[fRate], ""}, {f[fRateMax], ""}, {f[fRateLim], ""},
		{f[fScur], ""}, {f[fSmax], ""}, {f[fSlim], ""}, {f[fStot], responses}, {f[fLbtot], ""}, {last, ""},
		{f[fBin], ""}, {f[fBout], ""},
		{f[fDreq], ""}, {f[fDresp], ""},
		{f[fEreq], ""}, {f[fEcon], ""}, {f[fEresp], abortTitle(f)},
		{f[fWretr], ""}, {f[fWredis], ""},
		{status, ""}, {lastChk, chkTitle}, {f[fWeight], ""}, {act, ""}, {bck, ""},
		{f[fChkfail], ""}, {f[fChkdown], ""}, {dwntme, ""}, {thr, ""},
	}
	return pr
}

func abortTitle(f *[nFields]string) string {
	if f[fCliAbrt] == "" {
		return ""
	}
	return "client aborts: " + f[fCliAbrt] + ", server aborts: " + f[fSrvAbrt]
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{{- if .Refresh}}
<meta http-equiv="refresh" content="{{.Refresh}}; url={{.RefreshURL}}">
{{- end}}
<title>Statistics Report</title>
<style>
body { font-family: Arial, Helvetica, sans-serif; font-size: 12px; margin: 8px; color: #111; background: #fff; }
h1 { font-size: 18px; margin: 0 0 6px; padding: 4px 8px; background: #254a6b; color: #fff; }
h2 { font-size: 14px; margin: 10px 0 4px; color: #254a6b; }
a { color: #254a6b; }
table.info { border-collapse: collapse; margin-bottom: 8px; }
table.info > tbody > tr > td { vertical-align: top; padding: 0 16px 0 0; }
table.legend td { padding: 1px 6px; border: 1px solid #999; }
table.px { border-collapse: collapse; margin: 4px 0 2px; min-width: 900px; }
table.px th, table.px td { border: 1px solid #9aa4ad; padding: 1px 4px; text-align: right; white-space: nowrap; }
table.px th.pxname { text-align: left; background: #254a6b; color: #fff; font-size: 13px; }
table.px tr.groups th, table.px tr.sub th { background: #d8dee4; font-weight: normal; text-align: center; }
table.px td.name { text-align: left; font-weight: bold; }
tr.up td, td.up, div.up { background: #b8f0b8; }
tr.goingdown td, td.goingdown, div.goingdown { background: #fff3a0; }
tr.goingup td, td.goingup { background: #ffcf70; }
tr.down td, td.down, div.down { background: #ff9a9a; }
tr.nolb td, td.nolb { background: #9fd0ff; }
tr.drain td, td.drain { background: #b7b0ff; }
tr.maint td, td.maint { background: #c8c8c8; }
tr.nocheck td, td.nocheck { background: #e8f3e8; }
div.banner { border: 1px solid #888; padding: 4px 8px; margin: 6px 0; }
div.note { border: 1px solid #bbb; background: #f4f4f4; padding: 4px 8px; margin: 6px 0; }
p.act { margin: 2px 0 14px; }
</style>
</head>
<body>
<h1>Statistics Report</h1>
<h2>General process information</h2>
<table class="info"><tbody><tr>
<td>
pid = {{.PID}}<br>
uptime = {{.Uptime}}<br>
maxconn = {{.MaxConn}}<br>
current conns = {{.CurConn}}<br>
routes = {{.Routes}}; route table from store index {{.TableIndex}}
</td>
<td>
<table class="legend"><tbody>
{{- range .Legend}}
<tr><td class="{{.Href}}">&nbsp;&nbsp;&nbsp;&nbsp;</td><td>{{.Text}}</td></tr>
{{- end}}
</tbody></table>
</td>
<td>
<b>Display option:</b><br>
{{- range .Links}}
<a href="{{.Href}}">{{.Text}}</a><br>
{{- end}}
</td>
</tr></tbody></table>
{{- if .ResultCode}}
<div class="banner {{.ResultClass}}" id="result"><a href="{{.Self}}" title="Remove this message">[X]</a> {{.ResultText}}</div>
{{- end}}
{{- with .Store}}
{{- if .Connected}}
<div class="note" id="store">Store: connected; last applied index {{.LastIndex}}.</div>
{{- else}}
<div class="banner down" id="store">Store unreachable{{if $.StoreLag}} for {{$.StoreLag}}{{end}}{{if .LastError}} ({{.LastError}}){{end}}: serving the last route table (last applied index {{.LastIndex}}).</div>
{{- end}}
{{- end}}
{{- if .InvalidCount}}
<div class="banner goingdown" id="invalid">Invalid keys skipped: {{.InvalidCount}}.
{{- if .Invalid}}
<ul>
{{- range .Invalid}}
<li>{{.Key}} = {{printf "%q" .Value}}: {{.Reason}}</li>
{{- end}}
{{- if .InvalidMore}}
<li>and {{.InvalidMore}} more</li>
{{- end}}
</ul>
{{- end}}
</div>
{{- end}}
{{- if .Conflicts}}
<div class="banner goingdown" id="conflicts">Route ids skipped because they differ from another only in case:
{{- range .Conflicts}} {{.}}{{end}}</div>
{{- end}}
{{- range .Proxies}}
{{- if .Form}}
<form method="post" action="{{$.Self}}">
{{- end}}
<table class="px">
<thead>
<tr><th class="pxname" colspan="{{if .Form}}{{$.ColumnsForm}}{{else}}{{$.Columns}}{{end}}">{{.Name}}</th></tr>
<tr class="groups">{{if .Form}}<th rowspan="2"></th>{{end}}<th rowspan="2"></th>
{{- range $.Groups}}<th colspan="{{.Span}}">{{.Name}}</th>{{end}}</tr>
<tr class="sub">{{range $.SubHeads}}<th>{{.}}</th>{{end}}</tr>
</thead>
<tbody>
{{- $form := .Form}}
{{- range .Rows}}
<tr class="{{.Class}}">
{{- if $form}}<td>{{if .IsServer}}<input type="checkbox" name="s" value="{{.ServerID}}">{{end}}</td>{{end}}
<td class="name">{{.Name}}</td>
{{- range .Cells}}<td{{if .Title}} title="{{.Title}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- if .Form}}
<p class="act">Choose the action to perform on the checked servers:
<select name="action">
<option value="" selected disabled>Action</option>
{{- range $.AdminActionList}}
<option value="{{.Href}}">{{.Text}}</option>
{{- end}}
</select>
<input type="hidden" name="b" value="{{.Name}}">
<input type="submit" value="Apply">
</p>
</form>
{{- end}}
{{- end}}
</body>
</html>
`))

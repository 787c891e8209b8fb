package stats

import (
	"strconv"
	"strings"
	"time"

	"hecd/internal/proxy"
)

// HAProxy's CSV fields 0-80, in HAProxy's order (proxy.md A.8). Tools read
// them by position, so a field hecd cannot compute stays empty and nothing
// after it ever moves.
const (
	fPxname = iota
	fSvname
	fQcur
	fQmax
	fScur
	fSmax
	fSlim
	fStot
	fBin
	fBout
	fDreq
	fDresp
	fEreq
	fEcon
	fEresp
	fWretr
	fWredis
	fStatus
	fWeight
	fAct
	fBck
	fChkfail
	fChkdown
	fLastchg
	fDowntime
	fQlimit
	fPid
	fIid
	fSid
	fThrottle
	fLbtot
	fTracked
	fType
	fRate
	fRateLim
	fRateMax
	fCheckStatus
	fCheckCode
	fCheckDuration
	fHrsp1xx
	fHrsp2xx
	fHrsp3xx
	fHrsp4xx
	fHrsp5xx
	fHrspOther
	fHanafail
	fReqRate
	fReqRateMax
	fReqTot
	fCliAbrt
	fSrvAbrt
	fCompIn
	fCompOut
	fCompByp
	fCompRsp
	fLastsess
	fLastChk
	fLastAgt
	fQtime
	fCtime
	fRtime
	fTtime
	fAgentStatus
	fAgentCode
	fAgentDuration
	fCheckDesc
	fAgentDesc
	fCheckRise
	fCheckFall
	fCheckHealth
	fAgentRise
	fAgentFall
	fAgentHealth
	fAddr
	fCookie
	fMode
	fAlgo
	fConnRate
	fConnRateMax
	fConnTot
	fIntercepted
	nFields
)

var columns = [nFields]string{
	"pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout",
	"dreq", "dresp", "ereq", "econ", "eresp", "wretr", "wredis", "status", "weight", "act",
	"bck", "chkfail", "chkdown", "lastchg", "downtime", "qlimit", "pid", "iid", "sid", "throttle",
	"lbtot", "tracked", "type", "rate", "rate_lim", "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx",
	"hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt",
	"srv_abrt", "comp_in", "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime",
	"rtime", "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc", "check_rise", "check_fall", "check_health",
	"agent_rise", "agent_fall", "agent_health", "addr", "cookie", "mode", "algo", "conn_rate", "conn_rate_max", "conn_tot",
	"intercepted",
}

// textFields are the CSV fields that hold text; the JSON export writes the
// others as numbers.
var textFields = map[int]bool{
	fPxname: true, fSvname: true, fStatus: true, fTracked: true, fCheckStatus: true,
	fLastChk: true, fLastAgt: true, fAgentStatus: true, fCheckDesc: true, fAgentDesc: true,
	fAddr: true, fCookie: true, fMode: true, fAlgo: true,
}

// Row types (field 32).
const (
	typeFrontend = 0
	typeBackend  = 1
	typeServer   = 2
)

// row is one line of the report: FRONTEND, a server or BACKEND.
type row struct {
	typ int // typeFrontend, typeBackend or typeServer
	f   [nFields]string
	// state is the colour class of the row (see the legend).
	state string
	// server is set on server rows (admin checkboxes).
	server *proxy.Server
	health proxy.HealthSnapshot
	// lastchg and downtime are kept as durations for the HTML page; -1
	// when the row has none.
	lastchg, downtime time.Duration
	lastsess          time.Duration // -1 when never
}

// proxyView is one table of the page: a frontend, or a backend with its
// servers.
type proxyView struct {
	name    string
	backend *proxy.Backend // nil for a frontend
	rows    []row
}

// view is a consistent read of everything the page shows, taken once per
// request from one route table.
type view struct {
	now     time.Time
	table   *proxy.Table
	store   *StoreStatus
	proxies []proxyView
	curConn int64
}

func (h *Handler) snapshot(o options) *view {
	now := h.cfg.Now()
	t := h.cfg.Router.Table()
	v := &view{now: now, table: t}
	if h.cfg.StoreStatus != nil {
		s := h.cfg.StoreStatus()
		v.store = &s
	}
	iid := 0
	for _, fe := range h.cfg.Frontends {
		iid++
		r := frontendRow(fe, iid, now)
		v.curConn += fe.Counters.Cur.Load()
		v.proxies = append(v.proxies, proxyView{name: fe.Name, rows: []row{r}})
	}
	for _, id := range t.IDs {
		b := t.Routes[strings.ToLower(id)]
		iid++
		v.proxies = append(v.proxies, h.backendView(b, iid, now, o))
	}
	if t.Default != nil {
		iid++
		v.proxies = append(v.proxies, h.backendView(t.Default, iid, now, o))
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fillCounters writes the counters every row type shows the same way.
func fillCounters(f *[nFields]string, c *proxy.Counters) {
	f[fScur] = itoa(c.Cur.Load())
	f[fSmax] = itoa(c.Max.Load())
	f[fStot] = itoa(c.Total.Load())
	f[fBin] = itoa(c.BytesIn.Load())
	f[fBout] = itoa(c.BytesOut.Load())
	for i := range 6 {
		f[fHrsp1xx+i] = itoa(c.Hrsp[i].Load())
	}
	f[fPid] = "1" // HAProxy's relative process number, not the OS pid
	f[fMode] = "http"
}

// lastSession is the age of the last session, -1 when there was none.
func lastSession(c *proxy.Counters, now time.Time) time.Duration {
	ls := c.LastSess.Load()
	if ls == 0 {
		return -1
	}
	return max(0, now.Sub(time.Unix(ls, 0)))
}

func secs(d time.Duration) string { return itoa(int64(d / time.Second)) }

func frontendRow(fe Frontend, iid int, now time.Time) row {
	r := row{typ: typeFrontend, lastchg: -1, downtime: -1}
	f := &r.f
	c := fe.Counters
	f[fPxname], f[fSvname] = fe.Name, "FRONTEND"
	fillCounters(f, c)
	if fe.MaxConn > 0 {
		f[fSlim] = strconv.Itoa(fe.MaxConn)
	}
	f[fDreq], f[fDresp] = "0", "0"
	f[fEreq] = itoa(c.ErrReq.Load())
	f[fStatus] = "OPEN"
	f[fIid], f[fSid] = strconv.Itoa(iid), "0"
	f[fType] = strconv.Itoa(typeFrontend)
	f[fReqTot] = itoa(c.Total.Load())
	f[fCompIn], f[fCompOut], f[fCompByp], f[fCompRsp] = "0", "0", "0", "0"
	r.state = "up"
	r.lastsess = lastSession(c, now)
	return r
}

// serverHealth is the server's health with its displayed status, which
// health.go composes as HAProxy does (MAINT, DRAIN and NOLB over UP/DOWN).
// A hook that leaves Status empty gets the verdict alone.
func (h *Handler) serverHealth(s *proxy.Server) proxy.HealthSnapshot {
	hs := h.cfg.Health(s)
	if hs.Status == "" {
		switch {
		case s.Admin() == proxy.Maint:
			hs.Status = "MAINT"
		case !s.Up():
			hs.Status = "DOWN"
		default:
			hs.Status = "no check"
		}
	}
	return hs
}

// stateClass maps a displayed status to its legend colour.
func stateClass(status string) string {
	switch {
	case status == "MAINT":
		return "maint"
	case strings.HasPrefix(status, "DRAIN"):
		return "drain"
	case strings.HasPrefix(status, "NOLB"):
		return "nolb"
	case status == "no check":
		return "nocheck"
	case strings.HasPrefix(status, "UP "):
		return "goingdown"
	case strings.HasPrefix(status, "DOWN "):
		return "goingup"
	case status == "UP":
		return "up"
	}
	return "down"
}

// baseState folds a displayed status into one of UP, DOWN, NOLB, DRAIN
// and MAINT: a transition counts as the state it is in, "no check" as UP.
func baseState(status string) string {
	switch {
	case status == "MAINT":
		return "MAINT"
	case strings.HasPrefix(status, "DRAIN"):
		return "DRAIN"
	case strings.HasPrefix(status, "NOLB"):
		return "NOLB"
	case strings.HasPrefix(status, "DOWN"):
		return "DOWN"
	}
	return "UP"
}

// hidden applies ;up (hide servers that are not up: DOWN, going up, or in
// maintenance, which takes no traffic either) and ;no-maint, judged on
// the status the page would show.
func hidden(status string, o options) bool {
	base := baseState(status)
	return (o.hideMaint && base == "MAINT") || (o.hideDown && (base == "MAINT" || base == "DOWN"))
}

func (h *Handler) backendView(b *proxy.Backend, iid int, now time.Time, o options) proxyView {
	pv := proxyView{name: b.Name, backend: b}
	for sid, s := range b.Servers {
		hs := h.serverHealth(s)
		if hidden(hs.Status, o) {
			continue
		}
		pv.rows = append(pv.rows, serverRow(b, s, hs, iid, sid+1, now))
	}
	pv.rows = append(pv.rows, backendRow(b, iid, now))
	return pv
}

// serverRow fills what health.go reports the way HAProxy does: the
// check counters only while checks are enabled, the last check only while
// it is shown (not in MAINT), its code and duration only when they apply.
func serverRow(b *proxy.Backend, s *proxy.Server, hs proxy.HealthSnapshot, iid, sid int, now time.Time) row {
	r := row{typ: typeServer}
	f := &r.f
	c := &s.Counters
	r.server, r.health, r.state = s, hs, stateClass(hs.Status)
	f[fPxname], f[fSvname] = b.Name, s.ID
	fillCounters(f, c)
	f[fQcur], f[fQmax] = "0", "0"
	f[fDresp] = "0"
	f[fEcon] = itoa(c.ErrConn.Load())
	f[fEresp] = itoa(c.ErrResp.Load())
	f[fWretr] = itoa(c.Retries.Load())
	f[fWredis] = itoa(c.Redisp.Load())
	f[fStatus] = hs.Status
	f[fWeight] = strconv.Itoa(s.Weight())
	f[fAct], f[fBck] = "1", "0"
	r.lastchg, r.downtime = -1, -1
	if !hs.LastChange.IsZero() {
		r.lastchg = max(0, now.Sub(hs.LastChange))
		f[fLastchg] = secs(r.lastchg)
	}
	if hs.CheckEnabled {
		f[fChkfail] = itoa(hs.ChkFail)
		f[fChkdown] = itoa(hs.ChkDown)
		r.downtime = hs.Downtime
		f[fDowntime] = secs(hs.Downtime)
	}
	f[fIid], f[fSid] = strconv.Itoa(iid), strconv.Itoa(sid)
	f[fLbtot] = itoa(c.LBTotal.Load())
	f[fType] = strconv.Itoa(typeServer)
	if hs.CheckShown {
		f[fCheckStatus] = hs.CheckStatus
		if hs.HasCode {
			f[fCheckCode] = strconv.Itoa(hs.CheckCode)
		}
		if hs.HasDuration {
			f[fCheckDuration] = itoa(hs.CheckDuration.Milliseconds())
		}
		f[fLastChk] = hs.LastChk
		f[fCheckDesc] = hs.CheckDesc
		f[fCheckRise] = strconv.Itoa(hs.Rise)
		f[fCheckFall] = strconv.Itoa(hs.Fall)
		f[fCheckHealth] = strconv.Itoa(hs.Health)
	}
	f[fHanafail] = itoa(hs.HanaFail)
	f[fReqTot] = itoa(c.Total.Load())
	f[fCliAbrt] = itoa(c.CliAbrt.Load())
	f[fSrvAbrt] = itoa(c.SrvAbrt.Load())
	r.lastsess = lastSession(c, now)
	f[fLastsess] = secs(r.lastsess)
	if r.lastsess < 0 {
		f[fLastsess] = "-1"
	}
	f[fAddr] = s.Addr
	return r
}

func backendRow(b *proxy.Backend, iid int, now time.Time) row {
	r := row{typ: typeBackend, lastchg: -1, downtime: -1}
	f := &r.f
	c := &b.Counters
	f[fPxname], f[fSvname] = b.Name, "BACKEND"
	fillCounters(f, c)
	f[fQcur], f[fQmax] = "0", "0"
	f[fDreq], f[fDresp] = "0", "0"
	f[fEcon] = itoa(c.ErrConn.Load())
	f[fEresp] = itoa(c.ErrResp.Load())
	f[fWretr] = itoa(c.Retries.Load())
	f[fWredis] = itoa(c.Redisp.Load())
	// act counts servers that take requests (a drained route server
	// still takes those routed to it by APPID, unlike in HAProxy, so the
	// backend stays UP); weight counts only what the balancer may pick.
	weight, act := 0, 0
	for _, s := range b.Servers {
		if s.Usable() {
			act++
		}
		if s.Balanced() {
			weight += s.Weight()
		}
	}
	f[fStatus] = "DOWN"
	r.state = "down"
	if act > 0 {
		f[fStatus], r.state = "UP", "up"
	}
	f[fWeight] = strconv.Itoa(weight)
	f[fAct], f[fBck] = strconv.Itoa(act), "0"
	f[fIid], f[fSid] = strconv.Itoa(iid), "0"
	f[fLbtot] = itoa(c.LBTotal.Load())
	f[fType] = strconv.Itoa(typeBackend)
	f[fReqTot] = itoa(c.Total.Load())
	f[fCliAbrt] = itoa(c.CliAbrt.Load())
	f[fSrvAbrt] = itoa(c.SrvAbrt.Load())
	f[fCompIn], f[fCompOut], f[fCompByp], f[fCompRsp] = "0", "0", "0", "0"
	r.lastsess = lastSession(c, now)
	f[fLastsess] = secs(r.lastsess)
	if r.lastsess < 0 {
		f[fLastsess] = "-1"
	}
	f[fAlgo] = "roundrobin"
	return r
}

// humanDuration is HAProxy's short form: the two largest units
// ("2d3h", "5h12m", "3m7s", "9s").
func humanDuration(d time.Duration) string {
	if d < 0 {
		return ""
	}
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	hours, s := s/3600, s%3600
	mins, s := s/60, s%60
	switch {
	case days > 0:
		return itoa(days) + "d" + itoa(hours) + "h"
	case hours > 0:
		return itoa(hours) + "h" + itoa(mins) + "m"
	case mins > 0:
		return itoa(mins) + "m" + itoa(s) + "s"
	}
	return itoa(s) + "s"
}

// uptime is the process section's long form, "3d 4h05m06s".
func uptime(d time.Duration) string {
	s := int64(max(0, d) / time.Second)
	days, s := s/86400, s%86400
	hours, s := s/3600, s%3600
	mins, s := s/60, s%60
	pad := func(n int64) string {
		if n < 10 {
			return "0" + itoa(n)
		}
		return itoa(n)
	}
	return itoa(days) + "d " + itoa(hours) + "h" + pad(mins) + "m" + pad(s) + "s"
}

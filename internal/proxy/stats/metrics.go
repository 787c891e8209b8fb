package stats

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"hecd/internal/proxy"
)

// collector reads the live counters at scrape time: the request path keeps
// only its atomics (proxy.Counters) and nothing is counted twice.
type collector struct{ h *Handler }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("hecd_proxy_"+name, help, labels, nil)
}

// codeLabels are the status classes of proxy.Counters.Hrsp, in its order.
var codeLabels = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// serverStates are the values of hecd_proxy_server_state's state label;
// exactly one is 1 per server.
var serverStates = []string{"UP", "DOWN", "NOLB", "DRAIN", "MAINT"}

var (
	feSessCur  = desc("frontend_sessions_current", "Current sessions of the frontend.", "frontend")
	feSessTot  = desc("frontend_sessions_total", "Sessions accepted by the frontend.", "frontend")
	feRequests = desc("frontend_requests_total", "Responses sent by the frontend, by status class.", "frontend", "code")
	feReqErr   = desc("frontend_request_errors_total", "Invalid requests (ereq).", "frontend")
	feBytesIn  = desc("frontend_bytes_in_total", "Request bytes received from clients.", "frontend")
	feBytesOut = desc("frontend_bytes_out_total", "Response bytes sent to clients.", "frontend")

	beRequests = desc("backend_requests_total", "Responses of the backend, by status class.", "backend", "code")
	beSessCur  = desc("backend_sessions_current", "Current sessions of the backend.", "backend")
	beSessTot  = desc("backend_sessions_total", "Sessions of the backend.", "backend")
	beRetries  = desc("backend_retries_total", "Connection retries (wretr).", "backend")
	beRedisp   = desc("backend_redispatches_total", "Retries sent to another server (wredis).", "backend")
	beConnErr  = desc("backend_connection_errors_total", "Failed connection attempts to servers (econ).", "backend")
	beRespErr  = desc("backend_response_errors_total", "Invalid or aborted server responses (eresp).", "backend")
	beBytesIn  = desc("backend_bytes_in_total", "Request bytes sent through the backend.", "backend")
	beBytesOut = desc("backend_bytes_out_total", "Response bytes received through the backend.", "backend")
	beUp       = desc("backend_up", "1 when at least one server of the backend takes requests.", "backend")
	beActive   = desc("backend_active_servers", "Servers of the backend that take requests.", "backend")

	svUp       = desc("server_up", "1 when the server's health verdict is up.", "backend", "server")
	svState    = desc("server_state", "The server's displayed state; 1 for the current one.", "backend", "server", "state")
	svWeight   = desc("server_weight", "The server's balancing weight.", "backend", "server")
	svCheckDur = desc("server_check_duration_seconds", "Duration of the server's last health check.", "backend", "server")
	svChkFail  = desc("server_check_failures_total", "Failed health checks (chkfail).", "backend", "server")
	svChkDown  = desc("server_down_transitions_total", "UP to DOWN transitions (chkdown).", "backend", "server")
	svSessCur  = desc("server_sessions_current", "Current sessions on the server.", "backend", "server")
	svSessTot  = desc("server_sessions_total", "Sessions sent to the server.", "backend", "server")
	svConnErr  = desc("server_connection_errors_total", "Failed connection attempts to the server (econ).", "backend", "server")

	routes        = desc("routes", "Routes in the current table.")
	conflicts     = desc("route_conflicts", "Route ids skipped because they differ from another only in case.")
	tableIndex    = desc("route_table_index", "Store index the current route table reflects.")
	invalidKeys   = desc("invalid_keys", "Store keys skipped as invalid.")
	storeConn     = desc("store_connected", "1 when the route source reaches the store; 0 while it serves the last table.")
	storeIndex    = desc("store_last_applied_index", "Store index of the last change applied.")
	storeWatchLag = desc("store_watch_lag_seconds", "How stale the route table may be: 0 while the store is followed live, else the time since the watch was lost.")
)

var allDescs = []*prometheus.Desc{
	feSessCur, feSessTot, feRequests, feReqErr, feBytesIn, feBytesOut,
	beRequests, beSessCur, beSessTot, beRetries, beRedisp, beConnErr, beRespErr, beBytesIn, beBytesOut, beUp, beActive,
	svUp, svState, svWeight, svCheckDur, svChkFail, svChkDown, svSessCur, svSessTot, svConnErr,
	routes, conflicts, tableIndex, invalidKeys, storeConn, storeIndex, storeWatchLag,
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	for _, fe := range h.cfg.Frontends {
		k := fe.Counters
		gauge(ch, feSessCur, float64(k.Cur.Load()), fe.Name)
		counter(ch, feSessTot, k.Total.Load(), fe.Name)
		for i, code := range codeLabels {
			counter(ch, feRequests, k.Hrsp[i].Load(), fe.Name, code)
		}
		counter(ch, feReqErr, k.ErrReq.Load(), fe.Name)
		counter(ch, feBytesIn, k.BytesIn.Load(), fe.Name)
		counter(ch, feBytesOut, k.BytesOut.Load(), fe.Name)
	}
	t := h.cfg.Router.Table()
	for _, id := range t.IDs {
		c.backend(ch, t.Routes[strings.ToLower(id)])
	}
	// A default backend named like a route would repeat its series; the
	// route's win and the registry is spared a collision.
	if d := t.Default; d != nil {
		if r := t.Routes[strings.ToLower(d.Name)]; r == nil {
			c.backend(ch, d)
		}
	}
	gauge(ch, routes, float64(len(t.IDs)))
	gauge(ch, conflicts, float64(len(t.Conflicts)))
	gauge(ch, tableIndex, float64(t.Index))
	invalid := len(t.Invalid)
	if h.cfg.StoreStatus != nil {
		s := h.cfg.StoreStatus()
		invalid = max(invalid, s.InvalidKeys)
		gauge(ch, storeConn, b2f(s.Connected))
		gauge(ch, storeIndex, float64(s.LastIndex))
		lag := 0.0
		if !s.Connected && !s.Since.IsZero() {
			lag = max(0, h.cfg.Now().Sub(s.Since).Seconds())
		}
		gauge(ch, storeWatchLag, lag)
	}
	gauge(ch, invalidKeys, float64(invalid))
}

func (c *collector) backend(ch chan<- prometheus.Metric, b *proxy.Backend) {
	k, n := &b.Counters, b.Name
	for i, code := range codeLabels {
		counter(ch, beRequests, k.Hrsp[i].Load(), n, code)
	}
	gauge(ch, beSessCur, float64(k.Cur.Load()), n)
	counter(ch, beSessTot, k.Total.Load(), n)
	counter(ch, beRetries, k.Retries.Load(), n)
	counter(ch, beRedisp, k.Redisp.Load(), n)
	counter(ch, beConnErr, k.ErrConn.Load(), n)
	counter(ch, beRespErr, k.ErrResp.Load(), n)
	counter(ch, beBytesIn, k.BytesIn.Load(), n)
	counter(ch, beBytesOut, k.BytesOut.Load(), n)
	active := b.Up()
	gauge(ch, beUp, b2f(active > 0), n)
	gauge(ch, beActive, float64(active), n)
	seen := map[string]bool{}
	for _, s := range b.Servers {
		if seen[s.ID] { // duplicate names would collide; the first wins
			continue
		}
		seen[s.ID] = true
		hs := c.h.serverHealth(s)
		gauge(ch, svUp, b2f(s.Up()), n, s.ID)
		cur := baseState(hs.Status)
		for _, st := range serverStates {
			gauge(ch, svState, b2f(st == cur), n, s.ID, st)
		}
		gauge(ch, svWeight, float64(s.Weight()), n, s.ID)
		if hs.CheckShown && hs.HasDuration {
			gauge(ch, svCheckDur, hs.CheckDuration.Seconds(), n, s.ID)
		}
		if hs.CheckEnabled {
			counter(ch, svChkFail, hs.ChkFail, n, s.ID)
			counter(ch, svChkDown, hs.ChkDown, n, s.ID)
		}
		sk := &s.Counters
		gauge(ch, svSessCur, float64(sk.Cur.Load()), n, s.ID)
		counter(ch, svSessTot, sk.Total.Load(), n, s.ID)
		counter(ch, svConnErr, sk.ErrConn.Load(), n, s.ID)
	}
}

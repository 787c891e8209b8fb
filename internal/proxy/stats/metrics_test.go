package stats

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"hecd/internal/proxy"
)

func scrape(t *testing.T, fx *fixture) string {
	t.Helper()
	w := fx.do(t, req{target: "/metrics"})
	if w.Code != 200 {
		t.Fatalf("/metrics: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

func TestMetrics(t *testing.T) {
	fx := newFixture(t)
	fx.s2.SetAdmin(proxy.Drain)
	body := scrape(t, fx)
	for _, want := range []string{
		`hecd_proxy_frontend_requests_total{code="2xx",frontend="http_80_in"} 2`,
		`hecd_proxy_frontend_sessions_current{frontend="http_80_in"} 2`,
		`hecd_proxy_frontend_request_errors_total{frontend="http_80_in"} 1`,
		`hecd_proxy_backend_requests_total{backend="app1",code="2xx"} 2`,
		`hecd_proxy_backend_requests_total{backend="app1",code="5xx"} 1`,
		`hecd_proxy_backend_requests_total{backend="app2",code="2xx"} 0`,
		`hecd_proxy_backend_retries_total{backend="app1"} 3`,
		`hecd_proxy_backend_redispatches_total{backend="app1"} 1`,
		`hecd_proxy_backend_connection_errors_total{backend="app1"} 4`,
		`hecd_proxy_backend_sessions_total{backend="app1"} 3`,
		`hecd_proxy_backend_bytes_out_total{backend="app1"} 2000`,
		`hecd_proxy_backend_up{backend="default_pool"} 1`,
		`hecd_proxy_backend_active_servers{backend="default_pool"} 2`,
		`hecd_proxy_server_up{backend="app1",server="app1"} 1`,
		`hecd_proxy_server_state{backend="app1",server="app1",state="UP"} 1`,
		`hecd_proxy_server_state{backend="app1",server="app1",state="DOWN"} 0`,
		`hecd_proxy_server_state{backend="app2",server="app2",state="DOWN"} 1`,
		`hecd_proxy_server_state{backend="default_pool",server="s1",state="UP"} 1`,
		`hecd_proxy_server_state{backend="default_pool",server="s2",state="DRAIN"} 1`,
		`hecd_proxy_server_state{backend="default_pool",server="s2",state="UP"} 0`,
		`hecd_proxy_server_weight{backend="default_pool",server="s1"} 3`,
		`hecd_proxy_server_check_duration_seconds{backend="app1",server="app1"} 0.002`,
		`hecd_proxy_server_check_failures_total{backend="app1",server="app1"} 5`,
		`hecd_proxy_server_down_transitions_total{backend="app1",server="app1"} 2`,
		`hecd_proxy_server_connection_errors_total{backend="app1",server="app1"} 4`,
		`hecd_proxy_routes 2`,
		`hecd_proxy_route_table_index 42`,
		`hecd_proxy_route_conflicts 0`,
		`hecd_proxy_invalid_keys 1`,
		`hecd_proxy_store_connected 0`,
		`hecd_proxy_store_last_applied_index 41`,
		`hecd_proxy_store_watch_lag_seconds 150`,
		`# TYPE hecd_proxy_backend_requests_total counter`,
		`# TYPE hecd_proxy_server_up gauge`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	// No check series for a server without checks.
	if strings.Contains(body, `hecd_proxy_server_check_duration_seconds{backend="default_pool",server="s2"}`) {
		t.Error("check duration for an unchecked server")
	}
	if strings.Contains(body, "go_") || strings.Contains(body, "version") {
		t.Error("metrics expose runtime or version information")
	}
}

// TestMetricsReadLive: the collector reads the live counters, so a change
// shows at the next scrape without any bookkeeping of its own.
func TestMetricsReadLive(t *testing.T) {
	fx := newFixture(t)
	fx.be1.Counters.Status(200)
	fx.be1.Counters.Retries.Add(10)
	fx.mu.Lock()
	fx.store.Connected, fx.store.LastIndex = true, 99
	fx.mu.Unlock()
	fx.router.Swap(proxy.NewTable(100, []*proxy.Backend{fx.be1}, fx.pool, nil))
	body := scrape(t, fx)
	for _, want := range []string{
		`hecd_proxy_backend_requests_total{backend="app1",code="2xx"} 3`,
		`hecd_proxy_backend_retries_total{backend="app1"} 13`,
		`hecd_proxy_routes 1`,
		`hecd_proxy_route_table_index 100`,
		`hecd_proxy_store_connected 1`,
		`hecd_proxy_store_last_applied_index 99`,
		`hecd_proxy_store_watch_lag_seconds 0`,
		`hecd_proxy_invalid_keys 1`, // the source still reports one
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, `backend="app2"`) {
		t.Error("removed route still exported")
	}
}

func TestMetricsNameCollision(t *testing.T) {
	fx := newFixture(t)
	dflt := proxy.NewBackend("app1", proxy.NewServer("x", "10.0.0.9:80"))
	fx.router.Swap(proxy.NewTable(1, []*proxy.Backend{fx.be1}, dflt, nil))
	body := scrape(t, fx)
	if strings.Count(body, `hecd_proxy_backend_up{backend="app1"}`) != 1 {
		t.Errorf("want one series for app1:\n%s", body)
	}
}

// TestMetricsExtraCollectors: series of another part of the process
// ("hecd up" adds the registrator's) are served beside the proxy's.
func TestMetricsExtraCollectors(t *testing.T) {
	extra := prometheus.NewGauge(prometheus.GaugeOpts{Name: "hecd_registrator_routes", Help: "Routes."})
	extra.Set(7)
	fx := newFixture(t, func(c *Config) { c.Collectors = []prometheus.Collector{extra} })
	body := scrape(t, fx)
	for _, want := range []string{"hecd_registrator_routes 7\n", "hecd_proxy_routes 2\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// A collector whose series clash with the proxy's is refused at start.
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "hecd_proxy_routes", Help: "Clash."})
	cfg := DefaultConfig()
	cfg.Router, cfg.Collectors = fx.router, []prometheus.Collector{clash}
	cfg.AdminHtpasswd = writeHtpasswd(t, t.TempDir(), "admins", map[string]string{adminUser: adminPass})
	if _, err := New(cfg); err == nil {
		t.Error("a clashing collector was accepted")
	}
}

func TestMetricsOff(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MetricsPath = "" })
	if w := fx.do(t, req{target: "/metrics"}); w.Code != 404 {
		t.Errorf("%d", w.Code)
	}
}

// TestConcurrent is for the race detector: pages, exports, scrapes and
// admin actions while the request path counts and the table is swapped.
func TestConcurrent(t *testing.T) {
	fx := newFixture(t)
	var writer, readers sync.WaitGroup
	stop := make(chan struct{})
	writer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			fx.app1.Counters.Enter()
			fx.app1.Counters.Status(200)
			fx.app1.Counters.Leave()
			fx.pool.Pick(nil)
			fx.router.Swap(proxy.NewTable(7, []*proxy.Backend{fx.be1, fx.be2}, fx.pool, nil))
		}
	})
	for _, target := range []string{"/admin-status", "/admin-status;csv", "/admin-status;json", "/metrics"} {
		readers.Go(func() {
			for range 20 {
				fx.do(t, req{target: target, user: adminUser, pass: adminPass})
			}
		})
	}
	readers.Go(func() {
		for i := range 20 {
			action := []string{"drain", "ready", "maint"}[i%3]
			fx.do(t, req{method: "POST", target: "/admin-status", user: adminUser, pass: adminPass,
				form: form("b", "default_pool", "s", "s1", "s", "s2", "action", action)})
		}
	})
	readers.Wait()
	close(stop)
	writer.Wait()
}

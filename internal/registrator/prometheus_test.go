package registrator

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestCollector registers two containers, removes one, and reads the
// exported series: they must say what happened, and pass the Prometheus
// linter (names, units, help).
func TestCollector(t *testing.T) {
	st := newStore(t)
	h := newHost(t, st, "h1")
	h.docker.put(ctr(1))
	h.docker.put(ctr(2))
	r := h.start()
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1), key(2): val(2)})
	h.docker.stop(ctr(2).ID)
	h.waitRoutes(10*time.Second, map[string]string{key(1): val(1)})
	r.quiesce(t)

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r.Collector()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	m := r.Metrics()
	want := map[string]float64{
		"hecd_registrator_routes":                       1,
		"hecd_registrator_kept_routes":                  0,
		"hecd_registrator_routes_added_total":           2,
		"hecd_registrator_routes_removed_total":         1,
		"hecd_registrator_store_writes_total":           float64(m.StoreWrites),
		"hecd_registrator_docker_events_received_total": float64(m.EventsReceived),
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			switch {
			case mt.GetCounter() != nil:
				got[f.GetName()] = mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				got[f.GetName()] = mt.GetGauge().GetValue()
			}
		}
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
	if m.EventsReceived == 0 || m.StoreWrites < 3 {
		t.Errorf("metrics snapshot looks empty: %+v", m)
	}
	last := got["hecd_registrator_last_store_contact_timestamp_seconds"]
	if now := float64(time.Now().Unix()); last < now-60 || last > now+1 {
		t.Errorf("last store contact %v, want within the last minute of %v", last, now)
	}
	if n := len(got); n != len(metricSeries) {
		var names []string
		for k := range got {
			names = append(names, k)
		}
		t.Errorf("%d series gathered, want %d: %s", n, len(metricSeries), strings.Join(names, " "))
	}
}

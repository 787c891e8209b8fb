package registrator

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the registrator's metrics (spec C.9) for Prometheus.
// It reads the counters at scrape time, so nothing on the event path pays
// for it.
func (r *Registrator) Collector() prometheus.Collector { return (*collector)(r) }

type collector Registrator

func regDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("hecd_registrator_"+name, help, nil, nil)
}

// metricSeries pairs each series with how it is read from a Metrics
// snapshot; Describe and Collect both walk it, so they cannot disagree.
var metricSeries = []struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(m *Metrics) float64
}{
	{regDesc("routes", "Routes this host holds and refreshes."), prometheus.GaugeValue,
		func(m *Metrics) float64 { return float64(m.Routes) }},
	{regDesc("kept_routes", "Routes kept unrefreshed after their container died (-deregister on-success or never)."), prometheus.GaugeValue,
		func(m *Metrics) float64 { return float64(m.Kept) }},
	{regDesc("docker_events_received_total", "Docker events read from the event stream."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.EventsReceived) }},
	{regDesc("docker_events_dropped_total", "Docker events lost to a full queue; a reconcile stands in for them."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.EventsDropped) }},
	{regDesc("docker_events_coalesced_total", "Docker events merged into a pass already pending for their container."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.EventsCoalesced) }},
	{regDesc("reconciles_total", "Completed full reconciles."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.Reconciles) }},
	{regDesc("reconciles_skipped_total", "Reconciles that could not list Docker or read the store."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.ReconcileSkipped) }},
	{regDesc("reconcile_diffs_total", "Containers that reconciles found out of place."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.ReconcileDiffs) }},
	{regDesc("routes_added_total", "Route keys written."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.Added) }},
	{regDesc("routes_removed_total", "Route keys deleted."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.Removed) }},
	{regDesc("duplicates_total", "Times a wanted app id was found held by another owner."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.Duplicates) }},
	{regDesc("refreshes_total", "TTL refreshes of route keys."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.Refreshes) }},
	{regDesc("store_writes_total", "Write requests sent to the store, refreshes included."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.StoreWrites) }},
	{regDesc("store_errors_total", "Store requests that got no answer."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.StoreErrors) }},
	{regDesc("docker_errors_total", "Failed Docker calls and broken event streams."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.DockerErrors) }},
	{regDesc("docker_event_stream_reconnects_total", "Reconnections of the Docker event stream."), prometheus.CounterValue,
		func(m *Metrics) float64 { return float64(m.StreamReconnects) }},
	{regDesc("last_docker_contact_timestamp_seconds", "Unix time of the last successful Docker exchange; 0 if none yet."), prometheus.GaugeValue,
		func(m *Metrics) float64 { return unixSeconds(m.LastDockerContact) }},
	{regDesc("last_store_contact_timestamp_seconds", "Unix time of the last successful store exchange; 0 if none yet."), prometheus.GaugeValue,
		func(m *Metrics) float64 { return unixSeconds(m.LastStoreContact) }},
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range metricSeries {
		ch <- s.desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := (*Registrator)(c).Metrics()
	for _, s := range metricSeries {
		ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.value(&m))
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hecd/internal/client"
	"hecd/internal/registrator"
	"hecd/internal/registrator/docker"
)

// registerOptions are the registrator's settings, named as
// gliderlabs/registrator named them where it had them (spec
// registrator.md C.8).
type registerOptions struct {
	dockerHost       string
	layout, keyBy    string
	ip               string
	internal         bool
	network          string
	explicit         bool
	ipv6             bool
	ttl, ttlRefresh  time.Duration
	resync           time.Duration
	deregister       string
	requireHealthy   bool
	keepPaused       bool
	drainTimeout     time.Duration
	readyTimeout     time.Duration
	deregisterOnExit bool
	ownerID          string
	adopt, dryRun    bool
	metaPrefix       string
	metricsListen    string
}

func defaultRegisterOptions() *registerOptions {
	d := registrator.DefaultConfig()
	return &registerOptions{
		layout:         string(d.Layout),
		keyBy:          d.KeyBy,
		ttl:            d.TTL,
		resync:         d.Resync,
		deregister:     string(d.Deregister),
		requireHealthy: d.RequireHealthy,
		drainTimeout:   d.DrainTimeout,
		readyTimeout:   d.ReadyTimeout,
		metaPrefix:     d.MetaPrefix,
	}
}

// addRegisterFlags adds the registrator's flags to fs; "hecd register" and
// "hecd up" share them.
func addRegisterFlags(fs *flag.FlagSet, r *registerOptions) {
	fs.StringVar(&r.dockerHost, "docker-host", r.dockerHost, "Docker Engine address (default $DOCKER_HOST or unix:///var/run/docker.sock)")
	fs.StringVar(&r.layout, "layout", r.layout, "key layout: hecd (<prefix>/<app-id> = host:port) or registrator (<prefix>/<service>/<service-id>)")
	fs.StringVar(&r.keyBy, "key-by", r.keyBy, "app id of a container: short-id, id, name or label:<label> (label hecd.appid overrides)")
	fs.StringVar(&r.ip, "ip", r.ip, "address to register for published ports (default: this host's routable address; never loopback)")
	fs.BoolVar(&r.internal, "internal", r.internal, "register the container's own address and port on a Docker network instead of published ports")
	fs.StringVar(&r.network, "network", r.network, "the Docker network of -internal when a container has several (label hecd.network overrides)")
	fs.BoolVar(&r.explicit, "explicit", r.explicit, "register only containers with label hecd.enable=true or a SERVICE_NAME")
	fs.BoolVar(&r.ipv6, "ipv6", r.ipv6, "prefer IPv6 addresses")
	fs.DurationVar(&r.ttl, "ttl", r.ttl, "TTL of every key written, refreshed while the container runs (0: none)")
	fs.DurationVar(&r.ttlRefresh, "ttl-refresh", r.ttlRefresh, "refresh period (default ttl/3)")
	fs.DurationVar(&r.resync, "resync", r.resync, "full reconcile period; a reconcile that finds nothing changed writes nothing")
	fs.StringVar(&r.deregister, "deregister", r.deregister, "when a container dies: always, on-success or never (left to the TTL)")
	fs.BoolVar(&r.requireHealthy, "require-healthy", r.requireHealthy, "register a container with a HEALTHCHECK only while it is healthy")
	fs.BoolVar(&r.keepPaused, "keep-paused", r.keepPaused, "keep paused containers registered")
	fs.DurationVar(&r.drainTimeout, "drain-timeout", r.drainTimeout, "how long a stopping container stays unregistered before it is looked at again")
	fs.DurationVar(&r.readyTimeout, "ready-timeout", r.readyTimeout, "register a started container without a HEALTHCHECK once its address accepts TCP connections, or after this long anyway (0: at once, as registrator did)")
	fs.BoolVar(&r.deregisterOnExit, "deregister-on-exit", r.deregisterOnExit, "delete this host's keys on exit (default: let them expire, so a restart does not flap routes)")
	fs.StringVar(&r.ownerID, "owner-id", r.ownerID, "name of this host in ownership records; must be stable (default: machine id or hostname)")
	fs.BoolVar(&r.adopt, "adopt", r.adopt, "take over route keys that no owner records (migration from registrator)")
	fs.BoolVar(&r.dryRun, "dry-run", r.dryRun, "log the writes instead of making them")
	fs.StringVar(&r.metaPrefix, "meta-prefix", r.metaPrefix, "prefix of ownership records and weights")
	fs.StringVar(&r.metricsListen, "metrics-listen", r.metricsListen, "serve the registrator's Prometheus /metrics and its /status (JSON) on this address (default: off)")
}

// registratorConfig turns the options into the registrator's Config.
func (r *registerOptions) registratorConfig(c *client.Client, d registrator.Docker, prefix string, log *slog.Logger) (registrator.Config, error) {
	cfg := registrator.DefaultConfig()
	cfg.Client, cfg.Docker, cfg.Logger = c, d, log
	cfg.Prefix = prefix
	cfg.MetaPrefix = r.metaPrefix
	cfg.Layout = registrator.Layout(r.layout)
	cfg.KeyBy = r.keyBy
	cfg.IP = r.ip
	cfg.Internal, cfg.Network = r.internal, r.network
	cfg.Explicit, cfg.IPv6 = r.explicit, r.ipv6
	cfg.TTL, cfg.TTLRefresh, cfg.Resync = r.ttl, r.ttlRefresh, r.resync
	cfg.Deregister = registrator.DeregisterMode(r.deregister)
	cfg.RequireHealthy, cfg.KeepPaused = r.requireHealthy, r.keepPaused
	cfg.DrainTimeout = r.drainTimeout
	cfg.ReadyTimeout = r.readyTimeout
	cfg.DeregisterOnExit = r.deregisterOnExit
	cfg.Adopt, cfg.DryRun = r.adopt, r.dryRun
	cfg.OwnerID = r.ownerID
	if cfg.OwnerID == "" {
		id, err := registrator.DefaultOwnerID()
		if err != nil {
			return cfg, fmt.Errorf("-owner-id: %w", err)
		}
		cfg.OwnerID = id
	}
	return cfg, cfg.Validate()
}

// registerCommand is "hecd register" (also "hecd registrator"), and
// "hecd register status".
func registerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "hecd register"
	status := len(args) > 0 && args[0] == "status"
	if status {
		name, args = "hecd register status", args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := []string{"http://127.0.0.1:2379"}
	prefix := registrator.DefaultPrefix
	logLevel := "info"
	asJSON := false
	fs.Var(&listValue{p: &store}, "store", "store client URLs (repeatable or comma-separated)")
	fs.StringVar(&prefix, "prefix", prefix, "key prefix of the routes")
	fs.StringVar(&logLevel, "log-level", logLevel, "debug, info, warn or error")
	if status {
		fs.BoolVar(&asJSON, "json", asJSON, "print the status as JSON")
	}
	r := defaultRegisterOptions()
	addRegisterFlags(fs, r)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	log, err := newLogger(stderr, logLevel, "registrator")
	if err != nil {
		return fail(err)
	}
	c, err := client.New(client.Config{Endpoints: store})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	d, err := docker.New(r.dockerHost)
	if err != nil {
		return fail(err)
	}
	cfg, err := r.registratorConfig(c, d, prefix, log)
	if err != nil {
		return fail(err)
	}
	reg, err := registrator.New(cfg)
	if err != nil {
		return fail(err)
	}
	if status {
		st, err := reg.Status(ctx)
		if err != nil {
			return fail(err)
		}
		if asJSON {
			err = writeStatusJSON(stdout, st, false)
		} else {
			err = writeStatusTable(stdout, st)
		}
		if err != nil {
			return fail(err)
		}
		return 0
	}
	if r.metricsListen != "" {
		stop, err := serveRegistratorMetrics(r.metricsListen, reg, log)
		if err != nil {
			return fail(err)
		}
		defer stop()
	}
	if err := reg.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fail(err)
	}
	return 0
}

// serveRegistratorMetrics serves /metrics and /status for reg on addr
// until stop is called.
func serveRegistratorMetrics(addr string, reg *registrator.Registrator, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-listen: %w", err)
	}
	registry := prometheus.NewRegistry()
	if err := registry.Register(reg.Collector()); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := reg.Status(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		writeStatusJSON(w, st, true)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err)
		}
	}()
	log.Info("serving metrics and status", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// statusJSON is the machine-readable status: the table's rows, and this
// process's counters when it is the running registrator.
type statusJSON struct {
	Owner   string                    `json:"owner"`
	Time    time.Time                 `json:"time"`
	Entries []registrator.StatusEntry `json:"entries"`
	Metrics *registrator.Metrics      `json:"metrics,omitempty"`
}

// writeStatusJSON writes st; withMetrics adds the counters, which mean
// something only for the running registrator, not for a one-off look.
func writeStatusJSON(w io.Writer, st *registrator.Status, withMetrics bool) error {
	out := statusJSON{Owner: st.Owner, Time: st.Time, Entries: st.Entries}
	if out.Entries == nil {
		out.Entries = []registrator.StatusEntry{}
	}
	if withMetrics {
		out.Metrics = &st.Metrics
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeStatusTable prints desired against actual, one row per route or
// ignored container, then a count per state.
func writeStatusTable(w io.Writer, st *registrator.Status) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tNAME\tKEY\tDESIRED\tACTUAL\tOWNER\tSTATE\tREASON")
	counts := map[string]int{}
	for _, e := range st.Entries {
		counts[e.State]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			dash(e.Container), dash(e.Name), dash(e.Key), dash(e.Desired), dash(e.Actual), dash(e.Owner), e.State, e.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, s := range []string{"ok", "missing", "waiting", "differs", "duplicate", "stale", "ignored"} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to register")
	}
	_, err := fmt.Fprintf(w, "owner %s: %s\n", st.Owner, strings.Join(parts, ", "))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newLogger is the text logger of the daemons, with a component unless
// it is empty.
func newLogger(w io.Writer, level, component string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
	if component != "" {
		log = log.With("component", component)
	}
	return log, nil
}

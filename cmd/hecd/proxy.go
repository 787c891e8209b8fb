package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"hecd/internal/client"
	"hecd/internal/proxy"
	"hecd/internal/proxy/frontend"
	"hecd/internal/proxy/source"
	"hecd/internal/proxy/stats"
)

// proxyCommand is "hecd proxy".
func proxyCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseProxyOptions(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errProxyUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "hecd proxy: %v\n", err)
		return 1
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "hecd proxy: -log-level %q: want debug, info, warn or error\n", o.logLevel)
		return 1
	}
	base := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	p, err := newProxyProcess(o, base, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "hecd proxy: %v\n", err)
		return 1
	}
	if err := p.run(ctx); err != nil {
		fmt.Fprintf(stderr, "hecd proxy: %v\n", err)
		return 1
	}
	return 0
}

// proxyProcess is a running "hecd proxy": the route source, the frontend
// on its listeners and the stats page. "hecd up" runs one too.
type proxyProcess struct {
	log        *slog.Logger
	client     *client.Client
	router     *proxy.Router
	source     *source.Source
	frontend   *frontend.Frontend
	listeners  []net.Listener
	stats      *http.Server
	statsLn    net.Listener
	closeFiles []io.Closer
}

// base is the logger without a component: the source and the stats page
// add their own.
func newProxyProcess(o *proxyOptions, base *slog.Logger, stdout, stderr io.Writer, metrics ...prometheus.Collector) (p *proxyProcess, err error) {
	log := base.With("component", "proxy")
	p = &proxyProcess{log: log, router: proxy.NewRouter()}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.client, err = client.New(client.Config{Endpoints: o.store})
	if err != nil {
		return nil, err
	}

	checks, err := o.checkConfig()
	if err != nil {
		return nil, err
	}
	limiter := proxy.NewCheckLimiter(o.maxChecksPerSecond)
	var defaults []source.StaticServer
	for _, d := range o.defaultServers {
		s, err := source.ParseStaticServer(strings.Replace(d, " weight=", ",weight=", 1))
		if err != nil {
			return nil, fmt.Errorf("-default-server: %w", err)
		}
		defaults = append(defaults, s)
	}
	adminPrefix := ""
	if o.statsPersistAdmin {
		adminPrefix = source.DefaultAdminPrefix
	}
	p.source, err = source.New(source.Config{
		Client:         p.client,
		Router:         p.router,
		Prefix:         o.prefix,
		Settle:         max(o.settle, time.Nanosecond), // 0 would mean the default
		SettleMax:      o.settleMax,
		DefaultMode:    source.DefaultMode(o.defaultMode),
		DefaultName:    o.defaultName,
		DefaultServers: defaults,
		AdminPrefix:    adminPrefix,
		Logger:         base,
		// A removed server takes no new requests; those already on it
		// may go on for -route-drain-timeout (spec D.1's drain timeout).
		OnServerRemoved: func(s *proxy.Server) {
			if d := o.routeDrainTimeout; d > 0 {
				// The source runs only after the frontend is made.
				time.AfterFunc(d, func() { p.frontend.ShutdownSessions(s) })
			}
		},
		OnServerAdded: func(s *proxy.Server, backend string, initial bool) {
			opts := []proxy.CheckOption{proxy.WithBackendName(backend), proxy.WithLimiter(limiter), proxy.WithLogger(log)}
			if o.maxFails > 0 {
				opts = append(opts, proxy.WithPassive(proxy.PassiveConfig{MaxFails: o.maxFails, FailWindow: o.failWindow}))
			}
			if !initial {
				opts = append(opts, proxy.Immediate())
			}
			if err := s.StartChecks(checks, opts...); err != nil {
				log.Error("starting health checks", "server", s.ID, "error", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}

	fcfg, err := o.frontendConfig()
	if err != nil {
		return nil, err
	}
	switch o.accessLog {
	case "off", "":
	case "stdout":
		fcfg.AccessLog = stdout
	case "stderr":
		fcfg.AccessLog = stderr
	default:
		f, err := os.OpenFile(o.accessLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("-access-log: %w", err)
		}
		p.closeFiles = append(p.closeFiles, f)
		fcfg.AccessLog = f
	}
	p.frontend, err = frontend.New(fcfg, p.router, log)
	if err != nil {
		return nil, err
	}
	// No TCP keepalive on client connections (HAProxy sets none either):
	// it costs several setsockopt calls per accepted connection, and
	// timeout-client already bounds idle clients.
	lc := net.ListenConfig{KeepAlive: -1}
	for _, addr := range o.listen {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			return nil, err
		}
		p.listeners = append(p.listeners, ln)
	}

	if o.statsListen != "" {
		scfg := stats.DefaultConfig()
		scfg.URI = o.statsURI
		scfg.Refresh = o.statsRefresh
		scfg.Router = p.router
		scfg.Collectors = metrics
		scfg.ShutdownSessions = func(s *proxy.Server) bool {
			p.frontend.ShutdownSessions(s)
			return true
		}
		scfg.MaxConn = o.maxconn
		scfg.Frontends = []stats.Frontend{{Name: p.frontend.Name(), Counters: p.frontend.Counters(), MaxConn: o.listenerMaxconn}}
		scfg.StoreStatus = func() stats.StoreStatus {
			st := p.source.Status()
			return stats.StoreStatus{Connected: st.Connected, Since: st.Since, LastError: st.LastError, LastIndex: st.LastIndex, InvalidKeys: st.InvalidKeys}
		}
		scfg.Htpasswd = o.statsHtpasswd
		scfg.AdminHtpasswd = o.statsAdminHtpasswd
		if o.statsLegacy != "" {
			scfg.LegacyAuth, scfg.LegacyAdmin, scfg.InsecureLegacyAuth = o.statsLegacy, true, true
			log.Warn("-insecure-legacy-stats-auth: a plain password guards the stats page and its admin actions; prefer -stats-admin-htpasswd")
		}
		if o.statsPersistAdmin {
			scfg.PersistAdmin = func(backend, server, state string) error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				key := path.Join(source.DefaultAdminPrefix, backend, server)
				_, err := p.client.Set(ctx, key, state, client.SetOptions{})
				return err
			}
		}
		scfg.Logger = base
		h, err := stats.New(scfg)
		if err != nil {
			return nil, err
		}
		p.statsLn, err = net.Listen("tcp", o.statsListen)
		if err != nil {
			return nil, fmt.Errorf("-stats-listen: %w", err)
		}
		p.stats = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	}
	return p, nil
}

func (o *proxyOptions) checkConfig() (proxy.CheckConfig, error) {
	c := proxy.CheckConfig{
		Enabled:      o.checkEnabled,
		Inter:        o.checkInter,
		FastInter:    o.checkFastInter,
		DownInter:    o.checkDownInter,
		Timeout:      o.timeoutCheck,
		Rise:         o.checkRise,
		Fall:         o.checkFall,
		Type:         o.checkType,
		InitialState: o.initialState,
	}
	if o.checkHTTP != "" {
		c.Type = proxy.CheckHTTP
		method, p, ok := strings.Cut(strings.TrimSpace(o.checkHTTP), " ")
		if !ok {
			method, p = "GET", method
		}
		c.HTTPMethod, c.HTTPPath = method, strings.TrimSpace(p)
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

func (o *proxyOptions) frontendConfig() (frontend.Config, error) {
	c := frontend.Config{
		RouteHeader:       o.routeHeader,
		FallbackToDefault: o.fallbackToDefault,
		Retries:           o.retries,
		NoRedispatch:      !o.redispatch,
		KeepAlive:         !o.httpclose,
		MaxConn:           o.maxconn,
		ListenerMaxConn:   o.listenerMaxconn,
		Timeouts: frontend.Timeouts{
			Connect:     o.timeoutConnect,
			Client:      o.timeoutClient,
			Server:      o.timeoutServer,
			HTTPRequest: o.timeoutHTTPRequest,
			KeepAlive:   o.timeoutKeepAlive,
			Tunnel:      o.timeoutTunnel,
		},
	}
	if o.retries == 0 {
		c.Retries = -1 // frontend: 0 means its default of 3
	}
	mode, err := frontend.ParseForwardMode(o.forwardfor)
	if err != nil {
		return c, err
	}
	c.ForwardFor.Mode = mode
	c.ForwardFor.Header = o.forwardforHeader
	c.ForwardFor.IfNone = o.forwardforIfNone
	for _, s := range o.trustedProxies {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return c, fmt.Errorf("-trusted-proxies: %w", err)
		}
		c.ForwardFor.TrustedProxies = append(c.ForwardFor.TrustedProxies, pfx)
	}
	if o.forwardforExcept != "" {
		pfx, err := netip.ParsePrefix(o.forwardforExcept)
		if err != nil {
			return c, fmt.Errorf("-forwardfor-except: %w", err)
		}
		c.ForwardFor.Except = []netip.Prefix{pfx}
	}
	return c, nil
}

// run serves until ctx ends, then stops accepting and lets requests in
// flight finish (for at most 10 s).
func (p *proxyProcess) run(ctx context.Context) error {
	defer p.close()
	srcDone := make(chan error, 1)
	srcCtx, stopSource := context.WithCancel(context.Background())
	defer stopSource()
	go func() { srcDone <- p.source.Run(srcCtx) }()
	errs := make(chan error, len(p.listeners)+1)
	for _, ln := range p.listeners {
		p.log.Info("serving HTTP", "address", ln.Addr().String())
		go func() { errs <- p.frontend.Serve(ln) }()
	}
	if p.stats != nil {
		p.log.Info("serving the stats page", "address", p.statsLn.Addr().String())
		go func() {
			if err := p.stats.Serve(p.statsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if p.stats != nil {
		p.stats.Shutdown(shutdownCtx)
	}
	if serr := p.frontend.Shutdown(shutdownCtx); serr != nil && err == nil && !errors.Is(serr, context.DeadlineExceeded) {
		err = serr
	}
	stopSource()
	<-srcDone
	for _, s := range p.router.Table().Servers() {
		s.Stop()
	}
	return err
}

func (p *proxyProcess) close() {
	for _, ln := range p.listeners {
		ln.Close()
	}
	if p.statsLn != nil {
		p.statsLn.Close()
	}
	if p.client != nil {
		p.client.Close()
	}
	for _, f := range p.closeFiles {
		f.Close()
	}
}

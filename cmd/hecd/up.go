package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"hecd/internal/client"
	"hecd/internal/registrator"
	"hecd/internal/registrator/docker"
	"hecd/internal/server"
)

// upCommand is "hecd up": the store, the router and, when a Docker Engine
// answers, the registrator, in one process with one data dir.
func upCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	po := defaultProxyOptions()
	fs := newProxyFlagSet(po)
	fs.Init("hecd up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name, dataDir := "default", "hecd.data"
	clientURLs := "http://localhost:2379,http://localhost:4001"
	peerURLs := "http://localhost:2380"
	withProxy, register := true, "auto"
	fs.StringVar(&name, "name", name, "the store member's name")
	fs.StringVar(&dataDir, "data-dir", dataDir, "the store's data directory")
	fs.StringVar(&clientURLs, "listen-client-urls", clientURLs, "the store's client URLs")
	fs.StringVar(&peerURLs, "listen-peer-urls", peerURLs, "the store's peer URLs")
	fs.BoolVar(&withProxy, "proxy", withProxy, "run the router")
	fs.StringVar(&register, "register", register, "run the registrator: auto (when a Docker Engine answers), true or false")
	ro := defaultRegisterOptions()
	addRegisterFlags(fs, ro)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hecd up: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	external := false
	fs.Visit(func(f *flag.Flag) { external = external || f.Name == "store" })
	fail := func(err error) int {
		fmt.Fprintf(stderr, "hecd up: %v\n", err)
		return 1
	}
	if po.configFile != "" {
		return fail(errors.New("-config: hecd up takes flags only; use hecd proxy -config for a proxy config file"))
	}
	if register != "auto" && register != "true" && register != "false" {
		return fail(fmt.Errorf("-register %q: want auto, true or false", register))
	}
	if err := po.validate(); err != nil {
		return fail(err)
	}

	// The store, unless -store points at one.
	var srv *server.Server
	if !external {
		sopts, err := parseStoreConfig([]string{
			"-name", name, "-data-dir", dataDir,
			"-listen-client-urls", clientURLs, "-advertise-client-urls", clientURLs,
			"-listen-peer-urls", peerURLs, "-initial-advertise-peer-urls", peerURLs,
			"-initial-cluster", name + "=" + strings.Split(peerURLs, ",")[0],
			"-log-level", po.logLevel,
		}, environ, stderr)
		if err != nil {
			return fail(err)
		}
		srv, err = server.New(sopts.config)
		if err != nil {
			return fail(err)
		}
		defer srv.Close()
		po.store = []string{"http://" + srv.ClientAddrs()[0]}
		sopts.config.Logger.Info("hecd up: the store serves clients", "urls", clientURLs, "dataDir", dataDir)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The registrator is set up before the router so that the stats
	// page's /metrics can carry its series too.
	var reg *registrator.Registrator
	if register != "false" {
		log, err := newLogger(stderr, po.logLevel, "registrator")
		if err != nil {
			return fail(err)
		}
		d, err := docker.New(ro.dockerHost)
		if err == nil {
			pingCtx, cancelPing := context.WithTimeout(ctx, 3*time.Second)
			_, err = d.Info(pingCtx)
			cancelPing()
		}
		switch {
		case err != nil && register == "auto":
			log.Info("no Docker Engine answers; running without the registrator", "error", err)
		case err != nil:
			return fail(fmt.Errorf("-register: %w", err))
		default:
			c, err := client.New(client.Config{Endpoints: po.store})
			if err != nil {
				return fail(err)
			}
			defer c.Close()
			cfg, err := ro.registratorConfig(c, d, po.prefix, log)
			if err != nil {
				return fail(err)
			}
			if reg, err = registrator.New(cfg); err != nil {
				return fail(err)
			}
			if ro.metricsListen != "" {
				stop, err := serveRegistratorMetrics(ro.metricsListen, reg, log)
				if err != nil {
					return fail(err)
				}
				defer stop()
			}
		}
	}

	if withProxy {
		log, err := newLogger(stderr, po.logLevel, "")
		if err != nil {
			return fail(err)
		}
		var extra []prometheus.Collector
		if reg != nil {
			extra = append(extra, reg.Collector())
		}
		p, err := newProxyProcess(po, log, stdout, stderr, extra...)
		if err != nil {
			return fail(err)
		}
		wg.Go(func() {
			if err := p.run(runCtx); err != nil {
				errs <- fmt.Errorf("proxy: %w", err)
			}
		})
	}
	if reg != nil {
		wg.Go(func() {
			if err := reg.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("registrator: %w", err)
			}
		})
	}

	// Run until a signal, or until a part fails.
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	wg.Wait()
	if err != nil {
		return fail(err)
	}
	return 0
}

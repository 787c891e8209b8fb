package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hecd/internal/confd"
	"hecd/internal/confd/backend"
)

// confdCommand is "hecd confd" and "confd". tag is the program name as
// typed, which confd puts in every log line.
func confdCommand(ctx context.Context, tag string, args, environ []string, stdout, stderr io.Writer) int {
	o, err := parseConfdOptions(args, environ, stderr)
	switch {
	case errors.Is(err, errConfdVersion):
		fmt.Fprintf(stdout, "confd 0.16.0 (hecd %s, Go Version: %s)\n", hecdVersion, runtime.Version())
		return 0
	case errors.Is(err, errConfdUsage):
		return 2
	}

	level, lerr := confd.ParseLevel(o.levelOrEmpty())
	logOut, closeLog, oerr := openLogOutput(o, stdout, stderr)
	if oerr != nil {
		fmt.Fprintf(stderr, "confd: %v\n", oerr)
		return 1
	}
	defer closeLog()
	host, _ := os.Hostname()
	log := slog.New(confd.NewLogHandler(logOut, host, tag, os.Getpid(), level))
	fatal := func(msg string) int {
		log.Log(context.Background(), confd.LevelFatal, msg)
		return 1
	}
	if err != nil {
		return fatal(err.Error())
	}
	if lerr != nil {
		return fatal(lerr.Error())
	}
	for _, w := range o.warnings {
		log.Warn(w)
	}

	cfg, b, err := buildConfd(ctx, o, environ, log)
	if err != nil {
		return fatal(err.Error())
	}
	defer b.Close()
	cfg.Diff = stdout
	r, err := confd.New(cfg)
	if err != nil {
		return fatal(err.Error())
	}

	if cfg.Mode == confd.Onetime {
		if err := r.Run(ctx); err != nil {
			return fatal(err.Error())
		}
		return 0
	}

	// A daemon: say which signal ended it, and re-read the resources on
	// SIGHUP (confd died of it).
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGHUP {
					log.Info("Captured hangup. Re-reading template resources...")
					r.Reread()
					continue
				}
				name := "terminated"
				if s == os.Interrupt {
					name = "interrupt"
				}
				log.Info(fmt.Sprintf("Captured %s. Exiting...", name))
				cancel()
				return
			}
		}
	}()
	if err := r.Run(runCtx); err != nil {
		return fatal(err.Error())
	}
	return 0
}

func (o *confdOptions) levelOrEmpty() string { return o.str("log-level") }

// openLogOutput picks where log lines go. hecd writes them to stdout by
// default, so that the seed's "confd ... > /var/log/confd.log" captures
// them (confd wrote to stderr and the file stayed empty).
func openLogOutput(o *confdOptions, stdout, stderr io.Writer) (io.Writer, func(), error) {
	switch v := o.str("log-output"); v {
	case "", "stdout", "-":
		return stdout, func() {}, nil
	case "stderr":
		return stderr, func() {}, nil
	default:
		f, err := os.OpenFile(v, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log output: %w", err)
		}
		return f, func() { f.Close() }, nil
	}
}

// unsupportedBackends are confd backends hecd knows of but does not
// offer; naming them gives a clear refusal rather than "Invalid backend".
var unsupportedBackends = map[string]bool{
	"consul": true, "redis": true, "vault": true, "zookeeper": true,
	"dynamodb": true, "ssm": true, "rancher": true,
}

// buildConfd turns the settled options into the renderer's Config and its
// backend, logging confd's start-up lines on the way.
func buildConfd(ctx context.Context, o *confdOptions, environ []string, log *slog.Logger) (confd.Config, backend.Backend, error) {
	cfg := confd.DefaultConfig()
	cfg.Logger = log
	cfg.ConfDir = o.str("confdir")
	cfg.Prefix = o.str("prefix")
	cfg.Noop = o.bool("noop")
	cfg.SyncOnly = o.bool("sync-only")
	cfg.KeepStageFile = o.bool("keep-stage-file")
	cfg.Settle = o.duration("settle")
	cfg.SettleMax = o.duration("settle-max")
	cfg.CommandTimeout = o.duration("command-timeout")
	cfg.Interval = time.Duration(o.int("interval")) * time.Second
	switch {
	case o.bool("onetime"):
		cfg.Mode = confd.Onetime
	case o.bool("watch"):
		cfg.Mode = confd.Watch
	default:
		cfg.Mode = confd.Interval
		if cfg.Interval <= 0 {
			return cfg, nil, fmt.Errorf("interval must be a positive number of seconds, not %d", o.int("interval"))
		}
	}
	if o.str("secret-keyring") != "" {
		return cfg, nil, errors.New("-secret-keyring (the cget functions) is not supported by hecd confd")
	}

	name := o.str("backend")
	nodes := o.list("node")
	log.Info("Backend set to " + name)

	if rec := srvRecord(o, name); rec != "" {
		found, err := lookupSRVNodes(ctx, rec, name, o.str("scheme"))
		if err != nil {
			return cfg, nil, fmt.Errorf("Cannot get nodes from SRV records %v", err)
		}
		nodes = found
	}
	if len(nodes) == 0 {
		switch name {
		case "etcd":
			nodes = []string{"http://127.0.0.1:4001"}
			for _, kv := range environ {
				if v, ok := strings.CutPrefix(kv, "ETCDCTL_PEERS="); ok && v != "" {
					nodes = strings.Split(v, ",")
				}
			}
		case "etcdv3":
			nodes = []string{"127.0.0.1:2379"}
		}
	}

	log.Info("Starting confd")
	// As in confd, the credentials are sent only with -basic-auth.
	var user, pass string
	if o.bool("basic-auth") {
		user, pass = o.str("username"), o.str("password")
	}
	var b backend.Backend
	var err error
	switch name {
	case "etcd":
		log.Info("Backend source(s) set to " + strings.Join(nodes, ", "))
		b, err = backend.NewEtcd(backend.EtcdConfig{
			Nodes:    nodes,
			Username: user,
			Password: pass,
			CertFile: o.str("client-cert"),
			KeyFile:  o.str("client-key"),
			CAFile:   o.str("client-ca-keys"),
		})
	case "etcdv3":
		log.Info("Backend source(s) set to " + strings.Join(nodes, ", "))
		b, err = backend.NewEtcdV3(backend.EtcdV3Config{
			Nodes:    nodes,
			Username: user,
			Password: pass,
			CertFile: o.str("client-cert"),
			KeyFile:  o.str("client-key"),
			CAFile:   o.str("client-ca-keys"),
		})
	case "env":
		log.Info("Backend source(s) set to ")
		b = backend.NewEnv(environ)
	case "file":
		files := o.list("file")
		log.Info("Backend source(s) set to " + strings.Join(files, ", "))
		if len(files) == 0 {
			return cfg, nil, errors.New("the file backend needs at least one -file")
		}
		b, err = backend.NewFile(files, o.str("filter"))
	default:
		if unsupportedBackends[name] {
			return cfg, nil, fmt.Errorf("backend %q is not supported by hecd confd; use etcd, etcdv3, env or file", name)
		}
		return cfg, nil, errors.New("Invalid backend")
	}
	if err != nil {
		return cfg, nil, err
	}
	cfg.Backend = b
	return cfg, b, nil
}

// srvRecord is the SRV record to find nodes by, as confd builds it.
func srvRecord(o *confdOptions, backendName string) string {
	rec := o.str("srv-record")
	if rec == "" && o.str("srv-domain") != "" {
		rec = fmt.Sprintf("_%s._tcp.%s.", backendName, o.str("srv-domain"))
	}
	if backendName == "env" {
		return ""
	}
	return rec
}

func lookupSRVNodes(ctx context.Context, record, backendName, scheme string) ([]string, error) {
	_, addrs, err := net.DefaultResolver.LookupSRV(ctx, "", "", record)
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, a := range addrs {
		hp := net.JoinHostPort(strings.TrimSuffix(a.Target, "."), strconv.Itoa(int(a.Port)))
		if backendName == "etcd" {
			hp = scheme + "://" + hp
		}
		nodes = append(nodes, hp)
	}
	return nodes, nil
}

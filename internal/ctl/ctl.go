// Package ctl is "hecd ctl", a command line client that behaves like
// etcd 3.4's etcdctl in v2 mode (ETCDCTL_API=2): the same global flags,
// commands, outputs, error texts and exit statuses, so that scripts written
// for etcdctl keep working. It reaches the store only through
// hecd/internal/client.
package ctl

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"hecd/internal/client"
)

// Exit statuses, etcdctl's.
const (
	exitSuccess           = 0
	exitBadArgs           = 1
	exitBadConnection     = 2
	exitBadFeature        = 3
	exitServerError       = 4
	exitClusterNotHealthy = 5
)

// version is what --version reports; the API version says v2 mode.
const version = "3.4.23"

const defaultEndpoints = "http://127.0.0.1:2379,http://127.0.0.1:4001"

// globals are the global flags, given before the command.
type globals struct {
	endpoints, endpoint, peers string
	output                     string
	noSync, debug              bool
	timeout, totalTimeout      time.Duration
	username                   string
	caFile, certFile, keyFile  string
	discoverySRV               string
	insecureDiscovery          bool
}

// run is one invocation.
type run struct {
	ctx            context.Context
	environ        []string
	stdin          io.Reader
	stdout, stderr io.Writer
	g              globals
	setFlags       map[string]bool // global flags given on the command line

	// cfg caches clientConfig, which may have prompted for a password.
	cfg    *client.Config
	cfgErr error
}

// Main runs etcdctl's command line args (without the program name) and
// returns the exit status. environ supplies ETCDCTL_* variables and the
// environment of exec-watch's commands; stdin supplies values that set,
// mk and update do not get as arguments. When ctx ends, watches end with
// status 0, as etcdctl does on an interrupt.
func Main(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	r := &run{ctx: ctx, environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("etcdctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g := &r.g
	fs.StringVar(&g.endpoints, "endpoints", "", "comma-separated client URLs of the cluster (default: \""+defaultEndpoints+"\")")
	fs.StringVar(&g.endpoint, "endpoint", "", "old name of --endpoints")
	for _, name := range []string{"peers", "C"} {
		fs.StringVar(&g.peers, name, "", "old name of --endpoints")
	}
	for _, name := range []string{"output", "o"} {
		fs.StringVar(&g.output, name, outputSimple, "output `format`: simple, extended or json")
	}
	fs.BoolVar(&g.noSync, "no-sync", false, "use the endpoints as given, without asking the cluster for its members first")
	fs.BoolVar(&g.debug, "debug", false, "accepted for compatibility; hecd ctl prints no cURL commands")
	fs.DurationVar(&g.timeout, "timeout", 2*time.Second, "time limit of each request")
	fs.DurationVar(&g.totalTimeout, "total-timeout", 5*time.Second, "time limit of the whole command (watches excepted)")
	for _, name := range []string{"username", "u"} {
		fs.StringVar(&g.username, name, "", "user[:password] for basic authentication; the password is asked for when not given")
	}
	fs.StringVar(&g.caFile, "ca-file", "", "CA bundle to verify HTTPS servers with")
	fs.StringVar(&g.certFile, "cert-file", "", "client certificate for HTTPS")
	fs.StringVar(&g.keyFile, "key-file", "", "key of the client certificate")
	for _, name := range []string{"discovery-srv", "D"} {
		fs.StringVar(&g.discoverySRV, name, "", "domain whose SRV records name the cluster's endpoints")
	}
	fs.BoolVar(&g.insecureDiscovery, "insecure-discovery", false, "accept SRV records that point to plain HTTP endpoints")
	var showVersion, showHelp bool
	for _, name := range []string{"version", "v"} {
		fs.BoolVar(&showVersion, name, false, "print the version")
	}
	for _, name := range []string{"help", "h"} {
		fs.BoolVar(&showHelp, name, false, "show help")
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "Incorrect Usage. %v\n\n", err)
		io.WriteString(stdout, globalHelp)
		return exitBadArgs
	}
	r.setFlags = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { r.setFlags[f.Name] = true })
	if r.setFlags["output"] && r.setFlags["o"] {
		fmt.Fprintln(stderr, "Cannot use two forms of the same flag: o output")
		io.WriteString(stdout, globalHelp)
		return exitBadArgs
	}
	switch {
	case showHelp:
		io.WriteString(stdout, globalHelp)
		return exitSuccess
	case showVersion:
		fmt.Fprintf(stdout, "etcdctl version: %s\nAPI version: 2\n", version)
		return exitSuccess
	case fs.NArg() == 0:
		io.WriteString(stdout, globalHelp)
		return exitSuccess
	}
	if g.discoverySRV != "" {
		fmt.Fprintln(stderr, "hecd ctl: --discovery-srv is not supported; give --endpoints")
		return exitBadFeature
	}
	name, cmdArgs := fs.Arg(0), fs.Args()[1:]
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "No help topic for '%s'\n", name)
		return exitBadFeature
	}
	return cmd.run(r, cmdArgs)
}

// endpointList picks the endpoints in etcdctl's order of precedence:
// --endpoints, ETCDCTL_ENDPOINTS, --endpoint, ETCDCTL_ENDPOINT, --peers
// (-C), ETCDCTL_PEERS, then the default.
func (r *run) endpointList() []string {
	s := firstNonEmpty(r.g.endpoints, r.getenv("ETCDCTL_ENDPOINTS"), r.g.endpoint,
		r.getenv("ETCDCTL_ENDPOINT"), r.g.peers, r.getenv("ETCDCTL_PEERS"), defaultEndpoints)
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// getenv looks name up in the run's environment; the last entry wins, as
// with the process environment.
func (r *run) getenv(name string) string {
	v := ""
	for _, kv := range r.environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// clientConfig builds the client configuration from the global flags
// (without the endpoints), once per run.
func (r *run) clientConfig() (client.Config, error) {
	if r.cfg == nil {
		cfg, err := r.buildClientConfig()
		r.cfg, r.cfgErr = &cfg, err
	}
	return *r.cfg, r.cfgErr
}

func (r *run) buildClientConfig() (client.Config, error) {
	cfg := client.Config{HeaderTimeout: r.g.timeout}
	if r.g.timeout <= 0 {
		return cfg, fmt.Errorf("--timeout must be positive, got %v", r.g.timeout)
	}
	if r.g.username != "" {
		user, pass, ok := strings.Cut(r.g.username, ":")
		if !ok {
			// etcdctl prompts on the terminal; the password is read as a
			// line from stdin, so that it can also be piped in.
			fmt.Fprint(r.stderr, "Password: ")
			line, err := bufio.NewReader(r.stdin).ReadString('\n')
			if err != nil && line == "" {
				return cfg, fmt.Errorf("reading the password: %w", err)
			}
			pass = strings.TrimRight(line, "\r\n")
		}
		cfg.Username, cfg.Password = user, pass
	}
	if r.g.caFile != "" || r.g.certFile != "" || r.g.keyFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if r.g.caFile != "" {
			pem, err := os.ReadFile(r.g.caFile)
			if err != nil {
				return cfg, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return cfg, fmt.Errorf("%s: no PEM certificate found", r.g.caFile)
			}
			tc.RootCAs = pool
		}
		if r.g.certFile != "" || r.g.keyFile != "" {
			if r.g.certFile == "" || r.g.keyFile == "" {
				return cfg, errors.New("--cert-file and --key-file must be given together")
			}
			cert, err := tls.LoadX509KeyPair(r.g.certFile, r.g.keyFile)
			if err != nil {
				return cfg, err
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tc
	}
	return cfg, nil
}

// newClient returns a client for the endpoints. With sync (and without
// --no-sync) it first asks the cluster for its members and then talks to
// their client URLs, as etcdctl does; a failed sync is a bad connection.
// On failure it has reported the error and returns the exit status.
func (r *run) newClient(sync bool) (*client.Client, int) {
	cfg, err := r.clientConfig()
	if err != nil {
		fmt.Fprint(r.stderr, formatError(err))
		return nil, exitBadArgs
	}
	cfg.Endpoints = r.endpointList()
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintln(r.stderr, err)
		return nil, exitBadArgs
	}
	if !sync || r.g.noSync {
		return c, exitSuccess
	}
	ctx, cancel := r.requestContext()
	members, err := c.Members(ctx)
	cancel()
	if err != nil {
		fmt.Fprint(r.stderr, formatError(err))
		return nil, exitBadConnection
	}
	var urls []string
	for _, m := range members {
		urls = append(urls, m.ClientURLs...)
	}
	if len(urls) == 0 {
		// Nothing published (yet): keep what the user gave.
		return c, exitSuccess
	}
	cfg.Endpoints = urls
	synced, err := client.New(cfg)
	if err != nil {
		fmt.Fprint(r.stderr, formatError(err))
		return nil, exitBadConnection
	}
	c.Close()
	return synced, exitSuccess
}

// requestContext bounds one request (or a command's requests) by
// --total-timeout.
func (r *run) requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.ctx, r.g.totalTimeout)
}

// fail reports err as etcdctl does and returns code.
func (r *run) fail(code int, err error) int {
	fmt.Fprint(r.stderr, formatError(err))
	return code
}

const globalHelp = `NAME:
   etcdctl - hecd's etcdctl: the v2 keys API from the command line

USAGE:
   etcdctl [global options] command [command options] [arguments...]

VERSION:
   ` + version + ` (hecd ctl)

COMMANDS:
   cluster-health  report whether the members answer and the cluster is healthy
   mk              create a key that does not exist yet
   mkdir           create a directory that does not exist yet
   rm              delete a key, or a directory with --dir or --recursive
   rmdir           delete an empty directory
   get             print the value of a key
   ls              list the keys of a directory
   set             set the value of a key, creating it if needed
   setdir          create a directory, or set the TTL of an existing one
   update          change the value of an existing key
   updatedir       change the TTL of an existing directory
   watch           wait for a change of a key and print it
   exec-watch      run a command for every change of a key
   member          list, add, remove or update the cluster's members
   help, h         show the commands, or the help of one command

GLOBAL OPTIONS:
   --debug                          accepted for compatibility; prints no cURL commands
   --no-sync                        use the endpoints as given, without asking the cluster for its members first
   --output simple, -o simple       output format: simple, extended or json (default: "simple")
   --peers value, -C value          old name of --endpoints
   --endpoint value                 old name of --endpoints
   --endpoints value                comma-separated client URLs of the cluster (default: "` + defaultEndpoints + `")
   --cert-file value                client certificate for HTTPS
   --key-file value                 key of the client certificate
   --ca-file value                  CA bundle to verify HTTPS servers with
   --username value, -u value       user[:password] for basic authentication; the password is asked for when not given
   --timeout value                  time limit of each request (default: 2s)
   --total-timeout value            time limit of the whole command (watches excepted) (default: 5s)
   --help, -h                       show help
   --version, -v                    print the version
`

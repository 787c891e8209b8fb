package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// proxyOptions are the settings of "hecd proxy". Their names follow the
// HAProxy settings of the seed's configuration (spec proxy.md D.7); the
// config file uses the same names with dots for sections.
type proxyOptions struct {
	store  []string
	prefix string

	listen          []string
	maxconn         int
	listenerMaxconn int

	retries    int
	redispatch bool

	timeoutConnect, timeoutClient, timeoutServer   time.Duration
	timeoutHTTPRequest, timeoutKeepAlive           time.Duration
	timeoutTunnel, timeoutCheck                    time.Duration
	httpclose                                      bool
	forwardfor                                     string
	trustedProxies                                 []string
	forwardforExcept, forwardforHeader             string
	forwardforIfNone                               bool
	routeHeader                                    string
	fallbackToDefault                              bool
	defaultMode, defaultName, balance              string
	defaultServers                                 []string
	checkEnabled                                   bool
	checkInter, checkFastInter, checkDownInter     time.Duration
	checkRise, checkFall                           int
	checkType, checkHTTP, initialState             string
	maxChecksPerSecond                             int
	maxFails                                       int
	failWindow                                     time.Duration
	settle, settleMax                              time.Duration
	routeDrainTimeout                              time.Duration
	statsListen, statsURI                          string
	statsRefresh                                   time.Duration
	statsHtpasswd, statsAdminHtpasswd, statsLegacy string
	statsPersistAdmin                              bool
	accessLog, logLevel                            string
	configFile                                     string
}

func defaultProxyOptions() *proxyOptions {
	return &proxyOptions{
		store:           []string{"http://127.0.0.1:2379"},
		prefix:          "/app/servers",
		listen:          []string{":8000"},
		maxconn:         5000,
		listenerMaxconn: 2000,
		retries:         3,
		redispatch:      true,
		timeoutConnect:  5 * time.Second,
		timeoutClient:   50 * time.Second,
		timeoutServer:   50 * time.Second,
		httpclose:       true,
		forwardfor:      "secure",
		routeHeader:     "APPID",
		defaultMode:     "static",
		defaultName:     "default_backend",
		balance:         "roundrobin",
		checkEnabled:    true,
		checkInter:      5 * time.Second,
		checkRise:       2,
		checkFall:       1,
		checkType:       "tcp",
		initialState:    "up",
		failWindow:      10 * time.Second,
		settle:          100 * time.Millisecond,
		settleMax:       time.Second,
		statsURI:        "/admin-status",
		statsRefresh:    30 * time.Second,
		accessLog:       "stdout",
		logLevel:        "info",
	}
}

// listValue is a repeatable flag that also splits on commas; its first
// use replaces the default or the config file's list.
type listValue struct {
	p    *[]string
	used bool
	// whole keeps commas inside a value.
	whole bool
}

func (l *listValue) String() string { return "" }
func (l *listValue) Set(v string) error {
	if !l.used {
		*l.p = nil
		l.used = true
	}
	if l.whole {
		*l.p = append(*l.p, strings.TrimSpace(v))
		return nil
	}
	*l.p = append(*l.p, splitList(v)...)
	return nil
}

// haproxyDuration reads a timeout as HAProxy does: milliseconds unless a
// unit (us, ms, s, m, h, d) is given.
type haproxyDuration struct{ p *time.Duration }

func (d haproxyDuration) String() string { return "" }
func (d haproxyDuration) Set(v string) error {
	x, err := parseHAProxyDuration(v)
	if err != nil {
		return err
	}
	*d.p = x
	return nil
}

func parseHAProxyDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Millisecond, nil
	}
	if num, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.ParseInt(num, 10, 64); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid time %q: milliseconds, or a number with us, ms, s, m, h or d", v)
	}
	return d, nil
}

func newProxyFlagSet(o *proxyOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("hecd proxy", flag.ContinueOnError)
	fs.Var(&listValue{p: &o.store}, "store", "store client URLs to read routes from (repeatable or comma-separated)")
	fs.StringVar(&o.prefix, "prefix", o.prefix, "key prefix of the routes: <prefix>/<APPID> = host:port")
	fs.Var(&listValue{p: &o.listen}, "listen", "address to serve HTTP on (HAProxy's bind; repeatable)")
	fs.IntVar(&o.maxconn, "maxconn", o.maxconn, "most concurrent client connections in all (HAProxy global maxconn)")
	fs.IntVar(&o.listenerMaxconn, "listener-maxconn", o.listenerMaxconn, "most concurrent client connections per listener (HAProxy defaults maxconn)")
	fs.IntVar(&o.retries, "retries", o.retries, "connection attempts to retry after the first fails")
	fs.BoolVar(&o.redispatch, "redispatch", o.redispatch, "let the last retry go to another server of the backend")
	fs.Var(haproxyDuration{&o.timeoutConnect}, "timeout-connect", "upstream connect timeout (ms unless a unit is given; default 5s)")
	fs.Var(haproxyDuration{&o.timeoutClient}, "timeout-client", "client inactivity timeout (default 50s)")
	fs.Var(haproxyDuration{&o.timeoutServer}, "timeout-server", "server inactivity timeout (default 50s)")
	fs.Var(haproxyDuration{&o.timeoutHTTPRequest}, "timeout-http-request", "time to receive a whole request head (default: timeout-client)")
	fs.Var(haproxyDuration{&o.timeoutKeepAlive}, "timeout-http-keep-alive", "idle time between requests on a kept-alive connection (default: timeout-http-request)")
	fs.Var(haproxyDuration{&o.timeoutTunnel}, "timeout-tunnel", "inactivity timeout of websockets and other upgrades (default: timeout-server)")
	fs.Var(haproxyDuration{&o.timeoutCheck}, "timeout-check", "health check timeout (default: check-inter)")
	fs.BoolVar(&o.httpclose, "httpclose", o.httpclose, "close the client connection after each response (HAProxy option httpclose)")
	fs.StringVar(&o.forwardfor, "forwardfor", o.forwardfor, "X-Forwarded-For handling: secure (drop untrusted inbound headers) or haproxy (keep them and append a line, as option forwardfor)")
	fs.Var(&listValue{p: &o.trustedProxies}, "trusted-proxies", "CIDRs whose forwarding headers are kept in secure mode (repeatable)")
	fs.StringVar(&o.forwardforExcept, "forwardfor-except", o.forwardforExcept, "CIDR of clients that get no X-Forwarded-For (haproxy mode)")
	fs.StringVar(&o.forwardforHeader, "forwardfor-header", o.forwardforHeader, "header name instead of X-Forwarded-For")
	fs.BoolVar(&o.forwardforIfNone, "forwardfor-if-none", o.forwardforIfNone, "add the header only when the request has none (haproxy mode)")
	fs.StringVar(&o.routeHeader, "route-header", o.routeHeader, "request header that names the route")
	fs.BoolVar(&o.fallbackToDefault, "fallback-to-default", o.fallbackToDefault, "send a request whose route has no usable server to the default backend instead of answering 503")
	fs.StringVar(&o.defaultMode, "default-backend", o.defaultMode, "default backend: static (servers from -default-server and /hecd/default/<name> keys), all (every route's server) or none")
	fs.StringVar(&o.defaultName, "default-backend-name", o.defaultName, "name of the default backend on the stats page")
	fs.Var(&listValue{p: &o.defaultServers, whole: true}, "default-server", "a static default backend server, \"name=host:port\" or \"name=host:port weight=N\" (repeatable)")
	fs.StringVar(&o.balance, "balance", o.balance, "balancing of the default backend (roundrobin)")
	fs.BoolVar(&o.checkEnabled, "check", o.checkEnabled, "health-check servers")
	fs.Var(haproxyDuration{&o.checkInter}, "check-inter", "time between checks (default 5s)")
	fs.Var(haproxyDuration{&o.checkFastInter}, "check-fastinter", "time between checks while a server changes state (default: check-inter)")
	fs.Var(haproxyDuration{&o.checkDownInter}, "check-downinter", "time between checks while a server is down (default: check-inter)")
	fs.IntVar(&o.checkRise, "check-rise", o.checkRise, "consecutive successful checks to come UP")
	fs.IntVar(&o.checkFall, "check-fall", o.checkFall, "consecutive failed checks to go DOWN")
	fs.StringVar(&o.checkType, "check-type", o.checkType, "tcp or http")
	fs.StringVar(&o.checkHTTP, "check-http", o.checkHTTP, "HTTP check request, \"METHOD /path\" (implies -check-type http)")
	fs.StringVar(&o.initialState, "initial-state", o.initialState, "state of a new server before its first check: up (HAProxy) or down")
	fs.IntVar(&o.maxChecksPerSecond, "max-checks-per-second", o.maxChecksPerSecond, "bound on the checks started per second over all servers (0: no bound)")
	fs.IntVar(&o.maxFails, "max-fails", o.maxFails, "passive health: this many failed connections or responses within -fail-window mark a server DOWN for -fail-window (0: off)")
	fs.Var(haproxyDuration{&o.failWindow}, "fail-window", "passive health window (default 10s)")
	fs.DurationVar(&o.settle, "settle", o.settle, "publish a new route table at the latest this long after a change (sooner, once the store has been quiet for 20ms)")
	fs.DurationVar(&o.settleMax, "settle-max", o.settleMax, "publish at the latest this long after the first change")
	fs.DurationVar(&o.routeDrainTimeout, "route-drain-timeout", o.routeDrainTimeout, "cut the requests and websockets still running on a removed route or server this long after it left (0: let them finish)")
	fs.StringVar(&o.statsListen, "stats-listen", o.statsListen, "address of the stats page (off when empty; e.g. 127.0.0.1:8404)")
	fs.StringVar(&o.statsURI, "stats-uri", o.statsURI, "URI prefix of the stats page")
	fs.Var(haproxyDuration{&o.statsRefresh}, "stats-refresh", "auto-refresh of the stats page (default 30s)")
	fs.StringVar(&o.statsHtpasswd, "stats-htpasswd", o.statsHtpasswd, "htpasswd file (bcrypt) of the users who may read the stats page")
	fs.StringVar(&o.statsAdminHtpasswd, "stats-admin-htpasswd", o.statsAdminHtpasswd, "htpasswd file (bcrypt) of the users who may also use the admin actions")
	fs.StringVar(&o.statsLegacy, "insecure-legacy-stats-auth", o.statsLegacy, "a plain user:password pair as HAProxy's stats auth (admin role); prefer -stats-admin-htpasswd")
	fs.BoolVar(&o.statsPersistAdmin, "stats-persist-admin", o.statsPersistAdmin, "keep admin actions in the store under /hecd/admin, so every proxy applies them and they survive restarts")
	fs.StringVar(&o.accessLog, "access-log", o.accessLog, "one line per request to: stdout, stderr, off or a file path")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "debug, info, warn or error")
	fs.StringVar(&o.configFile, "config", o.configFile, "TOML config file (names as the flags, or HAProxy-style sections: timeout.connect, check.inter, stats.address ...)")
	return fs
}

// errProxyUsage: the flag package has already printed the problem.
var errProxyUsage = errors.New("usage error")

// parseProxyOptions reads the command line and, with -config, a TOML file.
// The command line wins over the file.
func parseProxyOptions(args []string, stderr io.Writer) (*proxyOptions, error) {
	probe := defaultProxyOptions()
	pfs := newProxyFlagSet(probe)
	pfs.SetOutput(io.Discard)
	_ = pfs.Parse(args)

	o := defaultProxyOptions()
	if probe.configFile != "" {
		if err := o.applyFile(probe.configFile); err != nil {
			return nil, err
		}
	}
	fs := newProxyFlagSet(o)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errProxyUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hecd proxy: unexpected argument %q\n", fs.Arg(0))
		return nil, errProxyUsage
	}
	return o, o.validate()
}

func (o *proxyOptions) validate() error {
	switch {
	case len(o.store) == 0:
		return errors.New("-store: at least one store URL is needed")
	case len(o.listen) == 0:
		return errors.New("-listen: at least one address is needed")
	case o.maxconn < 1 || o.listenerMaxconn < 1:
		return errors.New("-maxconn and -listener-maxconn must be at least 1")
	case o.retries < 0:
		return errors.New("-retries must not be negative")
	case o.forwardfor != "secure" && o.forwardfor != "haproxy":
		return fmt.Errorf("-forwardfor %q: want secure or haproxy", o.forwardfor)
	case o.defaultMode != "static" && o.defaultMode != "all" && o.defaultMode != "none":
		return fmt.Errorf("-default-backend %q: want static, all or none", o.defaultMode)
	case o.balance != "roundrobin":
		return fmt.Errorf("-balance %q: only roundrobin is supported", o.balance)
	case o.checkType != "tcp" && o.checkType != "http":
		return fmt.Errorf("-check-type %q: want tcp or http", o.checkType)
	case o.initialState != "up" && o.initialState != "down":
		return fmt.Errorf("-initial-state %q: want up or down", o.initialState)
	case o.checkRise < 1 || o.checkFall < 1:
		return errors.New("-check-rise and -check-fall must be at least 1")
	case o.checkInter <= 0:
		return errors.New("-check-inter must be positive")
	case o.routeHeader == "":
		return errors.New("-route-header must not be empty")
	}
	for _, c := range o.trustedProxies {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return fmt.Errorf("-trusted-proxies: %v", err)
		}
	}
	if o.forwardforExcept != "" {
		if _, _, err := net.ParseCIDR(o.forwardforExcept); err != nil {
			return fmt.Errorf("-forwardfor-except: %v", err)
		}
	}
	if o.statsListen != "" && o.statsHtpasswd == "" && o.statsAdminHtpasswd == "" && o.statsLegacy == "" {
		return errors.New("-stats-listen needs users: -stats-htpasswd, -stats-admin-htpasswd or -insecure-legacy-stats-auth (there is no default password)")
	}
	return nil
}

// applyFile reads the TOML config. Keys are the flag names, with '_' or
// '-' alike, at top level or in sections whose name is the flag's first
// word ([timeout] connect = "5s" is -timeout-connect; [check] inter is
// -check-inter; [stats] address is -stats-listen). HAProxy's legacy
// names contimeout, clitimeout and srvtimeout are accepted with a warning.
func (o *proxyOptions) applyFile(path string) error {
	raw := map[string]any{}
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	flat := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			name := strings.ReplaceAll(strings.ToLower(k), "_", "-")
			if prefix != "" {
				name = prefix + "-" + name
			}
			if sub, ok := v.(map[string]any); ok {
				walk(name, sub)
				continue
			}
			flat[name] = v
		}
	}
	walk("", raw)
	aliases := map[string]string{
		"contimeout": "timeout-connect", "clitimeout": "timeout-client", "srvtimeout": "timeout-server",
		"stats-address": "stats-listen", "stats-auth": "insecure-legacy-stats-auth",
		"default-backend-mode": "default-backend", "default-backend-servers": "default-server",
		"default-backend-balance": "balance", "check-enabled": "check", "listeners-address": "listen",
		"listeners-maxconn": "listener-maxconn", "stats-admin": "stats-admin-htpasswd",
	}
	fs := newProxyFlagSet(o)
	names := make([]string, 0, len(flat))
	for k := range flat {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name := k
		if a, ok := aliases[k]; ok {
			if strings.HasSuffix(k, "timeout") {
				fmt.Fprintf(os.Stderr, "hecd proxy: %s: %s is HAProxy's old name; use [timeout] %s\n", path, k, strings.TrimPrefix(a, "timeout-"))
			}
			name = a
		}
		if fs.Lookup(name) == nil {
			return fmt.Errorf("%s: unknown setting %q", path, k)
		}
		var vals []string
		switch v := flat[k].(type) {
		case []any:
			for _, it := range v {
				vals = append(vals, fmt.Sprint(it))
			}
		case []map[string]any:
			return fmt.Errorf("%s: %s: tables are not supported here", path, k)
		default:
			vals = []string{fmt.Sprint(v)}
		}
		for _, s := range vals {
			if err := fs.Set(name, s); err != nil {
				return fmt.Errorf("%s: %s: %v", path, k, err)
			}
		}
	}
	return nil
}

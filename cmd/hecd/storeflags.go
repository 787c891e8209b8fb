package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"hecd/internal/server"
)

// How "hecd store" (and a binary called etcd) is configured.
//
// Two flag families are accepted side by side: etcd 2/3's (--listen-client-urls
// and friends) and etcd 0.4's (-addr, -bind-addr, -peers, -config ...), so that
// the command lines of both eras run unchanged. Go's flag package parses
// them, so -flag and --flag, -flag=value and -flag value all work.
//
// Sources, lowest to highest precedence: defaults, the TOML config file of
// etcd 0.4, environment variables (ETCD_<FLAG>, then HECD_<FLAG>), and the
// command line. They are applied in that order as a sequence of
// (setting, value) assignments, so a setting that two flags of different
// families both describe (say --listen-client-urls and -bind-addr) takes
// the value of the one applied last: the later one on the command line,
// and any command-line flag over any environment variable over the file.
// The environment has no order of its own: HECD_ variables are applied
// after ETCD_ ones, and within a prefix etcd 2/3 flags after etcd 0.4 ones.
// -snapshot=false is the one exception to "last wins": it disables
// snapshots whatever -snapshot-count says, as in etcd 0.4.

// storeOptions is everything "hecd store" runs with.
type storeOptions struct {
	config server.Config
	// cpuProfileFile, when set, receives a CPU profile of the whole run.
	cpuProfileFile string
}

// errVersionRequested is returned by parseStoreConfig for --version; the
// caller prints the version and exits 0. (-h returns flag.ErrHelp after the
// usage was written.)
var errVersionRequested = errors.New("version requested")

// systemConfigFile is read, when it exists and no -config was given, as
// etcd 0.4 did. Tests point it elsewhere.
var systemConfigFile = "/etc/etcd/etcd.conf"

// Ports that an etcd 0.4 -bind-addr / -peer-bind-addr without a port gets
// when no -addr / -peer-addr gives one: hecd's default ports.
var (
	defaultClientPorts = []string{"2379", "4001"}
	defaultPeerPort    = "2380"
)

// neverSnapshot is the snapshot count that -snapshot=false sets: no member
// will ever apply that many entries, so no snapshot is taken by count.
const neverSnapshot = math.MaxInt64

type section int

const (
	sectionEtcd section = iota
	sectionOld
	sectionUnsupported
)

// setting is one flag; its name is also its environment variable
// (ETCD_/HECD_ + upper case, '-' -> '_').
type setting struct {
	name    string
	section section
	isBool  bool
	arg     string // placeholder for the value in the usage text
	usage   string
	set     func(b *builder, v string) error
	// noEnv marks flags that the environment cannot set (--version would
	// turn every start into a version print; -config is read first).
	noEnv bool
}

// assignment is one value for one setting from one source.
type assignment struct {
	name   string
	value  string
	origin string // "flag -x", "environment variable ETCD_X", "config file f: key x"
	// showValue puts the value into error messages (config file errors
	// point at the key instead).
	showValue bool
}

// builder accumulates assignments; finish turns it into a server.Config.
type builder struct {
	seq    int    // number of the assignment being applied, from 1
	origin string // where the assignment being applied comes from

	cfg server.Config // fields that need no resolution are set directly

	// Flags of the two families that describe the same URLs; the one with
	// the higher seq (applied later) wins, see finish.
	listenClient, advertiseClient, listenPeer, advertisePeer urlsValue
	addr, bindAddr, peerAddr, peerBindAddr                   stringValue

	initialCluster map[string][]url.URL

	snapshotCount uint64
	snapshotOff   bool

	verbose, veryVerbose bool
	verboseSeq           int
	logLevel             slog.Level
	logLevelSeq          int

	enableV2       bool
	enableV2Origin string

	peers           []string
	peersOrigin     string
	peersFile       string
	peersFileOrigin string

	force          bool
	forceOrigin    string
	metricsOrigin  string // where a non-empty --listen-metrics-urls came from
	cpuProfileFile string

	// requested holds settings that ask for a feature hecd does not have
	// yet (TLS, discovery, proxy mode), by setting name. They are refused
	// in finish, so that a later source can still clear them.
	requested map[string]request
}

type urlsValue struct {
	urls []url.URL
	seq  int // 0: not set
}

type stringValue struct {
	v   string
	seq int // 0: not set
}

type request struct {
	feature string
	origin  string
}

func newBuilder() *builder {
	return &builder{
		cfg:           server.DefaultConfig(),
		snapshotCount: server.DefaultConfig().SnapshotCount,
		enableV2:      true,
		requested:     map[string]request{},
	}
}

// notImplementedError refuses a setting that asks for a feature hecd does
// not have yet. It matches server.ErrNotYetSupported with errors.Is.
type notImplementedError struct {
	origin  string
	feature string
	hint    string
}

func (e *notImplementedError) Error() string {
	msg := fmt.Sprintf("%s: %s is not implemented yet in hecd", e.origin, e.feature)
	if e.hint != "" {
		msg += "; " + e.hint
	}
	return msg
}

func (e *notImplementedError) Unwrap() error { return server.ErrNotYetSupported }

var featureHints = map[string]string{
	"TLS":        "hecd serves and dials plain http:// only (put a TLS-terminating proxy in front, or leave the setting empty)",
	"discovery":  "hecd runs a single member, which needs no discovery: leave the setting empty",
	"proxy mode": "run a member instead (--proxy=off)",
}

// Value parsers with messages that say what is expected.

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}

func parseUint(v string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, errors.New("must be a non-negative integer")
	}
	return n, nil
}

func parseMillis(v string) (time.Duration, error) {
	n, err := parseUint(v)
	if err != nil || n == 0 || n > math.MaxInt64/uint64(time.Millisecond) {
		return 0, errors.New("must be a positive whole number of milliseconds")
	}
	return time.Duration(n) * time.Millisecond, nil
}

func parseSeconds(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, errors.New("must be a non-negative number of seconds")
	}
	return f, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func checkPort(port string) error {
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// parseHostPort checks an etcd 0.4 -addr / -peer-addr value: host:port.
func parseHostPort(v string) error {
	if strings.Contains(v, "://") {
		return fmt.Errorf("%q: give host:port without a scheme (URLs go to the etcd 2/3 flags)", v)
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port", v)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", v)
	}
	return checkPort(port)
}

// splitBindAddr splits an etcd 0.4 -bind-addr / -peer-bind-addr value,
// host[:port]; port is "" when missing.
func splitBindAddr(v string) (host, port string, err error) {
	if strings.Contains(v, "://") {
		return "", "", fmt.Errorf("%q: give host[:port] without a scheme (URLs go to the etcd 2/3 flags)", v)
	}
	if h, p, err := net.SplitHostPort(v); err == nil {
		if h == "" {
			// As etcd 0.4: "IP required can't use a port only".
			return "", "", fmt.Errorf("%q has no host (use 0.0.0.0%s for all interfaces)", v, v)
		}
		return h, p, checkPort(p)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	if host == "" || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", "", fmt.Errorf("%q is not host[:port]", v)
	}
	return host, "", nil
}

func httpURL(host, port string) url.URL {
	return url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
}

// Constructors for the setting table.

func textFlag(name string, sec section, arg, usage string, set func(b *builder, v string) error) setting {
	return setting{name: name, section: sec, arg: arg, usage: usage, set: set}
}

func boolFlag(name string, sec section, usage string, set func(b *builder, v bool)) setting {
	return setting{name: name, section: sec, isBool: true, usage: usage, set: func(b *builder, v string) error {
		x, err := parseBool(v)
		if err != nil {
			return err
		}
		set(b, x)
		return nil
	}}
}

// urlsFlag sets a URL list; an empty value unsets it (back to the default).
func urlsFlag(name string, sec section, usage string, field func(b *builder) *urlsValue) setting {
	return textFlag(name, sec, "urls", usage, func(b *builder, v string) error {
		us, err := server.ParseURLs(v)
		if err != nil {
			return err
		}
		if len(us) == 0 {
			*field(b) = urlsValue{}
			return nil
		}
		*field(b) = urlsValue{urls: us, seq: b.seq}
		return nil
	})
}

// msFlag sets a duration given in milliseconds.
func msFlag(name string, sec section, usage string, field func(b *builder) *time.Duration) setting {
	return textFlag(name, sec, "ms", usage, func(b *builder, v string) error {
		d, err := parseMillis(v)
		if err != nil {
			return err
		}
		*field(b) = d
		return nil
	})
}

// countFlag accepts a non-negative integer for a setting hecd has no use for.
func countFlag(name string, usage string) setting {
	return textFlag(name, sectionOld, "n", usage, func(b *builder, v string) error {
		_, err := parseUint(v)
		return err
	})
}

// secondsFlag accepts a non-negative number of seconds for a setting hecd
// has no use for.
func secondsFlag(name string, usage string) setting {
	return textFlag(name, sectionOld, "seconds", usage, func(b *builder, v string) error {
		_, err := parseSeconds(v)
		return err
	})
}

// noEnv marks a setting that the environment cannot set.
func noEnv(s setting) setting {
	s.noEnv = true
	return s
}

// featureFlag is a setting that asks for a feature hecd does not have yet
// when its value is non-empty (text) or true (bool).
func featureFlag(name string, isBool bool, feature, arg, usage string) setting {
	s := setting{name: name, section: sectionUnsupported, isBool: isBool, arg: arg, usage: usage}
	s.set = func(b *builder, v string) error {
		active := strings.TrimSpace(v) != ""
		if isBool {
			x, err := parseBool(v)
			if err != nil {
				return err
			}
			active = x
		}
		if active {
			b.requested[name] = request{feature: feature, origin: b.origin}
		} else {
			delete(b.requested, name)
		}
		return nil
	}
	return s
}

func oldAddrFlag(name, usage string, field func(b *builder) *stringValue) setting {
	return textFlag(name, sectionOld, "host:port", usage, func(b *builder, v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			*field(b) = stringValue{}
			return nil
		}
		if err := parseHostPort(v); err != nil {
			return err
		}
		*field(b) = stringValue{v: v, seq: b.seq}
		return nil
	})
}

func oldBindFlag(name, usage string, field func(b *builder) *stringValue) setting {
	return textFlag(name, sectionOld, "host[:port]", usage, func(b *builder, v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			*field(b) = stringValue{}
			return nil
		}
		if _, _, err := splitBindAddr(v); err != nil {
			return err
		}
		*field(b) = stringValue{v: v, seq: b.seq}
		return nil
	})
}

// storeSettings lists every flag of "hecd store". Within one source the
// environment applies them in this order, so the etcd 0.4 flags come
// before the etcd 2/3 flags that describe the same thing.
var storeSettings = []setting{
	// etcd 0.4 flags.
	noEnv(textFlag("config", sectionOld, "path", "TOML config file in etcd 0.4's format (default "+systemConfigFile+" if it exists). Same as --config-file.", func(b *builder, v string) error { return nil })),
	oldAddrFlag("addr", "Client address to advertise, etcd 0.4 style (same as --advertise-client-urls=http://host:port). Alone, without -bind-addr, hecd also listens on 0.0.0.0 at its port, as etcd 0.4 did.", func(b *builder) *stringValue { return &b.addr }),
	oldBindFlag("bind-addr", "Client address to listen on, etcd 0.4 style (same as --listen-client-urls=http://host:port). The port defaults to -addr's, or to both 2379 and 4001.", func(b *builder) *stringValue { return &b.bindAddr }),
	oldAddrFlag("peer-addr", "Peer address to advertise, etcd 0.4 style (same as --initial-advertise-peer-urls=http://host:port). Alone, without -peer-bind-addr, hecd also listens on 0.0.0.0 at its port.", func(b *builder) *stringValue { return &b.peerAddr }),
	oldBindFlag("peer-bind-addr", "Peer address to listen on, etcd 0.4 style (same as --listen-peer-urls=http://host:port). The port defaults to -peer-addr's, or to 2380.", func(b *builder) *stringValue { return &b.peerBindAddr }),
	textFlag("peers", sectionOld, "host:port,...", "Cluster members to join, etcd 0.4 style. Joining is not implemented yet: any entry is an error.", func(b *builder, v string) error {
		b.peers, b.peersOrigin = splitList(v), b.origin
		return nil
	}),
	textFlag("peers-file", sectionOld, "path", "File with the comma-separated -peers list. Joining is not implemented yet: a file with entries is an error.", func(b *builder, v string) error {
		b.peersFile, b.peersFileOrigin = strings.TrimSpace(v), b.origin
		return nil
	}),
	msFlag("peer-heartbeat-interval", sectionOld, "Same as --heartbeat-interval (milliseconds).", func(b *builder) *time.Duration { return &b.cfg.HeartbeatInterval }),
	msFlag("peer-election-timeout", sectionOld, "Same as --election-timeout (milliseconds).", func(b *builder) *time.Duration { return &b.cfg.ElectionTimeout }),
	boolFlag("snapshot", sectionOld, "Take snapshots (default true). -snapshot=false sets the snapshot count to 2^63-1 whatever -snapshot-count says, so no snapshot is ever taken and the raft log is never compacted: it grows without bound.", func(b *builder, v bool) { b.snapshotOff = !v }),
	boolFlag("v", sectionOld, "Verbose logging: debug level (same as --log-level=debug).", func(b *builder, v bool) { b.verbose, b.verboseSeq = v, b.seq }),
	boolFlag("vv", sectionOld, "Very verbose logging; hecd has one debug level, so the same as -v.", func(b *builder, v bool) { b.veryVerbose, b.verboseSeq = v, b.seq }),
	boolFlag("f", sectionOld, "Same as -force.", func(b *builder, v bool) { b.force, b.forceOrigin = v, b.origin }),
	boolFlag("force", sectionOld, "etcd 0.4 discarded an existing member configuration. hecd never deletes data: it keeps using --data-dir and logs a warning; remove the directory yourself to start afresh.", func(b *builder, v bool) { b.force, b.forceOrigin = v, b.origin }),
	countFlag("max-result-buffer", "etcd 0.4's watch result buffer. No effect in hecd: its watch hub never blocks on a slow watcher."),
	countFlag("max-retry-attempts", "etcd 0.4's attempts to join a cluster. No effect in hecd (joining is not implemented yet)."),
	secondsFlag("retry-interval", "etcd 0.4's wait between join attempts. No effect in hecd (joining is not implemented yet)."),
	countFlag("cluster-active-size", "etcd 0.4's number of active members (the rest were standbys). No effect in hecd: it has no standby mode."),
	secondsFlag("cluster-remove-delay", "etcd 0.4's delay before removing a lost member. No effect in hecd: it has no standby mode."),
	secondsFlag("cluster-sync-interval", "etcd 0.4's standby sync interval. No effect in hecd: it has no standby mode."),
	countFlag("max-cluster-size", "etcd 0.4's maximum cluster size. No effect in hecd (a single member for now)."),
	secondsFlag("http-read-timeout", "etcd 0.4's HTTP read timeout. No effect in hecd: its server sets its own timeouts (long-poll watches must not time out)."),
	secondsFlag("http-write-timeout", "etcd 0.4's HTTP write timeout. No effect in hecd: its server sets its own timeouts (long-poll watches must not time out)."),
	textFlag("cpu-profile-file", sectionOld, "path", "Write a CPU profile of the whole run to this file (pprof format).", func(b *builder, v string) error {
		b.cpuProfileFile = strings.TrimSpace(v)
		return nil
	}),

	// etcd 2/3 flags, most shared with etcd 0.4.
	noEnv(textFlag("config-file", sectionEtcd, "path", "Same as -config: a TOML file in etcd 0.4's format (etcd 3's YAML files are not read).", func(b *builder, v string) error { return nil })),
	textFlag("name", sectionEtcd, "name", `Human-readable name for this member (default "default").`, func(b *builder, v string) error {
		b.cfg.Name = strings.TrimSpace(v)
		return nil
	}),
	textFlag("data-dir", sectionEtcd, "path", `Directory for the raft log and snapshots (default "<name>.etcd").`, func(b *builder, v string) error {
		b.cfg.DataDir = strings.TrimSpace(v)
		return nil
	}),
	urlsFlag("listen-client-urls", sectionEtcd, "URLs to serve clients on (default http://localhost:2379,http://localhost:4001).", func(b *builder) *urlsValue { return &b.listenClient }),
	urlsFlag("advertise-client-urls", sectionEtcd, "Client URLs to announce (default: the listen client URLs).", func(b *builder) *urlsValue { return &b.advertiseClient }),
	urlsFlag("listen-peer-urls", sectionEtcd, "URLs to listen on for peers (default http://localhost:2380).", func(b *builder) *urlsValue { return &b.listenPeer }),
	urlsFlag("initial-advertise-peer-urls", sectionEtcd, "Peer URLs of this member to announce (default http://localhost:2380).", func(b *builder) *urlsValue { return &b.advertisePeer }),
	textFlag("initial-cluster", sectionEtcd, "name=url,...", "Initial members; a name may repeat to give a member several peer URLs (default <name>=<initial advertise peer URLs>). hecd runs one member for now.", func(b *builder, v string) error {
		m, err := server.ParseInitialCluster(v)
		if err != nil {
			return err
		}
		if len(m) == 0 {
			m = nil
		}
		b.initialCluster = m
		return nil
	}),
	textFlag("initial-cluster-state", sectionEtcd, "state", `"new" or "existing" (default "new").`, func(b *builder, v string) error {
		v = strings.TrimSpace(v)
		if v != "new" && v != "existing" {
			return errors.New(`must be "new" or "existing"`)
		}
		b.cfg.InitialClusterState = v
		return nil
	}),
	textFlag("initial-cluster-token", sectionEtcd, "token", `Token that makes the cluster ID unique (default "etcd-cluster").`, func(b *builder, v string) error {
		b.cfg.InitialClusterToken = strings.TrimSpace(v)
		return nil
	}),
	textFlag("snapshot-count", sectionEtcd, "n", "Applied entries between snapshots (default 100000); see also -snapshot.", func(b *builder, v string) error {
		n, err := parseUint(v)
		if err != nil {
			return err
		}
		b.snapshotCount = n
		return nil
	}),
	msFlag("heartbeat-interval", sectionEtcd, "Raft heartbeat interval in milliseconds (default 100).", func(b *builder) *time.Duration { return &b.cfg.HeartbeatInterval }),
	msFlag("election-timeout", sectionEtcd, "Raft election timeout in milliseconds (default 1000).", func(b *builder) *time.Duration { return &b.cfg.ElectionTimeout }),
	textFlag("cors", sectionEtcd, "origins", `Comma-separated origins allowed for CORS; "*" allows any (default: none, no CORS headers).`, func(b *builder, v string) error {
		b.cfg.CORS = splitList(v)
		return nil
	}),
	textFlag("max-request-bytes", sectionEtcd, "n", "Largest request body accepted, in bytes (default 10 MiB).", func(b *builder, v string) error {
		n, err := parseUint(v)
		if err != nil || n == 0 || n > math.MaxInt64 {
			return errors.New("must be a positive integer")
		}
		b.cfg.MaxRequestBytes = int64(n)
		return nil
	}),
	boolFlag("enable-pprof", sectionEtcd, "Serve Go's runtime profiles under /debug/pprof/ on the client URLs (off by default: they reveal internals).", func(b *builder, v bool) { b.cfg.EnablePprof = v }),
	boolFlag("unsafe-no-fsync", sectionEtcd, "Ask the server not to fsync its log (unsafe, for tests only; the server may refuse it).", func(b *builder, v bool) { b.cfg.UnsafeNoFsync = v }),
	boolFlag("enable-v2", sectionEtcd, "Serve the v2 API (default true). hecd always serves v2, so false is an error.", func(b *builder, v bool) { b.enableV2, b.enableV2Origin = v, b.origin }),
	textFlag("listen-metrics-urls", sectionEtcd, "urls", "Accepted; hecd has no separate metrics listener yet and logs a warning when this is set.", func(b *builder, v string) error {
		us, err := server.ParseURLs(v)
		if err != nil {
			return err
		}
		b.metricsOrigin = ""
		if len(us) > 0 {
			b.metricsOrigin = b.origin
		}
		return nil
	}),
	textFlag("log-level", sectionEtcd, "level", `debug, info, warn or error (panic and fatal mean error) (default "info").`, func(b *builder, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "debug":
			b.logLevel = slog.LevelDebug
		case "info":
			b.logLevel = slog.LevelInfo
		case "warn", "warning":
			b.logLevel = slog.LevelWarn
		case "error", "dpanic", "panic", "fatal":
			b.logLevel = slog.LevelError
		default:
			return errors.New("must be debug, info, warn, error, panic or fatal")
		}
		b.logLevelSeq = b.seq
		return nil
	}),
	textFlag("logger", sectionEtcd, "name", `"zap" or "capnslog": accepted; hecd always logs with log/slog's text format to stderr.`, func(b *builder, v string) error {
		switch strings.TrimSpace(v) {
		case "zap", "capnslog", "":
			return nil
		}
		return errors.New(`must be "zap" or "capnslog"`)
	}),
	noEnv(boolFlag("version", sectionEtcd, "Print the version and exit.", func(b *builder, v bool) {})),

	// Settings for features hecd does not have yet: a non-empty (or true)
	// value is an error, never silently ignored.
	featureFlag("cert-file", false, "TLS", "path", "Client server TLS certificate."),
	featureFlag("key-file", false, "TLS", "path", "Client server TLS key."),
	featureFlag("trusted-ca-file", false, "TLS", "path", "Client server TLS trusted CA file."),
	featureFlag("ca-file", false, "TLS", "path", "Client CA file (etcd 0.4)."),
	featureFlag("client-cert-auth", true, "TLS", "", "Check client certificates."),
	featureFlag("auto-tls", true, "TLS", "", "Client TLS with generated certificates."),
	featureFlag("peer-cert-file", false, "TLS", "path", "Peer server TLS certificate."),
	featureFlag("peer-key-file", false, "TLS", "path", "Peer server TLS key."),
	featureFlag("peer-trusted-ca-file", false, "TLS", "path", "Peer server TLS trusted CA file."),
	featureFlag("peer-ca-file", false, "TLS", "path", "Peer CA file (etcd 0.4)."),
	featureFlag("peer-client-cert-auth", true, "TLS", "", "Check peer certificates."),
	featureFlag("peer-auto-tls", true, "TLS", "", "Peer TLS with generated certificates."),
	featureFlag("discovery", false, "discovery", "url", "Discovery URL used to bootstrap the cluster."),
	featureFlag("discovery-srv", false, "discovery", "domain", "DNS domain used to bootstrap the cluster."),
	func() setting {
		s := featureFlag("proxy", false, "proxy mode", "mode", `Proxy mode: "off" (the default) is accepted; "readonly" and "on" are not implemented yet.`)
		inner := s.set
		s.set = func(b *builder, v string) error {
			switch v = strings.TrimSpace(v); v {
			case "off", "":
				return inner(b, "")
			case "on", "readonly":
				return inner(b, v)
			}
			return errors.New(`must be "off", "readonly" or "on"`)
		}
		return s
	}(),
}

// settingIndex finds a setting by flag name.
var settingIndex = func() map[string]int {
	m := make(map[string]int, len(storeSettings))
	for i, s := range storeSettings {
		m[s.name] = i
	}
	return m
}()

// envAliases are etcd 0.4's environment names that do not follow the
// flag-name rule.
var envAliases = map[string]string{
	"VERBOSE":       "v",
	"VERY_VERBOSE":  "vv",
	"SNAPSHOTCOUNT": "snapshot-count",
}

// envName is the environment variable suffix of a flag: upper case, '-' -> '_'.
func envName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envLookup maps environment suffixes to flag names.
var envLookup = func() map[string]string {
	m := map[string]string{}
	for _, s := range storeSettings {
		m[envName(s.name)] = s.name
	}
	for k, v := range envAliases {
		m[k] = v
	}
	return m
}()

// envAssignments picks the ETCD_ and HECD_ variables out of environ. ETCD_
// ones come first so that HECD_ ones override them; within a prefix they
// follow storeSettings. Empty values are skipped, as etcd does. The config
// file path (…_CONFIG, …_CONFIG_FILE) is returned separately.
func envAssignments(environ []string) (as []assignment, configPath *assignment, warnings []string) {
	for _, prefix := range []string{"ETCD_", "HECD_"} {
		var found []assignment
		for _, kv := range environ {
			key, value, ok := strings.Cut(kv, "=")
			if !ok || !strings.HasPrefix(key, prefix) {
				continue
			}
			name, known := envLookup[strings.TrimPrefix(key, prefix)]
			if !known {
				warnings = append(warnings, fmt.Sprintf("ignoring environment variable %s: no hecd store flag is called that", key))
				continue
			}
			value = strings.TrimSpace(value)
			if value == "" {
				continue
			}
			if name != "config" && name != "config-file" && storeSettings[settingIndex[name]].noEnv {
				warnings = append(warnings, fmt.Sprintf("ignoring environment variable %s: --%s cannot be set from the environment", key, name))
				continue
			}
			found = append(found, assignment{name: name, value: value, origin: "environment variable " + key, showValue: true})
		}
		sort.SliceStable(found, func(i, j int) bool {
			return settingIndex[found[i].name] < settingIndex[found[j].name]
		})
		for _, a := range found {
			if a.name == "config" || a.name == "config-file" {
				configPath = &a
			} else {
				as = append(as, a)
			}
		}
	}
	return as, configPath, warnings
}

// recorder is the flag.Value of every store flag: it checks the value and
// records the assignment, to be applied after the file and the environment.
type recorder struct {
	s   *setting
	out *[]assignment
}

func (r *recorder) String() string   { return "" }
func (r *recorder) IsBoolFlag() bool { return r.s.isBool }
func (r *recorder) Set(v string) error {
	b := newBuilder()
	if err := r.s.set(b, v); err != nil {
		return err
	}
	*r.out = append(*r.out, assignment{name: r.s.name, value: v, origin: "flag -" + r.s.name, showValue: true})
	return nil
}

// parseStoreConfig turns the arguments of "hecd store" (or "etcd"), the
// environment (os.Environ form) and the config file into the options to run
// with. It returns errVersionRequested for --version and flag.ErrHelp for
// -h (after writing the usage to stderr). Warnings, and the logs of the
// running member, go to stderr.
func parseStoreConfig(args, environ []string, stderr io.Writer) (storeOptions, error) {
	var cmdline []assignment
	fs := flag.NewFlagSet("hecd store", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for i := range storeSettings {
		s := &storeSettings[i]
		fs.Var(&recorder{s: s, out: &cmdline}, s.name, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printStoreUsage(stderr)
			return storeOptions{}, flag.ErrHelp
		}
		return storeOptions{}, fmt.Errorf("%w (see 'hecd store -h')", err)
	}
	for _, a := range cmdline {
		if a.name == "version" {
			if v, _ := parseBool(a.value); v {
				return storeOptions{}, errVersionRequested
			}
		}
	}
	if fs.NArg() > 0 {
		hint := "see 'hecd store -h'"
		if i := len(args) - fs.NArg(); i > 0 {
			name := strings.TrimLeft(args[i-1], "-")
			if j, ok := settingIndex[name]; ok && storeSettings[j].isBool {
				hint = fmt.Sprintf("-%s is a boolean flag: write -%s=%s", name, name, fs.Arg(0))
			}
		}
		return storeOptions{}, fmt.Errorf("unexpected argument %q: hecd store takes flags only (%s)", fs.Arg(0), hint)
	}

	env, configPath, warnings := envAssignments(environ)
	for _, a := range cmdline {
		if a.name == "config" || a.name == "config-file" {
			configPath = &a
		}
	}
	var file []assignment
	switch {
	case configPath != nil:
		if path := strings.TrimSpace(configPath.value); path != "" {
			var err error
			if file, err = fileAssignments(path); err != nil {
				return storeOptions{}, fmt.Errorf("%s: %w", configPath.origin, err)
			}
		}
	case systemConfigFile != "":
		if _, err := os.Stat(systemConfigFile); err == nil {
			if file, err = fileAssignments(systemConfigFile); err != nil {
				return storeOptions{}, err
			}
		}
	}

	b := newBuilder()
	for _, list := range [][]assignment{file, env, cmdline} {
		for _, a := range list {
			if err := b.apply(a); err != nil {
				logWarnings(slog.New(slog.NewTextHandler(stderr, nil)), warnings)
				return storeOptions{}, err
			}
		}
	}
	return b.finish(stderr, warnings)
}

func logWarnings(log *slog.Logger, warnings []string) {
	for _, w := range warnings {
		log.Warn(w, "component", "config")
	}
}

func (b *builder) apply(a assignment) error {
	b.seq++
	b.origin = a.origin
	if err := storeSettings[settingIndex[a.name]].set(b, a.value); err != nil {
		if a.showValue {
			return fmt.Errorf("%s=%q: %w", a.origin, a.value, err)
		}
		return fmt.Errorf("%s: %w", a.origin, err)
	}
	return nil
}

// finish resolves the settings into the options, refusing what hecd
// cannot do yet.
func (b *builder) finish(stderr io.Writer, warnings []string) (storeOptions, error) {
	var errs []error
	for _, s := range storeSettings {
		if r, ok := b.requested[s.name]; ok {
			errs = append(errs, &notImplementedError{origin: r.origin, feature: r.feature, hint: featureHints[r.feature]})
		}
	}
	if !b.enableV2 {
		errs = append(errs, fmt.Errorf("%s: hecd always serves the v2 API; --enable-v2=false is not supported", b.enableV2Origin))
	}
	const joinHint = "hecd runs a single member; leave the setting empty"
	if len(b.peers) > 0 {
		errs = append(errs, &notImplementedError{origin: b.peersOrigin, feature: "clustering (joining the members listed in -peers)", hint: joinHint})
	}
	if b.peersFile != "" {
		data, err := os.ReadFile(b.peersFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: reading the peers file: %w", b.peersFileOrigin, err))
		case len(strings.FieldsFunc(string(data), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })) > 0:
			errs = append(errs, &notImplementedError{origin: b.peersFileOrigin, feature: "clustering (joining the members listed in the peers file " + b.peersFile + ")", hint: joinHint})
		}
	}
	if len(errs) > 0 {
		logWarnings(slog.New(slog.NewTextHandler(stderr, nil)), warnings)
		return storeOptions{}, errors.Join(errs...)
	}

	cfg := b.cfg
	cfg.ListenClientURLs, cfg.AdvertiseClientURLs = resolveURLs(b.listenClient, b.advertiseClient, b.bindAddr, b.addr, defaultClientPorts, cfg.ListenClientURLs, nil)
	cfg.ListenPeerURLs, cfg.InitialAdvertisePeerURLs = resolveURLs(b.listenPeer, b.advertisePeer, b.peerBindAddr, b.peerAddr, []string{defaultPeerPort}, cfg.ListenPeerURLs, cfg.InitialAdvertisePeerURLs)
	if cfg.DataDir == "" {
		cfg.DataDir = cfg.Name + ".etcd"
	}
	cfg.InitialCluster = b.initialCluster
	if cfg.InitialCluster == nil {
		cfg.InitialCluster = map[string][]url.URL{cfg.Name: cfg.InitialAdvertisePeerURLs}
	}
	cfg.SnapshotCount = b.snapshotCount
	if b.snapshotOff {
		cfg.SnapshotCount = neverSnapshot
	}

	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: b.level()}))
	if b.force {
		warnings = append(warnings, fmt.Sprintf("%s: hecd never discards data; it keeps using the data directory %s (remove it yourself to start afresh)", b.forceOrigin, cfg.DataDir))
	}
	if b.metricsOrigin != "" {
		warnings = append(warnings, fmt.Sprintf("%s: hecd has no separate metrics listener yet; nothing is served there", b.metricsOrigin))
	}
	logWarnings(cfg.Logger, warnings)
	// cfg.Validate is left to server.New, the one place that decides
	// what a member can run with.
	return storeOptions{config: cfg, cpuProfileFile: b.cpuProfileFile}, nil
}

// resolveURLs decides the listen and advertise URLs of one side (clients or
// peers) from the etcd 2/3 URL flags and the etcd 0.4 address flags; of two
// flags for the same thing, the one applied last wins. advertiseDefault nil
// means "the listen URLs".
func resolveURLs(listen, advertise urlsValue, bind, addr stringValue, defaultPorts []string, listenDefault, advertiseDefault []url.URL) (l, a []url.URL) {
	ports := defaultPorts
	if addr.seq > 0 {
		_, port, _ := net.SplitHostPort(addr.v)
		ports = []string{port}
	}
	switch {
	case bind.seq > listen.seq:
		host, port, _ := splitBindAddr(bind.v)
		if port != "" {
			l = []url.URL{httpURL(host, port)}
		} else {
			for _, p := range ports {
				l = append(l, httpURL(host, p))
			}
		}
	case listen.seq > 0:
		l = listen.urls
	case addr.seq > 0:
		// etcd 0.4 listened on all interfaces at the advertised port.
		l = []url.URL{httpURL("0.0.0.0", ports[0])}
	default:
		l = listenDefault
	}
	switch {
	case addr.seq > advertise.seq:
		host, port, _ := net.SplitHostPort(addr.v)
		a = []url.URL{httpURL(host, port)}
	case advertise.seq > 0:
		a = advertise.urls
	case advertiseDefault != nil:
		a = advertiseDefault
	default:
		a = l
	}
	return l, a
}

// level is the log level from -v, -vv and --log-level; the last one applied
// wins, except that -v=false does not undo a --log-level.
func (b *builder) level() slog.Level {
	if b.logLevelSeq > b.verboseSeq {
		return b.logLevel
	}
	if b.verbose || b.veryVerbose {
		return slog.LevelDebug
	}
	if b.logLevelSeq > 0 {
		return b.logLevel
	}
	return slog.LevelInfo
}

// printStoreUsage writes the help of "hecd store".
func printStoreUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: hecd store [flags]      (or, through a symlink: etcd [flags])

Runs a member of a key-value store that speaks etcd's v2 API.

Both etcd 2/3 flags and etcd 0.4 flags are accepted, with one or two dashes,
as -flag=value or -flag value. Every flag but --version can also come from the environment
as ETCD_<FLAG> or HECD_<FLAG> (upper case, '-' becomes '_', e.g.
ETCD_DATA_DIR, HECD_LISTEN_CLIENT_URLS; HECD_ wins over ETCD_), and most from
an etcd 0.4 TOML config file (-config; `+systemConfigFile+` is read
when it exists and no -config is given).
Precedence: command line > environment > config file > defaults. When flags
of both families set the same thing (--listen-client-urls and -bind-addr, for
example), the later one on the command line wins.
`)
	sections := []struct {
		sec   section
		title string
	}{
		{sectionEtcd, "etcd 2/3 flags (-name, -data-dir, -cors and -snapshot-count are etcd 0.4's too)"},
		{sectionOld, "etcd 0.4 flags"},
		{sectionUnsupported, "not implemented yet (a non-empty or true value is an error)"},
	}
	for _, sec := range sections {
		fmt.Fprintf(w, "\n%s:\n", sec.title)
		for _, s := range storeSettings {
			if s.section != sec.sec {
				continue
			}
			dashes := "--"
			if s.section == sectionOld {
				dashes = "-" // as etcd 0.4 wrote them; both spellings work
			}
			if s.isBool {
				fmt.Fprintf(w, "  %s%s\n", dashes, s.name)
			} else {
				fmt.Fprintf(w, "  %s%s %s\n", dashes, s.name, s.arg)
			}
			fmt.Fprintf(w, "        %s\n", s.usage)
		}
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// confdKind is the type of a confd setting's value.
type confdKind int

const (
	kString confdKind = iota
	kBool
	kInt
	kList
	kDuration
)

// confdSetting is one of confd's flags with its confd.toml key. The
// environment variable is CONFD_ and the flag name in upper case with '_'
// for '-'.
type confdSetting struct {
	name    string
	fileKey string // "" when the file cannot set it
	kind    confdKind
	def     string
	usage   string
	// aliases are further confd.toml keys confd 0.16 accepted because its
	// decoder also matched Go field names.
	aliases []string
}

var confdSettings = []confdSetting{
	{name: "app-id", fileKey: "app_id", usage: "Vault app-id to use with the app-id backend (only used with -backend=vault and auth-type=app-id)"},
	{name: "auth-token", fileKey: "auth_token", usage: "auth bearer token to use"},
	{name: "auth-type", fileKey: "auth_type", usage: "Vault auth backend type to use (only used with -backend=vault)"},
	{name: "backend", fileKey: "backend", def: "etcd", usage: "backend to use: etcd (v2 API), etcdv3, env or file"},
	{name: "basic-auth", fileKey: "basic_auth", kind: kBool, usage: "use basic auth to authenticate (etcd, etcdv3)"},
	{name: "client-ca-keys", fileKey: "client_cakeys", usage: "client CA keys file"},
	{name: "client-cert", fileKey: "client_cert", usage: "client certificate file"},
	{name: "client-key", fileKey: "client_key", usage: "client key file"},
	{name: "confdir", fileKey: "confdir", def: "/etc/confd", usage: "confd conf directory (holds conf.d and templates)"},
	{name: "config-file", usage: "the confd config file", def: "/etc/confd/confd.toml"},
	{name: "file", fileKey: "file", kind: kList, usage: "the YAML or JSON file to watch for changes (file backend; repeatable)"},
	{name: "filter", fileKey: "filter", def: "*", usage: "files filter (file backend)"},
	{name: "interval", fileKey: "interval", kind: kInt, def: "600", usage: "backend polling interval in seconds"},
	{name: "keep-stage-file", fileKey: "keepstagefile", kind: kBool, usage: "keep staged files"},
	{name: "log-level", fileKey: "log-level", usage: "level which confd should log messages (debug, info, warning, error)"},
	{name: "node", fileKey: "nodes", kind: kList, usage: "list of backend nodes (repeatable)"},
	{name: "noop", fileKey: "noop", kind: kBool, usage: "only show pending changes, as a unified diff on stdout"},
	{name: "onetime", fileKey: "onetime", kind: kBool, usage: "run once and exit"},
	{name: "password", fileKey: "password", usage: "the password to authenticate with (basic auth)"},
	{name: "path", fileKey: "path", usage: "Vault mount path of the auth method (only used with -backend=vault)"},
	{name: "prefix", fileKey: "prefix", usage: "key path prefix"},
	{name: "role-id", fileKey: "role_id", usage: "Vault role-id (only used with -backend=vault)"},
	{name: "scheme", fileKey: "scheme", def: "http", usage: "the backend URI scheme for nodes found by SRV records (http or https)"},
	{name: "secret-id", fileKey: "secret_id", usage: "Vault secret-id (only used with -backend=vault)"},
	{name: "secret-keyring", fileKey: "secret_keyring", usage: "path to armored PGP secret keyring (not supported by hecd)"},
	{name: "separator", fileKey: "separator", usage: "the separator to replace '/' with when looking up keys in the backend (redis)"},
	{name: "srv-domain", fileKey: "srv_domain", usage: "the name of the resource record"},
	{name: "srv-record", fileKey: "srv_record", usage: "the SRV record to look up the backend nodes"},
	{name: "sync-only", fileKey: "sync-only", kind: kBool, usage: "sync without check_cmd and reload_cmd"},
	{name: "table", fileKey: "table", usage: "the name of the DynamoDB table (dynamodb)"},
	{name: "user-id", fileKey: "user_id", usage: "Vault user-id (only used with -backend=vault)"},
	{name: "username", fileKey: "username", usage: "the username to authenticate as (basic auth)"},
	{name: "version", kind: kBool, usage: "print version and exit"},
	{name: "watch", fileKey: "watch", kind: kBool, usage: "enable watch support"},

	// hecd's own.
	{name: "settle", fileKey: "settle", kind: kDuration, def: "200ms", usage: "in watch mode, render once the keys have been quiet this long (bursts give one reload)"},
	{name: "settle-max", fileKey: "settle_max", kind: kDuration, def: "2s", usage: "longest a watch waits for quiet before rendering anyway"},
	{name: "command-timeout", fileKey: "command_timeout", kind: kDuration, def: "60s", usage: "kill a check_cmd or reload_cmd that runs longer (0: never)"},
	{name: "log-output", fileKey: "log_output", def: "stdout", usage: "where logs go: stdout, stderr or a file path (confd wrote to stderr)"},
}

var confdSettingIndex = func() map[string]int {
	m := map[string]int{}
	for i, s := range confdSettings {
		m[s.name] = i
	}
	return m
}()

// confdOptions are the settled values, by flag name: strings for scalars,
// []string for lists.
type confdOptions struct {
	vals  map[string]string
	lists map[string][]string
	// from says where each value came from, for error messages.
	from     map[string]string
	warnings []string
}

func (o *confdOptions) str(name string) string { return o.vals[name] }
func (o *confdOptions) list(name string) []string {
	return o.lists[name]
}
func (o *confdOptions) bool(name string) bool {
	b, _ := strconv.ParseBool(o.vals[name])
	return b
}
func (o *confdOptions) int(name string) int {
	n, _ := strconv.Atoi(o.vals[name])
	return n
}
func (o *confdOptions) duration(name string) time.Duration {
	d, _ := time.ParseDuration(o.vals[name])
	return d
}

// set checks v against the setting's kind and stores it.
func (o *confdOptions) set(s *confdSetting, v string, origin string) error {
	switch s.kind {
	case kBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%s: invalid boolean %q", origin, v)
		}
	case kInt:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("%s: invalid integer %q", origin, v)
		}
	case kDuration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Errorf("%s: invalid duration %q (write e.g. 200ms or 2s)", origin, v)
		}
	case kList:
		o.lists[s.name] = []string{v}
		o.from[s.name] = origin
		return nil
	}
	o.vals[s.name] = v
	o.from[s.name] = origin
	return nil
}

// listFlag is a repeatable flag: the first use on the command line
// replaces what the file or the environment gave, later uses add.
type listFlag struct {
	o    *confdOptions
	name string
	used bool
}

func (f *listFlag) String() string { return "" }
func (f *listFlag) Set(v string) error {
	if !f.used {
		f.o.lists[f.name] = nil
		f.used = true
	}
	f.o.lists[f.name] = append(f.o.lists[f.name], v)
	f.o.from[f.name] = "flag -" + f.name
	return nil
}

// scalarFlag stores a scalar flag's value through confdOptions.set.
type scalarFlag struct {
	o *confdOptions
	s *confdSetting
}

func (f *scalarFlag) String() string   { return "" }
func (f *scalarFlag) IsBoolFlag() bool { return f.s.kind == kBool }
func (f *scalarFlag) Set(v string) error {
	return f.o.set(f.s, v, "flag -"+f.s.name)
}

// errConfdVersion is returned for -version, errConfdUsage after the flag
// package has printed a usage error (exit status 2, as confd).
var (
	errConfdVersion = errors.New("version requested")
	errConfdUsage   = errors.New("usage error")
)

func newConfdFlagSet(o *confdOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("confd", flag.ContinueOnError)
	for i := range confdSettings {
		s := &confdSettings[i]
		if s.kind == kList {
			fs.Var(&listFlag{o: o, name: s.name}, s.name, s.usage)
		} else {
			fs.Var(&scalarFlag{o: o, s: s}, s.name, s.usage)
		}
	}
	return fs
}

// parseConfdOptions settles confd's settings. Precedence: command line,
// then CONFD_* environment variables, then confd.toml, then defaults.
// (confd 0.16 let the file override the command line, contrary to its own
// documentation; see DIFFERENCES.md.)
func parseConfdOptions(args, environ []string, stderr io.Writer) (*confdOptions, error) {
	o := &confdOptions{vals: map[string]string{}, lists: map[string][]string{}, from: map[string]string{}}
	for _, s := range confdSettings {
		if s.def != "" {
			o.vals[s.name] = s.def
			o.from[s.name] = "default"
		}
	}

	// A first pass over the flags only to learn -config-file; errors are
	// reported by the real pass below.
	probe := &confdOptions{vals: map[string]string{}, lists: map[string][]string{}, from: map[string]string{}}
	pfs := newConfdFlagSet(probe)
	pfs.SetOutput(io.Discard)
	_ = pfs.Parse(args)

	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	configFile := o.vals["config-file"]
	if v := env["CONFD_CONFIG_FILE"]; v != "" {
		configFile = v
	}
	if v, ok := probe.vals["config-file"]; ok {
		configFile = v
	}
	o.vals["config-file"] = configFile
	if err := o.applyFile(configFile); err != nil {
		return o, err
	}
	if err := o.applyEnv(env); err != nil {
		return o, err
	}

	fs := newConfdFlagSet(o)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of confd:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errConfdUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "confd: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, errConfdUsage
	}
	if o.bool("version") {
		return o, errConfdVersion
	}
	return o, nil
}

// applyFile reads confd.toml. A missing file is skipped, as in confd.
func (o *confdOptions) applyFile(path string) error {
	raw := map[string]any{}
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := confdFileSetting(k)
		if s == nil {
			o.warnings = append(o.warnings, fmt.Sprintf("%s: unknown key %q is ignored", path, k))
			continue
		}
		origin := fmt.Sprintf("%s: %s", path, k)
		v := raw[k]
		if s.kind == kList {
			items, ok := v.([]any)
			if !ok {
				if str, isStr := v.(string); isStr {
					items = []any{str}
				} else {
					return fmt.Errorf("%s: want a list of strings", origin)
				}
			}
			var l []string
			for _, it := range items {
				str, ok := it.(string)
				if !ok {
					return fmt.Errorf("%s: want a list of strings", origin)
				}
				l = append(l, str)
			}
			o.lists[s.name] = l
			o.from[s.name] = origin
			continue
		}
		var str string
		switch x := v.(type) {
		case string:
			str = x
		case bool, int64:
			str = fmt.Sprint(x)
		default:
			return fmt.Errorf("%s: unexpected value %v", origin, v)
		}
		if s.kind == kDuration {
			if n, isInt := v.(int64); isInt {
				// A bare number in the file is seconds.
				str = strconv.FormatInt(n, 10) + "s"
			}
		}
		if err := o.set(s, str, origin); err != nil {
			return err
		}
	}
	return nil
}

// confdFileSetting finds the setting a confd.toml key names. Keys match
// case-insensitively, as confd's decoder matched them.
func confdFileSetting(key string) *confdSetting {
	for i := range confdSettings {
		s := &confdSettings[i]
		if s.fileKey == "" {
			continue
		}
		if strings.EqualFold(key, s.fileKey) {
			return s
		}
		for _, a := range s.aliases {
			if strings.EqualFold(key, a) {
				return s
			}
		}
	}
	return nil
}

// applyEnv reads CONFD_<FLAG> for every setting (lists comma-separated),
// confd's own CONFD_CLIENT_CAKEYS spelling, and ETCDCTL_PEERS, which confd
// used as the default etcd nodes.
func (o *confdOptions) applyEnv(env map[string]string) error {
	for i := range confdSettings {
		s := &confdSettings[i]
		if s.name == "config-file" || s.name == "version" {
			continue
		}
		key := "CONFD_" + envName(s.name)
		v := strings.TrimSpace(env[key])
		if v == "" && s.name == "client-ca-keys" {
			key = "CONFD_CLIENT_CAKEYS"
			v = strings.TrimSpace(env[key])
		}
		if v == "" {
			continue
		}
		if s.kind == kList {
			o.lists[s.name] = splitList(v)
			o.from[s.name] = "environment variable " + key
			continue
		}
		if err := o.set(s, v, "environment variable "+key); err != nil {
			return err
		}
	}
	return nil
}

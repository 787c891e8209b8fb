package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"hecd/internal/server"
)

func TestMain(m *testing.M) {
	// Never read the machine's /etc/etcd/etcd.conf in tests.
	systemConfigFile = ""
	os.Exit(m.Run())
}

// view is the part of server.Config that parsing decides, in a form that
// compares with ==.
type view struct {
	Name, DataDir                                string
	Listen, Advertise, ListenPeer, AdvertisePeer string
	Cluster                                      string
	State, Token                                 string
	Snapshot                                     uint64
	Heartbeat, Election                          time.Duration
	CORS                                         string
	MaxRequestBytes                              int64
	NoFsync                                      bool
	Level                                        slog.Level
}

func joinURLs(us []url.URL) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = u.String()
	}
	return strings.Join(s, ",")
}

func viewOf(c server.Config) view {
	var members []string
	for name, us := range c.InitialCluster {
		for _, u := range us {
			members = append(members, name+"="+u.String())
		}
	}
	sort.Strings(members)
	level := slog.LevelError
	for _, l := range []slog.Level{slog.LevelWarn, slog.LevelInfo, slog.LevelDebug} {
		if c.Logger.Enabled(context.Background(), l) {
			level = l
		}
	}
	return view{
		Name: c.Name, DataDir: c.DataDir,
		Listen: joinURLs(c.ListenClientURLs), Advertise: joinURLs(c.AdvertiseClientURLs),
		ListenPeer: joinURLs(c.ListenPeerURLs), AdvertisePeer: joinURLs(c.InitialAdvertisePeerURLs),
		Cluster: strings.Join(members, ","),
		State:   c.InitialClusterState, Token: c.InitialClusterToken,
		Snapshot:  c.SnapshotCount,
		Heartbeat: c.HeartbeatInterval, Election: c.ElectionTimeout,
		CORS:            strings.Join(c.CORS, ","),
		MaxRequestBytes: c.MaxRequestBytes,
		NoFsync:         c.UnsafeNoFsync,
		Level:           level,
	}
}

// defaults is what "hecd store" without flags runs with.
var defaults = view{
	Name: "default", DataDir: "default.etcd",
	Listen:     "http://localhost:2379,http://localhost:4001",
	Advertise:  "http://localhost:2379,http://localhost:4001",
	ListenPeer: "http://localhost:2380", AdvertisePeer: "http://localhost:2380",
	Cluster: "default=http://localhost:2380",
	State:   "new", Token: "etcd-cluster",
	Snapshot:  100000,
	Heartbeat: 100 * time.Millisecond, Election: time.Second,
	MaxRequestBytes: 10 * 1024 * 1024,
	Level:           slog.LevelInfo,
}

type parseCase struct {
	name string
	args []string
	env  []string
	want func(v *view) // changes from defaults
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			opts, err := parseStoreConfig(tc.args, tc.env, &stderr)
			if err != nil {
				t.Fatalf("parseStoreConfig(%q, %q): %v", tc.args, tc.env, err)
			}
			want := defaults
			if tc.want != nil {
				tc.want(&want)
			}
			if got := viewOf(opts.config); got != want {
				t.Errorf("parseStoreConfig(%q, %q)\n got %+v\nwant %+v", tc.args, tc.env, got, want)
			}
		})
	}
}

func parseError(t *testing.T, args, env []string) error {
	t.Helper()
	_, err := parseStoreConfig(args, env, new(bytes.Buffer))
	if err == nil {
		t.Fatalf("parseStoreConfig(%q, %q) succeeded, want an error", args, env)
	}
	return err
}

func TestDefaults(t *testing.T) {
	runParseCases(t, []parseCase{{name: "no flags"}})
}

func TestFlagSpellings(t *testing.T) {
	want := func(v *view) {
		v.Name, v.DataDir, v.Snapshot, v.NoFsync = "n1", "d1", 42, true
		v.Cluster = "n1=http://localhost:2380"
	}
	var cases []parseCase
	for _, args := range [][]string{
		{"-name", "n1", "-data-dir", "d1", "-snapshot-count", "42", "-unsafe-no-fsync"},
		{"--name", "n1", "--data-dir", "d1", "--snapshot-count", "42", "--unsafe-no-fsync"},
		{"-name=n1", "-data-dir=d1", "-snapshot-count=42", "-unsafe-no-fsync=true"},
		{"--name=n1", "--data-dir=d1", "--snapshot-count=42", "--unsafe-no-fsync=true"},
		{"-name", "n1", "--data-dir=d1", "-snapshot-count=42", "--unsafe-no-fsync"},
	} {
		cases = append(cases, parseCase{name: strings.Join(args, " "), args: args, want: want})
	}
	runParseCases(t, cases)
}

func TestEtcdFamily(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			// Seed 000's command line: several URLs per flag and the
			// repeated-name form of --initial-cluster (one member, two
			// peer URLs).
			name: "seed 000",
			args: []string{"--data-dir", "/data",
				"--listen-peer-urls", "http://172.31.19.162:2380,http://172.31.19.162:7001",
				"--listen-client-urls", "http://172.31.19.162:2379,http://172.31.19.162:4001",
				"--initial-advertise-peer-urls", "http://172.31.19.162:2380,http://172.31.19.162:7001",
				"--initial-cluster", "default=http://172.31.19.162:2380,default=http://172.31.19.162:7001",
				"--advertise-client-urls", "http://172.31.19.162:2379,http://172.31.19.162:4001"},
			want: func(v *view) {
				v.DataDir = "/data"
				v.ListenPeer = "http://172.31.19.162:2380,http://172.31.19.162:7001"
				v.AdvertisePeer = "http://172.31.19.162:2380,http://172.31.19.162:7001"
				v.Listen = "http://172.31.19.162:2379,http://172.31.19.162:4001"
				v.Advertise = "http://172.31.19.162:2379,http://172.31.19.162:4001"
				v.Cluster = "default=http://172.31.19.162:2380,default=http://172.31.19.162:7001"
			},
		},
		{
			name: "seed 004 start",
			args: []string{"-data-dir", "/tmp/etcd/", "-name", "Test01"},
			want: func(v *view) {
				v.DataDir, v.Name = "/tmp/etcd/", "Test01"
				v.Cluster = "Test01=http://localhost:2380"
			},
		},
		{
			name: "seed 004 cluster member alone",
			args: []string{"--name", "infra0", "--initial-advertise-peer-urls", "http://0.0.0.0:2380",
				"--listen-peer-urls", "http://0.0.0.0:2380",
				"--listen-client-urls", "http://0.0.0.0:2379",
				"--advertise-client-urls", "http://0.0.0.0:2379",
				"--initial-cluster-token", "etcd-cluster-1",
				"--initial-cluster", "infra0=http://0.0.0.0:2380",
				"--initial-cluster-state", "new"},
			want: func(v *view) {
				v.Name, v.DataDir = "infra0", "infra0.etcd"
				v.Listen, v.Advertise = "http://0.0.0.0:2379", "http://0.0.0.0:2379"
				v.ListenPeer, v.AdvertisePeer = "http://0.0.0.0:2380", "http://0.0.0.0:2380"
				v.Token = "etcd-cluster-1"
				v.Cluster = "infra0=http://0.0.0.0:2380"
			},
		},
		{
			name: "advertise defaults to listen",
			args: []string{"--listen-client-urls", "http://127.0.0.1:12379"},
			want: func(v *view) { v.Listen, v.Advertise = "http://127.0.0.1:12379", "http://127.0.0.1:12379" },
		},
		{
			name: "initial cluster follows advertised peer URLs",
			args: []string{"--name", "a", "--initial-advertise-peer-urls", "http://10.0.0.1:2380,http://10.0.0.1:7001"},
			want: func(v *view) {
				v.Name, v.DataDir = "a", "a.etcd"
				v.AdvertisePeer = "http://10.0.0.1:2380,http://10.0.0.1:7001"
				v.Cluster = "a=http://10.0.0.1:2380,a=http://10.0.0.1:7001"
			},
		},
		{
			name: "raft timing and snapshots",
			args: []string{"--heartbeat-interval", "50", "--election-timeout", "500", "--snapshot-count", "10000"},
			want: func(v *view) { v.Heartbeat, v.Election, v.Snapshot = 50*time.Millisecond, 500*time.Millisecond, 10000 },
		},
		{
			name: "cors and request size",
			args: []string{"--cors", " http://a.example, *,", "--max-request-bytes", "1048576"},
			want: func(v *view) { v.CORS, v.MaxRequestBytes = "http://a.example,*", 1048576 },
		},
		{
			name: "cluster state and token",
			args: []string{"--initial-cluster-state", "existing", "--initial-cluster-token", "tok"},
			want: func(v *view) { v.State, v.Token = "existing", "tok" },
		},
		{
			name: "accepted without effect",
			args: []string{"--enable-v2", "--enable-v2=true", "--logger", "zap", "--proxy", "off",
				"--cert-file", "", "--client-cert-auth=false", "--discovery=", "--listen-metrics-urls", "http://localhost:2381"},
		},
		{
			name: "log level",
			args: []string{"--log-level", "debug"},
			want: func(v *view) { v.Level = slog.LevelDebug },
		},
		{
			name: "log level warn",
			args: []string{"--log-level=warn"},
			want: func(v *view) { v.Level = slog.LevelWarn },
		},
	})
}

func TestOldFamily(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "addr alone listens on all interfaces at its port",
			args: []string{"-addr", "10.0.0.5:4001"},
			want: func(v *view) { v.Listen, v.Advertise = "http://0.0.0.0:4001", "http://10.0.0.5:4001" },
		},
		{
			name: "bind-addr takes addr's port",
			args: []string{"-addr", "10.0.0.5:4001", "-bind-addr", "10.0.0.5"},
			want: func(v *view) { v.Listen, v.Advertise = "http://10.0.0.5:4001", "http://10.0.0.5:4001" },
		},
		{
			name: "bind-addr without port or addr gets both default ports",
			args: []string{"-bind-addr", "127.0.0.1"},
			want: func(v *view) {
				v.Listen = "http://127.0.0.1:2379,http://127.0.0.1:4001"
				v.Advertise = v.Listen
			},
		},
		{
			name: "bind-addr with port",
			args: []string{"-bind-addr", "127.0.0.1:5000"},
			want: func(v *view) { v.Listen, v.Advertise = "http://127.0.0.1:5000", "http://127.0.0.1:5000" },
		},
		{
			name: "ipv6",
			args: []string{"-addr", "[::1]:4001", "-bind-addr", "::1"},
			want: func(v *view) { v.Listen, v.Advertise = "http://[::1]:4001", "http://[::1]:4001" },
		},
		{
			name: "peer-addr",
			args: []string{"-peer-addr", "10.0.0.5:7001"},
			want: func(v *view) {
				v.ListenPeer, v.AdvertisePeer = "http://0.0.0.0:7001", "http://10.0.0.5:7001"
				v.Cluster = "default=http://10.0.0.5:7001"
			},
		},
		{
			name: "peer-bind-addr",
			args: []string{"-peer-addr", "10.0.0.5:7001", "-peer-bind-addr", "10.0.0.5"},
			want: func(v *view) {
				v.ListenPeer, v.AdvertisePeer = "http://10.0.0.5:7001", "http://10.0.0.5:7001"
				v.Cluster = "default=http://10.0.0.5:7001"
			},
		},
		{
			name: "peer-bind-addr without port",
			args: []string{"-peer-bind-addr", "127.0.0.1"},
			want: func(v *view) { v.ListenPeer = "http://127.0.0.1:2380" },
		},
		{
			name: "peer timing",
			args: []string{"-peer-heartbeat-interval", "20", "-peer-election-timeout", "200"},
			want: func(v *view) { v.Heartbeat, v.Election = 20*time.Millisecond, 200*time.Millisecond },
		},
		{
			name: "snapshot=false",
			args: []string{"-snapshot=false"},
			want: func(v *view) { v.Snapshot = math.MaxInt64 },
		},
		{
			name: "snapshot=false beats snapshot-count",
			args: []string{"-snapshot=false", "-snapshot-count", "5"},
			want: func(v *view) { v.Snapshot = math.MaxInt64 },
		},
		{
			name: "snapshot=true again",
			args: []string{"-snapshot-count", "5", "-snapshot=false", "-snapshot=true"},
			want: func(v *view) { v.Snapshot = 5 },
		},
		{
			name: "-v",
			args: []string{"-v"},
			want: func(v *view) { v.Level = slog.LevelDebug },
		},
		{
			name: "-vv",
			args: []string{"-vv"},
			want: func(v *view) { v.Level = slog.LevelDebug },
		},
		{
			name: "log-level after -v wins",
			args: []string{"-v", "--log-level", "error"},
			want: func(v *view) { v.Level = slog.LevelError },
		},
		{
			name: "-v after log-level wins",
			args: []string{"--log-level", "error", "-v"},
			want: func(v *view) { v.Level = slog.LevelDebug },
		},
		{
			name: "cors",
			args: []string{"-cors", "http://a.example,http://b.example"},
			want: func(v *view) { v.CORS = "http://a.example,http://b.example" },
		},
		{
			name: "tuning flags accepted",
			args: []string{"-max-result-buffer", "1024", "-max-retry-attempts", "3", "-retry-interval", "10.5",
				"-cluster-active-size", "9", "-cluster-remove-delay", "1800.0", "-cluster-sync-interval", "5",
				"-http-read-timeout", "10", "-http-write-timeout", "10.0", "-max-cluster-size", "9",
				"-f", "-force", "-peers", "", "-discovery", ""},
		},
	})
}

func TestFamiliesLaterWins(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "bind-addr after listen-client-urls",
			args: []string{"--listen-client-urls", "http://127.0.0.1:1111", "-bind-addr", "127.0.0.2:2222"},
			want: func(v *view) { v.Listen, v.Advertise = "http://127.0.0.2:2222", "http://127.0.0.2:2222" },
		},
		{
			name: "listen-client-urls after bind-addr",
			args: []string{"-bind-addr", "127.0.0.2:2222", "--listen-client-urls", "http://127.0.0.1:1111"},
			want: func(v *view) { v.Listen, v.Advertise = "http://127.0.0.1:1111", "http://127.0.0.1:1111" },
		},
		{
			name: "addr after advertise-client-urls",
			args: []string{"--advertise-client-urls", "http://a.example:1111", "-addr", "b.example:2222"},
			want: func(v *view) { v.Listen, v.Advertise = "http://0.0.0.0:2222", "http://b.example:2222" },
		},
		{
			name: "advertise-client-urls after addr",
			args: []string{"-addr", "b.example:2222", "--advertise-client-urls", "http://a.example:1111"},
			want: func(v *view) { v.Listen, v.Advertise = "http://0.0.0.0:2222", "http://a.example:1111" },
		},
		{
			name: "addr does not move explicit listen URLs",
			args: []string{"--listen-client-urls", "http://127.0.0.1:1111", "-addr", "b.example:2222"},
			want: func(v *view) { v.Listen, v.Advertise = "http://127.0.0.1:1111", "http://b.example:2222" },
		},
		{
			name: "peer-addr after initial-advertise-peer-urls",
			args: []string{"--initial-advertise-peer-urls", "http://a.example:1111", "-peer-addr", "b.example:2222",
				"--listen-peer-urls", "http://127.0.0.1:2222"},
			want: func(v *view) {
				v.ListenPeer, v.AdvertisePeer = "http://127.0.0.1:2222", "http://b.example:2222"
				v.Cluster = "default=http://b.example:2222"
			},
		},
		{
			name: "listen-peer-urls after peer-bind-addr",
			args: []string{"-peer-bind-addr", "127.0.0.2:2222", "--listen-peer-urls", "http://127.0.0.1:1111"},
			want: func(v *view) { v.ListenPeer = "http://127.0.0.1:1111" },
		},
		{
			name: "peer-heartbeat-interval after heartbeat-interval",
			args: []string{"--heartbeat-interval", "10", "-peer-heartbeat-interval", "20"},
			want: func(v *view) { v.Heartbeat = 20 * time.Millisecond },
		},
		{
			name: "heartbeat-interval after peer-heartbeat-interval",
			args: []string{"-peer-heartbeat-interval", "20", "--heartbeat-interval", "10"},
			want: func(v *view) { v.Heartbeat = 10 * time.Millisecond },
		},
		{
			name: "same flag twice",
			args: []string{"--name", "a", "-name", "b"},
			want: func(v *view) { v.Name, v.DataDir, v.Cluster = "b", "b.etcd", "b=http://localhost:2380" },
		},
	})
}

func TestEnv(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "ETCD_",
			env:  []string{"ETCD_NAME=e1", "ETCD_DATA_DIR=dd", "ETCD_LISTEN_CLIENT_URLS=http://10.0.0.1:2379,http://10.0.0.1:4001", "PATH=/bin"},
			want: func(v *view) {
				v.Name, v.DataDir, v.Cluster = "e1", "dd", "e1=http://localhost:2380"
				v.Listen, v.Advertise = "http://10.0.0.1:2379,http://10.0.0.1:4001", "http://10.0.0.1:2379,http://10.0.0.1:4001"
			},
		},
		{
			name: "HECD_",
			env:  []string{"HECD_LISTEN_CLIENT_URLS=http://10.0.0.1:2379", "HECD_SNAPSHOT_COUNT=7"},
			want: func(v *view) {
				v.Listen, v.Advertise, v.Snapshot = "http://10.0.0.1:2379", "http://10.0.0.1:2379", 7
			},
		},
		{
			name: "HECD_ wins over ETCD_ whatever the order",
			env:  []string{"HECD_NAME=h", "ETCD_NAME=e", "ETCD_SNAPSHOT_COUNT=1", "HECD_SNAPSHOT_COUNT=2"},
			want: func(v *view) { v.Name, v.DataDir, v.Cluster, v.Snapshot = "h", "h.etcd", "h=http://localhost:2380", 2 },
		},
		{
			name: "HECD_ old flag wins over ETCD_ new flag",
			env:  []string{"HECD_ADDR=10.0.0.9:4001", "ETCD_ADVERTISE_CLIENT_URLS=http://10.0.0.1:2379"},
			want: func(v *view) { v.Listen, v.Advertise = "http://0.0.0.0:4001", "http://10.0.0.9:4001" },
		},
		{
			name: "within one prefix the etcd 2/3 flag wins",
			env:  []string{"ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:1111", "ETCD_BIND_ADDR=127.0.0.2:2222"},
			want: func(v *view) { v.Listen, v.Advertise = "http://127.0.0.1:1111", "http://127.0.0.1:1111" },
		},
		{
			name: "etcd 0.4 names",
			env:  []string{"ETCD_SNAPSHOTCOUNT=5", "ETCD_VERBOSE=true", "ETCD_PEER_ADDR=10.0.0.5:7001", "ETCD_PEER_HEARTBEAT_INTERVAL=20"},
			want: func(v *view) {
				v.Snapshot, v.Level, v.Heartbeat = 5, slog.LevelDebug, 20*time.Millisecond
				v.ListenPeer, v.AdvertisePeer, v.Cluster = "http://0.0.0.0:7001", "http://10.0.0.5:7001", "default=http://10.0.0.5:7001"
			},
		},
		{
			name: "snapshot false",
			env:  []string{"ETCD_SNAPSHOT=false"},
			want: func(v *view) { v.Snapshot = math.MaxInt64 },
		},
		{
			name: "empty values and unknown names are ignored",
			env:  []string{"ETCD_NAME=", "ETCD_DATA_DIR=  ", "ETCD_NO_SUCH_FLAG=1", "ETCD_VERSION=3.4.23", "HECD_CONFIG=", "ETCDCTL_API=3"},
		},
		{
			name: "command line wins over environment",
			args: []string{"--name", "c", "-bind-addr", "127.0.0.2:2222"},
			env:  []string{"ETCD_NAME=e", "HECD_NAME=h", "ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:1111"},
			want: func(v *view) {
				v.Name, v.DataDir, v.Cluster = "c", "c.etcd", "c=http://localhost:2380"
				v.Listen, v.Advertise = "http://127.0.0.2:2222", "http://127.0.0.2:2222"
			},
		},
		{
			name: "command line clears an environment TLS setting",
			args: []string{"--cert-file="},
			env:  []string{"ETCD_CERT_FILE=server.crt"},
		},
	})
}

func TestEnvWarnings(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseStoreConfig(nil, []string{"ETCD_NO_SUCH_FLAG=1", "HECD_VERSION=1", "ETCD_FORCE=true"}, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ETCD_NO_SUCH_FLAG", "HECD_VERSION", "environment variable ETCD_FORCE", "level=WARN"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestEnvBadValue(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"ETCD_HEARTBEAT_INTERVAL=abc", `environment variable ETCD_HEARTBEAT_INTERVAL="abc": must be a positive whole number of milliseconds`},
		{"HECD_SNAPSHOT=maybe", `environment variable HECD_SNAPSHOT="maybe": must be true or false`},
		{"ETCD_LISTEN_CLIENT_URLS=localhost:2379", `environment variable ETCD_LISTEN_CLIENT_URLS="localhost:2379"`},
		{"ETCD_ADDR=nohost", `environment variable ETCD_ADDR="nohost": "nohost" is not host:port`},
	} {
		err := parseError(t, nil, []string{tc.env})
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.env, err, tc.want)
		}
	}
}

// sample004 is the config file of seed 004, as etcd 0.4 read it from
// /etc/etcd/etcd.conf.
const sample004 = `addr = "127.0.0.1:2379"
bind_addr = "127.0.0.1:2379"
ca_file = ""
cert_file = ""
cors = []
cpu_profile_file = ""
data_dir = "."
discovery = "http://etcd.local:2379/v2/keys/_etcd/registry/examplecluster"
http_read_timeout = 10.0
http_write_timeout = 10.0
key_file = ""
peers = []
peers_file = ""
max_cluster_size = 9
max_result_buffer = 1024
max_retry_attempts = 3
name = "default-name"
snapshot = true
verbose = false
very_verbose = false

[peer]
addr = "127.0.0.1:2380"
bind_addr = "127.0.0.1:2380"
ca_file = ""
cert_file = ""
key_file = ""

[cluster]
active_size = 9
remove_delay = 1800.0
sync_interval = 5.0
`

const discoveryLine = `discovery = "http://etcd.local:2379/v2/keys/_etcd/registry/examplecluster"` + "\n"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sample004View is what sample004 without its discovery line gives.
func sample004View(v *view) {
	v.Name, v.DataDir = "default-name", "."
	v.Listen, v.Advertise = "http://127.0.0.1:2379", "http://127.0.0.1:2379"
	v.ListenPeer, v.AdvertisePeer = "http://127.0.0.1:2380", "http://127.0.0.1:2380"
	v.Cluster = "default-name=http://127.0.0.1:2380"
}

func TestConfigFile(t *testing.T) {
	if !strings.Contains(sample004, discoveryLine) {
		t.Fatal("sample004 lost its discovery line")
	}
	sample := writeFile(t, "etcd.conf", strings.Replace(sample004, discoveryLine, "", 1))
	extra := writeFile(t, "extra.conf", `
name = "x"
snapshot_count = 500
retry_interval = 2.5
cors = ["http://a.example", "http://b.example"]
verbose = true

[peer]
addr = "10.0.0.5:7001"
heartbeat_interval = 20
election_timeout = 300

[cluster]
active_size = 3
`)
	noSnapshot := writeFile(t, "nosnap.conf", "snapshot = false\nsnapshot_count = 5\n")
	runParseCases(t, []parseCase{
		{name: "sample 004 without discovery", args: []string{"-config", sample}, want: sample004View},
		{name: "--config-file", args: []string{"--config-file", sample}, want: sample004View},
		{name: "ETCD_CONFIG", env: []string{"ETCD_CONFIG=" + sample}, want: sample004View},
		{name: "HECD_CONFIG_FILE over ETCD_CONFIG", env: []string{"HECD_CONFIG_FILE=" + sample, "ETCD_CONFIG=" + extra}, want: sample004View},
		{name: "ETCD_CONFIG_FILE over ETCD_CONFIG", env: []string{"ETCD_CONFIG_FILE=" + sample, "ETCD_CONFIG=" + extra}, want: sample004View},
		{name: "-config over environment", args: []string{"-config", sample}, env: []string{"ETCD_CONFIG=" + extra}, want: sample004View},
		{name: "-config= reads no file", args: []string{"-config="}, env: []string{"ETCD_CONFIG=" + extra}},
		{
			name: "other keys",
			args: []string{"-config", extra},
			want: func(v *view) {
				v.Name, v.DataDir, v.Snapshot, v.CORS, v.Level = "x", "x.etcd", 500, "http://a.example,http://b.example", slog.LevelDebug
				v.Heartbeat, v.Election = 20*time.Millisecond, 300*time.Millisecond
				v.ListenPeer, v.AdvertisePeer, v.Cluster = "http://0.0.0.0:7001", "http://10.0.0.5:7001", "x=http://10.0.0.5:7001"
			},
		},
		{name: "snapshot = false", args: []string{"-config", noSnapshot}, want: func(v *view) { v.Snapshot = math.MaxInt64 }},
	})
}

func TestConfigFileDiscovery(t *testing.T) {
	path := writeFile(t, "etcd.conf", sample004)
	err := parseError(t, []string{"-config", path}, nil)
	if !errors.Is(err, server.ErrNotYetSupported) {
		t.Errorf("error %v does not match server.ErrNotYetSupported", err)
	}
	want := "config file " + path + ": key discovery: discovery is not implemented yet in hecd"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	// A higher-precedence source can clear it.
	runParseCases(t, []parseCase{{name: "cleared", args: []string{"-config", path, "-discovery="}, want: sample004View}})
}

func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                []string
	}{
		{"unknown keys", "etcd.conf", "name = \"a\"\nfoo = 1\n[peer]\nbar = 2\n[other]\nx = 1\n", []string{"unknown keys: foo, peer.bar, other, other.x"}},
		{"string for int", "etcd.conf", "max_result_buffer = \"many\"\n", []string{`"max_result_buffer"`, "incompatible types"}},
		{"int for string", "etcd.conf", "name = 5\n", []string{`"name"`, "incompatible types"}},
		{"string for bool", "etcd.conf", "snapshot = \"yes\"\n", []string{`"snapshot"`, "incompatible types"}},
		{"string for array", "etcd.conf", "cors = \"*\"\n", []string{`"cors"`, "incompatible types"}},
		{"float for int", "etcd.conf", "[peer]\nheartbeat_interval = 1.5\n", []string{"heartbeat_interval"}},
		{"bad value", "etcd.conf", "addr = \"nohost\"\n", []string{"key addr: \"nohost\" is not host:port"}},
		{"negative", "etcd.conf", "snapshot_count = -1\n", []string{"key snapshot_count: must be a non-negative integer"}},
		{"not toml", "etcd.conf", "name: default\n", []string{"etcd.conf"}},
		{"yaml", "etcd.yaml", "name: default\n", []string{"YAML config files"}},
		{"peers", "etcd.conf", "peers = [\"10.0.0.1:7001\"]\n", []string{"key peers: clustering", "not implemented yet"}},
		{"tls", "etcd.conf", "[peer]\ncert_file = \"peer.crt\"\n", []string{"key peer.cert_file: TLS is not implemented yet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.content)
			err := parseError(t, []string{"-config", path}, nil)
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	err := parseError(t, []string{"-config", filepath.Join(t.TempDir(), "missing.conf")}, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v is not os.ErrNotExist", err)
	}
}

func TestSystemConfigFile(t *testing.T) {
	defer func(old string) { systemConfigFile = old }(systemConfigFile)

	systemConfigFile = writeFile(t, "etcd.conf", "name = \"from-system-file\"\n")
	runParseCases(t, []parseCase{
		{name: "read when it exists", want: func(v *view) {
			v.Name, v.DataDir, v.Cluster = "from-system-file", "from-system-file.etcd", "from-system-file=http://localhost:2380"
		}},
		{name: "not read with -config=", args: []string{"-config="}},
		{name: "not read with another file", args: []string{"-config", writeFile(t, "other.conf", "data_dir = \"o\"\n")}, want: func(v *view) { v.DataDir = "o" }},
	})

	systemConfigFile = filepath.Join(t.TempDir(), "absent.conf")
	runParseCases(t, []parseCase{{name: "absent"}})
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "etcd.conf", `
name = "file"
data_dir = "file-dir"
snapshot_count = 1
bind_addr = "127.0.0.1:1001"
[peer]
heartbeat_interval = 11
election_timeout = 1100
`)
	env := []string{"ETCD_CONFIG=" + file, "ETCD_DATA_DIR=env-dir", "ETCD_SNAPSHOT_COUNT=2", "HECD_ELECTION_TIMEOUT=2200",
		"ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2002"}
	runParseCases(t, []parseCase{
		{
			name: "file only",
			args: []string{"-config", file},
			want: func(v *view) {
				v.Name, v.DataDir, v.Snapshot, v.Cluster = "file", "file-dir", 1, "file=http://localhost:2380"
				v.Heartbeat, v.Election = 11*time.Millisecond, 1100*time.Millisecond
				v.Listen, v.Advertise = "http://127.0.0.1:1001", "http://127.0.0.1:1001"
			},
		},
		{
			name: "environment over file",
			env:  env,
			want: func(v *view) {
				v.Name, v.DataDir, v.Snapshot, v.Cluster = "file", "env-dir", 2, "file=http://localhost:2380"
				v.Heartbeat, v.Election = 11*time.Millisecond, 2200*time.Millisecond
				v.Listen, v.Advertise = "http://127.0.0.1:2002", "http://127.0.0.1:2002"
			},
		},
		{
			name: "command line over environment over file",
			args: []string{"-snapshot-count", "3", "--peer-election-timeout", "3300", "-bind-addr", "127.0.0.1:3003"},
			env:  env,
			want: func(v *view) {
				v.Name, v.DataDir, v.Snapshot, v.Cluster = "file", "env-dir", 3, "file=http://localhost:2380"
				v.Heartbeat, v.Election = 11*time.Millisecond, 3300*time.Millisecond
				v.Listen, v.Advertise = "http://127.0.0.1:3003", "http://127.0.0.1:3003"
			},
		},
	})
}

func TestNotImplemented(t *testing.T) {
	peersFile := writeFile(t, "peers", "10.0.0.1:7001,10.0.0.2:7001\n")
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{args: []string{"--cert-file", "server.crt"}, want: "flag -cert-file: TLS is not implemented yet in hecd"},
		{args: []string{"--key-file", "server.key"}, want: "flag -key-file: TLS"},
		{args: []string{"--trusted-ca-file", "ca.crt"}, want: "flag -trusted-ca-file: TLS"},
		{args: []string{"--client-cert-auth"}, want: "flag -client-cert-auth: TLS"},
		{args: []string{"--auto-tls"}, want: "flag -auto-tls: TLS"},
		{args: []string{"--peer-cert-file", "peer.crt"}, want: "flag -peer-cert-file: TLS"},
		{args: []string{"--peer-key-file", "peer.key"}, want: "flag -peer-key-file: TLS"},
		{args: []string{"--peer-trusted-ca-file", "ca.crt"}, want: "flag -peer-trusted-ca-file: TLS"},
		{args: []string{"--peer-client-cert-auth=true"}, want: "flag -peer-client-cert-auth: TLS"},
		{args: []string{"--peer-auto-tls"}, want: "flag -peer-auto-tls: TLS"},
		{args: []string{"-ca-file", "ca.crt"}, want: "flag -ca-file: TLS"},
		{args: []string{"-peer-ca-file", "ca.crt"}, want: "flag -peer-ca-file: TLS"},
		{env: []string{"ETCD_CERT_FILE=server.crt"}, want: "environment variable ETCD_CERT_FILE: TLS is not implemented yet"},
		{args: []string{"--discovery", "https://discovery.etcd.io/abc"}, want: "flag -discovery: discovery is not implemented yet in hecd"},
		{args: []string{"--discovery-srv", "example.com"}, want: "flag -discovery-srv: discovery is not implemented yet"},
		{args: []string{"--proxy", "on"}, want: "flag -proxy: proxy mode is not implemented yet"},
		{args: []string{"--proxy=readonly"}, want: "flag -proxy: proxy mode"},
		{args: []string{"-peers", "10.0.0.1:7001,10.0.0.2:7001"}, want: "flag -peers: clustering (joining the members listed in -peers) is not implemented yet"},
		{args: []string{"-peers-file", peersFile}, want: "flag -peers-file: clustering (joining the members listed in the peers file"},
		{env: []string{"ETCD_PEERS=10.0.0.1:7001"}, want: "environment variable ETCD_PEERS: clustering"},
	} {
		err := parseError(t, tc.args, tc.env)
		if !errors.Is(err, server.ErrNotYetSupported) {
			t.Errorf("%q %q: error %v does not match server.ErrNotYetSupported", tc.args, tc.env, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q: error %q does not contain %q", tc.args, tc.env, err, tc.want)
		}
	}

	// All refusals are reported at once.
	err := parseError(t, []string{"--cert-file", "a", "--discovery", "b"}, nil)
	if !strings.Contains(err.Error(), "TLS") || !strings.Contains(err.Error(), "discovery") {
		t.Errorf("error %q should name both TLS and discovery", err)
	}

	// An empty peers file joins nothing.
	runParseCases(t, []parseCase{{name: "empty peers file", args: []string{"-peers-file", writeFile(t, "empty", "\n")}}})
}

func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--enable-v2=false"}, "flag -enable-v2: hecd always serves the v2 API"},
		{[]string{"--snapshot-count", "many"}, `invalid value "many" for flag -snapshot-count: must be a non-negative integer`},
		{[]string{"--heartbeat-interval", "0"}, "flag -heartbeat-interval: must be a positive whole number of milliseconds"},
		{[]string{"--election-timeout", "1s"}, "flag -election-timeout"},
		{[]string{"--initial-cluster-state", "old"}, `must be "new" or "existing"`},
		{[]string{"--listen-client-urls", "ftp://localhost:2379"}, "URL scheme must be http"},
		{[]string{"--advertise-client-urls", "http://localhost"}, "host:port"},
		{[]string{"--initial-cluster", "http://localhost:2380"}, "flag -initial-cluster"},
		{[]string{"-addr", "nohost"}, `"nohost" is not host:port`},
		{[]string{"-addr", "http://10.0.0.1:4001"}, "without a scheme"},
		{[]string{"-addr", ":4001"}, "has no host"},
		{[]string{"-addr", "10.0.0.1:http"}, "is not a number"},
		{[]string{"-bind-addr", ":4001"}, "use 0.0.0.0:4001"},
		{[]string{"-peer-bind-addr", "a:b:c"}, "flag -peer-bind-addr"},
		{[]string{"--log-level", "loud"}, "must be debug, info"},
		{[]string{"--logger", "syslog"}, `must be "zap" or "capnslog"`},
		{[]string{"--proxy", "maybe"}, `must be "off", "readonly" or "on"`},
		{[]string{"--max-request-bytes", "0"}, "must be a positive integer"},
		{[]string{"-retry-interval", "-1"}, "must be a non-negative number of seconds"},
		{[]string{"-max-result-buffer", "lots"}, "must be a non-negative integer"},
		{[]string{"-snapshot=perhaps"}, `invalid boolean value "perhaps" for -snapshot`},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"-peers-file", filepath.Join(t.TempDir(), "absent")}, "flag -peers-file: reading the peers file"},
	} {
		err := parseError(t, tc.args, nil)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q does not contain %q", tc.args, err, tc.want)
		}
	}
}

// Some combinations parse but are refused by server.Config.Validate, which
// server.New calls before anything else.
func TestValidateRefuses(t *testing.T) {
	for _, tc := range []struct {
		args            []string
		notYetSupported bool
	}{
		// Seed 004's three-member cluster.
		{[]string{"--name", "infra0", "--initial-cluster", "infra0=http://0.0.0.0:2380,infra1=http://0.0.0.0:2480,infra2=http://0.0.0.0:2580"}, true},
		{[]string{"--initial-cluster", "other=http://localhost:2380"}, false},
		{[]string{"--name", ""}, false},
		{[]string{"--heartbeat-interval", "500"}, false},
	} {
		opts, err := parseStoreConfig(tc.args, nil, new(bytes.Buffer))
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		err = opts.config.Validate()
		if err == nil {
			t.Errorf("%q: Validate accepted the config", tc.args)
			continue
		}
		if tc.notYetSupported && !errors.Is(err, server.ErrNotYetSupported) {
			t.Errorf("%q: Validate error %v does not match server.ErrNotYetSupported", tc.args, err)
		}
	}
}

func TestLeftoverArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"foo"}, `unexpected argument "foo"`},
		{[]string{"--name", "a", "extra", "--data-dir", "d"}, `unexpected argument "extra"`},
		{[]string{"-snapshot", "false"}, "-snapshot is a boolean flag: write -snapshot=false"},
		{[]string{"--", "--name"}, `unexpected argument "--name"`},
	} {
		err := parseError(t, tc.args, nil)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q does not contain %q", tc.args, err, tc.want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--name", "x", "--version=true"}, {"--version", "extra"}} {
		if _, err := parseStoreConfig(args, nil, new(bytes.Buffer)); !errors.Is(err, errVersionRequested) {
			t.Errorf("%q: error %v, want errVersionRequested", args, err)
		}
	}
	if _, err := parseStoreConfig([]string{"--version=false"}, nil, new(bytes.Buffer)); err != nil {
		t.Errorf("--version=false: %v", err)
	}
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		var stderr bytes.Buffer
		if _, err := parseStoreConfig(args, nil, &stderr); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: error %v, want flag.ErrHelp", args, err)
		}
		for _, s := range storeSettings {
			if !strings.Contains(stderr.String(), "-"+s.name+" ") && !strings.Contains(stderr.String(), "-"+s.name+"\n") {
				t.Errorf("%q: usage does not mention --%s", args, s.name)
			}
		}
	}
}

func TestCPUProfileFile(t *testing.T) {
	opts, err := parseStoreConfig([]string{"-cpu-profile-file", "cpu.prof"}, nil, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if opts.cpuProfileFile != "cpu.prof" {
		t.Errorf("cpuProfileFile = %q, want cpu.prof", opts.cpuProfileFile)
	}
}

// Every flag has an environment variable and, for the etcd 0.4 ones, the
// file keys map to existing flags.
func TestTablesAgree(t *testing.T) {
	for _, s := range storeSettings {
		if s.set == nil || s.usage == "" {
			t.Errorf("setting %s lacks set or usage", s.name)
		}
		if !s.isBool && s.arg == "" {
			t.Errorf("setting %s lacks an argument name", s.name)
		}
		if got := envLookup[envName(s.name)]; got != s.name {
			t.Errorf("env name of %s maps to %q", s.name, got)
		}
	}
	var walk func(typ reflect.Type)
	walk = func(typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if _, ok := settingIndex[f.Tag.Get("flag")]; !ok {
				t.Errorf("file key %s names unknown flag %q", f.Tag.Get("toml"), f.Tag.Get("flag"))
			}
		}
	}
	walk(reflect.TypeOf(fileConfig{}))
	if len(settingIndex) != len(storeSettings) {
		t.Errorf("duplicate setting names: %d names for %d settings", len(settingIndex), len(storeSettings))
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// fileConfig is etcd 0.4's TOML config file (/etc/etcd/etcd.conf). The flag
// tag names the store flag a key sets; the value goes through that flag's
// parser, so a file value means exactly what the flag value would.
type fileConfig struct {
	Addr             string   `toml:"addr" flag:"addr"`
	BindAddr         string   `toml:"bind_addr" flag:"bind-addr"`
	CAFile           string   `toml:"ca_file" flag:"ca-file"`
	CertFile         string   `toml:"cert_file" flag:"cert-file"`
	CORS             []string `toml:"cors" flag:"cors"`
	CPUProfileFile   string   `toml:"cpu_profile_file" flag:"cpu-profile-file"`
	DataDir          string   `toml:"data_dir" flag:"data-dir"`
	Discovery        string   `toml:"discovery" flag:"discovery"`
	HTTPReadTimeout  float64  `toml:"http_read_timeout" flag:"http-read-timeout"`
	HTTPWriteTimeout float64  `toml:"http_write_timeout" flag:"http-write-timeout"`
	KeyFile          string   `toml:"key_file" flag:"key-file"`
	Peers            []string `toml:"peers" flag:"peers"`
	PeersFile        string   `toml:"peers_file" flag:"peers-file"`
	MaxClusterSize   int64    `toml:"max_cluster_size" flag:"max-cluster-size"`
	MaxResultBuffer  int64    `toml:"max_result_buffer" flag:"max-result-buffer"`
	MaxRetryAttempts int64    `toml:"max_retry_attempts" flag:"max-retry-attempts"`
	RetryInterval    float64  `toml:"retry_interval" flag:"retry-interval"`
	Name             string   `toml:"name" flag:"name"`
	Snapshot         bool     `toml:"snapshot" flag:"snapshot"`
	SnapshotCount    int64    `toml:"snapshot_count" flag:"snapshot-count"`
	Verbose          bool     `toml:"verbose" flag:"v"`
	VeryVerbose      bool     `toml:"very_verbose" flag:"vv"`

	Peer struct {
		Addr              string `toml:"addr" flag:"peer-addr"`
		BindAddr          string `toml:"bind_addr" flag:"peer-bind-addr"`
		CAFile            string `toml:"ca_file" flag:"peer-ca-file"`
		CertFile          string `toml:"cert_file" flag:"peer-cert-file"`
		KeyFile           string `toml:"key_file" flag:"peer-key-file"`
		HeartbeatInterval int64  `toml:"heartbeat_interval" flag:"peer-heartbeat-interval"`
		ElectionTimeout   int64  `toml:"election_timeout" flag:"peer-election-timeout"`
	} `toml:"peer"`

	Cluster struct {
		ActiveSize   int64   `toml:"active_size" flag:"cluster-active-size"`
		RemoveDelay  float64 `toml:"remove_delay" flag:"cluster-remove-delay"`
		SyncInterval float64 `toml:"sync_interval" flag:"cluster-sync-interval"`
	} `toml:"cluster"`
}

// fileAssignments reads a config file into assignments, one per key
// present, in the order of fileConfig. Unknown keys are an error.
func fileAssignments(path string) ([]assignment, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return nil, fmt.Errorf("config file %s: YAML config files (etcd 3's --config-file) are not supported yet; hecd reads etcd 0.4's TOML format", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	var fc fileConfig
	md, err := toml.Decode(string(data), &fc)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("config file %s: unknown keys: %s (hecd reads etcd 0.4's format; see 'hecd store -h')", path, strings.Join(keys, ", "))
	}
	var out []assignment
	var walk func(v reflect.Value, prefix []string)
	walk = func(v reflect.Value, prefix []string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f, fv := t.Field(i), v.Field(i)
			key := append(append([]string{}, prefix...), f.Tag.Get("toml"))
			if fv.Kind() == reflect.Struct {
				walk(fv, key)
				continue
			}
			if !md.IsDefined(key...) {
				continue
			}
			out = append(out, assignment{
				name:   f.Tag.Get("flag"),
				value:  flagText(fv),
				origin: fmt.Sprintf("config file %s: key %s", path, strings.Join(key, ".")),
			})
		}
	}
	walk(reflect.ValueOf(fc), nil)
	return out, nil
}

// flagText writes a decoded TOML value the way it would be given as a flag.
func flagText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		return strings.Join(v.Interface().([]string), ",")
	}
	panic(fmt.Sprintf("flagText: unexpected kind %s", v.Kind()))
}

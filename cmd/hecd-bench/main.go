// Command hecd-bench compares hecd with a real etcd 3.4 on the v2 API.
//
// It starts both servers side by side on loopback and runs, in interleaved
// rounds (etcd then hecd, hecd then etcd, ...), closed-loop PUTs at 1, 16 and
// 64 clients, GETs at 64 clients, a watch fan-out and a bulk load into a
// fresh server. For each it reports the median over rounds of throughput,
// latency, the server's CPU time per operation and hecd/etcd ratios against
// the project's targets.
//
//	go run ./cmd/hecd-bench [-rounds 5] [-duration 3s] [-only put64,get64] [-v] [-json FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"hecd/cmd/internal/benchkit"
	"hecd/test/hecdproc"
)

type config struct {
	hecd, etcdScript string
	rounds           int
	duration         time.Duration
	only             string
	verbose          bool
	jsonFile         string
	keys, valueSize  int
	watchers         int
	watchInterval    time.Duration
	loadKeys         int
	loadClients      int
}

func main() { os.Exit(run()) }

func run() int {
	var cfg config
	flag.StringVar(&cfg.hecd, "hecd", "", "hecd binary to test (default: go build hecd/cmd/hecd into a temp dir)")
	flag.StringVar(&cfg.etcdScript, "etcd-script", "", "script starting the reference etcd (default <repo>/../shared/spec/etcd-reference.sh)")
	flag.IntVar(&cfg.rounds, "rounds", 5, "interleaved rounds")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "duration of each put, get and watch measurement")
	flag.StringVar(&cfg.only, "only", "", "comma-separated workloads to run: put1, put16, put64, get64, watch, load (put, get: their group); default all")
	flag.BoolVar(&cfg.verbose, "v", false, "also print the raw numbers of every round")
	flag.StringVar(&cfg.jsonFile, "json", "", "write all results to this JSON file")
	flag.IntVar(&cfg.keys, "keys", 1000, "keys the put and get workloads spread over")
	flag.IntVar(&cfg.valueSize, "value-size", 100, "bytes per value")
	flag.IntVar(&cfg.watchers, "watchers", 100, "watchers in the watch workload")
	flag.DurationVar(&cfg.watchInterval, "watch-interval", 20*time.Millisecond, "time between the watch workload's PUTs")
	flag.IntVar(&cfg.loadKeys, "load-keys", 100000, "keys written by the load workload")
	flag.IntVar(&cfg.loadClients, "load-clients", 64, "clients of the load workload")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./cmd/hecd-bench [flags]\n\nCompares hecd with etcd 3.4 on the v2 API.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	if cfg.rounds < 1 || cfg.duration <= 0 || cfg.keys < 1 || cfg.valueSize < 0 || cfg.watchers < 1 ||
		cfg.watchInterval <= 0 || cfg.loadKeys < 1 || cfg.loadClients < 1 {
		fmt.Fprintln(os.Stderr, "hecd-bench: -rounds, -duration, -keys, -watchers, -watch-interval, -load-keys and -load-clients must be positive")
		return 2
	}
	sel, err := selectWorkloads(workloads(&cfg), cfg.only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hecd-bench: %v\n", err)
		return 2
	}

	// Every server started is stopped on return, on error and on Ctrl-C.
	servers := &fleet{}
	tmp, err := os.MkdirTemp("", "hecd-bench-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "hecd-bench: %v\n", err)
		return 1
	}
	cleanup := func() {
		servers.stopAll()
		os.RemoveAll(tmp)
	}
	defer cleanup()
	ctx, cancel := benchkit.OnInterrupt(progress, cleanup)
	defer cancel()

	started := time.Now()
	b, err := prepare(ctx, &cfg, tmp, servers)
	if err == nil {
		if err = b.setup(ctx, sel); err == nil {
			err = b.run(ctx, sel)
		}
	}
	interrupted := ctx.Err() != nil
	if err != nil && !interrupted {
		fmt.Fprintf(os.Stderr, "hecd-bench: %v\n", err)
	}
	if b != nil {
		// Whatever was measured is reported, also after an error.
		for _, r := range b.results {
			r.summarize()
		}
		printReport(os.Stdout, b.results, cfg.verbose)
		if cfg.jsonFile != "" {
			if jerr := benchkit.WriteJSON(cfg.jsonFile, jsonReport{Started: started, Config: cfg.asMap(), Workloads: b.results}); jerr != nil {
				fmt.Fprintf(os.Stderr, "hecd-bench: %v\n", jerr)
				err = errors.Join(err, jerr)
			}
		}
	}
	switch {
	case interrupted:
		return 130
	case err != nil:
		return 1
	}
	return 0
}

// prepare finds or builds the binaries and returns a bench ready to start
// servers.
func prepare(ctx context.Context, cfg *config, tmp string, servers *fleet) (*bench, error) {
	if cfg.hecd == "" || cfg.etcdScript == "" {
		if cfg.etcdScript == "" {
			shared, err := hecdproc.SharedDir()
			if err != nil {
				return nil, err
			}
			cfg.etcdScript = filepath.Join(shared, "spec", "etcd-reference.sh")
		}
		if cfg.hecd == "" {
			progress("building hecd/cmd/hecd")
			var err error
			if cfg.hecd, err = hecdproc.Build(ctx, tmp); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range []*string{&cfg.hecd, &cfg.etcdScript} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, err
		}
		*p = abs
	}
	return &bench{
		cfg:  cfg,
		body: valueBody(cfg.valueSize),
		launch: &launcher{
			hecdBin:    cfg.hecd,
			etcdScript: cfg.etcdScript,
			tmp:        tmp,
			fleet:      servers,
			verbose:    cfg.verbose,
		},
	}, nil
}

// asMap is the configuration for -json; it leaves out paths, which are
// machine-specific.
func (cfg *config) asMap() map[string]any {
	return map[string]any{
		"rounds":         cfg.rounds,
		"duration":       cfg.duration.String(),
		"only":           cfg.only,
		"keys":           cfg.keys,
		"value_size":     cfg.valueSize,
		"watchers":       cfg.watchers,
		"watch_interval": cfg.watchInterval.String(),
		"load_keys":      cfg.loadKeys,
		"load_clients":   cfg.loadClients,
		"cpus":           runtime.NumCPU(),
		"go":             runtime.Version(),
	}
}

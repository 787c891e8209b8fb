// Command hecd is one binary for a small service-discovery stack: a store
// that speaks etcd's v2 API and, later, confd, a proxy and a registrator.
//
// It is multi-call: run as "hecd <command>", or through a symlink named
// after the tool it replaces ("etcd" runs "hecd store" with all arguments).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"hecd/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain runs the command in argv (argv[0] included) and returns the exit
// status. ctx ends the store when it is done (SIGINT, SIGTERM).
func realMain(ctx context.Context, argv, environ []string, stdout, stderr io.Writer) int {
	prog, argv0 := "hecd", "hecd"
	if len(argv) > 0 {
		argv0 = argv[0]
		prog = strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
		argv = argv[1:]
	}
	switch prog {
	case "etcd":
		return storeCommand(ctx, argv, environ, stdout, stderr)
	case "confd":
		return confdCommand(ctx, argv0, argv, environ, stdout, stderr)
	case "etcdctl":
		return ctlCommand(ctx, argv, environ, stdout, stderr)
	}

	if len(argv) == 0 {
		printUsage(stderr)
		return 2
	}
	switch cmd, args := argv[0], argv[1:]; cmd {
	case "store":
		return storeCommand(ctx, args, environ, stdout, stderr)
	case "confd":
		return confdCommand(ctx, argv0, args, environ, stdout, stderr)
	case "proxy":
		return proxyCommand(ctx, args, stdout, stderr)
	case "register", "registrator":
		return registerCommand(ctx, args, stdout, stderr)
	case "up":
		return upCommand(ctx, args, environ, stdout, stderr)
	case "ctl":
		return ctlCommand(ctx, args, environ, stdout, stderr)
	case "version", "-version", "--version":
		printVersion(stdout)
		return 0
	case "help", "-h", "-help", "--help":
		if len(args) > 0 && (args[0] == "store" || args[0] == "etcd") {
			printStoreUsage(stdout)
			return 0
		}
		printUsage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "hecd: unknown command %q\n\n", cmd)
		printUsage(stderr)
		return 2
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: hecd <command> [flags]

Commands:
  store      run a key-value store member with etcd's v2 API (also as "etcd")
  ctl        command line client like etcdctl v2 (also as "etcdctl")
  confd      render templates from the store like confd 0.16 (also as "confd")
  proxy      HTTP router fed by the store, HAProxy's job with no reloads
  register   keep Docker containers registered in the store, as registrator did
             ("hecd register status": what should be registered against what is)
  up         the whole stack in one process: store, router and (with Docker) registrator
  version    print the version (also --version)
  help       print this help; "hecd help store" lists the store's flags
`)
}

// storeCommand is "hecd store" and "etcd".
func storeCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	opts, err := parseStoreConfig(args, environ, stderr)
	switch {
	case errors.Is(err, errVersionRequested):
		printVersion(stdout)
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "hecd: %v\n", err)
		return 1
	}
	if err := runStore(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "hecd: %v\n", err)
		return 1
	}
	return 0
}

// storeGCPercent is the garbage collector's target for "hecd store" when
// GOGC is not set. Go's default (100) lets the heap grow to twice the live
// data before collecting; a key-value store's live data is most of its
// heap, so that doubles its resident memory. At 50, 100k keys of 100 bytes
// take 0.46x etcd's RSS instead of 0.54x, for about 7% more CPU per put
// (hecd-bench, load and put64). GOGC still overrides it.
const storeGCPercent = 50

// runStore serves until ctx is done, then shuts the member down.
func runStore(ctx context.Context, opts storeOptions) (err error) {
	log := opts.config.Logger
	slog.SetDefault(log)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(storeGCPercent)
	}
	if opts.cpuProfileFile != "" {
		f, err := os.Create(opts.cpuProfileFile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("cpu profile: %w", cerr)
			}
		}()
	}

	log.Info("starting hecd store", "version", hecdVersion, "name", opts.config.Name, "dataDir", opts.config.DataDir)
	srv, err := server.New(opts.config)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	if err := srv.Close(); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info("stopped")
	return nil
}

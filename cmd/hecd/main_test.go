package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"hecd/internal/freeport"
)

func TestVersionText(t *testing.T) {
	var b bytes.Buffer
	printVersion(&b)
	want := "hecd Version: 0.1.0\n" +
		"etcd API: 3.4.23 (v2 keys)\n" +
		"Go Version: " + runtime.Version() + "\n" +
		"Go OS/Arch: " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if b.String() != want {
		t.Errorf("version text\n got %q\nwant %q", b.String(), want)
	}
}

func TestDispatch(t *testing.T) {
	var version bytes.Buffer
	printVersion(&version)
	for _, tc := range []struct {
		argv           []string
		code           int
		stdout, stderr string // exact when they do not start with "~", else contained
	}{
		{argv: []string{"hecd"}, code: 2, stderr: "~Usage: hecd <command>"},
		{argv: []string{"hecd", "help"}, code: 0, stdout: "~  store "},
		{argv: []string{"hecd", "--help"}, code: 0, stdout: "~Usage: hecd <command>"},
		{argv: []string{"hecd", "help", "store"}, code: 0, stdout: "~--listen-client-urls"},
		{argv: []string{"hecd", "--version"}, code: 0, stdout: version.String()},
		{argv: []string{"hecd", "-version"}, code: 0, stdout: version.String()},
		{argv: []string{"hecd", "version"}, code: 0, stdout: version.String()},
		{argv: []string{"hecd", "store", "--version"}, code: 0, stdout: version.String()},
		{argv: []string{"/usr/local/bin/etcd", "--version"}, code: 0, stdout: version.String()},
		{argv: []string{"etcd", "-version"}, code: 0, stdout: version.String()},
		{argv: []string{"hecd", "store", "-h"}, code: 0, stderr: "~Usage: hecd store [flags]"},
		{argv: []string{"hecd", "ctl", "--endpoints", "http://127.0.0.1:1", "get", "/a"}, code: 2, stderr: "Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:1: connect: connection refused\n\nerror #0: dial tcp 127.0.0.1:1: connect: connection refused\n\n"},
		{argv: []string{"hecd", "confd", "-version"}, code: 0, stdout: "~confd 0.16.0 (hecd "},
		{argv: []string{"hecd", "confd", "-config-file", "/nonexistent/confd.toml", "-backend", "consul", "-onetime"}, code: 1, stdout: "~FATAL backend \"consul\" is not supported by hecd confd"},
		{argv: []string{"hecd", "confd", "-config-file", "/nonexistent/confd.toml", "-backend", "nope", "-onetime"}, code: 1, stdout: "~FATAL Invalid backend"},
		{argv: []string{"hecd", "confd", "-config-file", "/nonexistent/confd.toml", "-log-level", "loud"}, code: 1, stdout: "~FATAL not a valid level: \"loud\""},
		{argv: []string{"hecd", "confd", "-config-file", "/nonexistent/confd.toml", "-node", "127.0.0.1:2379", "-onetime"}, code: 1, stdout: "~first path segment in URL cannot contain colon"},
		{argv: []string{"hecd", "proxy", "-nope"}, code: 2, stderr: "~flag provided but not defined: -nope"},
		{argv: []string{"hecd", "proxy", "-stats-listen", "127.0.0.1:0"}, code: 1, stderr: "~no default password"},
		{argv: []string{"hecd", "register", "-deregister", "sometimes", "-store", "http://127.0.0.1:1", "-owner-id", "h1"}, code: 1, stderr: "~deregister"},
		{argv: []string{"hecd", "register", "status", "-ready-timeout", "-1s", "-store", "http://127.0.0.1:1", "-owner-id", "h1"}, code: 1, stderr: "hecd register status: registrator: durations must not be negative\n"},
		{argv: []string{"hecd", "registrator", "status", "stray"}, code: 2, stderr: "~hecd register status: unexpected argument \"stray\""},
		{argv: []string{"hecd", "register", "-json"}, code: 2, stderr: "~flag provided but not defined: -json"},
		{argv: []string{"hecd", "up", "-register", "maybe"}, code: 1, stderr: "~-register \"maybe\": want auto, true or false"},
		{argv: []string{"hecd", "up", "stray"}, code: 2, stderr: "~unexpected argument"},
		{argv: []string{"etcdctl", "--endpoints", "http://127.0.0.1:1", "--no-sync", "get", "/a"}, code: 4, stderr: "~Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:1: "},
		{argv: []string{"/usr/bin/confd", "-nope"}, code: 2, stderr: "~flag provided but not defined: -nope"},
		{argv: []string{"/usr/bin/confd", "-config-file", "/nonexistent/confd.toml", "-onetime", "-confdir", "/nonexistent", "-node", "http://127.0.0.1:1"}, code: 0, stdout: "~/usr/bin/confd["},
		{argv: []string{"hecd", "frobnicate"}, code: 2, stderr: "~hecd: unknown command \"frobnicate\""},
		{argv: []string{"etcd", "--bogus"}, code: 1, stderr: "~hecd: flag provided but not defined: -bogus"},
		{argv: []string{"hecd", "store", "stray"}, code: 1, stderr: "~hecd: unexpected argument \"stray\""},
		{argv: []string{"etcd", "--cert-file", "a.crt"}, code: 1, stderr: "~hecd: flag -cert-file: TLS is not implemented yet"},
	} {
		var stdout, stderr bytes.Buffer
		code := realMain(context.Background(), tc.argv, nil, &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.argv, code, tc.code, stderr.String())
		}
		check := func(what, got, want string) {
			if rest, ok := strings.CutPrefix(want, "~"); ok {
				if !strings.Contains(got, rest) {
					t.Errorf("%q: %s %q does not contain %q", tc.argv, what, got, rest)
				}
			} else if got != want {
				t.Errorf("%q: %s %q, want %q", tc.argv, what, got, want)
			}
		}
		check("stdout", stdout.String(), tc.stdout)
		check("stderr", stderr.String(), tc.stderr)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	p, err := freeport.One()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

// TestStoreRuns starts a member under the name etcd and stops it, as a
// signal would, through the context.
func TestStoreRuns(t *testing.T) {
	defer func(l *slog.Logger) { slog.SetDefault(l) }(slog.Default())
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := realMain(ctx, []string{"etcd",
		"-name", "t1", "-data-dir", filepath.Join(dir, "data"),
		"-bind-addr", "127.0.0.1:" + freePort(t),
		"--listen-peer-urls", "http://127.0.0.1:" + freePort(t),
		"--heartbeat-interval", "10", "--election-timeout", "100",
		"-cpu-profile-file", filepath.Join(dir, "cpu.prof"),
	}, []string{"ETCD_NO_SUCH_FLAG=1"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"ETCD_NO_SUCH_FLAG", "starting hecd store", "stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "cpu.prof")); err != nil || fi.Size() == 0 {
		t.Errorf("cpu profile not written: %v", err)
	}
}

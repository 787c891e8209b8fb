package ctl

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestMainUsage checks what is decided before any request: nothing here
// reaches a server (127.0.0.1:1 refuses connections).
func TestMainUsage(t *testing.T) {
	const dead = "http://127.0.0.1:1"
	for _, tc := range []struct {
		args           []string
		stdin          string
		code           int
		stdout, stderr string // exact unless starting with "~": contained
	}{
		{args: []string{"--version"}, stdout: "etcdctl version: 3.4.23\nAPI version: 2\n"},
		{args: nil, stdout: "~USAGE:\n   etcdctl [global options] command"},
		{args: []string{"bogus"}, code: 3, stderr: "No help topic for 'bogus'\n"},
		{args: []string{"--bogus", "get", "/k"}, code: 1, stderr: "Incorrect Usage. flag provided but not defined: -bogus\n\n", stdout: "~GLOBAL OPTIONS:"},
		{args: []string{"-o", "json", "--output", "json", "get", "/k"}, code: 1, stderr: "Cannot use two forms of the same flag: o output\n", stdout: "~GLOBAL OPTIONS:"},
		{args: []string{"get"}, code: 1, stderr: "Error:  key required\n"},
		{args: []string{"ls", "--bogus"}, code: 1, stderr: "Incorrect Usage: flag provided but not defined: -bogus\n\n", stdout: "~USAGE:\n   etcdctl ls [command options] [key]\n"},
		{args: []string{"set", "--ttl", "abc", "/k", "v"}, code: 1, stderr: "Incorrect Usage: invalid value \"abc\" for flag -ttl: parse error\n\n", stdout: "~   --ttl value              seconds until the key expires (0: never) (default: 0)\n"},
		{args: []string{"set", "/k"}, code: 1, stderr: "Error:  value required\n"},
		{args: []string{"exec-watch", "/k"}, code: 1, stderr: "Error:  key and command to exec required\n"},
		{args: []string{"member", "remove"}, code: 1, stderr: "Provide a single member ID\n"},
		{args: []string{"member", "list", "x"}, code: 1, stderr: "No arguments accepted\n"},
		{args: []string{"get", "--help"}, stdout: "NAME:\n   etcdctl get - print the value of a key\n\nUSAGE:\n   etcdctl get [command options] <key>\n\n" +
			"OPTIONS:\n   --sort        sort the result\n   --quorum, -q  read through the cluster's quorum\n   \n"},
		// The value comes from stdin; the request then fails with status 4.
		{args: []string{"--endpoints", dead, "--no-sync", "set", "/k"}, stdin: "piped", code: 4, stderr: "~Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:1: "},
		// A failed sync is a bad connection.
		{args: []string{"--endpoints", dead, "get", "/k"}, code: 2, stderr: "~Error:  client: etcd cluster is unavailable"},
		{args: []string{"--endpoints", dead, "cluster-health"}, code: 4, stdout: "cluster may be unhealthy: failed to list members\n", stderr: "~Error:  client: etcd cluster is unavailable"},
		{args: []string{"--endpoints", "127.0.0.1:2379", "get", "/k"}, code: 1, stderr: "~first path segment in URL cannot contain colon"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), tc.args, nil, strings.NewReader(tc.stdin), &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		check := func(what, got, want string) {
			if rest, ok := strings.CutPrefix(want, "~"); ok {
				if !strings.Contains(got, rest) {
					t.Errorf("%q: %s %q does not contain %q", tc.args, what, got, rest)
				}
			} else if got != want {
				t.Errorf("%q: %s %q, want %q", tc.args, what, got, want)
			}
		}
		check("stdout", stdout.String(), tc.stdout)
		check("stderr", stderr.String(), tc.stderr)
	}
}

func TestEndpointPrecedence(t *testing.T) {
	for _, tc := range []struct {
		g       globals
		environ []string
		want    string
	}{
		{want: defaultEndpoints},
		{environ: []string{"ETCDCTL_PEERS=http://p"}, want: "http://p"},
		{g: globals{peers: "http://flag-peers"}, environ: []string{"ETCDCTL_PEERS=http://p"}, want: "http://flag-peers"},
		{g: globals{peers: "http://flag-peers"}, environ: []string{"ETCDCTL_ENDPOINTS=http://e"}, want: "http://e"},
		{g: globals{endpoints: "http://a, http://b"}, environ: []string{"ETCDCTL_ENDPOINTS=http://e"}, want: "http://a,http://b"},
	} {
		r := &run{g: tc.g, environ: tc.environ}
		if got := strings.Join(r.endpointList(), ","); got != tc.want {
			t.Errorf("%+v %q: got %q, want %q", tc.g, tc.environ, got, tc.want)
		}
	}
}

// TestGlobalHelpListsEveryCommand keeps the hand-laid-out help screen in
// step with the command table.
func TestGlobalHelpListsEveryCommand(t *testing.T) {
	for _, c := range commands {
		name := strings.Join(c.names, ", ")
		if !strings.Contains(globalHelp, "   "+name+" ") || !strings.Contains(globalHelp, " "+c.description+"\n") {
			t.Errorf("the help screen lacks %q with %q", name, c.description)
		}
	}
}

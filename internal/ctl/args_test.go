package ctl

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	// The flags of set and exec-watch, as the commands define them.
	known := map[string]bool{"ttl": true, "swap-with-value": true, "recursive": true, "r": true, "after-index": true}
	isFlag := func(name string) bool { return known[name] }
	for _, tc := range []struct {
		args, want []string
	}{
		{[]string{"/foo", "baz", "--swap-with-value", "bar"}, []string{"--swap-with-value", "bar", "/foo", "baz"}},
		{[]string{"/k", "v", "--ttl=7"}, []string{"--ttl=7", "/k", "v"}},
		{[]string{"--ttl", "5", "/k", "v"}, []string{"--ttl", "5", "/k", "v"}},
		{[]string{"/k", "--ttl", "5", "v"}, []string{"--ttl", "5", "/k", "v"}},
		// An unknown flag stays where it is, so it can be a value.
		{[]string{"/k", "-v"}, []string{"/k", "-v"}},
		// A boolean flag takes the next argument along; parsing stops there.
		{[]string{"-r", "/dir"}, []string{"-r", "/dir"}},
		{[]string{"/dir", "-r", "--ttl", "1"}, []string{"-r", "--ttl", "1", "/dir"}},
		// "--" goes in front of the positional arguments.
		{[]string{"/k", "--", "-v"}, []string{"--", "/k", "-v"}},
		{[]string{"/k", "v", "--", "--ttl", "5"}, []string{"--", "/k", "v", "--ttl", "5"}},
		{[]string{"--recursive", "/w", "--", "sh", "-c", "x"}, []string{"--recursive", "/w", "--", "sh", "-c", "x"}},
		{[]string{"/w", "--", "echo", "hi"}, []string{"--", "/w", "echo", "hi"}},
		// After a flag, "--" is taken as its value.
		{[]string{"/w", "--recursive", "--", "echo"}, []string{"--recursive", "--", "/w", "echo"}},
		{[]string{"--after-index=0", "/w", "--", "echo"}, []string{"--after-index=0", "--", "/w", "echo"}},
		{nil, nil},
	} {
		if got := reorderArgs(tc.args, isFlag); !slices.Equal(got, tc.want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestExecWatchArgs checks exec-watch's key and command after reordering
// and flag parsing, including etcdctl's quirk without a flag before the key.
func TestExecWatchArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		key     string
		command []string
	}{
		{[]string{"--recursive", "/w", "--", "sh", "-c", "echo"}, "/w", []string{"sh", "-c", "echo"}},
		{[]string{"/w", "--", "echo", "hi"}, "hi", []string{"/w", "echo"}},
		{[]string{"/w", "--recursive", "--", "echo", "hi"}, "hi", []string{"/w", "echo"}},
		{[]string{"/w", "echo", "hi"}, "hi", []string{"/w", "echo"}},
		{[]string{"/w"}, "", nil},
	} {
		fs := flag.NewFlagSet("exec-watch", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o cmdOptions
		fs.BoolVar(&o.recursive, "recursive", false, "")
		fs.IntVar(&o.afterIndex, "after-index", 0, "")
		if err := fs.Parse(reorderArgs(tc.args, func(n string) bool { return fs.Lookup(n) != nil })); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		key, command := splitExecArgs(fs.Args())
		if key != tc.key || !slices.Equal(command, tc.command) {
			t.Errorf("%q: key %q, command %q; want %q, %q", tc.args, key, command, tc.key, tc.command)
		}
	}
}

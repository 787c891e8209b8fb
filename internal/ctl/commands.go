package ctl

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"hecd/internal/client"
)

// command is one etcdctl command.
type command struct {
	names       []string // the first is the name, the others aliases
	usage       string   // arguments, e.g. "<key> <value>"
	description string
	// flags defines the command's flags (nil: none).
	flags func(fs *flagDefs, o *cmdOptions)
	// action runs the command with its positional arguments.
	action func(r *run, o *cmdOptions, args []string) int
}

// cmdOptions holds the values of every command's flags; each command
// defines only those it has.
type cmdOptions struct {
	ttl, swapWithIndex, withIndex, afterIndex int
	swapWithValue, withValue                  string
	sort, quorum, recursive, slashDirs        bool
	inOrder, dir, forever                     bool
}

var commands []*command

func init() {
	// Assigned in init: the actions refer back to the table for help.
	commands = []*command{
		{names: []string{"cluster-health"}, description: "report whether the members answer and the cluster is healthy",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.boolFlag(&o.forever, "forever, f", "repeat the check every 10 seconds until interrupted")
			}, action: clusterHealth},
		{names: []string{"mk"}, usage: "<key> <value>", description: "create a key that does not exist yet",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.boolFlag(&o.inOrder, "in-order", "create a key with an increasing name inside directory <key>")
				fs.intFlag(&o.ttl, "ttl", "seconds until the key expires (0: never)")
			}, action: mk},
		{names: []string{"mkdir"}, usage: "<key>", description: "create a directory that does not exist yet",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.intFlag(&o.ttl, "ttl", "seconds until the key expires (0: never)")
			}, action: dirAction(client.MustNotExist)},
		{names: []string{"rm"}, usage: "<key>", description: "delete a key, or a directory with --dir or --recursive",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.boolFlag(&o.dir, "dir", "also delete the key when it is an empty directory")
				fs.boolFlag(&o.recursive, "recursive, r", "delete a directory with everything below it")
				fs.stringFlag(&o.withValue, "with-value", "delete only if the current value is this")
				fs.intFlag(&o.withIndex, "with-index", "delete only if the current modified index is this")
			}, action: rm},
		{names: []string{"rmdir"}, usage: "<key>", description: "delete an empty directory",
			action: rmdir},
		{names: []string{"get"}, usage: "<key>", description: "print the value of a key",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.boolFlag(&o.sort, "sort", "sort the result")
				fs.boolFlag(&o.quorum, "quorum, q", "read through the cluster's quorum")
			}, action: get},
		{names: []string{"ls"}, usage: "[key]", description: "list the keys of a directory",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.boolFlag(&o.sort, "sort", "sort the result")
				fs.boolFlag(&o.recursive, "recursive, r", "list everything below the directory")
				fs.boolFlag(&o.slashDirs, "p", "print directories with a trailing slash")
				fs.boolFlag(&o.quorum, "quorum, q", "read through the cluster's quorum")
			}, action: ls},
		{names: []string{"set"}, usage: "<key> <value>", description: "set the value of a key, creating it if needed",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.intFlag(&o.ttl, "ttl", "seconds until the key expires (0: never)")
				fs.stringFlag(&o.swapWithValue, "swap-with-value", "set only if the current value is this")
				fs.intFlag(&o.swapWithIndex, "swap-with-index", "set only if the current modified index is this")
			}, action: set},
		{names: []string{"setdir"}, usage: "<key>", description: "create a directory, or set the TTL of an existing one",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.intFlag(&o.ttl, "ttl", "seconds until the key expires (0: never)")
			}, action: dirAction(client.ExistAny)},
		{names: []string{"update"}, usage: "<key> <value>", description: "change the value of an existing key",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.intFlag(&o.ttl, "ttl", "seconds until the key expires (0: never)")
			}, action: update},
		{names: []string{"updatedir"}, usage: "<key>", description: "change the TTL of an existing directory",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.intFlag(&o.ttl, "ttl", "seconds until the key expires (0: never)")
			}, action: dirAction(client.MustExist)},
		{names: []string{"watch"}, usage: "<key>", description: "wait for a change of a key and print it",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.boolFlag(&o.forever, "forever, f", "keep printing changes until interrupted")
				fs.intFlag(&o.afterIndex, "after-index", "start with the change after this index")
				fs.boolFlag(&o.recursive, "recursive, r", "also report changes below the key")
			}, action: watch},
		{names: []string{"exec-watch"}, usage: "<key> -- <command> [args...]", description: "run a command for every change of a key",
			flags: func(fs *flagDefs, o *cmdOptions) {
				fs.intFlag(&o.afterIndex, "after-index", "start with the change after this index")
				fs.boolFlag(&o.recursive, "recursive, r", "also react to changes below the key")
			}, action: execWatch},
		{names: []string{"member"}, usage: "command [command options] [arguments...]", description: "list, add, remove or update the cluster's members",
			action: member},
		{names: []string{"help", "h"}, usage: "[command]", description: "show the commands, or the help of one command",
			action: help},
	}
}

func findCommand(name string) *command {
	for _, c := range commands {
		for _, n := range c.names {
			if n == name {
				return c
			}
		}
	}
	return nil
}

// flagDefs defines a command's flags and remembers them for its help.
// Names are given as "long, short", as etcdctl's help shows them; every
// name is defined, all bound to the same variable.
type flagDefs struct {
	fs    *flag.FlagSet
	lines [][2]string // names as shown, usage
}

func (d *flagDefs) define(names, shown, usage string, def func(name string)) {
	var parts []string
	for n := range strings.SplitSeq(names, ", ") {
		def(n)
		dashes := "--"
		if len(n) == 1 {
			dashes = "-"
		}
		parts = append(parts, dashes+n+shown)
	}
	d.lines = append(d.lines, [2]string{strings.Join(parts, ", "), usage})
}

func (d *flagDefs) boolFlag(p *bool, names, usage string) {
	d.define(names, "", usage, func(n string) { d.fs.BoolVar(p, n, false, usage) })
}

func (d *flagDefs) intFlag(p *int, names, usage string) {
	d.define(names, " value", usage+" (default: 0)", func(n string) { d.fs.IntVar(p, n, 0, usage) })
}

func (d *flagDefs) stringFlag(p *string, names, usage string) {
	d.define(names, " value", usage, func(n string) { d.fs.StringVar(p, n, "", usage) })
}

// run parses the command's flags, which may come before, between or after
// its arguments, and runs it.
func (c *command) run(r *run, args []string) int {
	var o cmdOptions
	fs := flag.NewFlagSet(c.names[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	defs := &flagDefs{fs: fs}
	if c.flags != nil {
		c.flags(defs, &o)
	}
	// Not in defs: etcdctl's command help does not list it.
	var helpWanted bool
	for _, n := range []string{"help", "h"} {
		fs.BoolVar(&helpWanted, n, false, "show help")
	}
	isFlag := func(name string) bool { return fs.Lookup(name) != nil }
	if err := fs.Parse(reorderArgs(args, isFlag)); err != nil {
		fmt.Fprintf(r.stderr, "Incorrect Usage: %v\n\n", err)
		io.WriteString(r.stdout, c.help(defs))
		return exitBadArgs
	}
	if helpWanted {
		io.WriteString(r.stdout, c.help(defs))
		return exitSuccess
	}
	return c.action(r, &o, fs.Args())
}

// help is the command's help text, laid out as etcdctl's.
func (c *command) help(defs *flagDefs) string {
	var b strings.Builder
	fmt.Fprintf(&b, "NAME:\n   etcdctl %s - %s\n\nUSAGE:\n   etcdctl %s [command options] %s\n", c.names[0], c.description, c.names[0], c.usage)
	if len(defs.lines) > 0 {
		width := 0
		for _, l := range defs.lines {
			width = max(width, len(l[0]))
		}
		b.WriteString("\nOPTIONS:\n")
		for _, l := range defs.lines {
			fmt.Fprintf(&b, "   %-*s  %s\n", width, l[0], l[1])
		}
		b.WriteString("   \n")
	}
	return b.String()
}

func help(r *run, _ *cmdOptions, args []string) int {
	if len(args) == 0 {
		io.WriteString(r.stdout, globalHelp)
		return exitSuccess
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(r.stderr, "No help topic for '%s'\n", args[0])
		return exitBadFeature
	}
	return c.run(r, []string{"--help"})
}

var (
	errKeyRequired   = errors.New("key required")
	errValueRequired = errors.New("value required")
)

// argOrStdin returns args[i], or else all of stdin, as etcdctl does for a
// missing value; empty stdin means the value is missing.
func (r *run) argOrStdin(args []string, i int) (string, error) {
	if len(args) > i {
		return args[i], nil
	}
	if r.stdin == nil {
		return "", errValueRequired
	}
	b, err := io.ReadAll(r.stdin)
	if err != nil || len(b) == 0 {
		return "", errValueRequired
	}
	return string(b), nil
}

func ttlOf(o *cmdOptions) time.Duration { return time.Duration(o.ttl) * time.Second }

// keysCommand is the common frame of the keys commands: the key must be
// given, the client is synced, the request is bounded by --total-timeout,
// and an error answer is reported with status 4.
func keysCommand(r *run, args []string, do func(c *client.Client, key string) (*client.Response, error)) (*client.Response, int) {
	if len(args) == 0 {
		return nil, r.fail(exitBadArgs, errKeyRequired)
	}
	c, code := r.newClient(true)
	if c == nil {
		return nil, code
	}
	defer c.Close()
	resp, err := do(c, args[0])
	if err != nil {
		return nil, r.fail(exitServerError, err)
	}
	return resp, exitSuccess
}

func set(r *run, o *cmdOptions, args []string) int {
	return writeValue(r, o, args, client.SetOptions{
		TTL: ttlOf(o), PrevValue: o.swapWithValue, PrevIndex: uint64(max(o.swapWithIndex, 0)),
	})
}

func update(r *run, o *cmdOptions, args []string) int {
	return writeValue(r, o, args, client.SetOptions{TTL: ttlOf(o), PrevExist: client.MustExist})
}

func mk(r *run, o *cmdOptions, args []string) int {
	if o.inOrder {
		if len(args) == 0 {
			return r.fail(exitBadArgs, errKeyRequired)
		}
		value, err := r.argOrStdin(args, 1)
		if err != nil {
			return r.fail(exitBadArgs, err)
		}
		resp, code := keysCommand(r, args, func(c *client.Client, key string) (*client.Response, error) {
			ctx, cancel := r.requestContext()
			defer cancel()
			return c.CreateInOrder(ctx, key, value, ttlOf(o))
		})
		if resp != nil {
			r.printResponse(resp)
		}
		return code
	}
	return writeValue(r, o, args, client.SetOptions{TTL: ttlOf(o), PrevExist: client.MustNotExist})
}

// writeValue is set, update and mk: they print the response in any
// output format.
func writeValue(r *run, _ *cmdOptions, args []string, opts client.SetOptions) int {
	if len(args) == 0 {
		return r.fail(exitBadArgs, errKeyRequired)
	}
	value, err := r.argOrStdin(args, 1)
	if err != nil {
		return r.fail(exitBadArgs, err)
	}
	resp, code := keysCommand(r, args, func(c *client.Client, key string) (*client.Response, error) {
		ctx, cancel := r.requestContext()
		defer cancel()
		return c.Set(ctx, key, value, opts)
	})
	if resp != nil {
		r.printResponse(resp)
	}
	return code
}

// dirAction is mkdir, setdir and updatedir, which differ in the existence
// precondition; they print nothing in simple output.
func dirAction(exist client.Existence) func(r *run, o *cmdOptions, args []string) int {
	return func(r *run, o *cmdOptions, args []string) int {
		resp, code := keysCommand(r, args, func(c *client.Client, key string) (*client.Response, error) {
			ctx, cancel := r.requestContext()
			defer cancel()
			return c.Set(ctx, key, "", client.SetOptions{Dir: true, TTL: ttlOf(o), PrevExist: exist})
		})
		if resp != nil && r.g.output != outputSimple {
			r.printResponse(resp)
		}
		return code
	}
}

func rm(r *run, o *cmdOptions, args []string) int {
	return remove(r, args, client.DeleteOptions{
		Dir: o.dir, Recursive: o.recursive, PrevValue: o.withValue, PrevIndex: uint64(max(o.withIndex, 0)),
	})
}

func rmdir(r *run, _ *cmdOptions, args []string) int {
	return remove(r, args, client.DeleteOptions{Dir: true})
}

// remove is rm and rmdir: a removed directory prints nothing in simple
// output.
func remove(r *run, args []string, opts client.DeleteOptions) int {
	resp, code := keysCommand(r, args, func(c *client.Client, key string) (*client.Response, error) {
		ctx, cancel := r.requestContext()
		defer cancel()
		return c.Delete(ctx, key, opts)
	})
	if resp != nil && (resp.Node == nil || !resp.Node.Dir || r.g.output != outputSimple) {
		r.printResponse(resp)
	}
	return code
}

func get(r *run, o *cmdOptions, args []string) int {
	resp, code := keysCommand(r, args, func(c *client.Client, key string) (*client.Response, error) {
		ctx, cancel := r.requestContext()
		defer cancel()
		return c.Get(ctx, key, client.GetOptions{Sorted: o.sort, Quorum: o.quorum})
	})
	if resp == nil {
		return code
	}
	if resp.Node != nil && resp.Node.Dir {
		fmt.Fprintf(r.stderr, "%s: is a directory\n", resp.Node.Key)
		return exitBadArgs
	}
	r.printResponse(resp)
	return exitSuccess
}

func ls(r *run, o *cmdOptions, args []string) int {
	if len(args) == 0 {
		args = []string{"/"}
	}
	resp, code := keysCommand(r, args, func(c *client.Client, key string) (*client.Response, error) {
		ctx, cancel := r.requestContext()
		defer cancel()
		return c.Get(ctx, key, client.GetOptions{Sorted: o.sort, Recursive: o.recursive, Quorum: o.quorum})
	})
	if resp == nil {
		return code
	}
	if r.g.output != outputSimple || resp.Node == nil {
		r.printResponse(resp)
		return exitSuccess
	}
	io.WriteString(r.stdout, formatList(resp.Node, o.slashDirs))
	return exitSuccess
}

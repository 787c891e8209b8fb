package ctl

import "strings"

// reorderArgs moves a command's own flags (and the value that may follow
// each) in front of its other arguments, as the CLI library behind
// etcdctl 3.4 does before it parses a command's flags, so that
// "set /foo baz --ttl 5" works like "set --ttl 5 /foo baz".
//
// The quirks are kept on purpose because scripts depend on them:
//
//   - Only arguments naming a flag of the command move; anything else
//     starting with '-' stays in place (so "set /k -v" sets the value "-v").
//   - A flag without "=" takes the next argument along whenever that
//     argument is not itself a flag of the command, even for boolean flags
//     (flag parsing then stops there, which keeps it a positional argument)
//     and even when it is "--".
//   - A "--" that is not taken as a value ends the reordering and is moved
//     in front of the other positional arguments, where flag parsing drops
//     it. That is why "exec-watch /k -- cmd" sees no "--" at all.
func reorderArgs(args []string, isFlag func(name string) bool) []string {
	var flags, rest []string
	takesValue := false
	for i, arg := range args {
		switch {
		case takesValue && !argIsFlag(arg, isFlag):
			takesValue = false
			flags = append(flags, arg)
		case arg == "--":
			rest = append([]string{"--"}, rest...)
			rest = append(rest, args[i+1:]...)
			return append(flags, rest...)
		case argIsFlag(arg, isFlag):
			flags = append(flags, arg)
			takesValue = !strings.Contains(arg, "=")
		default:
			rest = append(rest, arg)
		}
	}
	return append(flags, rest...)
}

// argIsFlag reports whether arg ("-x", "--name", "--name=value") names a
// flag for which isFlag is true.
func argIsFlag(arg string, isFlag func(name string) bool) bool {
	if arg == "-" || arg == "--" || !strings.HasPrefix(arg, "-") {
		return false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name != "" && isFlag(name)
}

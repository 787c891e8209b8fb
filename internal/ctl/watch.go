package ctl

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"

	"hecd/internal/client"
)

// watchLoop calls event for every change of key after afterIndex until
// event returns false. Directory events are passed on too; the callers
// skip them as etcdctl does. The end of the run's context (an interrupt)
// ends the loop with status 0, etcdctl's status on SIGINT.
func watchLoop(r *run, key string, afterIndex uint64, recursive bool, event func(*client.Response) bool) int {
	c, code := r.newClient(true)
	if c == nil {
		return code
	}
	defer c.Close()
	opts := client.WatchOptions{AfterIndex: afterIndex, Recursive: recursive}
	for {
		resp, err := c.Watch(r.ctx, key, opts)
		if err != nil {
			if r.ctx.Err() != nil {
				return exitSuccess
			}
			return r.fail(exitServerError, err)
		}
		if resp.Node != nil {
			opts.AfterIndex = resp.Node.ModifiedIndex
		}
		if !event(resp) {
			return exitSuccess
		}
	}
}

func watch(r *run, o *cmdOptions, args []string) int {
	if len(args) == 0 {
		return r.fail(exitBadArgs, errKeyRequired)
	}
	return watchLoop(r, args[0], uint64(max(o.afterIndex, 0)), o.recursive, func(resp *client.Response) bool {
		if resp.Node == nil || resp.Node.Dir {
			return true
		}
		if o.recursive {
			fmt.Fprintf(r.stdout, "[%s] %s\n", resp.Action, resp.Node.Key)
		}
		r.printResponse(resp)
		return o.forever
	})
}

// execWatch runs a command for every change. The command line is found
// as etcdctl finds it: "KEY -- CMD ARGS..." when the "--" survived flag
// parsing, which it does only when a flag came before the key; otherwise
// the "--" is gone and etcdctl takes the last argument as the key and the
// ones before as the command (so "exec-watch /k -- cmd" watches the key
// "cmd"). Scripts rely on the first form; the second is kept for fidelity.
//
// Unlike etcdctl, which starts the commands concurrently, each command
// runs to its end before the next event is handled, so that their outputs
// come in the order of the events; no event is lost meanwhile since the
// watch resumes after the last index handled.
func execWatch(r *run, o *cmdOptions, args []string) int {
	key, cmdArgs := splitExecArgs(args)
	if len(cmdArgs) == 0 {
		return r.fail(exitBadArgs, errors.New("key and command to exec required"))
	}
	code := exitSuccess
	status := watchLoop(r, key, uint64(max(o.afterIndex, 0)), o.recursive, func(resp *client.Response) bool {
		if resp.Node == nil {
			return true
		}
		if resp.Node.Dir {
			fmt.Fprintf(r.stderr, "Ignored dir %s change\n", resp.Node.Key)
			return true
		}
		cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
		cmd.Env = append(append([]string(nil), r.environ...),
			"ETCD_WATCH_ACTION="+resp.Action,
			"ETCD_WATCH_MODIFIED_INDEX="+strconv.FormatUint(resp.Node.ModifiedIndex, 10),
			"ETCD_WATCH_KEY="+resp.Node.Key,
			"ETCD_WATCH_VALUE="+resp.Node.Value,
		)
		cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
		if err := cmd.Start(); err != nil {
			// etcdctl prints the error without a newline and exits 1.
			fmt.Fprint(r.stderr, err.Error())
			code = exitBadArgs
			return false
		}
		// The command's own exit status does not matter, as in etcdctl.
		_ = cmd.Wait()
		return true
	})
	if code != exitSuccess {
		return code
	}
	return status
}

// splitExecArgs finds exec-watch's key and command in its arguments (see
// execWatch). Fewer than two arguments give no command.
func splitExecArgs(args []string) (key string, cmdArgs []string) {
	if len(args) < 2 {
		return "", nil
	}
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			return args[0], args[i+1:]
		}
	}
	return args[len(args)-1], args[:len(args)-1]
}

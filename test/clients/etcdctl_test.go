package clients

// TestEtcdctl runs Debian's real etcdctl (ETCDCTL_API=2) against hecd started
// as a separate process and, side by side, against a real etcd 3.4 started
// with the shared spec's etcd-reference.sh. Both servers get the same list of
// commands from a fresh start, so indexes must agree; every output is checked
// exactly against the expectations below (which follow the shared spec's
// etcd-v2-golden/etcdctl.txt), and the two servers' outputs are also compared
// with each other after the member id, the URLs and the member name have been
// replaced by placeholders.
//
// A third run does the same with hecd's own "hecd ctl", called through a
// symlink named etcdctl, against another fresh hecd: it must meet the same
// expectations and print exactly what the real etcdctl printed.
//
// In -short mode the reference etcd is not started.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// ctlStep is one etcdctl invocation.
//
// Expected texts may contain {ID} (member id), {URL} (client URL), {PEER}
// (peer URL) and {NAME} (member name).
type ctlStep struct {
	name   string
	args   []string // after "--endpoints URL"
	stdout string
	stderr string
	exit   int

	// Watch steps: the command runs in the background; once the server
	// reports one more pending watcher, the commands in then run one by one
	// (each must exit 0). Without kill the background command must then end
	// by itself; with kill it runs until its stdout equals the expectation
	// (or a time limit) and is then killed, and its exit status is not checked.
	then [][]string
	kill bool
}

func ctl(args ...string) []string { return args }

var etcdctlSteps = []ctlStep{
	// set / get / mk / update. A fresh server is at index 3.
	{name: "set", args: ctl("set", "/foo", "bar"), stdout: "bar\n"}, // 4
	{name: "get", args: ctl("get", "/foo"), stdout: "bar\n"},        //
	{name: "get -o extended", args: ctl("-o", "extended", "get", "/foo"), stdout: "Key: /foo\nCreated-Index: 4\nModified-Index: 4\nTTL: 0\nIndex: 4\n\nbar\n"},
	{name: "get -o json", args: ctl("-o", "json", "get", "/foo"), stdout: `{"action":"get","node":{"key":"/foo","value":"bar","nodes":null,"createdIndex":4,"modifiedIndex":4},"prevNode":null}` + "\n"},
	{name: "get missing", args: ctl("get", "/x"), stderr: "Error:  100: Key not found (/x) [4]\n", exit: 4},
	{name: "get missing -o json", args: ctl("-o", "json", "get", "/nope"), stderr: "Error:  100: Key not found (/nope) [4]\n", exit: 4},
	{name: "set --swap-with-value ok", args: ctl("set", "/foo", "baz", "--swap-with-value", "bar"), stdout: "baz\n"}, // 5
	{name: "set --swap-with-value fails", args: ctl("set", "/foo", "qux", "--swap-with-value", "bar"), stderr: "Error:  101: Compare failed ([bar != baz]) [5]\n", exit: 4},
	{name: "set --swap-with-index fails", args: ctl("set", "/foo", "qux", "--swap-with-index", "1"), stderr: "Error:  101: Compare failed ([1 != 5]) [5]\n", exit: 4},
	{name: "mk", args: ctl("mk", "/new", "v1"), stdout: "v1\n"}, // 6
	{name: "mk existing", args: ctl("mk", "/new", "v2"), stderr: "Error:  105: Key already exists (/new) [6]\n", exit: 4},
	{name: "mk --in-order 1", args: ctl("mk", "--in-order", "/queue", "job1"), stdout: "job1\n"}, // 7
	{name: "mk --in-order 2", args: ctl("mk", "--in-order", "/queue", "job2"), stdout: "job2\n"}, // 8
	{name: "update", args: ctl("update", "/new", "v3"), stdout: "v3\n"},                          // 9
	{name: "update missing", args: ctl("update", "/missing", "v"), stderr: "Error:  100: Key not found (/missing) [9]\n", exit: 4},
	{name: "update -o extended", args: ctl("-o", "extended", "update", "/new", "v4"), // 10
		stdout: "Key: /new\nCreated-Index: 6\nModified-Index: 10\nPrevNode.Value: v3\nTTL: 0\nIndex: 10\n\nv4\n"},
	{name: "get --quorum", args: ctl("get", "--quorum", "/new"), stdout: "v4\n"},
	{name: "set multi-line", args: ctl("set", "/multi", "two words\nsecond line"), stdout: "two words\nsecond line\n"}, // 11
	{name: "get multi-line", args: ctl("get", "/multi"), stdout: "two words\nsecond line\n"},

	// Directories.
	{name: "mkdir", args: ctl("mkdir", "/dir")}, // 12
	{name: "mkdir existing", args: ctl("mkdir", "/dir"), stderr: "Error:  105: Key already exists (/dir) [12]\n", exit: 4},
	{name: "get a directory", args: ctl("get", "/dir"), stderr: "/dir: is a directory\n", exit: 1},
	{name: "setdir", args: ctl("setdir", "/dir2")}, // 13
	{name: "setdir existing", args: ctl("setdir", "/dir2"), stderr: "Error:  102: Not a file (/dir2) [13]\n", exit: 4},
	{name: "updatedir --ttl", args: ctl("updatedir", "/dir2", "--ttl", "100")}, // 14
	{name: "updatedir missing", args: ctl("updatedir", "/nodir", "--ttl", "100"), stderr: "Error:  100: Key not found (/nodir) [14]\n", exit: 4},
	{name: "mkdir --ttl", args: ctl("mkdir", "/dir3", "--ttl", "100")},           // 15
	{name: "set /dir/a", args: ctl("set", "/dir/a", "1"), stdout: "1\n"},         // 16
	{name: "set /dir/sub/b", args: ctl("set", "/dir/sub/b", "2"), stdout: "2\n"}, // 17
	{name: "set hidden", args: ctl("set", "/dir/_hidden", "h"), stdout: "h\n"},   // 18
	{name: "get hidden", args: ctl("get", "/dir/_hidden"), stdout: "h\n"},        //
	{name: "ls --sort", args: ctl("ls", "--sort"), stdout: "/dir\n/dir2\n/dir3\n/foo\n/multi\n/new\n/queue\n"},
	{name: "ls --sort /dir", args: ctl("ls", "--sort", "/dir"), stdout: "/dir/a\n/dir/sub\n"},
	{name: "ls -r -p --sort", args: ctl("ls", "-r", "-p", "--sort"),
		stdout: "/dir/\n/dir/a\n/dir/sub/\n/dir/sub/b\n/dir2/\n/dir3/\n/foo\n/multi\n/new\n/queue/\n/queue/00000000000000000007\n/queue/00000000000000000008\n"},
	{name: "ls -r -p --sort /dir", args: ctl("ls", "-r", "-p", "--sort", "/dir"), stdout: "/dir/a\n/dir/sub/\n/dir/sub/b\n"},
	{name: "ls a file", args: ctl("ls", "/foo"), stdout: "/foo\n"},
	{name: "ls -o json --sort /dir", args: ctl("-o", "json", "ls", "--sort", "/dir"),
		stdout: `{"action":"get","node":{"key":"/dir","dir":true,"value":"","nodes":[{"key":"/dir/a","value":"1","nodes":null,"createdIndex":16,"modifiedIndex":16},{"key":"/dir/sub","dir":true,"value":"","nodes":null,"createdIndex":17,"modifiedIndex":17}],"createdIndex":12,"modifiedIndex":12},"prevNode":null}` + "\n"},
	{name: "ls missing", args: ctl("ls", "/nodir"), stderr: "Error:  100: Key not found (/nodir) [18]\n", exit: 4},

	// Removal.
	{name: "rm", args: ctl("rm", "/foo"), stdout: "PrevNode.Value: baz\n"}, // 19
	{name: "rm a directory", args: ctl("rm", "/dir"), stderr: "Error:  102: Not a file (/dir) [19]\n", exit: 4},
	{name: "rmdir non-empty", args: ctl("rmdir", "/dir"), stderr: "Error:  108: Directory not empty (/dir) [19]\n", exit: 4},
	{name: "rm --dir non-empty", args: ctl("rm", "--dir", "/dir"), stderr: "Error:  108: Directory not empty (/dir) [19]\n", exit: 4},
	{name: "rm -r", args: ctl("rm", "-r", "/dir")}, // 20
	{name: "get removed child", args: ctl("get", "/dir/sub/b"), stderr: "Error:  100: Key not found (/dir) [20]\n", exit: 4},
	{name: "rmdir empty", args: ctl("rmdir", "/dir2")}, // 21
	{name: "rmdir missing", args: ctl("rmdir", "/dir2"), stderr: "Error:  100: Key not found (/dir2) [21]\n", exit: 4},
	{name: "set /f", args: ctl("set", "/f", "fv"), stdout: "fv\n"},                               // 22
	{name: "rm --dir on a file", args: ctl("rm", "--dir", "/f"), stdout: "PrevNode.Value: fv\n"}, // 23
	{name: "rm --with-value fails", args: ctl("rm", "/new", "--with-value", "nope"), stderr: "Error:  101: Compare failed ([nope != v4]) [23]\n", exit: 4},
	{name: "rm --with-index fails", args: ctl("rm", "/new", "--with-index", "1"), stderr: "Error:  101: Compare failed ([1 != 10]) [23]\n", exit: 4},
	{name: "rm --with-value ok", args: ctl("rm", "/new", "--with-value", "v4"), stdout: "\n"}, // 24
	{name: "rm -o extended", args: ctl("-o", "extended", "rm", "/multi"), // 25
		stdout: "Key: /multi\nCreated-Index: 11\nModified-Index: 25\nPrevNode.Value: two words\nsecond line\nTTL: 0\nIndex: 25\n"},
	{name: "rmdir in-order dir", args: ctl("rmdir", "/queue"), stderr: "Error:  108: Directory not empty (/queue) [25]\n", exit: 4},
	{name: "rm -r in-order dir", args: ctl("rm", "-r", "/queue")}, // 26
	{name: "ls after removals", args: ctl("ls", "--sort"), stdout: "/dir3\n"},

	// Watch.
	{name: "watch", args: ctl("watch", "/wkey"), then: [][]string{{"set", "/wkey", "first"}}, stdout: "first\n"}, // 27
	{name: "watch -o extended", args: ctl("-o", "extended", "watch", "/wkey"), then: [][]string{{"set", "/wkey", "second"}}, // 28
		stdout: "Key: /wkey\nCreated-Index: 28\nModified-Index: 28\nPrevNode.Value: first\nTTL: 0\nIndex: 27\n\nsecond\n"},
	{name: "watch -r", args: ctl("watch", "-r", "/wdir"), then: [][]string{{"set", "/wdir/x", "xval"}}, stdout: "[set] /wdir/x\nxval\n"},                  // 29
	{name: "watch -r delete", args: ctl("watch", "-r", "/wdir"), then: [][]string{{"rm", "/wdir/x"}}, stdout: "[delete] /wdir/x\nPrevNode.Value: xval\n"}, // 30
	{name: "watch --after-index", args: ctl("watch", "--after-index", "1", "/wkey"), stdout: "first\n"},
	{name: "watch --forever", args: ctl("watch", "--forever", "/wkey"), kill: true, // 31, 32
		then: [][]string{{"set", "/wkey", "third"}, {"set", "/wkey", "fourth"}}, stdout: "third\nfourth\n"},
	{name: "exec-watch", kill: true, // 33, 34
		args:   ctl("exec-watch", "--recursive", "/wkey", "--", "sh", "-c", `echo "ACTION=$ETCD_WATCH_ACTION KEY=$ETCD_WATCH_KEY VALUE=$ETCD_WATCH_VALUE MI=$ETCD_WATCH_MODIFIED_INDEX"`),
		then:   [][]string{{"set", "/wkey", "fifth"}, {"rm", "/wkey"}},
		stdout: "ACTION=set KEY=/wkey VALUE=fifth MI=33\nACTION=delete KEY=/wkey VALUE= MI=34\n"},

	// Cluster.
	{name: "member list", args: ctl("member", "list"), stdout: "{ID}: name={NAME} peerURLs={PEER} clientURLs={URL} isLeader=true\n"},
	{name: "cluster-health", args: ctl("cluster-health"), stdout: "member {ID} is healthy: got healthy result from {URL}\ncluster is healthy\n"},
	{name: "member remove unknown", args: ctl("member", "remove", "1234"), stderr: "Couldn't find a member in the cluster with an ID of 1234.\n", exit: 1},
}

// ctlResult is what one step printed.
type ctlResult struct {
	stdout, stderr string
	exit           int
}

func (r ctlResult) String() string {
	return fmt.Sprintf("[stdout]\n%s[stderr]\n%s[exit %d]", r.stdout, r.stderr, r.exit)
}

// expand fills in the placeholders of an expected text for server s.
func (s *server) expand(text string) string {
	return strings.NewReplacer("{ID}", s.ID, "{URL}", s.URL, "{PEER}", s.PeerURL, "{NAME}", s.Name).Replace(text)
}

// normalise replaces the server's own values by the placeholders.
func (s *server) normalise(text string) string {
	return strings.NewReplacer(s.ID, "{ID}", s.URL, "{URL}", s.PeerURL, "{PEER}", "name="+s.Name+" ", "name={NAME} ").Replace(text)
}

// etcdctlCmd runs the etcdctl binary bin ("etcdctl": the installed one).
func etcdctlCmd(ctx context.Context, bin string, s *server, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoints", s.URL}, args...)...)
	cmd.Env = append(hecdproc.Env(), "ETCDCTL_API=2")
	return cmd
}

// runCtl runs one foreground etcdctl command.
func runCtl(t *testing.T, bin string, s *server, args []string) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := etcdctlCmd(ctx, bin, s, args)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("etcdctl %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Errorf("etcdctl %q: timed out", args)
	}
	return ctlResult{out.String(), errb.String(), hecdproc.ExitCode(err)}
}

// runWatchStep runs a background watch step.
func runWatchStep(t *testing.T, bin string, s *server, st ctlStep) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Watchers of earlier steps that were killed may take a moment to go away
	// on the server; start from none so that the new one can be counted.
	if err := hecdproc.WaitWatchers(ctx, s.URL, func(n int) bool { return n == 0 }); err != nil {
		t.Fatalf("%s: %v", st.name, err)
	}
	var out, errb hecdproc.SyncBuffer
	cmd := etcdctlCmd(ctx, bin, s, st.args)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("etcdctl %q: %v", st.args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := hecdproc.WaitWatchers(ctx, s.URL, func(n int) bool { return n >= 1 }); err != nil {
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: %v (stderr %q)", st.name, err, errb.String())
	}
	for _, args := range st.then {
		if r := runCtl(t, bin, s, args); r.exit != 0 {
			t.Fatalf("%s: etcdctl %q: %v", st.name, args, r)
		}
	}
	if st.kill {
		want := s.expand(st.stdout)
		for out.String() != want && ctx.Err() == nil && len(out.String()) <= len(want) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // anything printed after the expectation is an error
		cmd.Process.Kill()
		<-done
		return ctlResult{out.String(), errb.String(), st.exit}
	}
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		err = <-done
		t.Errorf("%s: etcdctl %q did not end after the change", st.name, st.args)
	}
	return ctlResult{out.String(), errb.String(), hecdproc.ExitCode(err)}
}

// runSteps runs all steps with the etcdctl binary bin against s, checks each
// against its expectation and returns the normalised results.
func runSteps(t *testing.T, bin string, s *server) []ctlResult {
	var results []ctlResult
	for _, st := range etcdctlSteps {
		var r ctlResult
		if st.then != nil {
			r = runWatchStep(t, bin, s, st)
		} else {
			r = runCtl(t, bin, s, st.args)
		}
		want := ctlResult{s.expand(st.stdout), s.expand(st.stderr), st.exit}
		if r != want {
			t.Errorf("%s: etcdctl %q against %s:\ngot:\n%v\nwant:\n%v", st.name, st.args, s.Kind, r, want)
		}
		results = append(results, ctlResult{s.normalise(r.stdout), s.normalise(r.stderr), r.exit})
	}
	return results
}

func TestEtcdctl(t *testing.T) {
	if _, err := exec.LookPath("etcdctl"); err != nil {
		t.Fatalf("etcdctl is not installed (Debian: apt-get install etcd-client): %v", err)
	}
	results := map[string][]ctlResult{}
	var mu sync.Mutex
	t.Run("servers", func(t *testing.T) {
		t.Run("hecd", func(t *testing.T) {
			t.Parallel()
			r := runSteps(t, "etcdctl", startHecd(t))
			mu.Lock()
			results["hecd"] = r
			mu.Unlock()
		})
		t.Run("etcd", func(t *testing.T) {
			if testing.Short() {
				t.Skip("reference etcd not started in -short mode")
			}
			t.Parallel()
			r := runSteps(t, "etcdctl", startReference(t))
			mu.Lock()
			results["etcd"] = r
			mu.Unlock()
		})
		t.Run("hecd ctl", func(t *testing.T) {
			t.Parallel()
			bin, err := hecdproc.Binary()
			if err != nil {
				t.Fatal(err)
			}
			// hecd acts as etcdctl when called by that name.
			link := filepath.Join(t.TempDir(), "etcdctl")
			if err := os.Symlink(bin, link); err != nil {
				t.Fatal(err)
			}
			r := runSteps(t, link, startHecd(t))
			mu.Lock()
			results["hecd ctl"] = r
			mu.Unlock()
		})
	})
	h := results["hecd"]
	if len(h) != len(etcdctlSteps) {
		return // stopped early
	}
	for _, other := range []string{"etcd", "hecd ctl"} {
		o := results[other]
		if len(o) != len(etcdctlSteps) {
			continue // stopped early or skipped
		}
		for i, st := range etcdctlSteps {
			if h[i] != o[i] {
				t.Errorf("%s: etcdctl %q: etcdctl against hecd and %s differ (normalised):\nhecd:\n%v\n%s:\n%v", st.name, st.args, other, h[i], other, o[i])
			}
		}
	}
}

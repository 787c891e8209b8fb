// Package seed replays seed documents (the shared directory's seeds/) against
// hecd exactly as written, which means on etcd's default ports: the tests
// re-execute themselves inside a private network namespace (unshare -n).
package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// Environment of the re-executed test binary inside the namespace.
const (
	envInner      = "HECD_SEED_INNER"       // "1" inside the namespace
	envBin        = "HECD_SEED_BIN"         // the binary ./bin/etcd links to
	envScript     = "HECD_SEED_SCRIPT"      // basic-commands.sh
	envOuterNetNS = "HECD_SEED_OUTER_NETNS" // the outer network namespace, which the inner one must differ from
	// HECD_SEED_REFERENCE=1 is a self-check of the expectations: ./bin/etcd
	// then links to the real etcd 3.4 (with --enable-v2=true added, the only
	// way to get its v2 API) instead of hecd.
	envReference = "HECD_SEED_REFERENCE"
)

const base = "http://127.0.0.1:2379"

// upfileContent is the multi-line document stored by the seed's
// "--data-urlencode value@upfile" (curl keeps its newlines; characters that
// need URL encoding check that the value arrives unchanged).
const upfileContent = `<?xml version="1.0"?>
<config name="demo & test">
  <rate>50%</rate>
  <path>/a+b?c=d</path>
</config>
`

// ------------------------------------------------------------------ outer

func TestSeed004(t *testing.T) {
	if os.Getenv(envInner) == "1" {
		inner004(t)
		return
	}

	script, err := filepath.Abs("basic-commands.sh")
	if err != nil {
		t.Fatal(err)
	}
	start, cmds, err := readScript(script)
	if err != nil {
		t.Fatal(err)
	}
	checkVerbatim(t, script, start, cmds)

	for _, tool := range []string{"unshare", "ip", "curl", "jq", "etcdctl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (Debian: util-linux, iproute2, curl, jq, etcd-client): %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "-n", "--", "true").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("unshare -n is not permitted here (%v: %s): this test needs a private network "+
			"namespace so that the seed's commands can use etcd's default ports 2379/2380 without touching "+
			"the host; run it as root (or with CAP_SYS_ADMIN), or use -short to skip it", err, strings.TrimSpace(string(out)))
		if testing.Short() {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}

	var bin string
	if os.Getenv(envReference) == "1" {
		if bin, err = exec.LookPath("etcd"); err != nil {
			t.Fatalf("reference etcd: %v", err)
		}
		bin, _ = filepath.EvalSymlinks(bin)
	} else if bin, err = hecdproc.Binary(); err != nil {
		t.Fatal(err)
	}
	netns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("reading this process's network namespace: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	work := t.TempDir()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "--", os.Args[0],
		"-test.run=^TestSeed004$", "-test.v=true", "-test.count=1", "-test.timeout=75s")
	cmd.Dir = work
	cmd.Env = append(hecdproc.Env(), envInner+"=1", envBin+"="+bin, envScript+"="+script, envOuterNetNS+"="+netns)
	if os.Getenv(envReference) == "1" {
		cmd.Env = append(cmd.Env, envReference+"=1")
	}
	// Own process group, so that a hang can be ended without leftovers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.Log("ns| " + line)
	}
	if ctx.Err() != nil {
		t.Fatalf("the run inside the network namespace timed out")
	}
	if err != nil {
		t.Fatalf("the run inside the network namespace failed: %v (its output is above)", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestSeed004") {
		t.Fatalf("the run inside the network namespace did not report TestSeed004 passing")
	}
}

// readScript returns the start command and the command lines of the seed
// block in basic-commands.sh, in order, as written (indentation included).
func readScript(path string) (start string, cmds []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	startBlock, err := between(string(b), "# ---- begin seed start ----", "# ---- end seed start ----")
	if err != nil {
		return "", nil, err
	}
	if len(startBlock) != 1 {
		return "", nil, fmt.Errorf("%s: the start block must hold one line, has %d", path, len(startBlock))
	}
	block, err := between(string(b), "# ---- begin seed block ----", "# ---- end seed block ----")
	if err != nil {
		return "", nil, err
	}
	for _, l := range block {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			cmds = append(cmds, l)
		}
	}
	return startBlock[0], cmds, nil
}

func between(text, begin, end string) ([]string, error) {
	lines := strings.Split(text, "\n")
	b, e := -1, -1
	for i, l := range lines {
		switch l {
		case begin:
			b = i
		case end:
			e = i
		}
	}
	if b < 0 || e < b {
		return nil, fmt.Errorf("markers %q / %q not found", begin, end)
	}
	return lines[b+1 : e], nil
}

// seedBlocks returns the code block after the line "### 基本命令" and the one
// after "* 启动" of the seed document.
func seedBlocks(doc string) (start, basic []string, err error) {
	block := func(heading string) ([]string, error) {
		lines := strings.Split(doc, "\n")
		for i, l := range lines {
			if strings.TrimSpace(l) != heading {
				continue
			}
			var open = -1
			for j := i + 1; j < len(lines); j++ {
				if strings.HasPrefix(lines[j], "````") {
					if open < 0 {
						open = j
						continue
					}
					return lines[open+1 : j], nil
				}
			}
		}
		return nil, fmt.Errorf("no code block after %q", heading)
	}
	if start, err = block("* 启动"); err != nil {
		return nil, nil, err
	}
	basic, err = block("### 基本命令")
	return start, basic, err
}

// checkVerbatim compares the script's blocks with the seed document's.
func checkVerbatim(t *testing.T, script, start string, cmds []string) {
	t.Helper()
	doc := filepath.Join(sharedDir(t), "seeds", "004_02ff69b5249f83a6.txt")
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatalf("the seed document (to check that the script is verbatim): %v", err)
	}
	seedStart, seedBasic, err := seedBlocks(string(b))
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	if len(seedStart) != 1 || seedStart[0] != start {
		t.Errorf("start command %q differs from the seed's %q", start, seedStart)
	}
	sb, _ := os.ReadFile(script)
	scriptBlock, _ := between(string(sb), "# ---- begin seed block ----", "# ---- end seed block ----")
	var unmarked []string
	for _, l := range scriptBlock {
		unmarked = append(unmarked, strings.TrimPrefix(l, "#~ "))
	}
	if strings.Join(unmarked, "\n") != strings.Join(seedBasic, "\n") {
		t.Errorf("the seed block of %s is not the seed's \"基本命令\" block verbatim:\nscript:\n%s\nseed:\n%s",
			filepath.Base(script), strings.Join(unmarked, "\n"), strings.Join(seedBasic, "\n"))
	}
	if len(cmds) != 20 {
		t.Errorf("%d command lines in the seed block, want 20", len(cmds))
	}
}

// ------------------------------------------------------------------ inner

// v2 JSON answers.
type node struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	Dir           bool    `json:"dir"`
	Nodes         []node  `json:"nodes"`
	CreatedIndex  uint64  `json:"createdIndex"`
	ModifiedIndex uint64  `json:"modifiedIndex"`
	TTL           int64   `json:"ttl"`
	Expiration    *string `json:"expiration"`
}

type answer struct {
	Action    string `json:"action"`
	Node      *node  `json:"node"`
	PrevNode  *node  `json:"prevNode"`
	ErrorCode int    `json:"errorCode"`
	Message   string `json:"message"`
	Cause     string `json:"cause"`
	Index     uint64 `json:"index"`
}

// parse decodes one JSON document; jq is whether it must be jq's
// pretty-printed form (the command ends in "| jq .").
func parse(t *testing.T, what, out string, jq bool) answer {
	t.Helper()
	if jq && !strings.HasPrefix(out, "{\n  \"") {
		t.Errorf("%s: output is not jq's pretty print: %q", what, out)
	}
	if !jq && strings.Contains(strings.TrimRight(out, "\n"), "\n") {
		t.Errorf("%s: raw output spans lines: %q", what, out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var a answer
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("%s: decoding %q: %v", what, out, err)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" {
		t.Errorf("%s: trailing output %q", what, rest)
	}
	return a
}

func str(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

// wantNode checks a node's key, value ("<none>" for none), dir flag and indexes.
func wantNode(t *testing.T, what string, n *node, key, value string, dir bool, created, modified uint64) {
	t.Helper()
	if n == nil {
		t.Errorf("%s: no node, want %s", what, key)
		return
	}
	if n.Key != key || str(n.Value) != value || n.Dir != dir || n.CreatedIndex != created || n.ModifiedIndex != modified {
		t.Errorf("%s: node {key %q value %q dir %v created %d modified %d}, want {%q %q %v %d %d}",
			what, n.Key, str(n.Value), n.Dir, n.CreatedIndex, n.ModifiedIndex, key, value, dir, created, modified)
	}
}

func wantAction(t *testing.T, what string, a answer, action string) {
	t.Helper()
	if a.Action != action || a.ErrorCode != 0 {
		t.Errorf("%s: action %q errorCode %d (%s %s), want action %q", what, a.Action, a.ErrorCode, a.Message, a.Cause, action)
	}
}

func wantError(t *testing.T, what string, a answer, code int, message, cause string, index uint64) {
	t.Helper()
	if a.ErrorCode != code || a.Message != message || a.Cause != cause || a.Index != index || a.Action != "" {
		t.Errorf("%s: %+v, want errorCode %d message %q cause %q index %d", what, a, code, message, cause, index)
	}
}

// shell runs one command line with bash in the working directory.
func shell(ctx context.Context, line string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Env = append(hecdproc.Env(), "ETCDCTL_API=2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

type output struct {
	stdout, stderr string
	exit           int
}

func run(t *testing.T, line string) output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var o, e bytes.Buffer
	cmd := shell(ctx, line)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s: timed out", strings.TrimSpace(line))
	}
	return output{o.String(), e.String(), hecdproc.ExitCode(err)}
}

// step is one command line of the seed block and the check of its output.
type step struct {
	cmd   string // the line as in the seed, without its indentation
	check func(t *testing.T, o output)
	// background: run until the next step has run, then check (the
	// "窗口1" watch).
	background bool
}

func inner004(t *testing.T) {
	// Safety first: never use the default ports outside a private namespace.
	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil || ns == os.Getenv(envOuterNetNS) {
		t.Fatalf("not in a private network namespace (%q, outer %q, %v)", ns, os.Getenv(envOuterNetNS), err)
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	work, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	start, lines, err := readScript(os.Getenv(envScript))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "upfile"), []byte(upfileContent), 0o644); err != nil {
		t.Fatal(err)
	}

	// Start "./bin/etcd -data-dir /tmp/etcd/ -name Test01" with the data
	// directory moved into a temporary directory.
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(os.Getenv(envBin), filepath.Join(work, "bin", "etcd")); err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(start)
	if len(args) != 5 || args[0] != "./bin/etcd" || args[2] != "/tmp/etcd/" {
		t.Fatalf("unexpected start command %q", start)
	}
	args[2] = filepath.Join(t.TempDir(), "etcd") + "/"
	if os.Getenv(envReference) == "1" {
		args = append(args, "--enable-v2=true")
	}
	t.Logf("starting %q (%s -> %s)", args, args[0], os.Getenv(envBin))
	srv := exec.Command(args[0], args[1:]...)
	srv.Dir = work
	var p *hecdproc.Proc
	// Registered before Start's clean-up, so it runs after the server ended.
	t.Cleanup(func() {
		if t.Failed() && p != nil {
			t.Logf("server log:\n%s", hecdproc.Tail(p.Log.String(), 4000))
		}
	})
	p = hecdproc.Start(t, args[0], srv)
	if err := hecdproc.WaitHealthy(context.Background(), base, p.Exited, 30*time.Second); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, hecdproc.Tail(p.Log.String(), 4000))
	}
	// Started with no URL flags, hecd serves clients on 4001 too, as etcd 2
	// did (etcd 3.4 does not: DIFFERENCES.md).
	if os.Getenv(envReference) != "1" {
		if err := hecdproc.WaitHealthy(context.Background(), "http://127.0.0.1:4001", p.Exited, 5*time.Second); err != nil {
			t.Fatalf("default client port 4001: %v", err)
		}
	}

	var ttlSetAt time.Time
	steps := []step{
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/?recursive=true`, check: func(t *testing.T, o output) {
			// The empty root of a fresh store.
			if o.stdout != `{"action":"get","node":{"dir":true}}`+"\n" {
				t.Errorf("got %q", o.stdout)
			}
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message1 -XPUT -d value='hello world' | jq .`, check: func(t *testing.T, o output) {
			a := parse(t, "put message1", o.stdout, true)
			wantAction(t, "put message1", a, "set")
			wantNode(t, "put message1", a.Node, "/message1", "hello world", false, 4, 4)
			if a.PrevNode != nil {
				t.Errorf("prevNode %+v, want none", a.PrevNode)
			}
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message1 | jq .`, check: func(t *testing.T, o output) {
			a := parse(t, "get message1", o.stdout, true)
			wantAction(t, "get message1", a, "get")
			wantNode(t, "get message1", a.Node, "/message1", "hello world", false, 4, 4)
		}},
		{cmd: `etcdctl get message1`, check: func(t *testing.T, o output) {
			if o != (output{"hello world\n", "", 0}) {
				t.Errorf("got %+v, want stdout %q and exit 0", o, "hello world\n")
			}
			if os.Getenv(envReference) == "1" {
				return
			}
			// The same line with hecd's own etcdctl: the binary under the
			// name etcdctl, first on the PATH.
			dir := t.TempDir()
			if err := os.Symlink(os.Getenv(envBin), filepath.Join(dir, "etcdctl")); err != nil {
				t.Fatal(err)
			}
			h := run(t, "PATH="+dir+":$PATH; etcdctl get message1")
			if h != (output{"hello world\n", "", 0}) {
				t.Errorf("with hecd as etcdctl: got %+v, want stdout %q and exit 0", h, "hello world\n")
			}
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message1 -XDELETE`, check: func(t *testing.T, o output) {
			a := parse(t, "delete message1", o.stdout, false)
			wantAction(t, "delete message1", a, "delete")
			wantNode(t, "delete message1", a.Node, "/message1", "<none>", false, 4, 5)
			wantNode(t, "delete message1 prevNode", a.PrevNode, "/message1", "hello world", false, 4, 4)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message2 -XPUT -d value='hello etcd' -d ttl=5 | jq .`, check: func(t *testing.T, o output) {
			ttlSetAt = time.Now()
			a := parse(t, "put message2 ttl", o.stdout, true)
			wantAction(t, "put message2 ttl", a, "set")
			wantNode(t, "put message2 ttl", a.Node, "/message2", "hello etcd", false, 6, 6)
			if a.Node == nil || a.Node.TTL != 5 || a.Node.Expiration == nil {
				t.Fatalf("node %+v, want ttl 5 and an expiration", a.Node)
			}
			exp, err := time.Parse(time.RFC3339Nano, *a.Node.Expiration)
			if d := time.Until(exp); err != nil || d < 3*time.Second || d > 6*time.Second {
				t.Errorf("expiration %q (%v, %v from now), want about 5s from now", *a.Node.Expiration, err, d)
			}

			// The key expires after 5 s: check it is gone 6.5 s after the PUT
			// (the expiry is an event of its own, index 7).
			time.Sleep(time.Until(ttlSetAt.Add(6500 * time.Millisecond)))
			g := parse(t, "get message2 after 6.5s", run(t, `curl -s http://127.0.0.1:2379/v2/keys/message2`).stdout, false)
			wantError(t, "get message2 after 6.5s", g, 100, "Key not found", "/message2", 7)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message2 -XPUT -d value='hello etcd 1' | jq .`, check: func(t *testing.T, o output) {
			a := parse(t, "window 1 put", o.stdout, true)
			wantAction(t, "window 1 put", a, "set")
			wantNode(t, "window 1 put", a.Node, "/message2", "hello etcd 1", false, 8, 8)
			if a.PrevNode != nil {
				t.Errorf("window 1 put: prevNode %+v, want none (the TTL key expired)", a.PrevNode)
			}
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message2?wait=true | jq .`, background: true, check: func(t *testing.T, o output) {
			// Woken by window 2's PUT.
			if o.exit != 0 || o.stderr != "" {
				t.Errorf("watch: exit %d stderr %q", o.exit, o.stderr)
			}
			a := parse(t, "window 1 watch", o.stdout, true)
			wantAction(t, "window 1 watch", a, "set")
			wantNode(t, "window 1 watch", a.Node, "/message2", "hello etcd 2", false, 9, 9)
			wantNode(t, "window 1 watch prevNode", a.PrevNode, "/message2", "hello etcd 1", false, 8, 8)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message2 -XPUT -d value='hello etcd 2' | jq .`, check: func(t *testing.T, o output) {
			a := parse(t, "window 2 put", o.stdout, true)
			wantAction(t, "window 2 put", a, "set")
			wantNode(t, "window 2 put", a.Node, "/message2", "hello etcd 2", false, 9, 9)
			wantNode(t, "window 2 put prevNode", a.PrevNode, "/message2", "hello etcd 1", false, 8, 8)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message3 -XPOST -d value='hello etcd 1'`, check: func(t *testing.T, o output) {
			a := parse(t, "post message3", o.stdout, false)
			wantAction(t, "post message3", a, "create")
			wantNode(t, "post message3", a.Node, "/message3/00000000000000000010", "hello etcd 1", false, 10, 10)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message4 -XPUT -d value='hello etcd 1'`, check: func(t *testing.T, o output) {
			a := parse(t, "put message4", o.stdout, false)
			wantAction(t, "put message4", a, "set")
			wantNode(t, "put message4", a.Node, "/message4", "hello etcd 1", false, 11, 11)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message5 -XPUT -d value='hello etcd 1'`, check: func(t *testing.T, o output) {
			a := parse(t, "put message5", o.stdout, false)
			wantAction(t, "put message5", a, "set")
			wantNode(t, "put message5", a.Node, "/message5", "hello etcd 1", false, 12, 12)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message3 -XPOST -d value='hello etcd 2' | jq .`, check: func(t *testing.T, o output) {
			a := parse(t, "post message3 again", o.stdout, true)
			wantAction(t, "post message3 again", a, "create")
			wantNode(t, "post message3 again", a.Node, "/message3/00000000000000000013", "hello etcd 2", false, 13, 13)
		}},
		{cmd: `curl -s 'http://127.0.0.1:2379/v2/keys/message3?recursive=true&sorted=true'`, check: func(t *testing.T, o output) {
			a := parse(t, "sorted message3", o.stdout, false)
			wantAction(t, "sorted message3", a, "get")
			wantNode(t, "sorted message3", a.Node, "/message3", "<none>", true, 10, 10)
			if a.Node == nil || len(a.Node.Nodes) != 2 {
				t.Fatalf("sorted message3: %+v, want two in-order keys", a.Node)
			}
			wantNode(t, "sorted message3[0]", &a.Node.Nodes[0], "/message3/00000000000000000010", "hello etcd 1", false, 10, 10)
			wantNode(t, "sorted message3[1]", &a.Node.Nodes[1], "/message3/00000000000000000013", "hello etcd 2", false, 13, 13)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message7 -XPUT -d dir=true`, check: func(t *testing.T, o output) {
			a := parse(t, "mkdir message7", o.stdout, false)
			wantAction(t, "mkdir message7", a, "set")
			wantNode(t, "mkdir message7", a.Node, "/message7", "<none>", true, 14, 14)
		}},
		{cmd: `curl -s 'http://127.0.0.1:2379/v2/keys/message7?dir=true' -XDELETE`, check: func(t *testing.T, o output) {
			// In the seed's order the directory is still empty: dir=true suffices.
			a := parse(t, "delete message7 dir=true", o.stdout, false)
			wantAction(t, "delete message7 dir=true", a, "delete")
			wantNode(t, "delete message7 dir=true", a.Node, "/message7", "<none>", true, 14, 15)
			wantNode(t, "delete message7 dir=true prevNode", a.PrevNode, "/message7", "<none>", true, 14, 14)
		}},
		{cmd: `curl -s 'http://127.0.0.1:2379/v2/keys/message7?recursive=true' -XDELETE`, check: func(t *testing.T, o output) {
			// ... so it is gone when the recursive delete comes (re-run below on a non-empty directory).
			a := parse(t, "delete message7 recursive", o.stdout, false)
			wantError(t, "delete message7 recursive", a, 100, "Key not found", "/message7", 15)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/message7/message_key -XPUT -d value='this is a key in directory'`, check: func(t *testing.T, o output) {
			a := parse(t, "put message7/message_key", o.stdout, false)
			wantAction(t, "put message7/message_key", a, "set")
			wantNode(t, "put message7/message_key", a.Node, "/message7/message_key", "this is a key in directory", false, 16, 16)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/_message -XPUT -d value='a hidden key'`, check: func(t *testing.T, o output) {
			a := parse(t, "put _message", o.stdout, false)
			wantAction(t, "put _message", a, "set")
			wantNode(t, "put _message", a.Node, "/_message", "a hidden key", false, 17, 17)
		}},
		{cmd: `curl -s http://127.0.0.1:2379/v2/keys/file -XPUT --data-urlencode value@upfile`, check: func(t *testing.T, o output) {
			a := parse(t, "put file", o.stdout, false)
			wantAction(t, "put file", a, "set")
			wantNode(t, "put file", a.Node, "/file", upfileContent, false, 18, 18)
		}},
	}

	if len(lines) != len(steps) {
		t.Fatalf("%d command lines in the script, %d steps here", len(lines), len(steps))
	}
	for i, st := range steps {
		if strings.TrimSpace(lines[i]) != st.cmd {
			t.Fatalf("command %d of the script is %q, the test expects %q", i+1, strings.TrimSpace(lines[i]), st.cmd)
		}
	}

	for i := 0; i < len(steps); i++ {
		st, line := steps[i], lines[i]
		if !st.background {
			o := run(t, line)
			t.Logf("$%s\n%s", line, o.stdout+o.stderr)
			if o.exit != 0 || (o.stderr != "" && !strings.HasPrefix(st.cmd, "etcdctl")) {
				t.Errorf("%s: exit %d, stderr %q", st.cmd, o.exit, o.stderr)
			}
			st.check(t, o)
			continue
		}
		// 窗口1: the watch waits in the background; 窗口2 (the next line) wakes it.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		var o, e hecdproc.SyncBuffer
		cmd := shell(ctx, line)
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if err := hecdproc.WaitWatchers(ctx, base, func(n int) bool { return n >= 1 }); err != nil {
			cancel()
			<-done
			t.Fatalf("%s: %v", st.cmd, err)
		}
		select {
		case err := <-done:
			t.Errorf("%s ended before the change: %v %q %q", st.cmd, err, o.String(), e.String())
		default:
		}
		next := steps[i+1]
		no := run(t, lines[i+1])
		t.Logf("$%s\n%s", lines[i+1], no.stdout+no.stderr)
		next.check(t, no)
		var werr error
		select {
		case werr = <-done:
		case <-time.After(10 * time.Second):
			cancel()
			werr = <-done
			t.Errorf("%s: still waiting 10s after the change", st.cmd)
		}
		cancel()
		wo := output{o.String(), e.String(), hecdproc.ExitCode(werr)}
		t.Logf("$%s   (window 1)\n%s", line, wo.stdout+wo.stderr)
		st.check(t, wo)
		i++
	}

	// After the seed's commands: the whole key space (the seed's first
	// command again) lists everything but the hidden key.
	a := parse(t, "root at the end", run(t, lines[0]).stdout, false)
	wantAction(t, "root at the end", a, "get")
	if a.Node == nil || !a.Node.Dir || a.Node.Key != "" {
		t.Fatalf("root at the end: node %+v", a.Node)
	}
	var listed []string
	var walk func(ns []node)
	walk = func(ns []node) {
		for _, n := range ns {
			listed = append(listed, fmt.Sprintf("%s=%s@%d", n.Key, str(n.Value), n.ModifiedIndex))
			walk(n.Nodes)
		}
	}
	walk(a.Node.Nodes)
	sort.Strings(listed) // an unsorted listing has no defined order
	want := []string{
		"/file=" + upfileContent + "@18",
		"/message2=hello etcd 2@9",
		"/message3/00000000000000000010=hello etcd 1@10",
		"/message3/00000000000000000013=hello etcd 2@13",
		"/message3=<none>@10",
		"/message4=hello etcd 1@11",
		"/message5=hello etcd 1@12",
		"/message7/message_key=this is a key in directory@16",
		"/message7=<none>@16",
	}
	sort.Strings(want)
	if strings.Join(listed, "\n") != strings.Join(want, "\n") {
		t.Errorf("root at the end lists\n%s\nwant (the hidden /_message not listed)\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}
	h := parse(t, "get _message", run(t, `curl -s http://127.0.0.1:2379/v2/keys/_message`).stdout, false)
	wantNode(t, "get _message (hidden, but readable by name)", h.Node, "/_message", "a hidden key", false, 17, 17)

	// The seed's two directory deletes again, now that message7 holds a key:
	// without recursive=true it fails with 108, with it it succeeds.
	d := parse(t, "delete message7 dir=true again", run(t, lines[15]).stdout, false)
	wantError(t, "delete non-empty message7 with dir=true", d, 108, "Directory not empty", "/message7", 18)
	d = parse(t, "delete message7 recursive again", run(t, lines[16]).stdout, false)
	wantAction(t, "delete message7 recursive again", d, "delete")
	wantNode(t, "delete message7 recursive again", d.Node, "/message7", "<none>", true, 16, 19)
	wantNode(t, "delete message7 recursive again prevNode", d.PrevNode, "/message7", "<none>", true, 16, 16)
	g := parse(t, "get message7/message_key after", run(t, `curl -s http://127.0.0.1:2379/v2/keys/message7/message_key`).stdout, false)
	wantError(t, "get message7/message_key after the recursive delete", g, 100, "Key not found", "/message7", 19)
}

// ------------------------------------------------------------------ helpers

func TestMain(m *testing.M) {
	code := m.Run()
	hecdproc.Cleanup()
	os.Exit(code)
}

// sharedDir is $HECD_SHARED or <repo>/../shared.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, err := hecdproc.SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

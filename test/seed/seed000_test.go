package seed

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"hecd/test/hecdproc"
)

// TestSeed000Store runs the store commands of seed 000 (seed000-store.sh)
// in a private network namespace whose loopback holds the seed's address: several client and peer URLs at once, and one member named
// twice in --initial-cluster with two peer URLs.
func TestSeed000Store(t *testing.T) {
	if testing.Short() {
		t.Skip("needs unshare -n and ip")
	}
	bin, err := hecdproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "--", "bash", "seed000-store.sh")
	cmd.Env = append(hecdproc.Env(), "SEED_HECD_BIN="+bin, "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("output:\n%s", out)
	if err != nil {
		t.Fatalf("seed000-store.sh (needs unshare -n as root): %v", err)
	}
	steps := map[string]string{}
	name := ""
	for _, line := range strings.Split(string(out), "\n") {
		if n, ok := strings.CutPrefix(line, "=== "); ok {
			name = n
			continue
		}
		steps[name] += line + "\n"
	}

	if v := steps["version"]; !strings.Contains(v, "Version") || !strings.Contains(v, "exit 0") {
		t.Errorf("etcd -version: %q", v)
	}
	start := steps["start"]
	for _, want := range []string{
		`health {"health":"true"}`,
		`health4001 {"health":"true"}`,
		"machines http://172.31.19.162:2379, http://172.31.19.162:4001",
		`"name":"default","peerURLs":["http://172.31.19.162:2380","http://172.31.19.162:7001"],"clientURLs":["http://172.31.19.162:2379","http://172.31.19.162:4001"]`,
		"peer 2380 listening",
		"peer 7001 listening",
	} {
		if !strings.Contains(start, want) {
			t.Errorf("after start, missing %q", want)
		}
	}

	type node struct {
		Key, Value                  string
		ModifiedIndex, CreatedIndex uint64
	}
	type answer struct {
		Action    string
		Node      node
		PrevNode  *node
		ErrorCode int
		Cause     string
	}
	parse := func(step string) answer {
		var a answer
		body := strings.TrimSpace(steps[step])
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%s: not JSON: %q", step, body)
		}
		return a
	}
	if a := parse("set"); a.Action != "set" || a.Node.Key != "/app/servers/acdea7a876c8" || a.Node.Value != "54.222.199.254:32769" || a.Node.ModifiedIndex != 4 {
		t.Errorf("set: %+v", a)
	}
	if a := parse("get"); a.Action != "get" || a.Node.Key != "/mykey" || a.Node.Value != "this is awesome" || a.Node.CreatedIndex != 5 {
		t.Errorf("get: %+v", a)
	}
	if a := parse("delete"); a.Action != "delete" || a.Node.Key != "/mykey" || a.Node.ModifiedIndex != 6 || a.Node.CreatedIndex != 5 ||
		a.PrevNode == nil || a.PrevNode.Value != "this is awesome" {
		t.Errorf("delete: %+v", a)
	}
	if a := parse("delete-missing"); a.ErrorCode != 100 || a.Cause != "/app/servers/kTutZ4chFqQlKCdrwQYG3Qxb1461922239" {
		t.Errorf("delete of a missing key: %+v", a)
	}
	if l := steps["list"]; !strings.Contains(l, `"key":"/app/servers/acdea7a876c8","value":"54.222.199.254:32769"`) {
		t.Errorf("listing: %q", l)
	}
}

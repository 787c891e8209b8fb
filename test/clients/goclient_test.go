package clients

// Tests that drive an in-process hecd member with the real etcd v2 Go client
// (go.etcd.io/etcd/client/v2). The expected values follow what etcd 3.4
// answers (see the shared spec's etcd-v2-golden transcripts).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	client "go.etcd.io/etcd/client/v2"

	"hecd/internal/server/servertest"
)

// newKeysAPI starts a fresh in-process member and returns a KeysAPI and
// MembersAPI talking to it, plus its client URL and member name.
//
// Self-check of the expectations: with HECD_GOCLIENT_REFERENCE=1 the tests
// run against a real etcd 3.4 (the shared spec's etcd-reference.sh) instead.
func newKeysAPI(t *testing.T) (client.KeysAPI, client.MembersAPI, string, string) {
	t.Helper()
	var u, name string
	if os.Getenv("HECD_GOCLIENT_REFERENCE") == "1" {
		s := startReference(t)
		u, name = s.URL, s.Name
	} else {
		m := servertest.StartNew(t)
		u, name = m.URL, "test" // servertest.Config names the member "test"
	}
	c, err := client.New(client.Config{
		Endpoints:               []string{u},
		Transport:               client.DefaultTransport,
		HeaderTimeoutPerRequest: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return client.NewKeysAPI(c), client.NewMembersAPI(c), u, name
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantErrCode asserts that err is a client.Error with the given code and,
// when cause is not empty, the given cause. It returns the error.
func wantErrCode(t *testing.T, what string, err error, code int, cause string) client.Error {
	t.Helper()
	var ce client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: want client.Error code %d, got %T %v", what, code, err, err)
	}
	if ce.Code != code {
		t.Fatalf("%s: want error code %d, got %d (%v)", what, code, ce.Code, ce)
	}
	if cause != "" && ce.Cause != cause {
		t.Errorf("%s: want cause %q, got %q", what, cause, ce.Cause)
	}
	return ce
}

func mustOK(t *testing.T, what string, resp *client.Response, err error) *client.Response {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp == nil || resp.Node == nil {
		t.Fatalf("%s: response without node: %+v", what, resp)
	}
	return resp
}

// checkResp compares the interesting fields of a response.
func checkResp(t *testing.T, what string, r *client.Response, action, key, value string) {
	t.Helper()
	if r.Action != action {
		t.Errorf("%s: action = %q, want %q", what, r.Action, action)
	}
	if r.Node.Key != key {
		t.Errorf("%s: node.key = %q, want %q", what, r.Node.Key, key)
	}
	if r.Node.Value != value {
		t.Errorf("%s: node.value = %q, want %q", what, r.Node.Value, value)
	}
	if r.ClusterID == "" {
		t.Errorf("%s: no X-Etcd-Cluster-Id", what)
	}
}

func TestGoClientSetGetCreateUpdate(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	// Set a new key: action set, no prevNode, createdIndex == modifiedIndex == X-Etcd-Index.
	r1 := must(t, "set /foo")(kapi.Set(ctx, "/foo", "bar", nil))
	checkResp(t, "set /foo", r1, "set", "/foo", "bar")
	if r1.PrevNode != nil {
		t.Errorf("set new key: prevNode = %+v, want nil", r1.PrevNode)
	}
	if r1.Node.CreatedIndex != r1.Node.ModifiedIndex || r1.Index != r1.Node.ModifiedIndex {
		t.Errorf("set new key: created %d modified %d X-Etcd-Index %d, want all equal",
			r1.Node.CreatedIndex, r1.Node.ModifiedIndex, r1.Index)
	}
	if r1.Node.CreatedIndex < 3 {
		t.Errorf("first write at index %d; a fresh member starts at index 3 or later", r1.Node.CreatedIndex)
	}

	// Overwrite: action set, prevNode is the old node, new modifiedIndex.
	r2 := must(t, "set /foo again")(kapi.Set(ctx, "/foo", "baz", nil))
	checkResp(t, "set /foo again", r2, "set", "/foo", "baz")
	if r2.PrevNode == nil || r2.PrevNode.Value != "bar" || r2.PrevNode.ModifiedIndex != r1.Node.ModifiedIndex {
		t.Errorf("set /foo again: prevNode = %+v, want value bar index %d", r2.PrevNode, r1.Node.ModifiedIndex)
	}
	if r2.Node.ModifiedIndex != r1.Node.ModifiedIndex+1 {
		t.Errorf("set /foo again: modifiedIndex %d, want %d", r2.Node.ModifiedIndex, r1.Node.ModifiedIndex+1)
	}
	// etcd v2 "set" replaces the node, so createdIndex is the new index too.
	if r2.Node.CreatedIndex != r2.Node.ModifiedIndex {
		t.Errorf("set /foo again: createdIndex %d, want %d", r2.Node.CreatedIndex, r2.Node.ModifiedIndex)
	}

	// Get.
	g := must(t, "get /foo")(kapi.Get(ctx, "/foo", nil))
	checkResp(t, "get /foo", g, "get", "/foo", "baz")
	if g.Node.ModifiedIndex != r2.Node.ModifiedIndex || g.Index != r2.Index {
		t.Errorf("get /foo: modifiedIndex %d X-Etcd-Index %d, want %d/%d", g.Node.ModifiedIndex, g.Index, r2.Node.ModifiedIndex, r2.Index)
	}
	if g.PrevNode != nil {
		t.Errorf("get /foo: prevNode %+v, want nil", g.PrevNode)
	}

	// Get of a missing key: IsKeyNotFound.
	_, err := kapi.Get(ctx, "/missing", nil)
	if !client.IsKeyNotFound(err) {
		t.Fatalf("get /missing: want IsKeyNotFound, got %v", err)
	}
	ce := wantErrCode(t, "get /missing", err, client.ErrorCodeKeyNotFound, "/missing")
	if ce.Message != "Key not found" || ce.Index != r2.Index {
		t.Errorf("get /missing: %+v, want message %q index %d", ce, "Key not found", r2.Index)
	}

	// Create: action create; second create fails with 105.
	c1 := must(t, "create /new")(kapi.Create(ctx, "/new", "v1"))
	checkResp(t, "create /new", c1, "create", "/new", "v1")
	if c1.PrevNode != nil || c1.Node.ModifiedIndex != r2.Node.ModifiedIndex+1 {
		t.Errorf("create /new: prevNode %+v index %d, want nil / %d", c1.PrevNode, c1.Node.ModifiedIndex, r2.Node.ModifiedIndex+1)
	}
	_, err = kapi.Create(ctx, "/new", "v2")
	if client.IsKeyNotFound(err) {
		t.Errorf("second create: IsKeyNotFound is true for %v", err)
	}
	ce = wantErrCode(t, "second create /new", err, client.ErrorCodeNodeExist, "/new")
	if ce.Message != "Key already exists" || ce.Index != c1.Index {
		t.Errorf("second create: %+v, want message %q index %d", ce, "Key already exists", c1.Index)
	}

	// Update: action update, prevNode, createdIndex kept.
	u := must(t, "update /new")(kapi.Update(ctx, "/new", "v3"))
	checkResp(t, "update /new", u, "update", "/new", "v3")
	if u.PrevNode == nil || u.PrevNode.Value != "v1" {
		t.Errorf("update /new: prevNode %+v, want value v1", u.PrevNode)
	}
	if u.Node.CreatedIndex != c1.Node.CreatedIndex || u.Node.ModifiedIndex != c1.Node.ModifiedIndex+1 {
		t.Errorf("update /new: created %d modified %d, want %d/%d", u.Node.CreatedIndex, u.Node.ModifiedIndex, c1.Node.CreatedIndex, c1.Node.ModifiedIndex+1)
	}
	_, err = kapi.Update(ctx, "/nothere", "v")
	if !client.IsKeyNotFound(err) {
		t.Errorf("update /nothere: want IsKeyNotFound, got %v", err)
	}
	wantErrCode(t, "update /nothere", err, client.ErrorCodeKeyNotFound, "/nothere")
}

// must returns a function that checks a (response, error) pair with mustOK,
// so that a call's two results can be passed directly.
func must(t *testing.T, what string) func(*client.Response, error) *client.Response {
	t.Helper()
	return func(r *client.Response, err error) *client.Response {
		t.Helper()
		return mustOK(t, what, r, err)
	}
}

func TestGoClientGetRecursiveSorted(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	for _, kv := range [][2]string{
		{"/dir/zeta", "z"}, {"/dir/alpha", "a"}, {"/dir/mid/deep", "d"},
		{"/dir/beta", "b"}, {"/dir/_hidden", "h"}, {"/dir/mid/_h2", "h2"},
	} {
		must(t, "set "+kv[0])(kapi.Set(ctx, kv[0], kv[1], nil))
	}

	r := must(t, "get /dir recursive sorted")(kapi.Get(ctx, "/dir", &client.GetOptions{Recursive: true, Sort: true}))
	if r.Action != "get" || r.Node.Key != "/dir" || !r.Node.Dir {
		t.Fatalf("get /dir: %+v node %+v", r, r.Node)
	}
	var got []string
	var walk func(ns client.Nodes, depth int)
	walk = func(ns client.Nodes, depth int) {
		for _, n := range ns {
			got = append(got, fmt.Sprintf("%d %s dir=%v %q", depth, n.Key, n.Dir, n.Value))
			walk(n.Nodes, depth+1)
		}
	}
	walk(r.Node.Nodes, 0)
	want := []string{
		`0 /dir/alpha dir=false "a"`,
		`0 /dir/beta dir=false "b"`,
		`0 /dir/mid dir=true ""`,
		`1 /dir/mid/deep dir=false "d"`,
		`0 /dir/zeta dir=false "z"`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recursive sorted listing:\n got %q\nwant %q", got, want)
	}

	// Without Recursive, the subdirectory is listed without its children.
	r = must(t, "get /dir sorted")(kapi.Get(ctx, "/dir", &client.GetOptions{Sort: true}))
	var keys []string
	for _, n := range r.Node.Nodes {
		keys = append(keys, n.Key)
		if n.Key == "/dir/mid" && (!n.Dir || len(n.Nodes) != 0) {
			t.Errorf("non-recursive get: /dir/mid = %+v (nodes %d), want a dir without children", n, len(n.Nodes))
		}
	}
	if fmt.Sprint(keys) != "[/dir/alpha /dir/beta /dir/mid /dir/zeta]" {
		t.Errorf("non-recursive sorted keys = %v", keys)
	}

	// A hidden key is still readable directly.
	h := must(t, "get hidden")(kapi.Get(ctx, "/dir/_hidden", nil))
	checkResp(t, "get hidden", h, "get", "/dir/_hidden", "h")
}

func TestGoClientCompareAndSwap(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	r := must(t, "set /cas")(kapi.Set(ctx, "/cas", "one", nil))
	cur := r // the node as it is now

	tests := []struct {
		name      string
		value     string
		opts      func(cur *client.Response) *client.SetOptions
		wantCode  int                               // 0: success
		wantCause func(cur *client.Response) string // for failures
	}{
		{"prevValue ok", "two",
			func(*client.Response) *client.SetOptions { return &client.SetOptions{PrevValue: "one"} }, 0, nil},
		{"prevValue wrong", "x",
			func(*client.Response) *client.SetOptions { return &client.SetOptions{PrevValue: "nope"} },
			client.ErrorCodeTestFailed, func(*client.Response) string { return "[nope != two]" }},
		{"prevIndex ok", "three",
			func(c *client.Response) *client.SetOptions {
				return &client.SetOptions{PrevIndex: c.Node.ModifiedIndex}
			}, 0, nil},
		{"prevIndex wrong", "x",
			func(*client.Response) *client.SetOptions { return &client.SetOptions{PrevIndex: 1} },
			client.ErrorCodeTestFailed, func(c *client.Response) string {
				return fmt.Sprintf("[1 != %d]", c.Node.ModifiedIndex)
			}},
		{"both ok", "four",
			func(c *client.Response) *client.SetOptions {
				return &client.SetOptions{PrevValue: "three", PrevIndex: c.Node.ModifiedIndex}
			}, 0, nil},
		{"both wrong", "x",
			func(*client.Response) *client.SetOptions { return &client.SetOptions{PrevValue: "nope", PrevIndex: 1} },
			client.ErrorCodeTestFailed, func(c *client.Response) string {
				return fmt.Sprintf("[nope != four] [1 != %d]", c.Node.ModifiedIndex)
			}},
		{"value ok index wrong", "x",
			func(*client.Response) *client.SetOptions { return &client.SetOptions{PrevValue: "four", PrevIndex: 1} },
			client.ErrorCodeTestFailed, func(c *client.Response) string {
				return fmt.Sprintf("[1 != %d]", c.Node.ModifiedIndex)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := kapi.Set(ctx, "/cas", tc.value, tc.opts(cur))
			if tc.wantCode != 0 {
				ce := wantErrCode(t, tc.name, err, tc.wantCode, tc.wantCause(cur))
				if ce.Message != "Compare failed" || ce.Index != cur.Node.ModifiedIndex {
					t.Errorf("error %+v: want message %q index %d", ce, "Compare failed", cur.Node.ModifiedIndex)
				}
				return
			}
			resp = mustOK(t, tc.name, resp, err)
			checkResp(t, tc.name, resp, "compareAndSwap", "/cas", tc.value)
			if resp.PrevNode == nil || resp.PrevNode.Value != cur.Node.Value || resp.PrevNode.ModifiedIndex != cur.Node.ModifiedIndex {
				t.Errorf("prevNode = %+v, want value %q index %d", resp.PrevNode, cur.Node.Value, cur.Node.ModifiedIndex)
			}
			if resp.Node.ModifiedIndex != cur.Node.ModifiedIndex+1 {
				t.Errorf("modifiedIndex %d, want %d", resp.Node.ModifiedIndex, cur.Node.ModifiedIndex+1)
			}
			if resp.Node.CreatedIndex != r.Node.CreatedIndex {
				t.Errorf("createdIndex %d, want unchanged %d", resp.Node.CreatedIndex, r.Node.CreatedIndex)
			}
			cur = resp
		})
	}

	// CompareAndSwap on a missing key: 100.
	_, err := kapi.Set(ctx, "/nocas", "v", &client.SetOptions{PrevValue: "x"})
	wantErrCode(t, "cas on missing key", err, client.ErrorCodeKeyNotFound, "/nocas")
}

func TestGoClientDelete(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	s := must(t, "set /d")(kapi.Set(ctx, "/d", "val", nil))

	// Delete with a wrong PrevValue fails with 101 and leaves the key.
	_, err := kapi.Delete(ctx, "/d", &client.DeleteOptions{PrevValue: "other"})
	wantErrCode(t, "delete prevValue wrong", err, client.ErrorCodeTestFailed, "[other != val]")
	_, err = kapi.Delete(ctx, "/d", &client.DeleteOptions{PrevIndex: 1})
	wantErrCode(t, "delete prevIndex wrong", err, client.ErrorCodeTestFailed, fmt.Sprintf("[1 != %d]", s.Node.ModifiedIndex))
	must(t, "get /d after failed deletes")(kapi.Get(ctx, "/d", nil))

	// Delete with the right PrevValue: compareAndDelete.
	d := must(t, "delete prevValue ok")(kapi.Delete(ctx, "/d", &client.DeleteOptions{PrevValue: "val"}))
	if d.Action != "compareAndDelete" || d.Node.Key != "/d" || d.Node.Value != "" {
		t.Errorf("delete prevValue ok: action %q node %+v value %q", d.Action, d.Node, d.Node.Value)
	}
	if d.PrevNode == nil || d.PrevNode.Value != "val" || d.PrevNode.ModifiedIndex != s.Node.ModifiedIndex {
		t.Errorf("delete prevValue ok: prevNode %+v, want value val", d.PrevNode)
	}
	if d.Node.ModifiedIndex != s.Node.ModifiedIndex+1 || d.Node.CreatedIndex != s.Node.CreatedIndex || d.Index != d.Node.ModifiedIndex {
		t.Errorf("delete: node %+v index %d, want modified %d created %d", d.Node, d.Index, s.Node.ModifiedIndex+1, s.Node.CreatedIndex)
	}
	_, err = kapi.Get(ctx, "/d", nil)
	if !client.IsKeyNotFound(err) {
		t.Errorf("get after delete: want key not found, got %v", err)
	}

	// Plain delete: action delete.
	must(t, "set /d2")(kapi.Set(ctx, "/d2", "x", nil))
	d = must(t, "delete /d2")(kapi.Delete(ctx, "/d2", nil))
	if d.Action != "delete" || d.PrevNode == nil || d.PrevNode.Value != "x" {
		t.Errorf("delete /d2: action %q prevNode %+v", d.Action, d.PrevNode)
	}
	_, err = kapi.Delete(ctx, "/d2", nil)
	wantErrCode(t, "delete missing", err, client.ErrorCodeKeyNotFound, "/d2")

	// Directories.
	must(t, "set /dir/a")(kapi.Set(ctx, "/dir/a", "1", nil))
	must(t, "set /dir/sub/b")(kapi.Set(ctx, "/dir/sub/b", "2", nil))
	_, err = kapi.Delete(ctx, "/dir", nil)
	wantErrCode(t, "delete dir without flags", err, client.ErrorCodeNotFile, "/dir")
	_, err = kapi.Delete(ctx, "/dir", &client.DeleteOptions{Dir: true})
	wantErrCode(t, "delete non-empty dir with dir=true", err, client.ErrorCodeDirNotEmpty, "/dir")
	d = must(t, "delete dir recursive")(kapi.Delete(ctx, "/dir", &client.DeleteOptions{Recursive: true}))
	if d.Action != "delete" || d.Node.Key != "/dir" || !d.Node.Dir {
		t.Errorf("delete dir recursive: action %q node %+v", d.Action, d.Node)
	}
	if d.PrevNode == nil || !d.PrevNode.Dir || d.PrevNode.Key != "/dir" {
		t.Errorf("delete dir recursive: prevNode %+v, want dir /dir", d.PrevNode)
	}
	for _, k := range []string{"/dir", "/dir/a", "/dir/sub/b"} {
		if _, err := kapi.Get(ctx, k, nil); !client.IsKeyNotFound(err) {
			t.Errorf("get %s after recursive delete: want key not found, got %v", k, err)
		}
	}

	// An empty directory goes with Dir alone.
	must(t, "mkdir /empty")(kapi.Set(ctx, "/empty", "", &client.SetOptions{Dir: true}))
	d = must(t, "delete empty dir")(kapi.Delete(ctx, "/empty", &client.DeleteOptions{Dir: true}))
	if d.Action != "delete" || !d.Node.Dir {
		t.Errorf("delete empty dir: action %q node %+v", d.Action, d.Node)
	}
}

func TestGoClientCreateInOrder(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	var prev uint64
	var created []*client.Response
	for i, v := range []string{"job1", "job2", "job3"} {
		r := must(t, "create in order "+v)(kapi.CreateInOrder(ctx, "/queue", v, nil))
		if r.Action != "create" || r.Node.Value != v {
			t.Errorf("in-order %d: action %q value %q", i, r.Action, r.Node.Value)
		}
		wantKey := fmt.Sprintf("/queue/%020d", r.Node.CreatedIndex)
		if r.Node.Key != wantKey {
			t.Errorf("in-order %d: key %q, want %q", i, r.Node.Key, wantKey)
		}
		if r.Node.CreatedIndex <= prev {
			t.Errorf("in-order %d: index %d not increasing after %d", i, r.Node.CreatedIndex, prev)
		}
		prev = r.Node.CreatedIndex
		created = append(created, r)
	}
	// With a TTL.
	rt := must(t, "create in order with ttl")(kapi.CreateInOrder(ctx, "/queue", "job4", &client.CreateInOrderOptions{TTL: 60 * time.Second}))
	if rt.Node.TTL < 59 || rt.Node.TTL > 60 || rt.Node.Expiration == nil {
		t.Errorf("in-order with ttl: ttl %d expiration %v", rt.Node.TTL, rt.Node.Expiration)
	}
	created = append(created, rt)

	g := must(t, "get /queue sorted")(kapi.Get(ctx, "/queue", &client.GetOptions{Sort: true, Recursive: true}))
	if len(g.Node.Nodes) != len(created) {
		t.Fatalf("get /queue: %d nodes, want %d", len(g.Node.Nodes), len(created))
	}
	for i, n := range g.Node.Nodes {
		if n.Key != created[i].Node.Key || n.Value != created[i].Node.Value {
			t.Errorf("queue[%d] = %s %q, want %s %q", i, n.Key, n.Value, created[i].Node.Key, created[i].Node.Value)
		}
	}
	if !sort.IsSorted(g.Node.Nodes) {
		t.Errorf("sorted listing is not sorted")
	}
}

func TestGoClientTTLAndRefresh(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	s := must(t, "set with ttl")(kapi.Set(ctx, "/ttl", "keep", &client.SetOptions{TTL: 100 * time.Second}))
	checkResp(t, "set with ttl", s, "set", "/ttl", "keep")
	if s.Node.TTL < 99 || s.Node.TTL > 100 || s.Node.Expiration == nil {
		t.Fatalf("set with ttl: ttl %d expiration %v", s.Node.TTL, s.Node.Expiration)
	}
	if d := time.Until(*s.Node.Expiration); d < 95*time.Second || d > 105*time.Second {
		t.Errorf("expiration %v is %v away, want about 100s", s.Node.Expiration, d)
	}
	g := must(t, "get ttl key")(kapi.Get(ctx, "/ttl", nil))
	if g.Node.TTL < 99 || g.Node.TTL > 100 || g.Node.Expiration == nil {
		t.Errorf("get ttl key: ttl %d expiration %v", g.Node.TTL, g.Node.Expiration)
	}

	// A watcher started now must not see the refresh, only the later set.
	w := kapi.Watcher("/ttl", &client.WatcherOptions{AfterIndex: s.Index})

	// Refresh with PrevExist: action update, value kept, ttl reset, prevNode shown.
	r := must(t, "refresh")(kapi.Set(ctx, "/ttl", "", &client.SetOptions{TTL: 200 * time.Second, Refresh: true, PrevExist: client.PrevExist}))
	checkResp(t, "refresh", r, "update", "/ttl", "keep")
	if r.Node.TTL < 199 || r.Node.TTL > 200 {
		t.Errorf("refresh: ttl %d, want 200", r.Node.TTL)
	}
	if r.PrevNode == nil || r.PrevNode.Value != "keep" || r.PrevNode.TTL < 99 || r.PrevNode.TTL > 100 {
		t.Errorf("refresh: prevNode %+v, want value keep ttl 100", r.PrevNode)
	}
	if r.Node.CreatedIndex != s.Node.CreatedIndex || r.Node.ModifiedIndex != s.Node.ModifiedIndex+1 {
		t.Errorf("refresh: created %d modified %d, want %d/%d", r.Node.CreatedIndex, r.Node.ModifiedIndex, s.Node.CreatedIndex, s.Node.ModifiedIndex+1)
	}

	// Refresh without PrevExist: action set.
	r2 := must(t, "refresh without prevExist")(kapi.Set(ctx, "/ttl", "", &client.SetOptions{TTL: 300 * time.Second, Refresh: true}))
	checkResp(t, "refresh without prevExist", r2, "set", "/ttl", "keep")
	if r2.Node.TTL < 299 || r2.Node.TTL > 300 {
		t.Errorf("refresh without prevExist: ttl %d, want 300", r2.Node.TTL)
	}

	// Refresh errors.
	_, err := kapi.Set(ctx, "/ttl", "x", &client.SetOptions{TTL: 10 * time.Second, Refresh: true})
	wantErrCode(t, "refresh with value", err, 211, "A value was provided on a refresh")
	_, err = kapi.Set(ctx, "/ttl", "", &client.SetOptions{Refresh: true})
	wantErrCode(t, "refresh without ttl", err, 212, "No TTL value set")
	_, err = kapi.Set(ctx, "/nottl", "", &client.SetOptions{TTL: 10 * time.Second, Refresh: true, PrevExist: client.PrevExist})
	wantErrCode(t, "refresh missing key", err, client.ErrorCodeKeyNotFound, "/nottl")

	// A normal write wakes the watcher; the refreshes were skipped.
	must(t, "set changed")(kapi.Set(ctx, "/ttl", "changed", nil))
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	if ev.Action != "set" || ev.Node.Value != "changed" || ev.Node.TTL != 0 {
		t.Errorf("watch after refreshes: action %q node %+v value %q, want the set to changed", ev.Action, ev.Node, ev.Node.Value)
	}
	if ev.PrevNode == nil || ev.PrevNode.Value != "keep" || ev.PrevNode.TTL == 0 {
		t.Errorf("watch after refreshes: prevNode %+v", ev.PrevNode)
	}

	// A short TTL expires, and a watcher sees an expire event.
	e := must(t, "set short ttl")(kapi.Set(ctx, "/short", "bye", &client.SetOptions{TTL: time.Second}))
	we := kapi.Watcher("/short", &client.WatcherOptions{AfterIndex: e.Index})
	ev, err = we.Next(ctx)
	if err != nil {
		t.Fatalf("watch expire: %v", err)
	}
	if ev.Action != "expire" || ev.Node.Key != "/short" || ev.PrevNode == nil || ev.PrevNode.Value != "bye" {
		t.Errorf("expire event: action %q node %+v prevNode %+v", ev.Action, ev.Node, ev.PrevNode)
	}
	if ev.Node.ModifiedIndex <= e.Node.ModifiedIndex {
		t.Errorf("expire event index %d not after %d", ev.Node.ModifiedIndex, e.Node.ModifiedIndex)
	}
	if _, err := kapi.Get(ctx, "/short", nil); !client.IsKeyNotFound(err) {
		t.Errorf("get expired key: want key not found, got %v", err)
	}
}

func TestGoClientWatcher(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	base := must(t, "set /w/init")(kapi.Set(ctx, "/w/init", "0", nil))
	w := kapi.Watcher("/w", &client.WatcherOptions{AfterIndex: base.Index, Recursive: true})

	type result struct {
		r   *client.Response
		err error
	}
	events := make(chan result, 4)
	go func() {
		for i := 0; i < 3; i++ {
			r, err := w.Next(ctx)
			events <- result{r, err}
			if err != nil {
				return
			}
		}
	}()

	// Give the long poll a moment, then write: a set, a delete, and a
	// change outside the watched directory that must not be reported.
	time.Sleep(100 * time.Millisecond)
	s := must(t, "set /w/a")(kapi.Set(ctx, "/w/a", "x", nil))
	must(t, "set /other")(kapi.Set(ctx, "/other", "y", nil))
	d := must(t, "delete /w/a")(kapi.Delete(ctx, "/w/a", nil))
	u := must(t, "update /w/init")(kapi.Update(ctx, "/w/init", "1"))

	want := []struct {
		action, key, value, prev string
		index                    uint64
	}{
		{"set", "/w/a", "x", "", s.Node.ModifiedIndex},
		{"delete", "/w/a", "", "x", d.Node.ModifiedIndex},
		{"update", "/w/init", "1", "0", u.Node.ModifiedIndex},
	}
	var last uint64
	for i, wv := range want {
		var res result
		select {
		case res = <-events:
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d: timed out", i)
		}
		if res.err != nil {
			t.Fatalf("event %d: %v", i, res.err)
		}
		r := res.r
		if r.Action != wv.action || r.Node.Key != wv.key || r.Node.Value != wv.value || r.Node.ModifiedIndex != wv.index {
			t.Errorf("event %d: %s %s %q @%d, want %s %s %q @%d", i, r.Action, r.Node.Key, r.Node.Value, r.Node.ModifiedIndex,
				wv.action, wv.key, wv.value, wv.index)
		}
		if wv.prev == "" && r.PrevNode != nil {
			t.Errorf("event %d: prevNode %+v, want none", i, r.PrevNode)
		}
		if wv.prev != "" && (r.PrevNode == nil || r.PrevNode.Value != wv.prev) {
			t.Errorf("event %d: prevNode %+v, want value %q", i, r.PrevNode, wv.prev)
		}
		if r.Node.ModifiedIndex <= last {
			t.Errorf("event %d: index %d not increasing (after %d)", i, r.Node.ModifiedIndex, last)
		}
		last = r.Node.ModifiedIndex
	}

	// A non-recursive watcher on a key, from a past index, gets the history
	// event at once.
	w2 := kapi.Watcher("/w/a", &client.WatcherOptions{AfterIndex: base.Index})
	r, err := w2.Next(ctx)
	if err != nil {
		t.Fatalf("history watch: %v", err)
	}
	if r.Action != "set" || r.Node.ModifiedIndex != s.Node.ModifiedIndex {
		t.Errorf("history watch: %s @%d, want set @%d", r.Action, r.Node.ModifiedIndex, s.Node.ModifiedIndex)
	}
	r, err = w2.Next(ctx)
	if err != nil {
		t.Fatalf("history watch 2: %v", err)
	}
	if r.Action != "delete" || r.Node.ModifiedIndex != d.Node.ModifiedIndex {
		t.Errorf("history watch 2: %s @%d, want delete @%d", r.Action, r.Node.ModifiedIndex, d.Node.ModifiedIndex)
	}

	// A cancelled context ends Next with the context's error.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = kapi.Watcher("/quiet", nil).Next(cctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("watch with a deadline: want context.DeadlineExceeded, got %v", err)
	}
}

func TestGoClientWatchIndexCleared(t *testing.T) {
	kapi, _, base, _ := newKeysAPI(t)
	ctx := ctxT(t)

	// More than 1000 writes push the early events out of the history window.
	const writes = 1010
	var n atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > writes {
					return
				}
				if _, err := kapi.Set(ctx, "/flood", fmt.Sprint(i), nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("flood write: %v", err)
	}
	g := must(t, "get /flood")(kapi.Get(ctx, "/flood", nil))
	cur := g.Index
	if cur < writes+3 {
		t.Fatalf("index after %d writes is %d", writes, cur)
	}

	// The client sends waitIndex = AfterIndex+1; AfterIndex 1 asks for index 2
	// (AfterIndex 0 would mean "from now").
	_, err := kapi.Watcher("/flood", &client.WatcherOptions{AfterIndex: 1}).Next(ctx)
	oldest := cur - 999
	ce := wantErrCode(t, "watch from index 2", err, client.ErrorCodeEventIndexCleared,
		fmt.Sprintf("the requested history has been cleared [%d/2]", oldest))
	if ce.Message != "The event in requested index is outdated and cleared" || ce.Index != cur {
		t.Errorf("index cleared error: %+v, want message about outdated events, index %d", ce, cur)
	}

	// The client cannot ask for waitIndex=1 itself (AfterIndex 0 means "from
	// now"), so send that request by hand and decode it as the client does.
	resp, err := http.Get(base + "/v2/keys/flood?wait=true&waitIndex=1")
	if err != nil {
		t.Fatal(err)
	}
	var raw client.Error
	err = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusBadRequest || raw.Code != client.ErrorCodeEventIndexCleared ||
		raw.Cause != fmt.Sprintf("the requested history has been cleared [%d/1]", oldest) || raw.Index != cur {
		t.Errorf("GET waitIndex=1: status %d %+v (%v), want 400 with code 401, cause [%d/1], index %d", resp.StatusCode, raw, err, oldest, cur)
	}

	// One before the oldest retained event: still 401. The oldest one works.
	_, err = kapi.Watcher("/flood", &client.WatcherOptions{AfterIndex: oldest - 2}).Next(ctx)
	wantErrCode(t, "watch one before the window", err, client.ErrorCodeEventIndexCleared,
		fmt.Sprintf("the requested history has been cleared [%d/%d]", oldest, oldest-1))
	r, err := kapi.Watcher("/flood", &client.WatcherOptions{AfterIndex: oldest - 1}).Next(ctx)
	if err != nil {
		t.Fatalf("watch at the oldest retained event: %v", err)
	}
	if r.Action != "set" || r.Node.ModifiedIndex != oldest {
		t.Errorf("watch at the oldest retained event: %s @%d, want set @%d", r.Action, r.Node.ModifiedIndex, oldest)
	}
}

func TestGoClientMembers(t *testing.T) {
	_, mapi, base, name := newKeysAPI(t)
	ctx := ctxT(t)

	ms, err := mapi.List(ctx)
	if err != nil {
		t.Fatalf("members list: %v", err)
	}
	if len(ms) != 1 {
		t.Fatalf("members list: %d members (%+v), want 1", len(ms), ms)
	}
	m := ms[0]
	if m.Name != name {
		t.Errorf("member name %q, want %q", m.Name, name)
	}
	if id, err := strconv.ParseUint(m.ID, 16, 64); err != nil || id == 0 {
		t.Errorf("member id %q is not a non-zero hex number", m.ID)
	}
	if fmt.Sprint(m.ClientURLs) != fmt.Sprint([]string{base}) {
		t.Errorf("member clientURLs %v, want [%s]", m.ClientURLs, base)
	}
	if len(m.PeerURLs) != 1 {
		t.Fatalf("member peerURLs %v, want one", m.PeerURLs)
	}
	pu, err := url.Parse(m.PeerURLs[0])
	if err != nil || pu.Scheme != "http" || pu.Hostname() != "127.0.0.1" || pu.Port() == "" {
		t.Errorf("member peerURL %q", m.PeerURLs[0])
	}

	// Sync (which reads /v2/members) leaves the advertised client URL as the
	// only endpoint; GetVersion reads /version.
	c, err := client.New(client.Config{Endpoints: []string{base}, HeaderTimeoutPerRequest: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("client Sync: %v", err)
	}
	if eps := c.Endpoints(); fmt.Sprint(eps) != fmt.Sprint([]string{base}) {
		t.Errorf("endpoints after Sync: %v, want [%s]", eps, base)
	}
	v, err := c.GetVersion(ctx)
	if err != nil {
		t.Fatalf("GetVersion: %v", err)
	}
	if v.Server != "3.4.23" || v.Cluster != "3.4.0" {
		t.Errorf("GetVersion: %+v, want server 3.4.23 cluster 3.4.0 (etcd 3.4.23's answer)", v)
	}

	l, err := mapi.Leader(ctx)
	if err != nil {
		t.Fatalf("members leader: %v", err)
	}
	if l.ID != m.ID || l.Name != m.Name || fmt.Sprint(l.ClientURLs) != fmt.Sprint(m.ClientURLs) || fmt.Sprint(l.PeerURLs) != fmt.Sprint(m.PeerURLs) {
		t.Errorf("leader %+v, want the only member %+v", l, m)
	}
}

func TestGoClientOptions(t *testing.T) {
	kapi, _, _, _ := newKeysAPI(t)
	ctx := ctxT(t)

	// NoValueOnSuccess: only the action comes back.
	r, err := kapi.Set(ctx, "/nv", "v", &client.SetOptions{NoValueOnSuccess: true})
	if err != nil {
		t.Fatalf("set noValueOnSuccess: %v", err)
	}
	if r.Action != "set" || r.Node != nil || r.PrevNode != nil || r.Index == 0 {
		t.Errorf("set noValueOnSuccess: action %q node %+v prevNode %+v index %d, want action set only", r.Action, r.Node, r.PrevNode, r.Index)
	}
	_, err = kapi.Set(ctx, "/nv", "w", &client.SetOptions{NoValueOnSuccess: true, PrevValue: "nope"})
	wantErrCode(t, "failed cas with noValueOnSuccess", err, client.ErrorCodeTestFailed, "[nope != v]")

	// Quorum read.
	g := must(t, "quorum get")(kapi.Get(ctx, "/nv", &client.GetOptions{Quorum: true}))
	checkResp(t, "quorum get", g, "get", "/nv", "v")

	// Directories through SetOptions.Dir.
	d := must(t, "set dir with ttl")(kapi.Set(ctx, "/d", "", &client.SetOptions{Dir: true, TTL: 100 * time.Second}))
	if d.Action != "set" || !d.Node.Dir || d.Node.TTL < 99 || d.Node.TTL > 100 {
		t.Errorf("set dir with ttl: action %q node %+v", d.Action, d.Node)
	}
	_, err = kapi.Set(ctx, "/d", "", &client.SetOptions{Dir: true})
	wantErrCode(t, "set dir again", err, client.ErrorCodeNotFile, "/d")
	u := must(t, "update dir ttl")(kapi.Set(ctx, "/d", "", &client.SetOptions{Dir: true, PrevExist: client.PrevExist, TTL: 200 * time.Second}))
	if u.Action != "update" || !u.Node.Dir || u.Node.TTL < 199 || u.PrevNode == nil || !u.PrevNode.Dir {
		t.Errorf("update dir ttl: action %q node %+v prevNode %+v", u.Action, u.Node, u.PrevNode)
	}
	_, err = kapi.Set(ctx, "/d", "x", nil)
	wantErrCode(t, "set a value on a dir", err, client.ErrorCodeNotFile, "/d")
	_, err = kapi.Set(ctx, "/nv/child", "x", nil)
	wantErrCode(t, "set below a file", err, client.ErrorCodeNotDir, "/nv")
	_, err = kapi.Set(ctx, "/", "x", nil)
	wantErrCode(t, "set the root", err, client.ErrorCodeRootROnly, "/")
}

package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKeysOperations runs every keys operation and option, in sequence,
// against hecd and etcd, checking the answers field by field.
func TestKeysOperations(t *testing.T) {
	forEachServer(t, func(t *testing.T, s testServer) {
		ctx := testContext(t)
		c := newClient(t, Config{Endpoints: []string{s.url}})
		p := s.prefix
		var last *Response // the previous step's answer

		type step struct {
			name   string
			do     func() (*Response, error)
			code   int    // wanted keys error code; 0 = success
			action string // wanted action on success
			check  func(t *testing.T, r *Response)
		}
		steps := []step{
			{name: "set creates", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/k", "v1", SetOptions{}) },
				check: func(t *testing.T, r *Response) {
					n := r.Node
					if n.Key != p+"/k" || n.Value != "v1" || n.Dir || r.PrevNode != nil {
						t.Errorf("node %+v, prevNode %+v", n, r.PrevNode)
					}
					if n.CreatedIndex == 0 || n.CreatedIndex != n.ModifiedIndex || r.Index != n.ModifiedIndex {
						t.Errorf("indexes: created %d modified %d X-Etcd-Index %d", n.CreatedIndex, n.ModifiedIndex, r.Index)
					}
					if r.ClusterID == "" || r.RaftTerm == 0 || r.RaftIndex == 0 {
						t.Errorf("headers: cluster %q raft index %d term %d", r.ClusterID, r.RaftIndex, r.RaftTerm)
					}
				}},
			{name: "set replaces", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/k", "v2", SetOptions{}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.Value != "v2" || r.PrevNode == nil || r.PrevNode.Value != "v1" {
						t.Errorf("node %+v prevNode %+v", r.Node, r.PrevNode)
					}
				}},
			{name: "get", action: "get",
				do: func() (*Response, error) { return c.Get(ctx, p+"/k", GetOptions{}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.Value != "v2" || r.Index < r.Node.ModifiedIndex {
						t.Errorf("node %+v index %d", r.Node, r.Index)
					}
				}},
			{name: "get quorum", action: "get",
				do: func() (*Response, error) { return c.Get(ctx, p+"/k", GetOptions{Quorum: true}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.Value != "v2" {
						t.Errorf("node %+v", r.Node)
					}
				}},
			{name: "get missing", code: CodeKeyNotFound,
				do: func() (*Response, error) { return c.Get(ctx, p+"/nope/deeper", GetOptions{}) }},
			{name: "create on an existing key", code: CodeKeyExists,
				do: func() (*Response, error) { return c.Set(ctx, p+"/k", "x", SetOptions{PrevExist: MustNotExist}) }},
			{name: "create", action: "create",
				do: func() (*Response, error) { return c.Set(ctx, p+"/new", "n", SetOptions{PrevExist: MustNotExist}) }},
			{name: "update a missing key", code: CodeKeyNotFound,
				do: func() (*Response, error) { return c.Set(ctx, p+"/missing", "x", SetOptions{PrevExist: MustExist}) }},
			{name: "update", action: "update",
				do: func() (*Response, error) { return c.Set(ctx, p+"/k", "v3", SetOptions{PrevExist: MustExist}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.Value != "v3" || r.PrevNode.Value != "v2" || r.Node.CreatedIndex != r.PrevNode.CreatedIndex {
						t.Errorf("node %+v prevNode %+v", r.Node, r.PrevNode)
					}
				}},
			{name: "compare-and-swap, wrong value", code: CodeCompareFailed,
				do: func() (*Response, error) { return c.Set(ctx, p+"/k", "x", SetOptions{PrevValue: "nope"}) }},
			{name: "compare-and-swap on value", action: "compareAndSwap",
				do: func() (*Response, error) { return c.Set(ctx, p+"/k", "v4", SetOptions{PrevValue: "v3"}) }},
			{name: "compare-and-swap, wrong index", code: CodeCompareFailed,
				do: func() (*Response, error) { return c.Set(ctx, p+"/k", "x", SetOptions{PrevIndex: 1}) }},
			{name: "compare-and-swap on index", action: "compareAndSwap",
				do: func() (*Response, error) {
					return c.Set(ctx, p+"/k", "v5", SetOptions{PrevIndex: last.Node.ModifiedIndex})
				}},
			{name: "compare-and-swap on both, with existence", action: "compareAndSwap",
				do: func() (*Response, error) {
					return c.Set(ctx, p+"/k", "v6", SetOptions{PrevExist: MustExist, PrevValue: "v5", PrevIndex: last.Node.ModifiedIndex})
				}},
			{name: "ttl rounds up", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/ttl", "t", SetOptions{TTL: 1500 * time.Millisecond}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.TTL != 2 || r.Node.Expiration == nil {
						t.Errorf("node %+v", r.Node)
					}
				}},
			{name: "refresh without a ttl", code: 212,
				do: func() (*Response, error) { return c.Set(ctx, p+"/ttl", "", SetOptions{Refresh: true}) }},
			{name: "refresh", action: "update",
				do: func() (*Response, error) {
					return c.Set(ctx, p+"/ttl", "", SetOptions{Refresh: true, PrevExist: MustExist, TTL: 100 * time.Second})
				},
				check: func(t *testing.T, r *Response) {
					if r.Node.Value != "t" || r.Node.TTL < 99 || r.Node.TTL > 100 {
						t.Errorf("node %+v", r.Node)
					}
				}},
			{name: "update without ttl removes it", action: "update",
				do: func() (*Response, error) { return c.Set(ctx, p+"/ttl", "t2", SetOptions{PrevExist: MustExist}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.TTL != 0 || r.Node.Expiration != nil || r.PrevNode.Expiration == nil {
						t.Errorf("node %+v prevNode %+v", r.Node, r.PrevNode)
					}
				}},
			{name: "empty value", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/empty", "", SetOptions{}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.Value != "" || r.Node.Dir {
						t.Errorf("node %+v", r.Node)
					}
				}},
			{name: "no value on success", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/nv", "x", SetOptions{NoValueOnSuccess: true}) },
				check: func(t *testing.T, r *Response) {
					if r.Node != nil || r.Index == 0 {
						t.Errorf("node %+v index %d", r.Node, r.Index)
					}
				}},
			{name: "mkdir", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/dir", "ignored", SetOptions{Dir: true}) },
				check: func(t *testing.T, r *Response) {
					if !r.Node.Dir || r.Node.Value != "" {
						t.Errorf("node %+v", r.Node)
					}
				}},
			{name: "mkdir, exists", code: CodeKeyExists,
				do: func() (*Response, error) {
					return c.Set(ctx, p+"/dir", "", SetOptions{Dir: true, PrevExist: MustNotExist})
				}},
			{name: "a value on a directory", code: CodeNotFile,
				do: func() (*Response, error) { return c.Set(ctx, p+"/dir", "x", SetOptions{}) }},
			{name: "a key below a key", code: CodeNotDir,
				do: func() (*Response, error) { return c.Set(ctx, p+"/k/below", "x", SetOptions{}) }},
			{name: "nested key", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/dir/b/c", "c", SetOptions{}) }},
			{name: "second child", action: "set",
				do: func() (*Response, error) { return c.Set(ctx, p+"/dir/a", "a", SetOptions{}) }},
			{name: "get recursive sorted", action: "get",
				do: func() (*Response, error) { return c.Get(ctx, p+"/dir", GetOptions{Recursive: true, Sorted: true}) },
				check: func(t *testing.T, r *Response) {
					want := fmt.Sprintf("%s/dir/{%[1]s/dir/a=a %[1]s/dir/b/{%[1]s/dir/b/c=c}}", p)
					if got := tree(r.Node); got != want {
						t.Errorf("tree\n got %s\nwant %s", got, want)
					}
				}},
			{name: "get one level", action: "get",
				do: func() (*Response, error) { return c.Get(ctx, p+"/dir", GetOptions{Sorted: true}) },
				check: func(t *testing.T, r *Response) {
					want := fmt.Sprintf("%s/dir/{%[1]s/dir/a=a %[1]s/dir/b/{}}", p)
					if got := tree(r.Node); got != want {
						t.Errorf("tree\n got %s\nwant %s", got, want)
					}
				}},
			{name: "in-order create", action: "create",
				do: func() (*Response, error) { return c.CreateInOrder(ctx, p+"/queue", "first", 0) },
				check: func(t *testing.T, r *Response) {
					if want := fmt.Sprintf("%s/queue/%020d", p, r.Node.ModifiedIndex); r.Node.Key != want || r.Node.Value != "first" {
						t.Errorf("node %+v, want key %s", r.Node, want)
					}
				}},
			{name: "in-order create with ttl", action: "create",
				do: func() (*Response, error) { return c.CreateInOrder(ctx, p+"/queue", "second", time.Minute) },
				check: func(t *testing.T, r *Response) {
					if r.Node.TTL < 59 || !regexp.MustCompile(`/queue/\d{20}$`).MatchString(r.Node.Key) {
						t.Errorf("node %+v", r.Node)
					}
				}},
			{name: "delete a non-empty dir with dir", code: CodeDirNotEmpty,
				do: func() (*Response, error) { return c.Delete(ctx, p+"/dir", DeleteOptions{Dir: true}) }},
			{name: "delete a dir without dir", code: CodeNotFile,
				do: func() (*Response, error) { return c.Delete(ctx, p+"/dir", DeleteOptions{}) }},
			{name: "delete a key", action: "delete",
				do: func() (*Response, error) { return c.Delete(ctx, p+"/dir/a", DeleteOptions{}) },
				check: func(t *testing.T, r *Response) {
					if r.Node.Key != p+"/dir/a" || r.PrevNode == nil || r.PrevNode.Value != "a" {
						t.Errorf("node %+v prevNode %+v", r.Node, r.PrevNode)
					}
				}},
			{name: "compare-and-delete, wrong value", code: CodeCompareFailed,
				do: func() (*Response, error) { return c.Delete(ctx, p+"/dir/b/c", DeleteOptions{PrevValue: "x"}) }},
			{name: "compare-and-delete on value", action: "compareAndDelete",
				do: func() (*Response, error) { return c.Delete(ctx, p+"/dir/b/c", DeleteOptions{PrevValue: "c"}) }},
			{name: "delete an empty dir", action: "delete",
				do: func() (*Response, error) { return c.Delete(ctx, p+"/dir/b", DeleteOptions{Dir: true}) }},
			{name: "delete recursive", action: "delete",
				do: func() (*Response, error) { return c.Delete(ctx, p+"/dir", DeleteOptions{Recursive: true}) },
				check: func(t *testing.T, r *Response) {
					if !r.Node.Dir || !r.PrevNode.Dir {
						t.Errorf("node %+v prevNode %+v", r.Node, r.PrevNode)
					}
				}},
			{name: "get the deleted dir", code: CodeKeyNotFound,
				do: func() (*Response, error) { return c.Get(ctx, p+"/dir/b/c", GetOptions{}) }},
			{name: "compare-and-delete, wrong index", code: CodeCompareFailed,
				do: func() (*Response, error) { return c.Delete(ctx, p+"/k", DeleteOptions{PrevIndex: 1}) }},
			{name: "compare-and-delete on index", action: "compareAndDelete",
				do: func() (*Response, error) {
					r, err := c.Get(ctx, p+"/k", GetOptions{})
					if err != nil {
						return nil, err
					}
					return c.Delete(ctx, p+"/k", DeleteOptions{PrevIndex: r.Node.ModifiedIndex})
				}},
			{name: "delete the queue (no expiry left behind)", action: "delete",
				do: func() (*Response, error) { return c.Delete(ctx, p+"/queue", DeleteOptions{Recursive: true}) }},
			{name: "delete the root", code: CodeRootReadOnly,
				do: func() (*Response, error) { return c.Delete(ctx, "/", DeleteOptions{Recursive: true}) }},
			{name: "get the root", action: "get",
				do: func() (*Response, error) { return c.Get(ctx, "", GetOptions{}) },
				check: func(t *testing.T, r *Response) {
					if !r.Node.Dir || r.Node.Key != "" {
						t.Errorf("root %+v", r.Node)
					}
				}},
		}
		for _, st := range steps {
			r, err := st.do()
			if st.code != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Code != st.code {
					t.Fatalf("%s: got %v, %v; want error %d", st.name, r, err, st.code)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if r.Action != st.action {
				t.Fatalf("%s: action %q, want %q", st.name, r.Action, st.action)
			}
			if st.check != nil {
				t.Run(st.name, func(t *testing.T) { st.check(t, r) })
			}
			last = r
		}
	})
}

// tree renders a node and its children compactly: "key=value" for keys,
// "key/{children}" for directories.
func tree(n *Node) string {
	if !n.Dir {
		return n.Key + "=" + n.Value
	}
	var parts []string
	for _, c := range n.Nodes {
		parts = append(parts, tree(c))
	}
	return n.Key + "/{" + strings.Join(parts, " ") + "}"
}

// TestEscaping checks that keys and values that need escaping reach the
// server exactly (the server's own answer names the key), and that keys
// are cleaned like paths.
func TestEscaping(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB, chunked answers
	forEachServer(t, func(t *testing.T, s testServer) {
		ctx := testContext(t)
		c := newClient(t, Config{Endpoints: []string{s.url}})
		tests := []struct {
			name, key, value string
			wantKey          string // below the prefix; "" = key
		}{
			{name: "space", key: "/a b", value: "v"},
			{name: "percent", key: "/100%", value: "v"},
			{name: "escaped-looking", key: "/x%2Fy%20z", value: "v"},
			{name: "question mark", key: "/q?x=1", value: "v"},
			{name: "hash", key: "/h#frag", value: "v"},
			{name: "plus", key: "/plus+sign", value: "a+b"},
			{name: "semicolon", key: "/semi;colon", value: "v"},
			{name: "ampersand and equals", key: "/amp&eq=", value: "a&b=c"},
			{name: "unicode", key: "/ünï/cødé/日本", value: "värdé ✓"},
			{name: "control bytes", key: "/ctl\tkey", value: "line1\nline2\x00end\r"},
			{name: "html", key: "/<tag>", value: "<b>&amp;</b>"},
			{name: "form syntax in value", key: "/form", value: "value=x&ttl=1&dir=true%20"},
			{name: "big value", key: "/big", value: big},
			{name: "dots in a name", key: "/a..b/.c", value: "v"},
			{name: "double slash", key: "//dbl//slash", value: "v", wantKey: "/dbl/slash"},
			{name: "dot segments", key: "/x/./y/../z", value: "v", wantKey: "/x/z"},
			{name: "trailing slash", key: "/trail/", value: "v", wantKey: "/trail"},
			{name: "no leading slash", key: "rel/key", value: "v", wantKey: "/rel/key"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := s.prefix + tt.key
				if tt.wantKey != "" {
					want = s.prefix + tt.wantKey
				}
				key := s.prefix + tt.key
				if !strings.HasPrefix(tt.key, "/") {
					key = s.prefix + "/" + tt.key
				}
				r, err := c.Set(ctx, key, tt.value, SetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if r.Node.Key != want || r.Node.Value != tt.value {
					t.Fatalf("set answered key %q value %.40q, want %q %.40q", r.Node.Key, r.Node.Value, want, tt.value)
				}
				r, err = c.Get(ctx, key, GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if r.Node.Key != want || r.Node.Value != tt.value {
					t.Fatalf("get answered key %q value %.40q, want %q %.40q", r.Node.Key, r.Node.Value, want, tt.value)
				}
			})
		}
	})
}

func TestKeysPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"", "/v2/keys/"},
		{"/", "/v2/keys/"},
		{"/a/b", "/v2/keys/a/b"},
		{"a/b/", "/v2/keys/a/b"},
		{"/../../v2/members", "/v2/keys/v2/members"},
		{"/a b/100%/q?/h#", "/v2/keys/a%20b/100%25/q%3F/h%23"},
		{"/ü", "/v2/keys/%C3%BC"},
	}
	for _, tt := range tests {
		if got := keysPath(tt.key); got != tt.want {
			t.Errorf("keysPath(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestRedirects sends non-canonical paths, which hecd answers with 307
// and etcd with 301, with every method: the request must be repeated at
// the clean path with its method and body.
func TestRedirects(t *testing.T) {
	forEachServer(t, func(t *testing.T, s testServer) {
		ctx := testContext(t)
		c := newClient(t, Config{Endpoints: []string{s.url}})
		base := keysPath(s.prefix)
		tests := []struct {
			name    string
			call    *call
			action  string
			wantKey string
			value   string
		}{
			{"PUT", &call{method: http.MethodPut, path: base + "/r/./k", form: url.Values{"value": {"put"}}}, "set", "/r/k", "put"},
			{"GET", &call{method: http.MethodGet, path: base + "/r/x/../k"}, "get", "/r/k", "put"},
			{"PUT with query", &call{method: http.MethodPut, path: base + "//r//k", query: url.Values{"prevValue": {"put"}}, form: url.Values{"value": {"cas"}}}, "compareAndSwap", "/r/k", "cas"},
			{"POST", &call{method: http.MethodPost, path: base + "/q/./", form: url.Values{"value": {"post"}}}, "create", "/q/", "post"},
			{"DELETE", &call{method: http.MethodDelete, path: base + "/r/./k", query: url.Values{"prevValue": {"cas"}}}, "compareAndDelete", "/r/k", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, err := c.keys(ctx, tt.call)
				if err != nil {
					t.Fatal(err)
				}
				if r.Action != tt.action || !strings.HasPrefix(r.Node.Key, s.prefix+tt.wantKey) || r.Node.Value != tt.value {
					t.Fatalf("got %s %+v, want %s on %s%s with value %q", r.Action, r.Node, tt.action, s.prefix, tt.wantKey, tt.value)
				}
			})
		}
	})
}

// TestErrorsLive checks that error answers of both servers decode to the
// same *Error and print as etcd's clients print them.
func TestErrorsLive(t *testing.T) {
	forEachServer(t, func(t *testing.T, s testServer) {
		ctx := testContext(t)
		c := newClient(t, Config{Endpoints: []string{s.url}})
		if _, err := c.Set(ctx, s.prefix+"/file", "x", SetOptions{}); err != nil {
			t.Fatal(err)
		}
		r, err := c.Get(ctx, s.prefix+"/file", GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mi := r.Node.ModifiedIndex
		// want formats the expected text with the error's index: on the
		// shared etcd other keys may expire meanwhile; the index must not
		// be older than the read above, and is 0 for request errors.
		tests := []struct {
			name      string
			do        func() error
			want      string // with %[1]d for the error's index
			zeroIndex bool
		}{
			{name: "not found", do: func() error { _, err := c.Get(ctx, s.prefix+"/nope/deeper", GetOptions{}); return err },
				want: "100: Key not found (" + s.prefix + "/nope) [%[1]d]"},
			{name: "not a directory", do: func() error { _, err := c.Set(ctx, s.prefix+"/file/x", "", SetOptions{}); return err },
				want: "104: Not a directory (" + s.prefix + "/file) [%[1]d]"},
			{name: "compare failed", do: func() error {
				_, err := c.Set(ctx, s.prefix+"/file", "y", SetOptions{PrevValue: "z", PrevIndex: 1})
				return err
			}, want: fmt.Sprintf("101: Compare failed ([z != x] [1 != %d]) [%%[1]d]", mi)},
			{name: "request error", do: func() error {
				_, err := c.Set(ctx, s.prefix+"/file", "v", SetOptions{Refresh: true, TTL: time.Second})
				return err
			}, want: "211: Value provided on refresh (A value was provided on a refresh) [%[1]d]", zeroIndex: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.do()
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("got %T %v, want *Error", err, err)
				}
				if tt.zeroIndex != (e.Index == 0) || (!tt.zeroIndex && e.Index < r.Index) {
					t.Errorf("index %d; the read before answered %d", e.Index, r.Index)
				}
				if want := fmt.Sprintf(tt.want, e.Index); err.Error() != want {
					t.Fatalf("got  %s\nwant %s", err, want)
				}
			})
		}
	})
}

func TestErrorHelpers(t *testing.T) {
	tests := []struct {
		code int
		is   func(error) bool
	}{
		{CodeKeyNotFound, IsKeyNotFound},
		{CodeCompareFailed, IsCompareFailed},
		{CodeNotFile, IsNotFile},
		{CodeNotDir, IsNotDir},
		{CodeKeyExists, IsKeyExists},
		{CodeDirNotEmpty, IsDirNotEmpty},
		{CodeUnauthorized, IsUnauthorized},
		{CodeIndexCleared, IsIndexCleared},
	}
	for _, tt := range tests {
		err := fmt.Errorf("wrapped: %w", &Error{Code: tt.code})
		if !tt.is(err) {
			t.Errorf("helper for %d does not recognise a wrapped %d", tt.code, tt.code)
		}
		if tt.is(&Error{Code: 999}) || tt.is(errors.New("x")) || tt.is(nil) {
			t.Errorf("helper for %d recognises something else", tt.code)
		}
	}
}

// TestValidation checks what New and the operations refuse before sending
// anything.
func TestValidation(t *testing.T) {
	tests := []struct {
		name      string
		endpoints []string
		wantErr   string // substring; "" = valid
	}{
		{"no endpoints", nil, "no endpoints"},
		{"host and port only", []string{"127.0.0.1:2379"}, `invalid endpoint "127.0.0.1:2379": first path segment in URL cannot contain colon`},
		{"name and port only", []string{"localhost:2379"}, `invalid endpoint "localhost:2379": scheme must be http or https`},
		{"host only", []string{"localhost"}, `invalid endpoint "localhost": no scheme`},
		{"other scheme", []string{"unix:///run/etcd.sock"}, "scheme must be http or https"},
		{"no host", []string{"http://"}, "no host"},
		{"credentials", []string{"http://u:p@127.0.0.1:2379"}, "credentials"},
		{"query", []string{"http://127.0.0.1:2379?x=1"}, "query"},
		{"second one bad", []string{"http://127.0.0.1:2379", "127.0.0.1:4001"}, `"127.0.0.1:4001"`},
		{"http", []string{"http://127.0.0.1:2379"}, ""},
		{"https, trailing slash, path", []string{"https://etcd.example:2379/", "http://[::1]:4001/proxy/"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Endpoints: tt.endpoints})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range c.Endpoints() {
					if strings.HasSuffix(e, "/") {
						t.Errorf("endpoint %q keeps its trailing slash", e)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}

	c := newClient(t, Config{Endpoints: []string{"http://127.0.0.1:1"}})
	ctx := context.Background()
	if _, err := c.Set(ctx, "/k", "v", SetOptions{TTL: -time.Second}); err == nil {
		t.Error("negative TTL accepted")
	}
	if _, err := c.Set(ctx, "/k", "v", SetOptions{PrevExist: 7}); err == nil {
		t.Error("invalid PrevExist accepted")
	}
}

package source

import (
	"strings"
	"testing"

	"hecd/internal/client"
	"hecd/internal/proxy"
)

func TestCheckID(t *testing.T) {
	for _, id := range []string{"a", "A", "0", "3f2a9c1d7b6e", "web-1", "web_1", "web.1", "a-", strings.Repeat("x", 128)} {
		if err := CheckID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "-a", "_a", ".a", "a b", "a/b", "a\n", "a:b", "é", strings.Repeat("x", 129), "a\x00"} {
		if err := CheckID(id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	for _, v := range []string{
		"10.0.0.21:32768", "127.0.0.1:1", "1.2.3.4:65535",
		"[::1]:80", "[2001:db8::1]:443", "[::ffff:10.0.0.1]:80",
		"localhost:80", "web-1.example.com:8080", "example.com.:80", "project_web_1:80", "a:1", "x1.y2:3",
	} {
		if err := CheckAddr(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{
		"", "not-an-address", "10.0.0.1", "10.0.0.1:", ":80", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:080",
		"10.0.0.1:+80", "10.0.0.1:80\n", "10.0.0.1:80 ", " 10.0.0.1:80", "10.0.0.1 :80", "http://10.0.0.1:80",
		"10.0.0.1:80/path", "::1:80", "[::1]", "[10.0.0.1]:80", "[fe80::1%eth0]:80", "[::1]x:80",
		"10.0.0.300:80", "1.2.3:80", "-web:80", "web-:80", "we b:80", "a..b:80", "a\nb:80",
		strings.Repeat("a", 64) + ".com:80", "user@host:80", "host:80,host:81",
	} {
		if err := CheckAddr(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestCheckWeight(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "1": 1, "256": 256, "42": 42} {
		if got, err := checkWeight(v); err != nil || got != want {
			t.Errorf("%q: %d %v", v, got, err)
		}
	}
	for _, v := range []string{"", "257", "-1", "01", "1.5", " 1", "x", "1000"} {
		if _, err := checkWeight(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestParseStaticServer(t *testing.T) {
	for in, want := range map[string]StaticServer{
		"web1=10.0.0.1:80":               {"web1", "10.0.0.1:80", 1},
		"web2=[::1]:81,weight=3":         {"web2", "[::1]:81", 3},
		"w=host.example:8080,weight=256": {"w", "host.example:8080", 256},
	} {
		got, err := ParseStaticServer(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"10.0.0.1:80", "=10.0.0.1:80", "w=nope", "w=10.0.0.1:80,weight=0", "w=10.0.0.1:80,weight=x", "w=10.0.0.1:80,backup"} {
		if _, err := ParseStaticServer(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestParseAdmin(t *testing.T) {
	for v, want := range map[string]proxy.AdminState{"ready": proxy.Ready, "DRAIN": proxy.Drain, "Maint": proxy.Maint} {
		if got, err := parseAdmin(v); err != nil || got != want {
			t.Errorf("%q: %v %v", v, got, err)
		}
	}
	for _, v := range []string{"", "up", "maint\n", " drain"} {
		if _, err := parseAdmin(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestSpaceApply(t *testing.T) {
	sp := newSpace("routes", "/app/servers", 1)
	node := func(key, value string, dir bool) *client.Node {
		return &client.Node{Key: key, Value: value, Dir: dir, ModifiedIndex: 1}
	}
	steps := []struct {
		action string
		n      *client.Node
		want   string // entries after the step
	}{
		{"set", node("/app/servers/a", "1", false), "a=1"},
		{"create", node("/app/servers/b", "2", false), "a=1 b=2"},
		{"update", node("/app/servers/a", "3", false), "a=3 b=2"},
		{"compareAndSwap", node("/app/servers/b", "4", false), "a=3 b=4"},
		{"set", node("/app/servers/_h", "x", false), "a=3 b=4"},
		{"set", node("/app/servers/d/e", "x", false), "a=3 b=4"},
		{"set", node("/app/servers/dir", "", true), "a=3 b=4"},
		{"set", node("/app/serversX", "x", false), "a=3 b=4"},
		{"get", node("/app/servers/z", "x", false), "a=3 b=4"},
		{"compareAndDelete", node("/app/servers/a", "", false), "b=4"},
		{"delete", node("/app/serv", "", true), "b=4"},
		{"delete", node("/app/servers/d", "", true), "b=4"},
		{"set", node("/app/servers/c", "5", false), "b=4 c=5"},
		{"expire", node("/app/servers", "", true), ""},
		{"set", node("/app/servers/c", "5", false), "c=5"},
		{"delete", node("/app", "", true), ""},
		{"set", node("/app/servers/c", "5", false), "c=5"},
		{"expire", node("/app/servers/c", "", false), ""},
	}
	for i, st := range steps {
		sp.apply(st.action, st.n)
		var got []string
		for _, k := range sortedKeys(sp.vals) {
			got = append(got, k+"="+sp.vals[k])
		}
		if g := strings.Join(got, " "); g != st.want {
			t.Fatalf("step %d (%s %s): %q, want %q", i, st.action, st.n.Key, g, st.want)
		}
	}

	admin := newSpace("admin", "/hecd/admin", 2)
	admin.apply("set", node("/hecd/admin/b/s", "drain", false))
	admin.apply("set", node("/hecd/admin/b/t", "maint", false))
	admin.apply("set", node("/hecd/admin/c/s", "maint", false))
	admin.apply("set", node("/hecd/admin/b", "maint", false))
	admin.apply("set", node("/hecd/admin/b/s/x", "maint", false))
	if changed := admin.apply("delete", node("/hecd/admin/b", "", true)); len(changed) != 2 || len(admin.vals) != 1 || admin.vals["c/s"] != "maint" {
		t.Fatalf("admin: changed %v vals %v", changed, admin.vals)
	}

	root := newSpace("routes", "/", 1)
	root.apply("set", node("/a", "1", false))
	root.apply("set", node("/_a", "1", false))
	root.apply("set", node("/d/a", "1", false))
	if len(root.vals) != 1 || root.vals["a"] != "1" || root.key("a") != "/a" {
		t.Fatalf("root space %v", root.vals)
	}
}

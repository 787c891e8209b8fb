package ctl

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"hecd/internal/client"
)

func TestFormatResponse(t *testing.T) {
	exp := time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)
	get := &client.Response{Action: "get", Index: 4,
		Node: &client.Node{Key: "/foo", Value: "bar", CreatedIndex: 4, ModifiedIndex: 4}}
	update := &client.Response{Action: "update", Index: 10,
		Node:     &client.Node{Key: "/new", Value: "v4", CreatedIndex: 6, ModifiedIndex: 10, TTL: 99, Expiration: &exp},
		PrevNode: &client.Node{Key: "/new", Value: "v3", CreatedIndex: 6, ModifiedIndex: 9}}
	del := &client.Response{Action: "delete", Index: 25,
		Node:     &client.Node{Key: "/multi", CreatedIndex: 11, ModifiedIndex: 25},
		PrevNode: &client.Node{Key: "/multi", Value: "two\nlines", CreatedIndex: 11, ModifiedIndex: 11}}
	cad := &client.Response{Action: "compareAndDelete", Index: 24,
		Node:     &client.Node{Key: "/new", CreatedIndex: 6, ModifiedIndex: 24},
		PrevNode: &client.Node{Key: "/new", Value: "v4", CreatedIndex: 6, ModifiedIndex: 10}}
	dir := &client.Response{Action: "get", Index: 18,
		Node: &client.Node{Key: "/dir", Dir: true, CreatedIndex: 12, ModifiedIndex: 12, Nodes: []*client.Node{
			{Key: "/dir/a", Value: "1", CreatedIndex: 16, ModifiedIndex: 16},
			{Key: "/dir/sub", Dir: true, CreatedIndex: 17, ModifiedIndex: 17},
			{Key: "/dir/empty", Dir: true, CreatedIndex: 19, ModifiedIndex: 19, Nodes: []*client.Node{}},
		}}}
	root := &client.Response{Action: "get", Index: 13, Node: &client.Node{Dir: true}}
	for _, tc := range []struct {
		name   string
		resp   *client.Response
		format string
		want   string
	}{
		{"get simple", get, "simple", "bar\n"},
		{"get extended", get, "extended", "Key: /foo\nCreated-Index: 4\nModified-Index: 4\nTTL: 0\nIndex: 4\n\nbar\n"},
		{"get json", get, "json", `{"action":"get","node":{"key":"/foo","value":"bar","nodes":null,"createdIndex":4,"modifiedIndex":4},"prevNode":null}` + "\n"},
		{"update simple", update, "simple", "v4\n"},
		{"update extended", update, "extended", "Key: /new\nCreated-Index: 6\nModified-Index: 10\nPrevNode.Value: v3\nTTL: 99\nIndex: 10\n\nv4\n"},
		{"update json", update, "json", `{"action":"update","node":{"key":"/new","value":"v4","nodes":null,"createdIndex":6,"modifiedIndex":10,"expiration":"2026-01-02T03:04:05.6Z","ttl":99},` +
			`"prevNode":{"key":"/new","value":"v3","nodes":null,"createdIndex":6,"modifiedIndex":9}}` + "\n"},
		{"delete simple", del, "simple", "PrevNode.Value: two\nlines\n"},
		{"delete extended", del, "extended", "Key: /multi\nCreated-Index: 11\nModified-Index: 25\nPrevNode.Value: two\nlines\nTTL: 0\nIndex: 25\n"},
		{"compareAndDelete simple", cad, "simple", "\n"},
		{"dir json", dir, "json", `{"action":"get","node":{"key":"/dir","dir":true,"value":"","nodes":[` +
			`{"key":"/dir/a","value":"1","nodes":null,"createdIndex":16,"modifiedIndex":16},` +
			`{"key":"/dir/sub","dir":true,"value":"","nodes":null,"createdIndex":17,"modifiedIndex":17},` +
			`{"key":"/dir/empty","dir":true,"value":"","nodes":[],"createdIndex":19,"modifiedIndex":19}],` +
			`"createdIndex":12,"modifiedIndex":12},"prevNode":null}` + "\n"},
		{"root extended", root, "extended", "Key: \nCreated-Index: 0\nModified-Index: 0\nTTL: 0\nIndex: 13\n\n\n"},
	} {
		got, ok := formatResponse(tc.resp, tc.format)
		if !ok || got != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.name, got, ok, tc.want)
		}
	}
	if got, ok := formatResponse(get, "weird"); ok || got != "" {
		t.Errorf("unknown format: got %q, %v", got, ok)
	}
}

func TestFormatList(t *testing.T) {
	tree := &client.Node{Key: "/dir", Dir: true, Nodes: []*client.Node{
		{Key: "/dir/a", Value: "1"},
		{Key: "/dir/sub", Dir: true, Nodes: []*client.Node{{Key: "/dir/sub/b", Value: "2"}}},
	}}
	for _, tc := range []struct {
		name  string
		node  *client.Node
		slash bool
		want  string
	}{
		{"dir", tree, false, "/dir/a\n/dir/sub\n/dir/sub/b\n"},
		{"dir -p", tree, true, "/dir/a\n/dir/sub/\n/dir/sub/b\n"},
		{"file", &client.Node{Key: "/foo", Value: "x"}, true, "/foo\n"},
		{"empty root", &client.Node{Dir: true}, false, ""},
	} {
		if got := formatList(tc.node, tc.slash); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFormatMember(t *testing.T) {
	m := client.Member{ID: "8e9e05c52164694d", Name: "n1", PeerURLs: []string{"http://127.0.0.1:2380", "http://127.0.0.1:7001"}, ClientURLs: []string{"http://127.0.0.1:2379"}}
	if got, want := formatMember(m, m.ID), "8e9e05c52164694d: name=n1 peerURLs=http://127.0.0.1:2380,http://127.0.0.1:7001 clientURLs=http://127.0.0.1:2379 isLeader=true\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := formatMember(m, "other"), "8e9e05c52164694d: name=n1 peerURLs=http://127.0.0.1:2380,http://127.0.0.1:7001 clientURLs=http://127.0.0.1:2379 isLeader=false\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	unstarted := client.Member{ID: "a1", PeerURLs: []string{"http://127.0.0.1:2381"}}
	if got, want := formatMember(unstarted, "x"), "a1[unstarted]: peerURLs=http://127.0.0.1:2381\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFormatError(t *testing.T) {
	refused := func(port string) error {
		return &client.EndpointError{Endpoint: "http://127.0.0.1:" + port, Err: &net.OpError{Op: "dial", Net: "tcp",
			Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: map[string]int{"1": 1, "2": 2}[port]},
			Err:  &net.OpError{Op: "connect", Err: syscall.ECONNREFUSED}}}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"keys error", &client.Error{Code: 100, Message: "Key not found", Cause: "/x", Index: 4}, "Error:  100: Key not found (/x) [4]\n"},
		{"usage", errKeyRequired, "Error:  key required\n"},
		{"cluster", &client.ClusterError{Errors: []error{refused("1")}},
			"Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:1: connect: connection refused\n\n" +
				"error #0: dial tcp 127.0.0.1:1: connect: connection refused\n\n"},
		{"cluster of two", &client.ClusterError{Errors: []error{refused("2"), refused("1")}},
			"Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:2: connect: connection refused\n" +
				"; error #1: dial tcp 127.0.0.1:1: connect: connection refused\n\n" +
				"error #0: dial tcp 127.0.0.1:2: connect: connection refused\nerror #1: dial tcp 127.0.0.1:1: connect: connection refused\n\n"},
		{"wrapped", errors.Join(&client.Error{Code: 101, Message: "Compare failed", Cause: "[1 != 5]", Index: 5}), "Error:  101: Compare failed ([1 != 5]) [5]\n"},
	} {
		if got := formatError(tc.err); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"hecd/internal/client"
)

// Output formats of --output.
const (
	outputSimple   = "simple"
	outputExtended = "extended"
	outputJSON     = "json"
)

// jsonNode is a node as etcdctl's JSON output shows it. It differs from the
// server's JSON: "value" and "nodes" are always present (nodes as null
// when the node has none), the indexes come before the expiration.
type jsonNode struct {
	Key           string      `json:"key"`
	Dir           bool        `json:"dir,omitempty"`
	Value         string      `json:"value"`
	Nodes         []*jsonNode `json:"nodes"`
	CreatedIndex  uint64      `json:"createdIndex"`
	ModifiedIndex uint64      `json:"modifiedIndex"`
	Expiration    *time.Time  `json:"expiration,omitempty"`
	TTL           int64       `json:"ttl,omitempty"`
}

// jsonResponse is a response as etcdctl's JSON output shows it: node and
// prevNode are always present, as null when missing.
type jsonResponse struct {
	Action   string    `json:"action"`
	Node     *jsonNode `json:"node"`
	PrevNode *jsonNode `json:"prevNode"`
}

func toJSONNode(n *client.Node) *jsonNode {
	if n == nil {
		return nil
	}
	j := &jsonNode{
		Key: n.Key, Dir: n.Dir, Value: n.Value,
		CreatedIndex: n.CreatedIndex, ModifiedIndex: n.ModifiedIndex,
		Expiration: n.Expiration, TTL: n.TTL,
	}
	if n.Nodes != nil {
		// An empty list the server sent stays an empty list, not null.
		j.Nodes = make([]*jsonNode, 0, len(n.Nodes))
		for _, c := range n.Nodes {
			j.Nodes = append(j.Nodes, toJSONNode(c))
		}
	}
	return j
}

// formatResponse renders resp in format as etcdctl prints it. An unknown
// format renders nothing and reports false.
func formatResponse(resp *client.Response, format string) (string, bool) {
	node := resp.Node
	if node == nil {
		node = &client.Node{}
	}
	var b strings.Builder
	switch format {
	case outputSimple:
		if resp.Action != "delete" {
			b.WriteString(node.Value + "\n")
		} else {
			b.WriteString("PrevNode.Value: " + prevValue(resp) + "\n")
		}
	case outputExtended:
		fmt.Fprintln(&b, "Key:", node.Key)
		fmt.Fprintln(&b, "Created-Index:", node.CreatedIndex)
		fmt.Fprintln(&b, "Modified-Index:", node.ModifiedIndex)
		if resp.PrevNode != nil {
			fmt.Fprintln(&b, "PrevNode.Value:", resp.PrevNode.Value)
		}
		fmt.Fprintln(&b, "TTL:", node.TTL)
		fmt.Fprintln(&b, "Index:", resp.Index)
		if resp.Action != "delete" {
			b.WriteString("\n" + node.Value + "\n")
		}
	case outputJSON:
		out, err := json.Marshal(jsonResponse{Action: resp.Action, Node: toJSONNode(resp.Node), PrevNode: toJSONNode(resp.PrevNode)})
		if err != nil {
			// Only strings, numbers and times: marshalling cannot fail.
			panic(err)
		}
		b.Write(out)
		b.WriteByte('\n')
	default:
		return "", false
	}
	return b.String(), true
}

func prevValue(resp *client.Response) string {
	if resp.PrevNode == nil {
		return ""
	}
	return resp.PrevNode.Value
}

// printResponse writes resp to the run's output in the chosen format, or
// etcdctl's complaint about the format to stderr (which is not an error
// for the exit status, as in etcdctl).
func (r *run) printResponse(resp *client.Response) {
	s, ok := formatResponse(resp, r.g.output)
	if !ok {
		fmt.Fprintln(r.stderr, "Unsupported output format:", r.g.output)
		return
	}
	io.WriteString(r.stdout, s)
}

// formatList renders the keys of ls: the node itself when it is a file,
// then its children depth first; with slashDirs, directories end in "/".
func formatList(node *client.Node, slashDirs bool) string {
	var b strings.Builder
	if !node.Dir {
		b.WriteString(node.Key + "\n")
	}
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		if n.Dir && slashDirs {
			b.WriteString(n.Key + "/\n")
		} else {
			b.WriteString(n.Key + "\n")
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	for _, c := range node.Nodes {
		walk(c)
	}
	return b.String()
}

// formatMember renders one line of "member list".
func formatMember(m client.Member, leaderID string) string {
	if m.Name == "" {
		return fmt.Sprintf("%s[unstarted]: peerURLs=%s\n", m.ID, strings.Join(m.PeerURLs, ","))
	}
	return fmt.Sprintf("%s: name=%s peerURLs=%s clientURLs=%s isLeader=%v\n",
		m.ID, m.Name, strings.Join(m.PeerURLs, ","), strings.Join(m.ClientURLs, ","), m.ID == leaderID)
}

// errorText is err as etcd's v2 client words it. A cluster error differs
// from client.ClusterError's own text: etcd's ends every endpoint's error
// with a newline.
func errorText(err error) string {
	var ce *client.ClusterError
	if !errors.As(err, &ce) {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString("client: etcd cluster is unavailable or misconfigured")
	for i, e := range ce.Errors {
		fmt.Fprintf(&b, "; error #%d: %s\n", i, e)
	}
	if ce.MaybeApplied {
		b.WriteString("(the write may have reached the server and was not sent to another endpoint)\n")
	}
	return b.String()
}

// formatError renders err as etcdctl's "Error:  ..." report; a cluster
// error is followed by the list of endpoint errors and a blank line.
func formatError(err error) string {
	s := "Error:  " + errorText(err) + "\n"
	var ce *client.ClusterError
	if errors.As(err, &ce) {
		for i, e := range ce.Errors {
			s += fmt.Sprintf("error #%d: %s\n", i, e)
		}
		s += "\n"
	}
	return s
}

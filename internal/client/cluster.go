package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Member is a cluster member as /v2/members shows it.
type Member struct {
	ID         string   `json:"id"`   // lower-case hex, no padding
	Name       string   `json:"name"` // empty for a member that has not started yet
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

// Version is what /version reports.
type Version struct {
	Server  string `json:"etcdserver"`  // e.g. "3.4.23"
	Cluster string `json:"etcdcluster"` // e.g. "3.4.0", or "not_decided"
}

// Members lists the cluster's members (GET /v2/members).
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var out struct {
		Members []Member `json:"members"`
	}
	if err := c.getJSON(ctx, "/v2/members", &out); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// Leader returns the current leader (GET /v2/members/leader); during an
// election the server answers 503, returned as an *HTTPError.
func (c *Client) Leader(ctx context.Context) (*Member, error) {
	var m Member
	if err := c.getJSON(ctx, "/v2/members/leader", &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Version returns the versions of the answering member (GET /version).
func (c *Client) Version(ctx context.Context) (*Version, error) {
	var v Version
	if err := c.getJSON(ctx, "/version", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Health reports whether the answering member is healthy (GET /health):
// it has a leader and a quorum read completes. An unhealthy member's 503
// is an answer (false, nil), not an error. To check every member, use one
// Client per member's client URL.
func (c *Client) Health(ctx context.Context) (bool, error) {
	ans, err := c.do(ctx, &call{method: http.MethodGet, path: "/health"})
	if err != nil {
		return false, err
	}
	if ans.status != http.StatusOK && ans.status != http.StatusServiceUnavailable {
		return false, decodeError(ans)
	}
	var h struct {
		Health json.RawMessage `json:"health"`
	}
	if err := json.Unmarshal(ans.body, &h); err != nil {
		return false, fmt.Errorf("client: /health: decoding the answer: %w", err)
	}
	// etcd 3.4 says "true" (a string); etcd 2 and others said true.
	healthy := bytes.Equal(h.Health, []byte(`"true"`)) || bytes.Equal(h.Health, []byte(`true`))
	return healthy && ans.status == http.StatusOK, nil
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	ans, err := c.do(ctx, &call{method: http.MethodGet, path: path})
	if err != nil {
		return err
	}
	if ans.status != http.StatusOK {
		return decodeError(ans)
	}
	if err := json.Unmarshal(ans.body, v); err != nil {
		return fmt.Errorf("client: %s: decoding the answer: %w", path, err)
	}
	return nil
}

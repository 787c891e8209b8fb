package registrator

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"hecd/internal/client"
)

// ownerRecord is the JSON value of <meta>/owners/<owner-id>/<rel>: the
// proof that this owner wrote the route, and what it wrote (C.1).
type ownerRecord struct {
	Key        string    `json:"key"`
	Value      string    `json:"value"`
	Weight     int       `json:"weight,omitempty"`
	Container  string    `json:"container"`
	Name       string    `json:"name"`
	Image      string    `json:"image"`
	Registered time.Time `json:"registered"`
}

func (r *Registrator) routeKey(rel string) string  { return r.cfg.Prefix + "/" + rel }
func (r *Registrator) ownersDir() string           { return r.cfg.MetaPrefix + "/owners" }
func (r *Registrator) recordDir() string           { return r.ownersDir() + "/" + r.cfg.OwnerID }
func (r *Registrator) recordKey(rel string) string { return r.recordDir() + "/" + rel }
func (r *Registrator) weightKey(rel string) string { return r.cfg.MetaPrefix + "/weights/" + rel }

// routeDepth is how many segments a route key has below the prefix.
func (r *Registrator) routeDepth() int {
	if r.cfg.Layout == LayoutRegistrator {
		return 2
	}
	return 1
}

// leaves lists the non-directory nodes below dir, by their key relative
// to dir, keeping those depth segments deep. A missing dir is empty.
func (r *Registrator) leaves(ctx context.Context, dir string, depth int) (map[string]*client.Node, error) {
	resp, err := r.cfg.Client.Get(ctx, dir, client.GetOptions{Recursive: true})
	r.storeContact(err)
	if client.IsKeyNotFound(err) {
		return map[string]*client.Node{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]*client.Node{}
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		if n == nil {
			return
		}
		if !n.Dir {
			rel, ok := strings.CutPrefix(n.Key, dir+"/")
			if ok && strings.Count(rel, "/") == depth-1 {
				out[rel] = n
			}
			return
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	return out, nil
}

// parseRecord reads a record; a value that does not parse is kept as a
// record with no value, which never proves ownership of a route but lets
// the stale record itself be removed.
func parseRecord(s string) *ownerRecord {
	rec := &ownerRecord{}
	if json.Unmarshal([]byte(s), rec) != nil {
		return &ownerRecord{}
	}
	return rec
}

// keyTruth is what the store holds for one route name.
type keyTruth struct {
	Route       string
	RouteExists bool
	// RouteTTL is the route's remaining time to live, 0 for none.
	RouteTTL time.Duration
	// Record is this owner's record, nil if none.
	Record       *ownerRecord
	Weight       string
	WeightExists bool
}

// getValue reads one key; a missing key is not an error.
func (r *Registrator) getValue(ctx context.Context, key string) (string, bool, time.Duration, error) {
	resp, err := r.cfg.Client.Get(ctx, key, client.GetOptions{})
	r.storeContact(err)
	if client.IsKeyNotFound(err) {
		return "", false, 0, nil
	}
	if err != nil {
		return "", false, 0, err
	}
	if resp.Node == nil || resp.Node.Dir {
		// A directory where a route should be: nothing this owner could
		// have written; it is somebody else's.
		return "", true, 0, nil
	}
	return resp.Node.Value, true, time.Duration(resp.Node.TTL) * time.Second, nil
}

// truth reads the route, the record and the weight of rel.
func (r *Registrator) truth(ctx context.Context, rel string) (keyTruth, error) {
	var t keyTruth
	var err error
	if t.Route, t.RouteExists, t.RouteTTL, err = r.getValue(ctx, r.routeKey(rel)); err != nil {
		return t, err
	}
	rec, ok, _, err := r.getValue(ctx, r.recordKey(rel))
	if err != nil {
		return t, err
	}
	if ok {
		t.Record = parseRecord(rec)
	}
	if r.cfg.Layout == LayoutHecd {
		if t.Weight, t.WeightExists, _, err = r.getValue(ctx, r.weightKey(rel)); err != nil {
			return t, err
		}
	}
	return t, nil
}

// claimedByOther reports whether another owner has a record for rel
// (asked only before adopting a key).
func (r *Registrator) claimedByOther(ctx context.Context, rel string) (bool, error) {
	all, err := r.leaves(ctx, r.ownersDir(), r.routeDepth()+1)
	if err != nil {
		return false, err
	}
	for k := range all {
		owner, rest, _ := strings.Cut(k, "/")
		if rest == rel && owner != r.cfg.OwnerID {
			return true, nil
		}
	}
	return false, nil
}

// set is the one place that writes a key: it counts, honours dry-run and
// records store contact.
func (r *Registrator) set(ctx context.Context, key, value string, o client.SetOptions) error {
	if o.TTL == 0 && r.cfg.TTL > 0 {
		o.TTL = r.cfg.TTL
	}
	o.NoValueOnSuccess = true
	if r.cfg.DryRun {
		if !o.Refresh {
			r.log.Info("dry-run: would set " + key + "=" + value + " ttl=" + ttlString(o.TTL))
		}
		return nil
	}
	r.m.storeWrites.Add(1)
	_, err := r.cfg.Client.Set(ctx, key, value, o)
	r.storeContact(err)
	return err
}

// del deletes a key with an optional prevValue.
func (r *Registrator) del(ctx context.Context, key, prevValue string) error {
	if r.cfg.DryRun {
		r.log.Info("dry-run: would delete " + key)
		return nil
	}
	r.m.storeWrites.Add(1)
	_, err := r.cfg.Client.Delete(ctx, key, client.DeleteOptions{PrevValue: prevValue})
	r.storeContact(err)
	return err
}

func ttlString(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) + "s"
}

// storeContact notes a store answer (any keys error is an answer) or
// counts a failure to get one.
func (r *Registrator) storeContact(err error) {
	var ke *client.Error
	if err == nil || errors.As(err, &ke) {
		r.m.lastStore.Store(time.Now().UnixNano())
		return
	}
	r.m.storeErrors.Add(1)
}

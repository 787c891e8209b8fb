package server

import (
	"context"
	"time"

	"hecd/internal/api"
	"hecd/internal/cluster"
	"hecd/internal/store"
)

// clusterAdapter presents a cluster.Node as the api package's Cluster.
type clusterAdapter struct{ node *cluster.Node }

func (a *clusterAdapter) Propose(ctx context.Context, w *store.Request) (api.Result, error) {
	ev, e, idx, err := a.node.Propose(ctx, w)
	if err != nil {
		return api.Result{}, err
	}
	_, term := a.node.RaftStatus()
	return api.Result{Event: ev, Err: e, RaftIndex: idx, RaftTerm: term}, nil
}

func (a *clusterAdapter) QuorumRead(ctx context.Context) error { return a.node.QuorumRead(ctx) }
func (a *clusterAdapter) RaftStatus() (uint64, uint64)         { return a.node.RaftStatus() }
func (a *clusterAdapter) ClusterID() uint64                    { return a.node.ClusterID() }

func toAPIMember(m cluster.Member) api.Member {
	return api.Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs}
}

func (a *clusterAdapter) Members() []api.Member {
	ms := a.node.Members()
	out := make([]api.Member, len(ms))
	for i, m := range ms {
		out[i] = toAPIMember(m)
	}
	return out
}

func (a *clusterAdapter) Leader() (api.Member, bool) {
	id := a.node.LeaderID()
	if id == 0 {
		return api.Member{}, false
	}
	for _, m := range a.node.Members() {
		if m.ID == id {
			return toAPIMember(m), true
		}
	}
	return api.Member{}, false
}

func (a *clusterAdapter) Self() api.Member {
	self := a.node.Self()
	for _, m := range a.node.Members() {
		if m.ID == self.ID {
			return toAPIMember(m)
		}
	}
	return toAPIMember(self)
}

func (a *clusterAdapter) UpdateMember(ctx context.Context, id uint64, peerURLs []string) error {
	return a.node.UpdateMember(ctx, id, peerURLs)
}

func (a *clusterAdapter) AddMember(ctx context.Context, peerURLs []string) (api.Member, error) {
	m, err := a.node.AddMember(ctx, peerURLs)
	return toAPIMember(m), err
}

func (a *clusterAdapter) RemoveMember(ctx context.Context, id uint64) error {
	return a.node.RemoveMember(ctx, id)
}

func (a *clusterAdapter) Removed(id uint64) bool { return a.node.Removed(id) }

func (a *clusterAdapter) SelfStats() api.SelfStats {
	st := api.SelfStats{State: a.node.State(), StartTime: a.node.StartTime(), LeaderID: a.node.LeaderID()}
	if a.node.IsLeader() {
		since := a.node.LeaderSince()
		st.LeaderStart = since
		st.LeaderUptime = timeSince(since)
	}
	return st
}

func timeSince(t time.Time) time.Duration { return time.Since(t) }

package cluster

import (
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// ConfState returns a copy of the Raft configuration as of the applied index.
func (n *Node) ConfState() *raftpb.ConfState {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return proto.Clone(n.confState).(*raftpb.ConfState)
}

// Leader returns the Raft id of the leader this node follows, or 0.
func (n *Node) Leader() uint64 { return n.leader.get().lead }

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.leader.get().state == raft.StateLeader }

// Ready reports whether the node has a leader and has applied everything it
// knows to be committed: the condition of /readyz.
func (n *Node) Ready() bool {
	if n.Leader() == raft.None {
		return false
	}
	st := n.raft.Status()
	return st.Applied >= st.GetCommit() && n.applied.get() >= st.GetCommit()
}

// nameOf returns a node's name for logs and status, or its id in hex when the
// replicated state does not know it.
func (n *Node) nameOf(id uint64) string {
	if id == raft.None {
		return ""
	}
	if id == n.id {
		return n.cfg.NodeName
	}
	if ni, ok := n.fsm.Node(id); ok {
		return ni.GetName()
	}
	if m, ok := n.gossip.MemberByID(id); ok {
		return m.Name
	}
	return fmt.Sprintf("%x", id)
}

// RaftStatus reports this node's view of Raft.
func (n *Node) RaftStatus() *ferryv1.RaftStatusResponse {
	st := n.raft.Status()
	cs := n.ConfState()
	first, _ := n.store.FirstIndex()
	last, _ := n.store.LastIndex()
	n.mu.RLock()
	snapIdx := n.snapshotIndex
	n.mu.RUnlock()
	resp := &ferryv1.RaftStatusResponse{
		Node:          n.cfg.NodeName,
		RaftId:        n.id,
		ClusterId:     n.clusterID,
		Role:          n.roleOf(n.id, st.Lead, st.RaftState, cs),
		Term:          st.GetTerm(),
		Leader:        n.nameOf(st.Lead),
		LeaderId:      st.Lead,
		CommitIndex:   st.GetCommit(),
		AppliedIndex:  n.applied.get(),
		SnapshotIndex: snapIdx,
		FirstIndex:    first,
		LastIndex:     last,
	}
	for _, id := range cs.GetVoters() {
		resp.Voters = append(resp.Voters, n.nameOf(id))
	}
	for _, id := range cs.GetLearners() {
		resp.Learners = append(resp.Learners, n.nameOf(id))
	}
	slices.Sort(resp.Voters)
	slices.Sort(resp.Learners)
	return resp
}

func (n *Node) roleOf(id, lead uint64, self raft.StateType, cs *raftpb.ConfState) ferryv1.RaftRole {
	switch {
	case slices.Contains(cs.GetLearners(), id):
		return ferryv1.RaftRole_RAFT_ROLE_LEARNER
	case !slices.Contains(cs.GetVoters(), id):
		return ferryv1.RaftRole_RAFT_ROLE_NONE
	case id == lead:
		return ferryv1.RaftRole_RAFT_ROLE_LEADER
	case id == n.id && self == raft.StateCandidate || id == n.id && self == raft.StatePreCandidate:
		return ferryv1.RaftRole_RAFT_ROLE_CANDIDATE
	default:
		return ferryv1.RaftRole_RAFT_ROLE_FOLLOWER
	}
}

// Members merges gossip's view (who is alive, at which addresses) with the
// Raft configuration (who votes).
func (n *Node) Members() []*ferryv1.Member {
	st := n.raft.Status()
	cs := n.ConfState()
	byID := map[uint64]*ferryv1.Member{}
	for _, gm := range n.gossip.Members() {
		if gm.ClusterID != "" && gm.ClusterID != n.clusterID {
			continue
		}
		byID[gm.RaftID] = &ferryv1.Member{
			Node: gm.Name, RaftId: gm.RaftID, Site: gm.Site, GossipState: gm.State,
			GrpcAddr: gm.GRPCAddr, HttpAddr: gm.HTTPAddr, GossipAddr: gm.GossipAddr, Transport: gm.Transport,
		}
	}
	for _, ni := range n.fsm.Nodes() {
		if _, ok := byID[ni.GetRaftId()]; ok {
			continue
		}
		// In Raft but unknown to gossip: it has not been seen since this node started.
		byID[ni.GetRaftId()] = &ferryv1.Member{
			Node: ni.GetName(), RaftId: ni.GetRaftId(), Site: ni.GetSite(),
			GossipState: ferryv1.GossipState_GOSSIP_STATE_DEAD,
			GrpcAddr:    ni.GetGrpcAddr(), HttpAddr: ni.GetHttpAddr(), GossipAddr: ni.GetGossipAddr(),
		}
	}
	out := make([]*ferryv1.Member, 0, len(byID))
	for id, m := range byID {
		if n.fsm.IsRemoved(id) {
			continue
		}
		if ni, ok := n.fsm.Node(id); ok {
			m.IscsiPortal, m.IscsiTarget = ni.GetIscsiPortal(), ni.GetIscsiTarget()
		}
		m.RaftRole = n.roleOf(id, st.Lead, st.RaftState, cs)
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *ferryv1.Member) int {
		if a.Node < b.Node {
			return -1
		}
		if a.Node > b.Node {
			return 1
		}
		return 0
	})
	return out
}

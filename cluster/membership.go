package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// ErrUnknownMember means no member of that name is known.
var ErrUnknownMember = errors.New("no such member")

// ErrLastVoter refuses to remove the only voter, which would leave a cluster
// that can never commit again.
var ErrLastVoter = errors.New("cannot remove the last voter")

// runMembership reconciles gossip with the Raft configuration while this node
// leads: new nodes join as learners, caught-up learners become voters up to
// an odd MaxVoters, and nodes dead for DeadNodeTimeout are removed.
func (n *Node) runMembership() {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		changed := n.gossip.Changed()
		select {
		case <-n.stopc:
			return
		case <-ticker.C:
		case <-changed:
		}
		if !n.IsLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.reconcileMembers(ctx); err != nil {
			n.log.Warn("membership change failed", "err", err)
		}
		cancel()
	}
}

// memberPlan is the one configuration change a reconcile round makes: one
// operation on one or more nodes (several only for promotions, which then go
// through joint consensus in one step).
type memberPlan struct {
	op   raftpb.ConfChangeType
	ids  []uint64
	info *ferryv1.NodeInfo // context for additions: who the (first) node is
	why  string
}

func (n *Node) reconcileMembers(ctx context.Context) error {
	plan, ok := n.planMembership(time.Now())
	if !ok {
		return nil
	}
	names := make([]string, len(plan.ids))
	for i, id := range plan.ids {
		names[i] = n.nameOf(id)
	}
	n.log.Info("changing membership", "op", plan.op.String(), "members", strings.Join(names, ","), "why", plan.why)
	return n.changeMember(ctx, plan)
}

// planMembership decides the next change, one at a time, since Raft accepts
// only one pending configuration change.
func (n *Node) planMembership(now time.Time) (memberPlan, bool) {
	cs := n.ConfState()
	inConf := func(id uint64) bool {
		return slices.Contains(cs.GetVoters(), id) || slices.Contains(cs.GetLearners(), id)
	}
	gossip := map[uint64]GossipMember{}
	for _, m := range n.gossip.Members() {
		if m.ClusterID == n.clusterID && m.RaftID != 0 {
			gossip[m.RaftID] = m
		}
	}
	// New nodes become learners first, so they catch up without affecting quorum.
	for id, m := range gossip {
		if m.State == ferryv1.GossipState_GOSSIP_STATE_ALIVE && !inConf(id) && !n.fsm.IsRemoved(id) {
			return memberPlan{op: raftpb.ConfChangeAddLearnerNode, ids: []uint64{id}, info: m.nodeInfo(), why: "new node seen in gossip"}, true
		}
	}
	// Nodes dead for longer than the timeout leave the configuration.
	for _, id := range append(slices.Clone(cs.GetVoters()), cs.GetLearners()...) {
		m, ok := gossip[id]
		gone := ok && (m.State == ferryv1.GossipState_GOSSIP_STATE_DEAD || m.State == ferryv1.GossipState_GOSSIP_STATE_LEFT)
		if id != n.id && gone && now.Sub(m.Since) > n.cfg.DeadNodeTimeout {
			return memberPlan{op: raftpb.ConfChangeRemoveNode, ids: []uint64{id}, info: m.nodeInfo(), why: fmt.Sprintf("dead in gossip for %s", now.Sub(m.Since).Round(time.Second))}, true
		}
	}
	// Promote caught-up learners when the voter count can reach the next odd
	// number up to MaxVoters: an even count tolerates no more failures than
	// the odd count below it and needs a larger quorum. Two promotions go in
	// one joint-consensus change, so the cluster never sits at an even count.
	last, _ := n.store.LastIndex()
	st := n.raft.Status()
	var ready []uint64
	for _, id := range cs.GetLearners() {
		m, ok := gossip[id]
		pr, tracked := st.Progress[id]
		if ok && m.State == ferryv1.GossipState_GOSSIP_STATE_ALIVE && tracked && pr.Match+n.cfg.PromoteLag >= last {
			ready = append(ready, id)
		}
	}
	slices.Sort(ready)
	voters := len(cs.GetVoters())
	target := min(n.cfg.MaxVoters, voters+len(ready))
	if target%2 == 0 {
		target--
	}
	if len(ready) > 0 && voters < target {
		ids := ready[:target-voters]
		return memberPlan{op: raftpb.ConfChangeAddNode, ids: ids, info: gossip[ids[0]].nodeInfo(), why: "learners caught up"}, true
	}
	return memberPlan{}, false
}

func (n *Node) changeMember(ctx context.Context, p memberPlan) error {
	var cctx []byte
	if p.info != nil && p.op != raftpb.ConfChangeRemoveNode {
		b, err := proto.Marshal(p.info)
		if err != nil {
			return err
		}
		cctx = b
	}
	cc := &raftpb.ConfChangeV2{Context: cctx}
	for _, id := range p.ids {
		cc.Changes = append(cc.Changes, &raftpb.ConfChangeSingle{Type: p.op.Enum(), NodeId: proto.Uint64(id)})
	}
	return n.ProposeConfChange(ctx, cc, func(cs *raftpb.ConfState) bool {
		if len(cs.GetVotersOutgoing()) > 0 {
			return false // still in the joint configuration
		}
		for _, id := range p.ids {
			voter, learner := slices.Contains(cs.GetVoters(), id), slices.Contains(cs.GetLearners(), id)
			switch {
			case p.op == raftpb.ConfChangeAddNode && !voter,
				p.op == raftpb.ConfChangeAddLearnerNode && !voter && !learner,
				p.op == raftpb.ConfChangeRemoveNode && (voter || learner):
				return false
			}
		}
		return true
	})
}

// RemoveMember removes the named node from the Raft configuration now,
// whether or not it is alive.
func (n *Node) RemoveMember(ctx context.Context, name string) error {
	var id uint64
	if ni, ok := n.fsm.NodeByName(name); ok {
		id = ni.GetRaftId()
	} else {
		for _, m := range n.gossip.Members() {
			if m.Name == name && m.ClusterID == n.clusterID {
				id = m.RaftID
			}
		}
	}
	if id == 0 {
		return fmt.Errorf("%w: %q", ErrUnknownMember, name)
	}
	cs := n.ConfState()
	if slices.Equal(cs.GetVoters(), []uint64{id}) {
		return fmt.Errorf("%w: %q", ErrLastVoter, name)
	}
	n.log.Info("changing membership", "op", "remove", "member", name, "why", "requested by an operator")
	return n.changeMember(ctx, memberPlan{op: raftpb.ConfChangeRemoveNode, ids: []uint64{id}})
}

func (m GossipMember) nodeInfo() *ferryv1.NodeInfo {
	return &ferryv1.NodeInfo{Name: m.Name, RaftId: m.RaftID, Site: m.Site, GrpcAddr: m.GRPCAddr, HttpAddr: m.HTTPAddr, GossipAddr: m.GossipAddr}
}

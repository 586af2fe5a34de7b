package iscsitarget

import (
	"context"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
)

// PortID is the relative target port identifier of a node's portal: each
// node's must differ (VPD page 83h), and reservations name a nexus by it,
// so it is derived from the node's Raft id, which no other node has.
func PortID(raftID uint64) uint16 { return uint16(raftID%0xFFFF) + 1 }

// peerPoll is how often awaitPeers asks a node how far it has applied.
const peerPoll = 10 * time.Millisecond

// awaitPeers returns once every other node serving iSCSI that gossip does
// not hold dead has applied the entry at index (so its portal enforces
// the change), or once fenceWait has passed. A node that has not answered
// by then either applies the entry late or has lost the Raft leader, and
// Busy refuses writes to LUNs with reservations on a node without a
// leader: see doc.go.
func (r *reservations) awaitPeers(ctx context.Context, index uint64) {
	ctx, cancel := context.WithTimeout(ctx, r.fenceWait)
	defer cancel()
	type late struct{ node, err string }
	results := make(chan *late)
	waiting := 0
	for _, m := range r.node.Members() {
		if m.GetNode() == r.node.Name() || m.GetIscsiPortal() == "" || m.GetGrpcAddr() == "" || !mayServe(m) {
			continue
		}
		waiting++
		go func() {
			var last error
			for {
				applied, err := r.node.PeerApplied(ctx, m.GetGrpcAddr())
				if err == nil && applied >= index {
					results <- nil
					return
				}
				if err != nil {
					last = err
				}
				select {
				case <-ctx.Done():
					l := &late{node: m.GetNode(), err: "not applied yet"}
					if last != nil {
						l.err = last.Error()
					}
					results <- l
					return
				case <-time.After(peerPoll):
				}
			}
		}()
	}
	for range waiting {
		if l := <-results; l != nil {
			r.log.Warn("a reservation change was answered before a node applied it", "node", l.node, "index", index, "err", l.err)
		}
	}
}

// mayServe tells whether a member may still be answering initiators:
// alive, or suspected but not yet declared dead.
func mayServe(m *ferryv1.Member) bool {
	s := m.GetGossipState()
	return s == ferryv1.GossipState_GOSSIP_STATE_ALIVE || s == ferryv1.GossipState_GOSSIP_STATE_SUSPECT
}

// releaseEvery is how often the leader's target looks for SPC-2
// reservations held through nodes that died.
const releaseEvery = 2 * time.Second

// release6 is a RELEASE(6) CDB.
var release6 = []byte{0x17, 0, 0, 0, 0, 0}

// releaseOwn releases the SPC-2 reservations (RESERVE(6)) held through
// this node's own port, before the target serves: its process ended, and
// the sessions of those nexuses with it, and SPC-2 releases a reservation
// on the loss of its nexus. A linearizable read first makes sure this node
// has applied every reservation taken before it stopped; without a quorum
// within startWait it gives up (the leader's releaseDead did the work if
// the node was gone long enough for gossip to say so). Persistent
// reservations outlive their nexuses and are left alone.
func (r *reservations) releaseOwn(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	if err := r.node.LinearizableRead(rctx); err != nil {
		r.log.Warn("RESERVE(6) reservations held through this node's port before it started are not released", "err", err)
		return
	}
	r.releaseThrough(ctx, func(port uint16) bool { return port == r.port })
}

// startWait bounds how long the target waits at start to learn the
// reservations held through its own port.
const startWait = 5 * time.Second

// releaseDead is the leader's: it releases the SPC-2 reservations held
// through the port of a node gossip declares dead or gone, whose nexuses
// went with it.
func (r *reservations) releaseDead(ctx context.Context) {
	tick := time.NewTicker(releaseEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !r.node.IsLeader() {
			continue
		}
		dead := map[uint16]bool{}
		for _, m := range r.node.Members() {
			if !mayServe(m) && m.GetNode() != r.node.Name() {
				dead[PortID(m.GetRaftId())] = true
			}
		}
		if len(dead) > 0 {
			r.releaseThrough(ctx, func(port uint16) bool { return dead[port] })
		}
	}
}

// releaseThrough proposes RELEASE(6) for every SPC-2 reservation held
// through a port lost says is gone.
func (r *reservations) releaseThrough(ctx context.Context, lost func(uint16) bool) {
	type held struct {
		name  string
		nexus pr.Nexus
	}
	var release []held
	r.mu.RLock()
	for _, e := range r.disks {
		if l := e.state.Legacy; l != nil && lost(l.TargetPort) {
			release = append(release, held{e.name, *l})
		}
	}
	r.mu.RUnlock()
	for _, h := range release {
		ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
		res, err := r.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_Reserve{Reserve: &ferryv1.ReserveOp{
			Disk: h.name, Nexus: &ferryv1.PRNexus{Initiator: h.nexus.Initiator, TargetPort: uint32(h.nexus.TargetPort)}, Cdb: release6,
		}}})
		cancel()
		if err == nil {
			err = res.Err
		}
		if err != nil {
			r.log.Warn("releasing the RESERVE(6) of a lost nexus", "disk", h.name, "initiator", h.nexus.Initiator, "port", h.nexus.TargetPort, "err", err)
			continue
		}
		r.log.Info("released the RESERVE(6) of a lost nexus", "disk", h.name, "initiator", h.nexus.Initiator, "port", h.nexus.TargetPort)
	}
}

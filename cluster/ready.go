package cluster

import (
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// run is the node's only writer of Raft and state-machine state: it ticks the
// Raft clock and handles each Ready in the order the Raft contract demands.
func (n *Node) run() {
	defer close(n.done)
	defer n.shutdownResources()
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			n.raft.Tick()
		case rd := <-n.raft.Ready():
			if err := n.handleReady(rd); err != nil {
				n.fail(err)
				return
			}
			n.raft.Advance()
		case <-n.stopc:
			return
		}
	}
}

func (n *Node) handleReady(rd raft.Ready) error {
	if rd.SoftState != nil {
		n.observeSoftState(rd.SoftState)
	}
	// A leader whose term and vote are already durable sends its appends
	// while it writes them (Raft thesis 10.2.1, allowed by the raft
	// package's contract): raft counts the leader's own copy toward a quorum
	// from the moment it appends, and nothing it sends depends on the write.
	// Everyone else sends only after the write.
	early := n.IsLeader() && !n.termOrVoteChanges(rd.HardState)
	if early {
		n.transport.send(rd.Messages)
	}
	if err := n.persist(rd); err != nil {
		return err
	}
	if rd.HardState != nil {
		n.metrics.term.Set(float64(rd.HardState.GetTerm()))
		n.metrics.commitIndex.Set(float64(rd.HardState.GetCommit()))
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.installSnapshot(rd.Snapshot); err != nil {
			return err
		}
	}
	if !early {
		// Only now, with everything durable, may messages leave this node.
		n.transport.send(rd.Messages)
	}
	for _, rs := range rd.ReadStates {
		n.reads.complete(string(rs.RequestCtx), rs.Index)
	}
	if err := n.applyEntries(rd.CommittedEntries); err != nil {
		return err
	}
	return n.maybeSnapshot()
}

// persist makes a Ready durable. A HardState whose only change is the
// commit index needs no fsync (raft's MustSync is false: the commit index is
// learned again from the leader), so it is kept until the next write instead
// of costing a transaction of its own.
func (n *Node) persist(rd raft.Ready) error {
	hs := rd.HardState
	noWrite := len(rd.Entries) == 0 && raft.IsEmptySnap(rd.Snapshot)
	if noWrite && (hs == nil || !rd.MustSync) {
		if hs != nil {
			n.pendingHS = hs
		}
		return nil
	}
	if hs == nil {
		hs = n.pendingHS
	}
	start := time.Now()
	if err := n.store.Save(hs, rd.Entries, rd.Snapshot); err != nil {
		return fmt.Errorf("persist raft state: %w", err)
	}
	n.pendingHS = nil
	n.metrics.fsyncSeconds.Observe(time.Since(start).Seconds())
	if hs != nil {
		n.durableTerm, n.durableVote = hs.GetTerm(), hs.GetVote()
	}
	return nil
}

// flushHardState writes a HardState kept back by persist: before a snapshot
// (a restarted node must find its commit index at least at the snapshot) and
// before the log closes.
func (n *Node) flushHardState() error {
	if n.pendingHS == nil {
		return nil
	}
	if err := n.store.Save(n.pendingHS, nil, nil); err != nil {
		return fmt.Errorf("persist raft hard state: %w", err)
	}
	n.pendingHS = nil
	return nil
}

func (n *Node) termOrVoteChanges(hs *raftpb.HardState) bool {
	return hs != nil && (hs.GetTerm() != n.durableTerm || hs.GetVote() != n.durableVote)
}

func (n *Node) observeSoftState(ss *raft.SoftState) {
	prev := n.leader.get()
	if ss.Lead != prev.lead {
		n.metrics.leaderChanges.Inc()
		if ss.Lead == raft.None {
			n.log.Warn("lost leader", "previous", n.nameOf(prev.lead))
		} else {
			n.log.Info("leader changed", "leader", n.nameOf(ss.Lead), "previous", n.nameOf(prev.lead))
		}
	}
	if ss.RaftState != prev.state {
		n.log.Info("raft role changed", "role", ss.RaftState.String())
	}
	isLeader := 0.0
	if ss.RaftState == raft.StateLeader {
		isLeader = 1
	}
	n.metrics.isLeader.Set(isLeader)
	n.leader.set(leaderState{lead: ss.Lead, state: ss.RaftState})
}

func (n *Node) installSnapshot(snap *raftpb.Snapshot) error {
	idx := snap.GetMetadata().GetIndex()
	if err := n.fsm.Restore(snap.GetData(), idx); err != nil {
		return fmt.Errorf("install snapshot at index %d: %w", idx, err)
	}
	n.mu.Lock()
	n.confState = proto.Clone(snap.GetMetadata().GetConfState()).(*raftpb.ConfState)
	n.snapshotIndex = idx
	n.mu.Unlock()
	n.applied.set(idx)
	n.metrics.snapshots.WithLabelValues("installed").Inc()
	n.log.Info("installed snapshot from leader", "index", idx)
	n.jobs.publishAll()
	return nil
}

func (n *Node) applyEntries(ents []*raftpb.Entry) error {
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= n.applied.get() {
			continue
		}
		switch e.GetType() {
		case raftpb.EntryNormal:
			if len(e.GetData()) > 0 {
				n.applyCommand(idx, e.GetData())
			}
		case raftpb.EntryConfChange:
			var cc raftpb.ConfChange
			if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
				return fmt.Errorf("decode conf change at index %d: %w", idx, err)
			}
			n.applyConfChange(idx, cc.AsV2())
		case raftpb.EntryConfChangeV2:
			var cc raftpb.ConfChangeV2
			if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
				return fmt.Errorf("decode conf change at index %d: %w", idx, err)
			}
			n.applyConfChange(idx, &cc)
		}
		n.applied.set(idx)
	}
	if len(ents) > 0 {
		n.metrics.appliedIndex.Set(float64(n.applied.get()))
	}
	return nil
}

func (n *Node) applyCommand(idx uint64, data []byte) {
	var cmd ferryv1.Command
	if err := proto.Unmarshal(data, &cmd); err != nil {
		// Every replica skips the same undecodable entry, so they stay equal.
		n.log.Error("skipping undecodable log entry", "index", idx, "err", err)
		return
	}
	res := n.fsm.Apply(idx, &cmd)
	if cmd.GetNode() == n.cfg.NodeName {
		n.proposals.complete(cmd.GetRequestId(), res)
	}
	if res.Job != nil && !res.Existing {
		n.jobs.publish(res.Job.GetId())
		n.log.Info("job state changed", "job", res.Job.GetId(), "state", res.Job.GetState().String(), "index", idx)
	}
}

func (n *Node) applyConfChange(idx uint64, cc *raftpb.ConfChangeV2) {
	var info *ferryv1.NodeInfo
	if len(cc.GetContext()) > 0 {
		info = &ferryv1.NodeInfo{}
		if err := proto.Unmarshal(cc.GetContext(), info); err != nil {
			info = nil
		}
	}
	cs := n.raft.ApplyConfChange(cc)
	n.mu.Lock()
	n.confState = cs
	n.mu.Unlock()
	for _, ch := range cc.GetChanges() {
		id := ch.GetNodeId()
		switch ch.GetType() {
		case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
			if info != nil && info.GetRaftId() == id {
				n.fsm.AddNode(idx, info)
			}
			n.log.Info("member change", "op", ch.GetType().String(), "member", n.nameOf(id), "voters", len(cs.GetVoters()), "learners", len(cs.GetLearners()))
		case raftpb.ConfChangeRemoveNode:
			name := n.nameOf(id)
			n.fsm.RemoveNode(idx, id)
			n.log.Info("member change", "op", "remove", "member", name, "voters", len(cs.GetVoters()), "learners", len(cs.GetLearners()))
			if id == n.id {
				go n.fail(ErrRemoved)
			}
		}
	}
	n.confChanged.notify()
}

func (n *Node) maybeSnapshot() error {
	applied := n.applied.get()
	n.mu.RLock()
	since := applied - n.snapshotIndex
	cs := proto.Clone(n.confState).(*raftpb.ConfState)
	n.mu.RUnlock()
	if applied <= n.snapshotIndex || since < n.cfg.SnapshotEntries {
		return nil
	}
	if err := n.flushHardState(); err != nil {
		return err
	}
	data, fsmIndex, err := n.fsm.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot state: %w", err)
	}
	if _, err := n.store.CreateSnapshot(fsmIndex, cs, data); err != nil {
		return fmt.Errorf("save snapshot at %d: %w", fsmIndex, err)
	}
	n.mu.Lock()
	n.snapshotIndex = fsmIndex
	n.mu.Unlock()
	if fsmIndex > n.cfg.CatchUpEntries {
		compactTo := fsmIndex - n.cfg.CatchUpEntries
		if first, _ := n.store.FirstIndex(); compactTo > first {
			if err := n.store.Compact(compactTo); err != nil {
				return fmt.Errorf("compact log to %d: %w", compactTo, err)
			}
		}
	}
	n.metrics.snapshots.WithLabelValues("created").Inc()
	n.log.Info("snapshot created", "index", fsmIndex, "bytes", len(data))
	return nil
}

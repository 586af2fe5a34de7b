package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// run ticks the Raft clock and routes each Ready. Raft runs with
// asynchronous storage writes: log appends (with the HardState and incoming
// snapshots) go to appendLoop, committed entries to applyLoop, and both
// answer Raft with the response messages it attached, only after their work
// is done. The three proceed in parallel, so the next batch of proposals is
// being replicated while the previous one is fsynced and the one before it
// applied.
func (n *Node) run() {
	defer close(n.done)
	defer n.shutdownResources()
	appends := make(chan *raftpb.Message, 256)
	applies := make(chan *raftpb.Message, 256)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.appendLoop(appends) }()
	go func() { defer wg.Done(); n.applyLoop(applies) }()
	defer func() {
		// Stopping Raft first unblocks the loops' steps; the log closes
		// only after both have returned.
		n.raft.Stop()
		close(appends)
		close(applies)
		wg.Wait()
	}()
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			n.raft.Tick()
		case rd := <-n.raft.Ready():
			n.handleReady(rd, appends, applies)
		case <-n.stopc:
			return
		}
	}
}

func (n *Node) handleReady(rd raft.Ready, appends, applies chan<- *raftpb.Message) {
	if rd.SoftState != nil {
		n.observeSoftState(rd.SoftState)
	}
	if rd.HardState != nil {
		n.metrics.term.Set(float64(rd.HardState.GetTerm()))
		n.metrics.commitIndex.Set(float64(rd.HardState.GetCommit()))
	}
	for _, rs := range rd.ReadStates {
		n.reads.complete(string(rs.RequestCtx), rs.Index)
	}
	// Messages to peers in the Ready itself depend on nothing local being
	// durable (a leader's appends, heartbeats): they leave at once, so the
	// leader writes its log in parallel with its followers (Raft thesis
	// 10.2.1). Those that do depend on it (acknowledgements, votes) travel
	// as responses of the storage messages and leave after the write.
	var out []*raftpb.Message
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			appends <- m
		case raft.LocalApplyThread:
			applies <- m
		default:
			out = append(out, m)
		}
	}
	n.transport.send(out)
}

// maxAppendBatch bounds how many queued storage appends one write combines.
const maxAppendBatch = 64

// appendLoop makes log appends durable, combining whatever has queued up into
// one fsynced transaction (group commit), then delivers their responses.
func (n *Node) appendLoop(q <-chan *raftpb.Message) {
	failed := false
	var next *raftpb.Message
	for {
		m := next
		next = nil
		if m == nil {
			var ok bool
			if m, ok = <-q; !ok {
				if n.pendingHS != nil && !failed {
					if err := n.saveHardState(n.pendingHS); err != nil {
						n.log.Warn("save raft hard state", "err", err)
					}
				}
				return
			}
		}
		batch := []*raftpb.Message{m}
	collect:
		for len(batch) < maxAppendBatch {
			select {
			case more, ok := <-q:
				if !ok {
					break collect
				}
				if hasSnapshot(more) {
					// A snapshot replaces the log: it starts a batch of its own.
					next = more
					break collect
				}
				batch = append(batch, more)
			default:
				break collect
			}
		}
		if failed {
			continue // the node is stopping: drain without writing
		}
		if err := n.persistAppends(batch); err != nil {
			failed = true
			n.fail(err)
			continue
		}
		var out, local []*raftpb.Message
		for _, bm := range batch {
			for _, r := range bm.GetResponses() {
				if r.GetTo() == n.id {
					local = append(local, r)
				} else {
					out = append(out, r)
				}
			}
		}
		n.transport.send(out)
		for _, r := range local {
			n.stepLocal(r)
		}
	}
}

// saveHardState writes a HardState on its own, as a vote or a new term
// must be before anything that depends on it is sent.
func (n *Node) saveHardState(hs *raftpb.HardState) error {
	if err := n.store.Save(hs, nil, nil); err != nil {
		return fmt.Errorf("persist raft hard state: %w", err)
	}
	n.pendingHS, n.durable = nil, hs
	return nil
}

func hasSnapshot(m *raftpb.Message) bool {
	return m.GetSnapshot() != nil && !raft.IsEmptySnap(m.GetSnapshot())
}

// persistAppends writes a batch of storage appends as one transaction: the
// last HardState, the entries merged as sequential appends would leave them
// (a later append from index i replaces everything from i on), and a
// snapshot, which only the first message of a batch may carry.
func (n *Node) persistAppends(batch []*raftpb.Message) error {
	var hs *raftpb.HardState
	var ents []*raftpb.Entry
	snap := batch[0].GetSnapshot()
	for _, m := range batch {
		if m.Term != nil {
			hs = &raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		}
		if es := m.GetEntries(); len(es) > 0 {
			first := es[0].GetIndex()
			cut := len(ents)
			for cut > 0 && ents[cut-1].GetIndex() >= first {
				cut--
			}
			ents = append(ents[:cut], es...)
		}
	}
	if len(ents) == 0 && !hasSnapshot(batch[0]) {
		// A HardState that only moves the commit index needs no fsync of
		// its own (raft learns the commit index again from the leader, and
		// the log keeps it at or past its snapshot): it rides along with
		// the next write.
		if hs != nil && (hs.GetTerm() != n.durable.GetTerm() || hs.GetVote() != n.durable.GetVote()) {
			return n.saveHardState(hs)
		}
		if hs != nil {
			n.pendingHS = hs
		}
		return nil
	}
	if hs == nil {
		hs = n.pendingHS
	}
	start := time.Now()
	if err := n.store.Save(hs, ents, snap); err != nil {
		return fmt.Errorf("persist raft state: %w", err)
	}
	n.metrics.fsyncSeconds.Observe(time.Since(start).Seconds())
	n.pendingHS = nil
	if hs != nil {
		n.durable = hs
	}
	if hasSnapshot(batch[0]) {
		return n.installSnapshot(snap)
	}
	return nil
}

// applyLoop applies committed entries to the state machine in order, then
// tells Raft they are applied.
func (n *Node) applyLoop(q <-chan *raftpb.Message) {
	failed := false
	for m := range q {
		if failed {
			continue
		}
		n.applyMu.Lock()
		err := n.applyEntries(m.GetEntries())
		n.applyMu.Unlock()
		if err == nil {
			err = n.maybeSnapshot()
		}
		if err != nil {
			failed = true
			n.fail(err)
			continue
		}
		for _, r := range m.GetResponses() {
			n.stepLocal(r)
		}
	}
}

// stepLocal hands Raft a response from this node's storage loops.
func (n *Node) stepLocal(m *raftpb.Message) {
	if err := n.raft.Step(context.Background(), m); err != nil && !errors.Is(err, raft.ErrStopped) {
		n.log.Debug("raft step of a local response", "type", m.GetType().String(), "err", err)
	}
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

// installSnapshot replaces the state machine with a snapshot the leader
// sent, once it is durable. The apply loop may be applying older entries at
// the same moment; applyMu orders the two, and entries at or below the
// snapshot are skipped afterwards.
func (n *Node) installSnapshot(snap *raftpb.Snapshot) error {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	idx := snap.GetMetadata().GetIndex()
	if err := n.fsm.Restore(snap.GetData(), idx); err != nil {
		return fmt.Errorf("install snapshot at index %d: %w", idx, err)
	}
	n.mu.Lock()
	n.confState = proto.Clone(snap.GetMetadata().GetConfState()).(*raftpb.ConfState)
	n.snapshotIndex = idx
	n.mu.Unlock()
	n.syncGossipKeys(idx)
	n.observers.call(Applied{Index: idx})
	n.applied.set(idx)
	n.metrics.snapshots.WithLabelValues("installed").Inc()
	n.log.Info("installed snapshot from leader", "index", idx)
	n.jobs.publishAll()
	return nil
}

func (n *Node) applyEntries(ents []*raftpb.Entry) error {
	// A node catching up applies the keyring the batch ends with, not each
	// older one on the way: each would be a moment of encrypting with a
	// key the others may have dropped.
	keyring := false
	defer func() {
		if keyring {
			n.syncGossipKeys(n.applied.get())
		}
	}()
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= n.applied.get() {
			continue
		}
		switch e.GetType() {
		case raftpb.EntryNormal:
			if len(e.GetData()) > 0 {
				keyring = n.applyCommand(idx, e.GetData()) || keyring
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

// applyCommand applies one entry and reports whether it changed the
// gossip keyring.
func (n *Node) applyCommand(idx uint64, data []byte) (keyring bool) {
	var cmd ferryv1.Command
	if err := proto.Unmarshal(data, &cmd); err != nil {
		// Every replica skips the same undecodable entry, so they stay equal.
		n.log.Error("skipping undecodable log entry", "index", idx, "err", err)
		return false
	}
	res := n.fsm.Apply(idx, &cmd)
	n.observers.call(Applied{Index: idx, Command: &cmd, Result: res})
	if cmd.GetNode() == n.cfg.NodeName {
		n.proposals.complete(cmd.GetRequestId(), res)
	}
	if res.Job != nil && !res.Existing {
		n.jobs.publish(res.Job.GetId())
		// A stream's multi-stream job changes with it, and a
		// multi-stream job's end cancels its streams.
		n.jobs.publishRelated(res.Job)
		level := slog.LevelInfo
		if _, ok := cmd.GetOp().(*ferryv1.Command_CheckpointJob); ok {
			level = slog.LevelDebug
		}
		n.log.Log(context.Background(), level, "job changed", "job", res.Job.GetId(), "state", res.Job.GetState().String(),
			"reason", res.Job.GetStateReason(), "index", idx)
	}
	for _, r := range res.Batch {
		if r.Job != nil && !r.Existing {
			n.jobs.publish(r.Job.GetId())
			n.jobs.publishRelated(r.Job)
		}
	}
	return isGossipKeyOp(&cmd) && res.Err == nil && !res.Existing
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

package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// ErrNoLeader means the cluster had no leader this node could reach before the
// caller's deadline.
var ErrNoLeader = errors.New("no raft leader")

// reproposeAfter bounds how long a proposal waits without a leader change
// before it is proposed again: a proposal forwarded to a leader that then lost
// its leadership may be dropped silently.
const reproposeAfter = 3 * time.Second

// readRetryMin is how soon an unanswered read request is first asked
// again; the wait doubles up to reproposeAfter.
const readRetryMin = 100 * time.Millisecond

// Propose replicates cmd and returns the state machine's result once this node
// has applied it. It re-proposes after a leader change; the state machine
// makes repeats harmless (a submit carries its job id, a cancel is idempotent).
func (n *Node) Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	start := time.Now()
	cmd.RequestId = uuid.NewString()
	cmd.Node = n.cfg.NodeName
	if cmd.Time == nil {
		cmd.Time = timestamppb.Now()
	}
	data, err := proto.Marshal(cmd)
	if err != nil {
		return fsm.Result{}, fmt.Errorf("encode command: %w", err)
	}
	resc := n.proposals.register(cmd.RequestId)
	defer n.proposals.cancel(cmd.RequestId)
	for {
		changed, _ := n.leader.wait()
		if err := n.raft.Propose(ctx, data); err != nil && !errors.Is(err, raft.ErrProposalDropped) {
			n.metrics.proposals.WithLabelValues("error").Inc()
			return fsm.Result{}, n.proposeErr(ctx, err)
		}
		select {
		case res := <-resc:
			n.metrics.proposals.WithLabelValues("ok").Inc()
			n.metrics.proposalSeconds.Observe(time.Since(start).Seconds())
			return res, nil
		case <-changed:
		case <-time.After(reproposeAfter):
		case <-n.stopc:
			return fsm.Result{}, errors.New("node is stopping")
		case <-ctx.Done():
			n.metrics.proposals.WithLabelValues("timeout").Inc()
			return fsm.Result{}, n.proposeErr(ctx, ctx.Err())
		}
	}
}

func (n *Node) proposeErr(ctx context.Context, err error) error {
	if n.leader.get().lead == raft.None {
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return err
}

// ProposeConfChange proposes a membership change and waits until it is applied.
func (n *Node) ProposeConfChange(ctx context.Context, cc *raftpb.ConfChangeV2, applied func(*raftpb.ConfState) bool) error {
	for {
		changed, _ := n.leader.wait()
		confChanged, _ := n.confChanged.wait()
		if applied(n.ConfState()) {
			return nil
		}
		if err := n.raft.ProposeConfChange(ctx, cc); err != nil && !errors.Is(err, raft.ErrProposalDropped) {
			return n.proposeErr(ctx, err)
		}
		select {
		case <-changed:
		case <-confChanged:
		case <-time.After(reproposeAfter):
		case <-n.stopc:
			return errors.New("node is stopping")
		case <-ctx.Done():
			return n.proposeErr(ctx, ctx.Err())
		}
	}
}

// LinearizableRead returns once this node's state machine reflects every write
// committed before the call (Raft ReadIndex, safe mode: the leader confirms
// its leadership with a quorum first).
func (n *Node) LinearizableRead(ctx context.Context) error {
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], n.id)
	binary.BigEndian.PutUint64(key[8:], n.readSeq.Add(1))
	idxc := n.reads.register(string(key[:]))
	defer n.reads.cancel(string(key[:]))
	// Raft drops a read request silently (a follower that has not heard
	// from the leader yet, a node that just joined); asking again is
	// cheap, so the first retries come soon: a node's first read after it
	// joined waited the full reproposeAfter before.
	retry := readRetryMin
	for {
		changed, _ := n.leader.wait()
		if err := n.raft.ReadIndex(ctx, key[:]); err != nil {
			return n.proposeErr(ctx, err)
		}
		select {
		case idx := <-idxc:
			return n.applied.waitFor(ctx, idx)
		case <-changed:
		case <-time.After(retry):
			retry = min(2*retry, reproposeAfter)
		case <-n.stopc:
			return errors.New("node is stopping")
		case <-ctx.Done():
			return n.proposeErr(ctx, ctx.Err())
		}
		idxc = n.reads.register(string(key[:]))
	}
}

// WatchJob returns a channel signalled after each change of the job, and a
// function that stops the watch.
func (n *Node) WatchJob(id string) (<-chan struct{}, func()) { return n.jobs.subscribe(id) }

// WatchApplied returns a channel closed once the state machine has applied
// an entry (or installed a snapshot) after this call: a reader that takes
// the channel, then reads the state machine, misses no change.
func (n *Node) WatchApplied() <-chan struct{} {
	ch, _ := n.applied.wait()
	return ch
}

// WatchJobs is WatchJob for every job at once.
func (n *Node) WatchJobs() (<-chan struct{}, func()) { return n.jobs.subscribe(anyJob) }

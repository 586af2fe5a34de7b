package executor

import (
	"context"
	"fmt"
	"sync"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// batchTimeout bounds one batch's proposal; a copy whose checkpoint cannot
// be committed in this time stops and resumes from the previous one.
const batchTimeout = 10 * time.Second

// checkpointBatcher commits the checkpoints of all copies on this node
// through Raft, several per entry: while one batch is being committed the
// next accumulates (group commit). Each checkpoint is fenced on its own by
// the state machine.
type checkpointBatcher struct {
	node Node

	mu      sync.Mutex
	pending []*pendingCheckpoint
	busy    bool
}

type pendingCheckpoint struct {
	op   *ferryv1.CheckpointJobOp
	done chan error
}

// commit returns once the checkpoint is committed, or why it was not.
func (b *checkpointBatcher) commit(ctx context.Context, op *ferryv1.CheckpointJobOp) error {
	p := &pendingCheckpoint{op: op, done: make(chan error, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	if !b.busy {
		b.busy = true
		go b.flush()
	}
	b.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// flush proposes batches until none is pending.
func (b *checkpointBatcher) flush() {
	for {
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		if len(batch) == 0 {
			b.busy = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ops := make([]*ferryv1.CheckpointJobOp, len(batch))
		for i, p := range batch {
			ops[i] = p.op
		}
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		res, err := b.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_CheckpointJobs{CheckpointJobs: &ferryv1.CheckpointJobsOp{Checkpoints: ops}}})
		cancel()
		if err == nil && res.Err != nil {
			err = res.Err
		}
		if err == nil && len(res.Batch) != len(batch) {
			err = fmt.Errorf("checkpoint batch of %d answered with %d results", len(batch), len(res.Batch))
		}
		for i, p := range batch {
			if err != nil {
				p.done <- err
				continue
			}
			p.done <- res.Batch[i].Err
		}
	}
}

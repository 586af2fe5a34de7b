package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// runningJobs places n jobs on n1 by hand and returns their epochs.
func runningJobs(t *testing.T, f *fixture, n int) map[string]uint64 {
	t.Helper()
	epochs := map[string]uint64{}
	for i := range n {
		id := fmt.Sprintf("j%d", i)
		f.submit(t, id, diskEP("db01"), diskEP("db02"))
		placed := f.must(t, &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{JobId: id, Node: "n1"}}}).Job
		epochs[id] = placed.GetEpoch()
	}
	return epochs
}

func checkpointOp(id string, epoch, bytes uint64) *ferryv1.CheckpointJobOp {
	return &ferryv1.CheckpointJobOp{JobId: id, Epoch: epoch, Checkpoint: []byte{1},
		Progress: &ferryv1.JobProgress{BytesDone: bytes, CheckpointOffset: bytes}}
}

func (b *checkpointBatcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// holdFirstBatch makes the first checkpoint proposal wait until release is
// closed, and closes entered when it starts waiting.
func holdFirstBatch(f *fixture) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.setHook(func(_ string, cmd *ferryv1.Command) error {
		if cmd.GetCheckpointJobs() != nil {
			once.Do(func() { close(entered); <-release })
		}
		return nil
	})
	return entered, release
}

// TestBatcherGroupsCheckpoints: checkpoints that arrive while a batch is
// being committed go together in the next one, and each caller hears about
// its own.
func TestBatcherGroupsCheckpoints(t *testing.T) {
	f := setup(t, clusterOptions{noScheduler: true})
	epochs := runningJobs(t, f, 6)
	b := &checkpointBatcher{node: f.node("n1")}
	entered, release := holdFirstBatch(f)

	type call struct {
		op   *ferryv1.CheckpointJobOp
		want error // nil, or what errors.Is must find
	}
	calls := []call{
		{checkpointOp("j0", epochs["j0"], 100), nil},
		{checkpointOp("j1", epochs["j1"], 101), nil},
		{checkpointOp("j2", epochs["j2"], 102), nil},
		// A copy that lost its job: fenced, alone.
		{checkpointOp("j3", epochs["j3"]-1, 103), fsm.ErrFenced},
		{checkpointOp("j4", epochs["j4"], 104), nil},
		{checkpointOp("j5", epochs["j5"], 105), nil},
	}
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	commit := func(i int) {
		wg.Go(func() { errs[i] = b.commit(context.Background(), calls[i].op) })
	}
	commit(0)
	<-entered
	for i := 1; i < len(calls); i++ {
		commit(i)
	}
	eventually(t, "the other checkpoints to queue", func() bool { return b.queued() == len(calls)-1 }, nil)
	close(release)
	wg.Wait()

	for i, c := range calls {
		if c.want == nil && errs[i] != nil || c.want != nil && !errors.Is(errs[i], c.want) {
			t.Errorf("checkpoint of %s (epoch %d): %v, want %v", c.op.GetJobId(), c.op.GetEpoch(), errs[i], c.want)
		}
		j := f.job(t, c.op.GetJobId())
		committed := j.GetProgress().GetBytesDone() == c.op.GetProgress().GetBytesDone()
		if committed != (c.want == nil) {
			t.Errorf("job %s has %d bytes done after a checkpoint of %d that returned %v", c.op.GetJobId(),
				j.GetProgress().GetBytesDone(), c.op.GetProgress().GetBytesDone(), errs[i])
		}
	}
	if n := f.proposals(&ferryv1.Command_CheckpointJobs{}); n != 2 {
		t.Errorf("%d checkpoints took %d proposals, want 2 (one, then the rest together)", len(calls), n)
	}
}

// TestBatcherFailedProposal: a batch that could not be committed fails every
// checkpoint in it, and the next batch goes ahead.
func TestBatcherFailedProposal(t *testing.T) {
	f := setup(t, clusterOptions{noScheduler: true})
	epochs := runningJobs(t, f, 2)
	b := &checkpointBatcher{node: f.node("n1")}
	noLeader := errors.New("no leader")
	f.setHook(func(string, *ferryv1.Command) error { return noLeader })
	if err := b.commit(context.Background(), checkpointOp("j0", epochs["j0"], 10)); !errors.Is(err, noLeader) {
		t.Fatalf("checkpoint without a leader: %v, want %v", err, noLeader)
	}
	f.setHook(nil)
	if err := b.commit(context.Background(), checkpointOp("j1", epochs["j1"], 10)); err != nil {
		t.Fatalf("checkpoint once the leader is back: %v", err)
	}
}

// TestBatcherCallerGivesUp: a caller whose copy stops does not wait for
// the batch; the others in it still get their results.
func TestBatcherCallerGivesUp(t *testing.T) {
	f := setup(t, clusterOptions{noScheduler: true})
	epochs := runningJobs(t, f, 2)
	b := &checkpointBatcher{node: f.node("n1")}
	entered, release := holdFirstBatch(f)
	done := make(chan error, 1)
	go func() { done <- b.commit(context.Background(), checkpointOp("j0", epochs["j0"], 10)) }()
	<-entered
	stopped := errors.New("copy stopped")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stopped)
	if err := b.commit(ctx, checkpointOp("j1", epochs["j1"], 10)); !errors.Is(err, stopped) {
		t.Fatalf("checkpoint of a stopped copy: %v, want %v", err, stopped)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The abandoned checkpoint is still proposed (its copy may be gone,
	// but the checkpoint was valid), in the next batch.
	eventually(t, "the abandoned checkpoint's batch", func() bool {
		return f.job(t, "j1").GetProgress().GetBytesDone() == 10
	}, nil)
}

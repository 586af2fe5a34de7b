package fsm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestCheckpointJobs(t *testing.T) {
	// j1 and j2 run on node-a under epochs e1 and e2.
	e1, e2 := setupIndex, setupIndex+2
	twoRunning := then(
		with(placeAndStart(1, "node-a", "j1", e1, tape("A00001L9", "libA", 0))...),
		placeAndStart(3, "node-a", "j2", e2)...,
	)
	wantBatch := func(t *testing.T, r Result, want ...error) {
		t.Helper()
		if len(r.Batch) != len(want) {
			t.Fatalf("batch has %d results, want %d: %+v", len(r.Batch), len(want), r.Batch)
		}
		for i, w := range want {
			b := r.Batch[i]
			if w == nil && (b.Err != nil || b.Job == nil) || w != nil && (!errors.Is(b.Err, w) || b.Job != nil) {
				t.Errorf("Batch[%d] = job %v err %v, want err %v and a job only on success", i, b.Job, b.Err, w)
			}
		}
	}
	tests := []runCase{
		{
			name:  "each checkpoint is fenced on its own",
			setup: twoRunning,
			cmd: batchCmd(5, "node-a",
				checkpointOp("j1", e1, 4096),
				checkpointOp("j2", e2-1, 100),
				checkpointOp("nope", e1, 1),
				checkpointOp("j2", e2, 200),
			),
			check: func(t *testing.T, f *FSM, r Result) {
				wantBatch(t, r, nil, ErrFenced, ErrNotFound, nil)
				if p := r.Batch[0].Job.GetProgress(); p.GetBytesDone() != 4096 {
					t.Errorf("j1 progress = %v", p)
				}
				if p := r.Batch[3].Job.GetProgress(); p.GetBytesDone() != 200 {
					t.Errorf("j2 progress = %v", p)
				}
				j1, _ := f.Job("j1")
				want := &ferryv1.JobEvent{Time: stamp(5), State: running, Node: "node-a", RaftIndex: e2 + 2, Message: "checkpoint at 4096 bytes"}
				if got := lastEvent(j1); !proto.Equal(got, want) {
					t.Errorf("j1's last event = %v, want %v", got, want)
				}
				// The results are copies.
				r.Batch[0].Job.Checkpoint[0] = 'X'
				if j1, _ := f.Job("j1"); string(j1.GetCheckpoint()) != "cp@4096" {
					t.Errorf("checkpoint = %q after mutating the result", j1.GetCheckpoint())
				}
			},
		},
		{
			name:  "a checkpoint behind the stored one is a repeat",
			setup: then(twoRunning, checkpointCmd(5, "node-a", "j1", e1, 4096)),
			cmd:   batchCmd(6, "node-a", checkpointOp("j1", e1, 100), checkpointOp("j2", e2, 100)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantBatch(t, r, nil, nil)
				if !r.Batch[0].Existing || r.Batch[0].Job.GetProgress().GetBytesDone() != 4096 || r.Batch[1].Existing {
					t.Errorf("batch = %+v, want j1 unchanged and j2 checkpointed", r.Batch)
				}
				if r.Existing {
					t.Error("the batch as a whole is reported as a repeat")
				}
			},
		},
		{
			name:  "two checkpoints of one job: the later stands, with one event",
			setup: twoRunning,
			cmd:   batchCmd(5, "node-a", checkpointOp("j1", e1, 100), checkpointOp("j1", e1, 200)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantBatch(t, r, nil, nil)
				if r.Batch[0].Job.GetProgress().GetBytesDone() != 100 || r.Batch[1].Job.GetProgress().GetBytesDone() != 200 {
					t.Errorf("batch = %+v, want each result as of its checkpoint", r.Batch)
				}
				j1, _ := f.Job("j1")
				var cps []string
				for _, m := range messages(j1) {
					if strings.HasPrefix(m, checkpointEventPrefix) {
						cps = append(cps, m)
					}
				}
				if !slices.Equal(cps, []string{"checkpoint at 200 bytes"}) {
					t.Errorf("checkpoint events = %q", cps)
				}
			},
		},
		{
			name:  "a batch from a node that owns none of the jobs",
			setup: twoRunning,
			cmd:   batchCmd(5, "node-b", checkpointOp("j1", e1, 100), checkpointOp("j2", e2, 100)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantBatch(t, r, ErrFenced, ErrFenced)
				if !strings.Contains(r.Batch[0].Err.Error(), "owned by node-a, not node-b") {
					t.Errorf("Batch[0].Err = %v", r.Batch[0].Err)
				}
			},
		},
		{
			name:  "an invalid checkpoint fails alone",
			setup: twoRunning,
			cmd: func() *ferryv1.Command {
				c := batchCmd(5, "node-a", checkpointOp("j1", e1, 100), checkpointOp("j2", e2, 100), nil)
				c.GetCheckpointJobs().Checkpoints[0].Progress = nil
				return c
			}(),
			check: func(t *testing.T, f *FSM, r Result) {
				wantBatch(t, r, ErrInvalid, nil, ErrInvalid)
				if !strings.Contains(r.Batch[0].Err.Error(), "progress: required") {
					t.Errorf("Batch[0].Err = %v", r.Batch[0].Err)
				}
			},
		},
		{
			name:        "an empty batch",
			setup:       twoRunning,
			cmd:         batchCmd(5, "node-a"),
			wantErr:     ErrInvalid,
			wantErrText: "checkpoints: must hold 1 to 1024 entries",
		},
		{
			name:        "a batch over the limit",
			setup:       twoRunning,
			cmd:         batchCmd(5, "node-a", slices.Repeat([]*ferryv1.CheckpointJobOp{checkpointOp("j1", e1, 100)}, maxBatchCheckpoints+1)...),
			wantErr:     ErrInvalid,
			wantErrText: "checkpoints: must hold 1 to 1024 entries",
		},
		{
			name:        "no body",
			cmd:         &ferryv1.Command{Time: stamp(1), Node: "node-a", Op: &ferryv1.Command_CheckpointJobs{}},
			wantErr:     ErrUnknownCommand,
			wantErrText: "checkpoint_jobs without a body",
		},
	}
	runCases(t, tests)
}

// TestCheckpointJobsAtTheLimit: a full batch is accepted.
func TestCheckpointJobsAtTheLimit(t *testing.T) {
	f := deviceFixture(t)
	epoch := runJob(t, f, 1, "node-a", "j1")
	ops := make([]*ferryv1.CheckpointJobOp, maxBatchCheckpoints)
	for i := range ops {
		ops[i] = checkpointOp("j1", epoch, uint64(i+1))
	}
	r := f.Apply(f.AppliedIndex()+1, batchCmd(3, "node-a", ops...))
	if r.Err != nil || len(r.Batch) != maxBatchCheckpoints {
		t.Fatalf("Err = %v with %d results, want %d", r.Err, len(r.Batch), maxBatchCheckpoints)
	}
	if j, _ := f.Job("j1"); j.GetProgress().GetBytesDone() != maxBatchCheckpoints || len(j.GetHistory()) != 4 {
		t.Errorf("job = %v, want the last checkpoint and one checkpoint event", j)
	}
}

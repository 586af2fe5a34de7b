package fsm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestTakeover(t *testing.T) {
	epoch := setupIndex
	// j1 runs on node-a with A00001L9 in libA drive 0 and B00001L9 in libB
	// drive 0, checkpointed at 4096 bytes; the takeover is at index next.
	base := with(
		placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 0)),
		startCmd(2, "node-a", "j1", epoch),
		checkpointCmd(3, "node-a", "j1", epoch, 4096),
	)
	next := epoch + 3
	tests := []runCase{
		{
			name:  "a cartridge that stays in its drive is kept, one that changes drive moves",
			setup: base,
			cmd:   takeoverCmd(4, "j1", "node-b", epoch, "owner node-a lost: lease expired", 8192, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 1)),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if j.GetState() != running || j.GetOwner() != "node-b" || j.GetEpoch() != next || j.GetStateReason() != "placed on node-b" {
					t.Errorf("job = %v, want RUNNING on node-b under epoch %d", j, next)
				}
				// The new owner resumes from what the old one committed.
				wantProgress := &ferryv1.JobProgress{BytesTotal: 1 << 20, SegmentsTotal: 4, BytesDone: 4096, CheckpointOffset: 4096}
				if string(j.GetCheckpoint()) != "cp@4096" || !proto.Equal(j.GetProgress(), wantProgress) {
					t.Errorf("checkpoint %q progress %v, want cp@4096 and %v", j.GetCheckpoint(), j.GetProgress(), wantProgress)
				}
				wantTapes(t, j, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 1))
				wantEvents := []*ferryv1.JobEvent{
					{
						Time: stamp(4), State: running, Node: "node-a", RaftIndex: next,
						Message: "owner node-a lost: lease expired; it had copied 8192 bytes, 4096 past its last checkpoint",
					},
					{
						Time: stamp(4), State: running, Node: "node-b", RaftIndex: next,
						Message: fmt.Sprintf("taken over by node-b (epoch %d); A00001L9 in libA drive 0; B00001L9 in libB drive 1 from checkpoint at 4096 bytes", next),
					},
				}
				if h := j.GetHistory(); len(h) != 6 || !proto.Equal(h[4], wantEvents[0]) || !proto.Equal(h[5], wantEvents[1]) {
					t.Errorf("history = %v, want it to end with %v", h, wantEvents)
				}
				wantLoaded(t, f, "A00001L9", 0, "j1", 1)
				wantLoaded(t, f, "B00001L9", 1, "j1", 5)
				wantDrive(t, f, "libB", 0, "", "")
			},
		},
		{
			name:  "without a reason the lost owner is named; bytes up to the checkpoint are not mentioned",
			setup: base,
			cmd:   takeoverCmd(4, "j1", "node-b", epoch, "", 4096, tape("A00001L9", "libA", 1)),
			check: func(t *testing.T, f *FSM, r Result) {
				h := r.Job.GetHistory()
				want := []string{"owner node-a lost", fmt.Sprintf("taken over by node-b (epoch %d); A00001L9 in libA drive 1 from checkpoint at 4096 bytes", next)}
				if got := messages(r.Job)[len(h)-2:]; !slices.Equal(got, want) {
					t.Errorf("events = %q, want %q", got, want)
				}
				wantTapes(t, r.Job, tape("A00001L9", "libA", 1))
				wantLoaded(t, f, "A00001L9", 1, "j1", 1)
				wantDrive(t, f, "libA", 0, "", "")
				// B00001L9 is no longer named: it went home.
				wantHome(t, f, "B00001L9", 5)
				wantDrive(t, f, "libB", 0, "", "")
			},
		},
		{
			name:  "a takeover may load a cartridge the job did not hold",
			setup: base,
			cmd:   placeCmd(4, "j1", "node-b", epoch, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 0), tape("A00002L9", "libA", 1)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantLoaded(t, f, "A00001L9", 0, "j1", 1)
				wantLoaded(t, f, "B00001L9", 0, "j1", 5)
				wantLoaded(t, f, "A00002L9", 1, "j1", 2)
			},
		},
		{
			name:  "a new cartridge may go into the drive a moved one left",
			setup: base,
			cmd:   placeCmd(4, "j1", "node-b", epoch, tape("A00001L9", "libA", 1), tape("A00002L9", "libA", 0)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantLoaded(t, f, "A00001L9", 1, "j1", 1)
				wantLoaded(t, f, "A00002L9", 0, "j1", 2)
				wantHome(t, f, "B00001L9", 5)
			},
		},
		{
			name: "two cartridges of the job swap drives",
			setup: with(
				placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0), tape("A00002L9", "libA", 1)),
			),
			cmd: placeCmd(2, "j1", "node-b", epoch, tape("A00001L9", "libA", 1), tape("A00002L9", "libA", 0)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantLoaded(t, f, "A00001L9", 1, "j1", 1)
				wantLoaded(t, f, "A00002L9", 0, "j1", 2)
			},
		},
		{
			name: "a cartridge imported from the import/export slot keeps its new home when it moves",
			setup: with(
				cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
					c.Barcode, c.Naa, c.Path = "A00009L9", testNAA(109), "/vtl/libA/A00009L9.tap"
					c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
				})),
				placeCmd(2, "j1", "node-a", 0, tape("A00009L9", "libA", 0)),
			),
			cmd: placeCmd(3, "j1", "node-b", epoch+1, tape("A00009L9", "libA", 1)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantLoaded(t, f, "A00009L9", 1, "j1", 4)
				applyAll(t, f, succeedCmd(4, "node-b", "j1", r.Job.GetEpoch()))
				wantHome(t, f, "A00009L9", 4)
			},
		},
		{
			name:  "the job's own node may be given it again under a new epoch",
			setup: base,
			cmd:   placeCmd(4, "j1", "node-a", epoch, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 0)),
			check: func(t *testing.T, f *FSM, r Result) {
				if r.Job.GetOwner() != "node-a" || r.Job.GetEpoch() != next {
					t.Errorf("owner %q epoch %d, want node-a under %d", r.Job.GetOwner(), r.Job.GetEpoch(), next)
				}
				if r := f.Apply(f.AppliedIndex()+1, checkpointCmd(5, "node-a", "j1", epoch, 8192)); !errors.Is(r.Err, ErrFenced) {
					t.Errorf("checkpoint under the old epoch: %v, want ErrFenced", r.Err)
				}
			},
		},
		{
			name:        "a decision made against a stale epoch",
			setup:       then(base, placeCmd(4, "j1", "node-b", epoch)),
			cmd:         placeCmd(5, "j1", "node-c", epoch),
			wantErr:     ErrFenced,
			wantErrText: fmt.Sprintf("taking over from epoch %d, but the job's epoch is %d (owner node-b)", epoch, next),
		},
		{
			name:        "a from_epoch newer than the job's",
			setup:       base,
			cmd:         placeCmd(4, "j1", "node-b", epoch+1),
			wantErr:     ErrFenced,
			wantErrText: "taking over from epoch",
		},
		{
			name:        "onto an unknown node",
			setup:       base,
			cmd:         placeCmd(4, "j1", "node-z", epoch, tape("A00001L9", "libA", 0)),
			wantErr:     ErrNotFound,
			wantErrText: "node-z",
		},
		{
			name:        "into a drive another job holds",
			setup:       then(base, placeCmd(4, "j2", "node-b", 0, tape("A00002L9", "libA", 1))),
			cmd:         placeCmd(5, "j1", "node-b", epoch, tape("A00001L9", "libA", 1)),
			wantErr:     ErrBusy,
			wantErrText: "drive 1 of library libA holds A00002L9",
		},
		{
			name:        "naming another job's cartridge",
			setup:       then(base, placeCmd(4, "j2", "node-b", 0, tape("A00002L9", "libA", 1))),
			cmd:         placeCmd(5, "j1", "node-c", epoch, tape("A00001L9", "libA", 0), tape("A00002L9", "libA", 1)),
			wantErr:     ErrBusy,
			wantErrText: "cartridge A00002L9 is in use by job j2",
		},
		{
			name:        "a job that has ended",
			setup:       then(base, succeedCmd(4, "node-a", "j1", epoch)),
			cmd:         placeCmd(5, "j1", "node-b", epoch),
			wantErr:     ErrJobEnded,
			wantErrText: "JOB_STATE_SUCCEEDED",
		},
	}
	runCases(t, tests)
}

// TestTakeoverFencesTheOldOwner: once a job is taken over, nothing the old
// owner sends under its epoch changes the job, while the new owner's
// reports are accepted.
func TestTakeoverFencesTheOldOwner(t *testing.T) {
	f := deviceFixture(t)
	old := runJob(t, f, 1, "node-a", "j1", tape("A00001L9", "libA", 0))
	applyAll(t, f, checkpointCmd(3, "node-a", "j1", old, 4096))
	cur := f.AppliedIndex() + 1
	applyAll(t, f, takeoverCmd(4, "j1", "node-b", old, "owner node-a lost: lease expired", 8192, tape("A00001L9", "libA", 0)))

	stale := []struct {
		name     string
		cmd      *ferryv1.Command
		wantText string
	}{
		{"a checkpoint under the old epoch", checkpointCmd(5, "node-a", "j1", old, 8192), fmt.Sprintf("epoch %d is stale", old)},
		{"a checkpoint under the new epoch from the old owner", checkpointCmd(5, "node-a", "j1", cur, 8192), "owned by node-b, not node-a"},
		{"a start under the old epoch", startCmd(5, "node-a", "j1", old), "is stale"},
		{"the original start, re-proposed", startCmd(2, "node-a", "j1", old), "is stale"},
		{"a success under the old epoch", succeedCmd(5, "node-a", "j1", old), "is stale"},
		{"a failure under the old epoch", failCmd(5, "node-a", "j1", old, "lost the SAN"), "is stale"},
		{"a second takeover decided on the old epoch", placeCmd(5, "j1", "node-c", old, tape("A00001L9", "libA", 1)), "taking over from epoch"},
	}
	for _, tc := range stale {
		t.Run(tc.name, func(t *testing.T) {
			before := observe(t, f)
			r := f.Apply(f.AppliedIndex()+1, tc.cmd)
			if !errors.Is(r.Err, ErrFenced) || !strings.Contains(r.Err.Error(), tc.wantText) {
				t.Errorf("Err = %v, want ErrFenced containing %q", r.Err, tc.wantText)
			}
			if observe(t, f) != before {
				t.Error("a fenced command changed the state")
			}
		})
	}
	t.Run("a batch from the old owner", func(t *testing.T) {
		r := f.Apply(f.AppliedIndex()+1, batchCmd(5, "node-a", checkpointOp("j1", old, 8192)))
		if r.Err != nil || len(r.Batch) != 1 || !errors.Is(r.Batch[0].Err, ErrFenced) {
			t.Errorf("Result = %+v, want the one checkpoint fenced", r)
		}
	})

	// The new owner carries on from the checkpoint.
	r := f.Apply(f.AppliedIndex()+1, resumeCmd(6, "node-b", "j1", cur, 4096))
	if r.Err != nil || lastEvent(r.Job).GetMessage() != "resumed on node-b from offset 4096" || r.Job.GetStateReason() != "running on node-b" {
		t.Fatalf("resume: %v, %v", r.Err, r.Job)
	}
	r = f.Apply(f.AppliedIndex()+1, batchCmd(7, "node-b", checkpointOp("j1", cur, 8192)))
	if r.Err != nil || len(r.Batch) != 1 || r.Batch[0].Err != nil || r.Batch[0].Job.GetProgress().GetBytesDone() != 8192 {
		t.Fatalf("the new owner's checkpoint: %+v", r)
	}
	applyAll(t, f, succeedCmd(8, "node-b", "j1", cur))
	j, _ := f.Job("j1")
	if j.GetState() != succeeded || j.GetStateReason() != "succeeded on node-b" {
		t.Errorf("job = %v", j)
	}
	wantHome(t, f, "A00001L9", 1)
}

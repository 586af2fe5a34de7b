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

const (
	queued    = ferryv1.JobState_JOB_STATE_QUEUED
	running   = ferryv1.JobState_JOB_STATE_RUNNING
	succeeded = ferryv1.JobState_JOB_STATE_SUCCEEDED
	failed    = ferryv1.JobState_JOB_STATE_FAILED
	cancelled = ferryv1.JobState_JOB_STATE_CANCELLED
)

// setupIndex is the index of the first command after deviceSetup.
var setupIndex = uint64(len(deviceSetup()) + 1)

// then returns a copy of cmds followed by more, so table rows never share
// a backing array.
func then(cmds []*ferryv1.Command, more ...*ferryv1.Command) []*ferryv1.Command {
	return slices.Concat(cmds, more)
}

// with returns deviceSetup followed by more commands.
func with(more ...*ferryv1.Command) []*ferryv1.Command {
	return append(deviceSetup(), more...)
}

// runCase is one row of the job lifecycle tables.
type runCase struct {
	name  string
	setup []*ferryv1.Command
	cmd   *ferryv1.Command
	// wantErr is checked with errors.Is; nil means success. Every error in
	// wantAlso must match too.
	wantErr     error
	wantAlso    []error
	wantErrText string
	// check inspects the result and the state after a successful command,
	// or after an ErrBusy refusal.
	check func(t *testing.T, f *FSM, r Result)
}

func runCases(t *testing.T, tests []runCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			applyAll(t, f, tc.setup...)
			before, _, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			r := f.Apply(uint64(len(tc.setup)+1), tc.cmd)
			if tc.wantErr == nil {
				if r.Err != nil {
					t.Fatalf("Err = %v", r.Err)
				}
				if stored, ok := f.Job(r.Job.GetId()); !ok || !proto.Equal(stored, r.Job) {
					t.Errorf("Result.Job differs from the stored job:\n got %v\nwant %v", r.Job, stored)
				}
			} else {
				for _, want := range append([]error{tc.wantErr}, tc.wantAlso...) {
					if !errors.Is(r.Err, want) {
						t.Fatalf("Err = %v, want %v", r.Err, want)
					}
				}
				if !strings.Contains(r.Err.Error(), tc.wantErrText) {
					t.Errorf("Err = %q, want it to contain %q", r.Err, tc.wantErrText)
				}
				after, _, err := f.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if !errors.Is(r.Err, ErrBusy) && (r.Job != nil || string(before) != string(after)) {
					t.Errorf("a failed command returned job %v or changed the state", r.Job)
				}
			}
			if tc.check != nil {
				tc.check(t, f, r)
			}
		})
	}
}

// wantDrive checks what a library's drive holds and for which job.
func wantDrive(t *testing.T, f *FSM, lib string, drive uint32, barcode, job string) {
	t.Helper()
	l, ok := f.Library(lib)
	if !ok {
		t.Fatalf("no library %s", lib)
	}
	for _, e := range l.GetElements() {
		if e.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE && e.GetIndex() == drive {
			if e.GetBarcode() != barcode || e.GetJobId() != job {
				t.Errorf("%s drive %d holds %q for job %q, want %q for %q", lib, drive, e.GetBarcode(), e.GetJobId(), barcode, job)
			}
			return
		}
	}
	t.Errorf("%s has no drive %d", lib, drive)
}

// wantAt checks where a cartridge is.
func wantAt(t *testing.T, f *FSM, barcode string, kind ferryv1.ElementKind, index uint32, job string) {
	t.Helper()
	c, ok := f.Cartridge(barcode)
	if !ok {
		t.Fatalf("no cartridge %s", barcode)
	}
	want := &ferryv1.Element{Kind: kind, Index: index, Barcode: barcode, JobId: job}
	if !proto.Equal(c.GetLocation(), want) {
		t.Errorf("%s is at %v, want %v", barcode, c.GetLocation(), want)
	}
}

func lastEvent(j *ferryv1.Job) *ferryv1.JobEvent {
	h := j.GetHistory()
	if len(h) == 0 {
		return nil
	}
	return h[len(h)-1]
}

func tape(barcode, lib string, drive uint32) *ferryv1.TapeAssignment {
	return &ferryv1.TapeAssignment{Barcode: barcode, Library: lib, Drive: drive}
}

func wantTapes(t *testing.T, j *ferryv1.Job, want ...*ferryv1.TapeAssignment) {
	t.Helper()
	if !slices.EqualFunc(j.GetTapes(), want, func(a, b *ferryv1.TapeAssignment) bool { return proto.Equal(a, b) }) {
		t.Errorf("tapes = %v, want %v", j.GetTapes(), want)
	}
}

func TestStartJob(t *testing.T) {
	tests := []runCase{
		{
			name:  "start loads the cartridge into the first free drive",
			setup: with(),
			cmd:   startCmd(1, "node-a", "j1", "A00001L9"),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if j.GetState() != running || j.GetOwner() != "node-a" || j.GetEpoch() != setupIndex {
					t.Errorf("state %v owner %q epoch %d, want RUNNING node-a %d", j.GetState(), j.GetOwner(), j.GetEpoch(), setupIndex)
				}
				if j.GetStateReason() != "running on node-a" {
					t.Errorf("state_reason = %q", j.GetStateReason())
				}
				wantProgress := &ferryv1.JobProgress{BytesTotal: 1 << 20, SegmentsTotal: 4}
				if !proto.Equal(j.GetProgress(), wantProgress) {
					t.Errorf("progress = %v, want %v", j.GetProgress(), wantProgress)
				}
				wantTapes(t, j, tape("A00001L9", "libA", 0))
				wantEvent := &ferryv1.JobEvent{
					Time: stamp(1), State: running, Node: "node-a", RaftIndex: setupIndex,
					Message: fmt.Sprintf("started on node-a (epoch %d); A00001L9 loaded in libA drive 0", setupIndex),
				}
				if !proto.Equal(lastEvent(j), wantEvent) || len(j.GetHistory()) != 2 {
					t.Errorf("history = %v, want submitted then %v", j.GetHistory(), wantEvent)
				}
				wantDrive(t, f, "libA", 0, "A00001L9", "j1")
				wantDrive(t, f, "libA", 1, "", "")
				wantAt(t, f, "A00001L9", ferryv1.ElementKind_ELEMENT_KIND_DRIVE, 0, "j1")
				if c, _ := f.Cartridge("A00001L9"); c.GetHomeSlot() != 1 {
					t.Errorf("home slot = %d, want 1", c.GetHomeSlot())
				}
			},
		},
		{
			name:  "start with cartridges in two libraries",
			setup: with(startCmd(1, "node-a", "j2", "A00002L9")),
			cmd:   startCmd(2, "node-a", "j1", "B00001L9", "A00001L9", "B00001L9"),
			check: func(t *testing.T, f *FSM, r Result) {
				wantTapes(t, r.Job, tape("B00001L9", "libB", 0), tape("A00001L9", "libA", 1))
				if msg := lastEvent(r.Job).GetMessage(); !strings.HasSuffix(msg, "; B00001L9 loaded in libB drive 0; A00001L9 loaded in libA drive 1") {
					t.Errorf("event = %q", msg)
				}
				wantDrive(t, f, "libA", 0, "A00002L9", "j2")
				wantDrive(t, f, "libA", 1, "A00001L9", "j1")
				wantDrive(t, f, "libB", 0, "B00001L9", "j1")
			},
		},
		{
			name:  "start without cartridges (a disk-to-disk copy)",
			setup: with(),
			cmd:   startCmd(1, "node-b", "j1"),
			check: func(t *testing.T, f *FSM, r Result) {
				if r.Job.GetState() != running || r.Job.GetOwner() != "node-b" || len(r.Job.GetTapes()) != 0 {
					t.Errorf("job = %v", r.Job)
				}
			},
		},
		{
			name: "a cartridge in the import/export slot is taken into the first free slot, its new home",
			setup: with(cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Barcode, c.Naa, c.Path = "A00009L9", testNAA(109), "/vtl/libA/A00009L9.tap"
				c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
			}))),
			cmd: startCmd(2, "node-a", "j1", "A00009L9"),
			check: func(t *testing.T, f *FSM, r Result) {
				wantAt(t, f, "A00009L9", ferryv1.ElementKind_ELEMENT_KIND_DRIVE, 0, "j1")
				if c, _ := f.Cartridge("A00009L9"); c.GetHomeSlot() != 4 {
					t.Errorf("home slot = %d, want 4 (slots 1-3 are taken)", c.GetHomeSlot())
				}
				applyAll(t, f, succeedCmd(3, "node-a", "j1", setupIndex+1))
				wantAt(t, f, "A00009L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 4, "")
			},
		},
		{
			name: "no free storage slot to take a cartridge from the import/export slot",
			setup: []*ferryv1.Command{
				libraryCmd(0, libraryWith(func(l *ferryv1.Library) { l.Slots = 1 })),
				cartridgeCmd(0, validCartridge("A00001L9", "libA", 1, 101)),
				cartridgeCmd(0, cartridgeWith(func(c *ferryv1.Cartridge) {
					c.Barcode, c.Naa, c.Path = "A00009L9", testNAA(109), "/vtl/libA/A00009L9.tap"
					c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
				})),
				submitCmd(0, "j1", "", validSpec()),
			},
			cmd:         startCmd(1, "node-a", "j1", "A00009L9"),
			wantErr:     ErrBusy,
			wantErrText: "no free storage slot in library libA to take A00009L9 from import/export slot 1",
		},
		{
			name:        "a cartridge in use by another job",
			setup:       with(startCmd(1, "node-a", "j1", "A00001L9")),
			cmd:         startCmd(2, "node-a", "j2", "A00002L9", "A00001L9"),
			wantErr:     ErrBusy,
			wantErrText: "cartridge A00001L9 is in use by job j1",
			check: func(t *testing.T, f *FSM, r Result) {
				j, _ := f.Job("j2")
				if j.GetState() != queued || j.GetStateReason() != "cartridge A00001L9 is in use by job j1" || len(j.GetHistory()) != 1 {
					t.Errorf("waiting job = %v, want QUEUED with the reason and no new event", j)
				}
				if !proto.Equal(r.Job, j) {
					t.Errorf("Result.Job = %v, want the waiting job", r.Job)
				}
				if !proto.Equal(j.GetUpdatedAt(), stamp(2)) {
					t.Errorf("updated_at = %v, want %v", j.GetUpdatedAt(), stamp(2))
				}
				// Nothing of the refused start happened: A00002L9 stays home.
				wantAt(t, f, "A00002L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 2, "")
				wantDrive(t, f, "libA", 1, "", "")
			},
		},
		{
			name:        "no free drive",
			setup:       with(startCmd(1, "node-a", "j1", "A00001L9"), startCmd(2, "node-a", "j2", "A00002L9")),
			cmd:         startCmd(3, "node-a", "j3", "A00003L9"),
			wantErr:     ErrBusy,
			wantErrText: "no free drive in library libA",
			check: func(t *testing.T, f *FSM, r Result) {
				if r.Job.GetStateReason() != "no free drive in library libA" {
					t.Errorf("state_reason = %q", r.Job.GetStateReason())
				}
			},
		},
		{
			name:        "unknown job",
			setup:       with(),
			cmd:         startCmd(1, "node-a", "nope"),
			wantErr:     ErrNotFound,
			wantErrText: `start job "nope"`,
		},
		{
			name:        "unknown cartridge",
			setup:       with(),
			cmd:         startCmd(1, "node-a", "j1", "A00001L9", "Z00001L9"),
			wantErr:     ErrNotFound,
			wantErrText: `cartridge "Z00001L9"`,
		},
		{
			name:        "a cancelled job",
			setup:       with(cancelCmd(1, "j1", "")),
			cmd:         startCmd(2, "node-a", "j1"),
			wantErr:     ErrJobEnded,
			wantErrText: "JOB_STATE_CANCELLED",
		},
		{
			name:    "a succeeded job",
			setup:   with(startCmd(1, "node-a", "j1"), succeedCmd(2, "node-a", "j1", setupIndex)),
			cmd:     startCmd(3, "node-a", "j1"),
			wantErr: ErrJobEnded,
		},
		{
			name:        "a job running on another node",
			setup:       with(startCmd(1, "node-a", "j1")),
			cmd:         startCmd(2, "node-b", "j1"),
			wantErr:     ErrOwned,
			wantErrText: fmt.Sprintf("running on node-a (epoch %d)", setupIndex),
		},
		{
			name:  "the owner restarts its job: new epoch, same checkpoint, cartridges stay",
			setup: with(startCmd(1, "node-a", "j1", "A00002L9"), checkpointCmd(2, "node-a", "j1", setupIndex, 4096)),
			cmd:   startCmd(3, "node-a", "j1", "A00002L9"),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if j.GetEpoch() != setupIndex+2 || r.Existing {
					t.Errorf("epoch = %d existing=%v, want %d and a real restart", j.GetEpoch(), r.Existing, setupIndex+2)
				}
				if string(j.GetCheckpoint()) != "cp@4096" || j.GetProgress().GetBytesDone() != 4096 {
					t.Errorf("checkpoint %q progress %v, want both kept", j.GetCheckpoint(), j.GetProgress())
				}
				wantTapes(t, j, tape("A00002L9", "libA", 0))
				if msg := lastEvent(j).GetMessage(); msg != fmt.Sprintf("restarted on node-a (epoch %d); A00002L9 loaded in libA drive 0", setupIndex+2) {
					t.Errorf("event = %q", msg)
				}
				// The old epoch is fenced off.
				if r := f.Apply(setupIndex+3, checkpointCmd(4, "node-a", "j1", setupIndex, 8192)); !errors.Is(r.Err, ErrFenced) {
					t.Errorf("checkpoint with the old epoch: %v, want ErrFenced", r.Err)
				}
			},
		},
		{
			name:  "a restart that no longer names a cartridge sends it home",
			setup: with(startCmd(1, "node-a", "j1", "A00001L9")),
			cmd:   startCmd(2, "node-a", "j1", "A00002L9"),
			check: func(t *testing.T, f *FSM, r Result) {
				wantTapes(t, r.Job, tape("A00002L9", "libA", 0))
				wantAt(t, f, "A00001L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 1, "")
				wantDrive(t, f, "libA", 0, "A00002L9", "j1")
			},
		},
		{
			name:  "a re-proposed start changes nothing",
			setup: with(startCmd(1, "node-a", "j1", "A00001L9"), checkpointCmd(2, "node-a", "j1", setupIndex, 4096)),
			cmd:   startCmd(1, "node-a", "j1", "A00001L9"),
			check: func(t *testing.T, f *FSM, r Result) {
				if !r.Existing || r.Job.GetEpoch() != setupIndex || len(r.Job.GetHistory()) != 3 {
					t.Errorf("existing=%v epoch=%d history=%v, want the job unchanged", r.Existing, r.Job.GetEpoch(), r.Job.GetHistory())
				}
			},
		},
		{
			name:        "start without a node",
			setup:       with(),
			cmd:         startCmd(1, "", "j1"),
			wantErr:     ErrInvalid,
			wantErrText: "node: required",
		},
		{
			name:        "start with an empty barcode and no job id",
			setup:       with(),
			cmd:         startCmd(1, "node-a", "", "A00001L9", ""),
			wantErr:     ErrInvalid,
			wantErrText: "job_id: required; cartridges[1]: must not be empty",
		},
		{
			name:        "start with too many cartridges",
			setup:       with(),
			cmd:         startCmd(1, "node-a", "j1", slices.Repeat([]string{"A00001L9"}, maxStartCartridges+1)...),
			wantErr:     ErrInvalid,
			wantErrText: "cartridges: more than 64",
		},
		{
			name: "start without a time",
			cmd: func() *ferryv1.Command {
				c := startCmd(1, "node-a", "j1")
				c.Time = nil
				return c
			}(),
			wantErr:     ErrInvalid,
			wantErrText: "time: required",
		},
	}
	runCases(t, tests)
}

func TestCheckpointJob(t *testing.T) {
	started := with(startCmd(1, "node-a", "j1", "A00001L9"))
	epoch := setupIndex
	tests := []runCase{
		{
			name:  "a checkpoint records progress and one history event",
			setup: started,
			cmd:   checkpointCmd(2, "node-a", "j1", epoch, 1<<19),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				want := &ferryv1.JobProgress{BytesTotal: 1 << 20, SegmentsTotal: 4, BytesDone: 1 << 19, SegmentsDone: 2, CheckpointOffset: 1 << 19}
				if !proto.Equal(j.GetProgress(), want) || string(j.GetCheckpoint()) != "cp@524288" {
					t.Errorf("progress %v checkpoint %q, want %v cp@524288", j.GetProgress(), j.GetCheckpoint(), want)
				}
				wantEvent := &ferryv1.JobEvent{Time: stamp(2), State: running, Node: "node-a", Message: "checkpoint at 524288 bytes", RaftIndex: epoch + 1}
				if len(j.GetHistory()) != 3 || !proto.Equal(lastEvent(j), wantEvent) {
					t.Errorf("history = %v, want a third event %v", j.GetHistory(), wantEvent)
				}
				if !proto.Equal(j.GetUpdatedAt(), stamp(2)) {
					t.Errorf("updated_at = %v", j.GetUpdatedAt())
				}
			},
		},
		{
			name:  "the next checkpoint replaces the last checkpoint event",
			setup: then(started, checkpointCmd(2, "node-a", "j1", epoch, 100)),
			cmd:   checkpointCmd(3, "node-a", "j1", epoch, 200),
			check: func(t *testing.T, f *FSM, r Result) {
				h := r.Job.GetHistory()
				if len(h) != 3 || h[2].GetMessage() != "checkpoint at 200 bytes" || h[2].GetRaftIndex() != epoch+2 || !proto.Equal(h[2].GetTime(), stamp(3)) {
					t.Errorf("history = %v, want the checkpoint event replaced", h)
				}
			},
		},
		{
			name:  "a checkpoint behind the stored one (an old entry re-proposed) is ignored",
			setup: then(started, checkpointCmd(2, "node-a", "j1", epoch, 200)),
			cmd:   checkpointCmd(3, "node-a", "j1", epoch, 100),
			check: func(t *testing.T, f *FSM, r Result) {
				if !r.Existing || r.Job.GetProgress().GetBytesDone() != 200 || string(r.Job.GetCheckpoint()) != "cp@200" {
					t.Errorf("existing=%v job=%v, want it unchanged", r.Existing, r.Job)
				}
			},
		},
		{
			name:        "a stale epoch is fenced",
			setup:       started,
			cmd:         checkpointCmd(2, "node-a", "j1", epoch-1, 100),
			wantErr:     ErrFenced,
			wantErrText: fmt.Sprintf("epoch %d is stale, the job's epoch is %d", epoch-1, epoch),
		},
		{
			name:        "a newer epoch than the job's is fenced too",
			setup:       started,
			cmd:         checkpointCmd(2, "node-a", "j1", epoch+1, 100),
			wantErr:     ErrFenced,
			wantErrText: "is stale",
		},
		{
			name:        "another node is fenced",
			setup:       started,
			cmd:         checkpointCmd(2, "node-b", "j1", epoch, 100),
			wantErr:     ErrFenced,
			wantErrText: "owned by node-a, not node-b",
		},
		{
			name:        "a queued job is fenced",
			setup:       started,
			cmd:         checkpointCmd(2, "node-a", "j2", epoch, 100),
			wantErr:     ErrFenced,
			wantErrText: "JOB_STATE_QUEUED, not running",
		},
		{
			name:     "a cancelled job is fenced and ended",
			setup:    then(started, cancelCmd(2, "j1", "")),
			cmd:      checkpointCmd(3, "node-a", "j1", epoch, 100),
			wantErr:  ErrFenced,
			wantAlso: []error{ErrJobEnded},
		},
		{
			name:    "unknown job",
			setup:   started,
			cmd:     checkpointCmd(2, "node-a", "nope", epoch, 100),
			wantErr: ErrNotFound,
		},
		{
			name:  "checkpoint without epoch, progress or node, and too big",
			setup: started,
			cmd: func() *ferryv1.Command {
				c := checkpointCmd(2, "", "j1", 0, 100)
				c.GetCheckpointJob().Progress = nil
				c.GetCheckpointJob().Checkpoint = make([]byte, maxCheckpointBytes+1)
				return c
			}(),
			wantErr:     ErrInvalid,
			wantErrText: "node: required: the proposing node; epoch: required: the epoch the job was started with; progress: required; checkpoint: longer than 65536 bytes",
		},
	}
	runCases(t, tests)
}

func TestFinishJob(t *testing.T) {
	started := with(startCmd(1, "node-a", "j1", "A00001L9", "B00001L9"))
	epoch := setupIndex
	freed := func(t *testing.T, f *FSM) {
		t.Helper()
		wantDrive(t, f, "libA", 0, "", "")
		wantDrive(t, f, "libB", 0, "", "")
		wantAt(t, f, "A00001L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 1, "")
		wantAt(t, f, "B00001L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 5, "")
	}
	tests := []runCase{
		{
			name:  "success records the result and sends the cartridges home",
			setup: started,
			cmd:   succeedCmd(2, "node-a", "j1", epoch),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if j.GetState() != succeeded || j.GetResult().GetSha256() != testSHA256 || j.GetError() != nil {
					t.Errorf("job = %v", j)
				}
				if p := j.GetProgress(); p.GetBytesDone() != 1<<20 || p.GetSegmentsDone() != 1 {
					t.Errorf("progress = %v, want the result's bytes and segments", p)
				}
				if msg := lastEvent(j).GetMessage(); msg != "succeeded: sha256 "+testSHA256 || lastEvent(j).GetState() != succeeded {
					t.Errorf("event = %v", lastEvent(j))
				}
				// The tapes stay as the record of what the job used.
				wantTapes(t, j, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 0))
				freed(t, f)
			},
		},
		{
			name:  "failure records the error and sends the cartridges home",
			setup: then(started, checkpointCmd(2, "node-a", "j1", epoch, 512)),
			cmd:   failCmd(3, "node-a", "j1", epoch, "tape write protected"),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if j.GetState() != failed || j.GetError().GetMessage() != "tape write protected" || j.GetResult() != nil ||
					j.GetStateReason() != "tape write protected" || j.GetProgress().GetBytesDone() != 512 {
					t.Errorf("job = %v", j)
				}
				if msg := lastEvent(j).GetMessage(); msg != "failed: tape write protected" {
					t.Errorf("event = %q", msg)
				}
				freed(t, f)
			},
		},
		{
			name:        "a stale epoch is fenced",
			setup:       started,
			cmd:         succeedCmd(2, "node-a", "j1", epoch-1),
			wantErr:     ErrFenced,
			wantErrText: "is stale",
		},
		{
			name:    "another node is fenced",
			setup:   started,
			cmd:     succeedCmd(2, "node-b", "j1", epoch),
			wantErr: ErrFenced,
		},
		{
			name:     "finishing twice",
			setup:    then(started, succeedCmd(2, "node-a", "j1", epoch)),
			cmd:      failCmd(3, "node-a", "j1", epoch, "late"),
			wantErr:  ErrFenced,
			wantAlso: []error{ErrJobEnded},
		},
		{
			name:        "finishing as RUNNING",
			setup:       started,
			cmd:         finishCmd(2, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: running}),
			wantErr:     ErrInvalid,
			wantErrText: "state: must be JOB_STATE_SUCCEEDED or JOB_STATE_FAILED, not JOB_STATE_RUNNING",
		},
		{
			name:        "finishing as CANCELLED",
			setup:       started,
			cmd:         finishCmd(2, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: cancelled}),
			wantErr:     ErrInvalid,
			wantErrText: "state: must be",
		},
		{
			name:        "success without a result",
			setup:       started,
			cmd:         finishCmd(2, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: succeeded, Error: &ferryv1.JobError{}}),
			wantErr:     ErrInvalid,
			wantErrText: "result: required when the job succeeded; error: must not be set when the job succeeded",
		},
		{
			name:  "success with a malformed hash",
			setup: started,
			cmd: finishCmd(2, "node-a", "j1", epoch, &ferryv1.FinishJobOp{
				State: succeeded, Result: &ferryv1.JobResult{Sha256: strings.ToUpper(testSHA256)},
			}),
			wantErr:     ErrInvalid,
			wantErrText: "result.sha256: must be 64 lower-case hexadecimal digits",
		},
		{
			name:        "failure without a message",
			setup:       started,
			cmd:         finishCmd(2, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: failed, Result: &ferryv1.JobResult{}}),
			wantErr:     ErrInvalid,
			wantErrText: "error.message: required when the job failed; result: must not be set when the job failed",
		},
		{
			name:        "finish without an epoch",
			setup:       started,
			cmd:         succeedCmd(2, "node-a", "j1", 0),
			wantErr:     ErrInvalid,
			wantErrText: "epoch: required",
		},
	}
	runCases(t, tests)
}

func TestCancelRunningJobFreesItsDrives(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f, startCmd(1, "node-a", "j1", "A00001L9", "A00002L9"))
	wantDrive(t, f, "libA", 1, "A00002L9", "j1")
	applyAll(t, f, cancelCmd(2, "j1", "operator"))

	j, _ := f.Job("j1")
	if j.GetState() != cancelled || j.GetOwner() != "node-a" {
		t.Errorf("job = %v, want CANCELLED, owner kept", j)
	}
	wantDrive(t, f, "libA", 0, "", "")
	wantDrive(t, f, "libA", 1, "", "")
	wantAt(t, f, "A00001L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 1, "")
	wantAt(t, f, "A00002L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 2, "")
	// The owner's late checkpoint and finish are refused.
	for _, c := range []*ferryv1.Command{checkpointCmd(3, "node-a", "j1", j.GetEpoch(), 100), succeedCmd(3, "node-a", "j1", j.GetEpoch())} {
		if r := f.Apply(f.AppliedIndex()+1, c); !errors.Is(r.Err, ErrFenced) {
			t.Errorf("after cancel: %v, want ErrFenced", r.Err)
		}
	}
	// The cartridges are free for the next job.
	applyAll(t, f, startCmd(4, "node-b", "j2", "A00002L9", "A00001L9"))
	wantDrive(t, f, "libA", 0, "A00002L9", "j2")
}

// TestJobLifecycle walks the whole path the executor drives: register
// devices, submit, start, checkpoint (a stale epoch refused), finish.
func TestJobLifecycle(t *testing.T) {
	f := New()
	applyAll(t, f,
		diskCmd(0, validDisk("db01", 1)),
		libraryCmd(1, validLibrary("libA")),
		cartridgeCmd(2, validCartridge("A00001L9", "libA", 1, 101)),
		submitCmd(3, "j1", "", validSpec()),
	)
	if j, _ := f.Job("j1"); j.GetStateReason() != "waiting to start on the node that accepted it" {
		t.Errorf("queued reason = %q", j.GetStateReason())
	}
	r := f.Apply(5, startCmd(4, "node-a", "j1", "A00001L9"))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	epoch := r.Job.GetEpoch()
	if epoch != 5 {
		t.Errorf("epoch = %d, want the start's index 5", epoch)
	}
	wantDrive(t, f, "libA", 0, "A00001L9", "j1")
	for i, done := range []uint64{1 << 18, 1 << 19, 3 << 18} {
		applyAll(t, f, checkpointCmd(5+i, "node-a", "j1", epoch, done))
	}
	if r := f.Apply(f.AppliedIndex()+1, checkpointCmd(9, "node-a", "j1", epoch-1, 1<<20)); !errors.Is(r.Err, ErrFenced) {
		t.Errorf("stale checkpoint: %v, want ErrFenced", r.Err)
	}
	applyAll(t, f, succeedCmd(10, "node-a", "j1", epoch))

	j, _ := f.Job("j1")
	var msgs []string
	for _, e := range j.GetHistory() {
		msgs = append(msgs, e.GetMessage())
	}
	want := []string{
		"submitted",
		"started on node-a (epoch 5); A00001L9 loaded in libA drive 0",
		"checkpoint at 786432 bytes",
		"succeeded: sha256 " + testSHA256,
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("history = %q, want %q", msgs, want)
	}
	if j.GetState() != succeeded || j.GetProgress().GetBytesDone() != 1<<20 || string(j.GetCheckpoint()) != "cp@786432" {
		t.Errorf("job = %v", j)
	}
	wantDrive(t, f, "libA", 0, "", "")
	wantAt(t, f, "A00001L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 1, "")
}

// TestTwoJobsWantOneCartridge: the second job waits with the reason, and
// starts once the first has finished.
func TestTwoJobsWantOneCartridge(t *testing.T) {
	f := deviceFixture(t)
	r1 := f.Apply(setupIndex, startCmd(1, "node-a", "j1", "A00001L9"))
	if r1.Err != nil {
		t.Fatal(r1.Err)
	}
	for i := range 3 {
		r := f.Apply(setupIndex+1+uint64(i), startCmd(2+i, "node-b", "j2", "A00001L9"))
		if !errors.Is(r.Err, ErrBusy) {
			t.Fatalf("second job's start: %v, want ErrBusy", r.Err)
		}
	}
	j2, _ := f.Job("j2")
	if j2.GetState() != queued || j2.GetStateReason() != "cartridge A00001L9 is in use by job j1" || len(j2.GetHistory()) != 1 {
		t.Errorf("waiting job = %v", j2)
	}
	if !proto.Equal(j2.GetUpdatedAt(), stamp(2)) {
		t.Errorf("retries with the same reason moved updated_at to %v", j2.GetUpdatedAt())
	}
	applyAll(t, f, succeedCmd(10, "node-a", "j1", r1.Job.GetEpoch()))
	r2 := f.Apply(f.AppliedIndex()+1, startCmd(11, "node-b", "j2", "A00001L9"))
	if r2.Err != nil {
		t.Fatal(r2.Err)
	}
	if r2.Job.GetState() != running || r2.Job.GetStateReason() != "running on node-b" {
		t.Errorf("j2 = %v", r2.Job)
	}
	wantDrive(t, f, "libA", 0, "A00001L9", "j2")
}

// TestStartRefusalLeavesNoTrace: a start that fails on its second
// cartridge must not leave the first loaded.
func TestStartRefusalLeavesNoTrace(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f, startCmd(1, "node-a", "j1", "A00003L9"))
	before := f.Cartridges("")
	r := f.Apply(f.AppliedIndex()+1, startCmd(2, "node-a", "j2", "A00001L9", "A00002L9"))
	if !errors.Is(r.Err, ErrBusy) {
		t.Fatalf("Err = %v, want ErrBusy (one drive left for two cartridges)", r.Err)
	}
	if after := f.Cartridges(""); !slices.EqualFunc(before, after, func(a, b *ferryv1.Cartridge) bool { return proto.Equal(a, b) }) {
		t.Errorf("cartridges moved:\n%v\n%v", before, after)
	}
}

func TestJobsByOwnerAndAcceptingNode(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f, submitCmd(1, "j4", "", validSpec()))
	f.Apply(f.AppliedIndex()+1, &ferryv1.Command{Time: stamp(1), Node: "node-b",
		Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: "j5", Spec: validSpec()}}})
	applyAll(t, f, startCmd(2, "node-a", "j1"), startCmd(2, "node-b", "j3"), startCmd(3, "node-b", "j5"))
	tests := []struct {
		q    Query
		want []string
	}{
		{Query{Owner: "node-b"}, []string{"j3", "j5"}},
		{Query{Owner: "node-a", State: running}, []string{"j1"}},
		{Query{SubmittedVia: "node-b"}, []string{"j5"}},
		{Query{SubmittedVia: "node-a", State: queued}, []string{"j2", "j4"}},
		{Query{SubmittedVia: "node-a", Owner: "node-b"}, []string{"j3"}},
	}
	for _, tc := range tests {
		jobs, _ := f.Jobs(tc.q)
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.GetId())
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("Jobs(%+v) = %q, want %q", tc.q, ids, tc.want)
		}
	}
}

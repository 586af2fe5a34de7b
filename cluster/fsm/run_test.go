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

// setupIndex is the index of the first command after the members of
// testNodes and deviceSetup.
var setupIndex = uint64(len(testNodes()) + len(deviceSetup()) + 1)

// then returns a copy of cmds followed by more, so table rows never share
// a backing array.
func then(cmds []*ferryv1.Command, more ...*ferryv1.Command) []*ferryv1.Command {
	return slices.Concat(cmds, more)
}

// with returns deviceSetup followed by more commands.
func with(more ...*ferryv1.Command) []*ferryv1.Command {
	return append(deviceSetup(), more...)
}

// runCase is one row of the job lifecycle tables. Its setup is applied
// after the members of testNodes, so setup's first command is at index
// len(testNodes())+1.
type runCase struct {
	name  string
	setup []*ferryv1.Command
	cmd   *ferryv1.Command
	// wantErr is checked with errors.Is; nil means success. Every error in
	// wantAlso must match too.
	wantErr     error
	wantAlso    []error
	wantErrText string
	// check inspects the result and the state after the command.
	check func(t *testing.T, f *FSM, r Result)
}

func runCases(t *testing.T, tests []runCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newWithNodes()
			applyAll(t, f, tc.setup...)
			before := observe(t, f)
			r := f.Apply(f.AppliedIndex()+1, tc.cmd)
			if tc.wantErr == nil {
				if r.Err != nil {
					t.Fatalf("Err = %v", r.Err)
				}
				wantStored(t, f, r)
			} else {
				for _, want := range append([]error{tc.wantErr}, tc.wantAlso...) {
					if !errors.Is(r.Err, want) {
						t.Fatalf("Err = %v, want %v", r.Err, want)
					}
				}
				if !strings.Contains(r.Err.Error(), tc.wantErrText) {
					t.Errorf("Err = %q, want it to contain %q", r.Err, tc.wantErrText)
				}
				if r.Job != nil || r.Batch != nil {
					t.Errorf("a failed command returned job %v, batch %v", r.Job, r.Batch)
				}
				if observe(t, f) != before {
					t.Error("a failed command changed the state")
				}
			}
			if tc.check != nil {
				tc.check(t, f, r)
			}
		})
	}
}

// observe captures everything a refused command must leave alone: the
// snapshot, and which job holds each loaded cartridge, which only the
// libraries' inventories show.
func observe(t *testing.T, f *FSM) string {
	t.Helper()
	data, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(data)
	for _, l := range f.Libraries() {
		inv, _ := f.Library(l.GetName())
		out, err := proto.MarshalOptions{Deterministic: true}.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(out)
	}
	return b.String()
}

// wantStored checks that a successful result shows the jobs as stored: for
// a batch, each job's last result.
func wantStored(t *testing.T, f *FSM, r Result) {
	t.Helper()
	jobs := []*ferryv1.Job{r.Job}
	if r.Batch != nil {
		last := make(map[string]*ferryv1.Job)
		jobs = nil
		for _, b := range r.Batch {
			if b.Job != nil {
				last[b.Job.GetId()] = b.Job
			}
		}
		for _, j := range last {
			jobs = append(jobs, j)
		}
	}
	for _, j := range jobs {
		if j == nil {
			continue
		}
		if stored, ok := f.Job(j.GetId()); !ok || !proto.Equal(stored, j) {
			t.Errorf("the result's job differs from the stored job:\n got %v\nwant %v", j, stored)
		}
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

// wantHome checks that a cartridge is at home in its storage slot.
func wantHome(t *testing.T, f *FSM, barcode string, slot uint32) {
	t.Helper()
	wantAt(t, f, barcode, ferryv1.ElementKind_ELEMENT_KIND_SLOT, slot, "")
}

// wantLoaded checks that a cartridge is in a drive for a job, with the
// storage slot it goes back to.
func wantLoaded(t *testing.T, f *FSM, barcode string, drive uint32, job string, home uint32) {
	t.Helper()
	wantAt(t, f, barcode, ferryv1.ElementKind_ELEMENT_KIND_DRIVE, drive, job)
	if c, _ := f.Cartridge(barcode); c.GetHomeSlot() != home {
		t.Errorf("%s has home slot %d, want %d", barcode, c.GetHomeSlot(), home)
	}
}

func lastEvent(j *ferryv1.Job) *ferryv1.JobEvent {
	h := j.GetHistory()
	if len(h) == 0 {
		return nil
	}
	return h[len(h)-1]
}

func messages(j *ferryv1.Job) []string {
	var msgs []string
	for _, e := range j.GetHistory() {
		msgs = append(msgs, e.GetMessage())
	}
	return msgs
}

func wantTapes(t *testing.T, j *ferryv1.Job, want ...*ferryv1.TapeAssignment) {
	t.Helper()
	if !slices.EqualFunc(j.GetTapes(), want, func(a, b *ferryv1.TapeAssignment) bool { return proto.Equal(a, b) }) {
		t.Errorf("tapes = %v, want %v", j.GetTapes(), want)
	}
}

func TestPlaceJob(t *testing.T) {
	placed := with(placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0)))
	tests := []runCase{
		{
			name:  "a queued job is placed on the node with its cartridge in the drive named",
			setup: with(),
			cmd:   placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 1)),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if j.GetState() != running || j.GetOwner() != "node-a" || j.GetEpoch() != setupIndex {
					t.Errorf("state %v owner %q epoch %d, want RUNNING node-a %d", j.GetState(), j.GetOwner(), j.GetEpoch(), setupIndex)
				}
				if j.GetStateReason() != "placed on node-a" || !proto.Equal(j.GetUpdatedAt(), stamp(1)) {
					t.Errorf("state_reason %q updated_at %v", j.GetStateReason(), j.GetUpdatedAt())
				}
				if !proto.Equal(j.GetProgress(), &ferryv1.JobProgress{}) {
					t.Errorf("progress = %v, want none until the owner starts", j.GetProgress())
				}
				wantTapes(t, j, tape("A00001L9", "libA", 1))
				// The leader proposed it; the event names the node that
				// got the job.
				wantEvent := &ferryv1.JobEvent{
					Time: stamp(1), State: running, Node: "node-a", RaftIndex: setupIndex,
					Message: fmt.Sprintf("placed on node-a (epoch %d); A00001L9 in libA drive 1", setupIndex),
				}
				if !proto.Equal(lastEvent(j), wantEvent) || len(j.GetHistory()) != 2 {
					t.Errorf("history = %v, want submitted then %v", j.GetHistory(), wantEvent)
				}
				wantDrive(t, f, "libA", 0, "", "")
				wantDrive(t, f, "libA", 1, "A00001L9", "j1")
				wantLoaded(t, f, "A00001L9", 1, "j1", 1)
			},
		},
		{
			name:  "cartridges in two libraries, kept in the order given",
			setup: with(placeCmd(1, "j2", "node-a", 0, tape("A00002L9", "libA", 0))),
			cmd:   placeCmd(2, "j1", "node-b", 0, tape("B00001L9", "libB", 1), tape("A00001L9", "libA", 1)),
			check: func(t *testing.T, f *FSM, r Result) {
				wantTapes(t, r.Job, tape("B00001L9", "libB", 1), tape("A00001L9", "libA", 1))
				if msg := lastEvent(r.Job).GetMessage(); !strings.HasSuffix(msg, "; B00001L9 in libB drive 1; A00001L9 in libA drive 1") {
					t.Errorf("event = %q", msg)
				}
				wantDrive(t, f, "libA", 0, "A00002L9", "j2")
				wantDrive(t, f, "libA", 1, "A00001L9", "j1")
				wantDrive(t, f, "libB", 0, "", "")
				wantDrive(t, f, "libB", 1, "B00001L9", "j1")
			},
		},
		{
			name:  "without cartridges (a disk-to-disk copy)",
			setup: with(),
			cmd:   placeCmd(1, "j1", "node-b", 0),
			check: func(t *testing.T, f *FSM, r Result) {
				if r.Job.GetState() != running || r.Job.GetOwner() != "node-b" || len(r.Job.GetTapes()) != 0 {
					t.Errorf("job = %v", r.Job)
				}
				if msg := lastEvent(r.Job).GetMessage(); msg != fmt.Sprintf("placed on node-b (epoch %d)", setupIndex) {
					t.Errorf("event = %q", msg)
				}
			},
		},
		{
			name: "a cartridge in the import/export slot is taken into the first free slot, its new home",
			setup: with(cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Barcode, c.Naa, c.Path = "A00009L9", testNAA(109), "/vtl/libA/A00009L9.tap"
				c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
			}))),
			cmd: placeCmd(2, "j1", "node-a", 0, tape("A00009L9", "libA", 0)),
			check: func(t *testing.T, f *FSM, r Result) {
				// Slots 1-3 are taken.
				wantLoaded(t, f, "A00009L9", 0, "j1", 4)
				epoch := r.Job.GetEpoch()
				applyAll(t, f, startCmd(3, "node-a", "j1", epoch), succeedCmd(4, "node-a", "j1", epoch))
				wantHome(t, f, "A00009L9", 4)
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
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00009L9", "libA", 0)),
			wantErr:     ErrBusy,
			wantErrText: "no free storage slot in library libA to take A00009L9 from import/export slot 1",
		},
		{
			name:        "a cartridge in use by another job",
			setup:       placed,
			cmd:         placeCmd(2, "j2", "node-b", 0, tape("A00002L9", "libA", 1), tape("A00001L9", "libA", 0)),
			wantErr:     ErrBusy,
			wantErrText: "cartridge A00001L9 is in use by job j1",
			check: func(t *testing.T, f *FSM, r Result) {
				// The scheduler records why the job waits with a WaitJobOp;
				// the refusal itself leaves the job as it was.
				j, _ := f.Job("j2")
				if j.GetState() != queued || j.GetStateReason() != queuedReason || len(j.GetHistory()) != 1 {
					t.Errorf("refused job = %v, want it untouched", j)
				}
				wantHome(t, f, "A00002L9", 2)
				wantDrive(t, f, "libA", 1, "", "")
			},
		},
		{
			name:        "a drive that holds another job's cartridge",
			setup:       placed,
			cmd:         placeCmd(2, "j2", "node-b", 0, tape("A00002L9", "libA", 0)),
			wantErr:     ErrBusy,
			wantErrText: "drive 0 of library libA holds A00001L9",
		},
		{
			name:        "two cartridges for one drive",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 1), tape("A00002L9", "libA", 1)),
			wantErr:     ErrInvalid,
			wantErrText: "A00001L9 and A00002L9 both assigned to libA drive 1",
		},
		{
			name:        "the same cartridge twice",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0), tape("A00001L9", "libA", 1)),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge A00001L9 assigned twice",
		},
		{
			name:        "a drive the library does not have",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 2)),
			wantErr:     ErrInvalid,
			wantErrText: "library libA has no drive 2",
		},
		{
			name:        "a drive number beyond any int",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 1<<32-1)),
			wantErr:     ErrInvalid,
			wantErrText: "library libA has no drive 4294967295",
		},
		{
			name:        "a cartridge named in another library",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0), tape("B00001L9", "libA", 1)),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge B00001L9 is in library libB, not libA",
		},
		{
			name:        "a library that does not exist",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libZ", 0)),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge A00001L9 is in library libA, not libZ",
		},
		{
			name:        "an unknown cartridge",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0), tape("Z00001L9", "libA", 1)),
			wantErr:     ErrNotFound,
			wantErrText: `cartridge "Z00001L9"`,
		},
		{
			name:        "an unknown node",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-z", 0),
			wantErr:     ErrNotFound,
			wantErrText: `place job "j1" on "node-z": node not found`,
		},
		{
			name:        "an unknown job",
			setup:       with(),
			cmd:         placeCmd(1, "nope", "node-a", 0),
			wantErr:     ErrNotFound,
			wantErrText: `place job "nope"`,
		},
		{
			name:        "a cancelled job",
			setup:       with(cancelCmd(1, "j1", "")),
			cmd:         placeCmd(2, "j1", "node-a", 0),
			wantErr:     ErrJobEnded,
			wantErrText: "JOB_STATE_CANCELLED",
		},
		{
			name:    "a succeeded job",
			setup:   then(placed, succeedCmd(2, "node-a", "j1", setupIndex)),
			cmd:     placeCmd(3, "j1", "node-a", setupIndex),
			wantErr: ErrJobEnded,
		},
		{
			name:        "a queued job with a from_epoch",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 7),
			wantErr:     ErrFenced,
			wantErrText: "the job is queued, not running under epoch 7",
		},
		{
			name:        "a running job placed as if it were queued",
			setup:       placed,
			cmd:         placeCmd(2, "j1", "node-b", 0),
			wantErr:     ErrFenced,
			wantErrText: fmt.Sprintf("taking over from epoch 0, but the job's epoch is %d (owner node-a)", setupIndex),
		},
		{
			name:        "no job id, node, barcode or library",
			setup:       with(),
			cmd:         placeCmd(1, "", "", 0, &ferryv1.TapeAssignment{}),
			wantErr:     ErrInvalid,
			wantErrText: "job_id: required; node: required: the node to run the job; tapes[0].barcode: required; tapes[0].library: required",
		},
		{
			name:        "too many tapes",
			setup:       with(),
			cmd:         placeCmd(1, "j1", "node-a", 0, slices.Repeat([]*ferryv1.TapeAssignment{tape("A00001L9", "libA", 0)}, maxPlaceTapes+1)...),
			wantErr:     ErrInvalid,
			wantErrText: "tapes: more than 64 tapes",
		},
		{
			name:        "a reason too long",
			setup:       placed,
			cmd:         takeoverCmd(2, "j1", "node-b", setupIndex, strings.Repeat("x", maxReasonBytes+1), 0),
			wantErr:     ErrInvalid,
			wantErrText: "reason: longer than 1024 bytes",
		},
		{
			name: "no time",
			cmd: func() *ferryv1.Command {
				c := placeCmd(1, "j1", "node-a", 0)
				c.Time = nil
				return c
			}(),
			wantErr:     ErrInvalid,
			wantErrText: "time: required",
		},
		{
			name:        "no body",
			cmd:         &ferryv1.Command{Time: stamp(1), Node: leader, Op: &ferryv1.Command_PlaceJob{}},
			wantErr:     ErrUnknownCommand,
			wantErrText: "place_job without a body",
		},
	}
	runCases(t, tests)
}

// TestPlaceOnRemovedNode: a node that left the cluster cannot be given work,
// even though the scheduler may still have seen it.
func TestPlaceOnRemovedNode(t *testing.T) {
	f := deviceFixture(t)
	f.RemoveNode(f.AppliedIndex()+1, 2)
	r := f.Apply(f.AppliedIndex()+1, placeCmd(1, "j1", "node-b", 0))
	if !errors.Is(r.Err, ErrNotFound) {
		t.Errorf("Err = %v, want ErrNotFound", r.Err)
	}
}

func TestStartJob(t *testing.T) {
	placed := with(placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0)))
	epoch := setupIndex
	checkpointed := then(placed, startCmd(2, "node-a", "j1", epoch), checkpointCmd(3, "node-a", "j1", epoch, 4096))
	tests := []runCase{
		{
			name:  "the owner starts its placed job",
			setup: placed,
			cmd:   startCmd(2, "node-a", "j1", epoch),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if r.Existing || j.GetState() != running || j.GetEpoch() != epoch || j.GetStateReason() != "running on node-a" {
					t.Errorf("existing=%v job=%v, want a start under epoch %d", r.Existing, j, epoch)
				}
				wantProgress := &ferryv1.JobProgress{BytesTotal: 1 << 20, SegmentsTotal: 4}
				if !proto.Equal(j.GetProgress(), wantProgress) || !proto.Equal(j.GetUpdatedAt(), stamp(2)) {
					t.Errorf("progress %v updated_at %v, want %v at %v", j.GetProgress(), j.GetUpdatedAt(), wantProgress, stamp(2))
				}
				wantEvent := &ferryv1.JobEvent{Time: stamp(2), State: running, Node: "node-a", RaftIndex: epoch + 1, Message: "started on node-a"}
				if !proto.Equal(lastEvent(j), wantEvent) || len(j.GetHistory()) != 3 {
					t.Errorf("history = %v, want a third event %v", j.GetHistory(), wantEvent)
				}
				wantTapes(t, j, tape("A00001L9", "libA", 0))
			},
		},
		{
			name:  "a re-proposed start changes nothing",
			setup: checkpointed,
			cmd:   startCmd(2, "node-a", "j1", epoch),
			check: func(t *testing.T, f *FSM, r Result) {
				if !r.Existing || r.Job.GetEpoch() != epoch || len(r.Job.GetHistory()) != 4 || !proto.Equal(r.Job.GetUpdatedAt(), stamp(3)) {
					t.Errorf("existing=%v job=%v, want the job unchanged", r.Existing, r.Job)
				}
			},
		},
		{
			name:  "a start at the very time of its placement is not taken for a re-proposal",
			setup: placed,
			cmd:   startCmd(1, "node-a", "j1", epoch),
			check: func(t *testing.T, f *FSM, r Result) {
				if r.Existing || lastEvent(r.Job).GetMessage() != "started on node-a" {
					t.Errorf("existing=%v history=%v, want the start recorded", r.Existing, r.Job.GetHistory())
				}
			},
		},
		{
			name:  "an owner that restarted resumes under the same epoch",
			setup: checkpointed,
			cmd:   resumeCmd(5, "node-a", "j1", epoch, 4096),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if r.Existing || j.GetEpoch() != epoch || string(j.GetCheckpoint()) != "cp@4096" || j.GetProgress().GetBytesDone() != 4096 {
					t.Errorf("existing=%v job=%v, want a second start keeping epoch and checkpoint", r.Existing, j)
				}
				want := []string{"submitted", fmt.Sprintf("placed on node-a (epoch %d); A00001L9 in libA drive 0", epoch),
					"started on node-a", "checkpoint at 4096 bytes", "resumed on node-a from offset 4096"}
				if !slices.Equal(messages(j), want) {
					t.Errorf("history = %q, want %q", messages(j), want)
				}
				// Checkpoints go on under the same epoch.
				if r := f.Apply(f.AppliedIndex()+1, checkpointCmd(6, "node-a", "j1", epoch, 8192)); r.Err != nil {
					t.Errorf("checkpoint after the restart: %v", r.Err)
				}
			},
		},
		{
			name:  "an owner that restarts before any checkpoint starts again",
			setup: then(placed, startCmd(2, "node-a", "j1", epoch)),
			cmd:   startCmd(5, "node-a", "j1", epoch),
			check: func(t *testing.T, f *FSM, r Result) {
				if r.Existing || len(r.Job.GetHistory()) != 4 || lastEvent(r.Job).GetMessage() != "started on node-a" {
					t.Errorf("existing=%v history=%v", r.Existing, r.Job.GetHistory())
				}
			},
		},
		{
			name:        "another node is fenced",
			setup:       placed,
			cmd:         startCmd(2, "node-b", "j1", epoch),
			wantErr:     ErrFenced,
			wantErrText: "owned by node-a, not node-b",
		},
		{
			name:        "a stale epoch is fenced",
			setup:       placed,
			cmd:         startCmd(2, "node-a", "j1", epoch-1),
			wantErr:     ErrFenced,
			wantErrText: fmt.Sprintf("epoch %d is stale, the job's epoch is %d", epoch-1, epoch),
		},
		{
			name:        "a queued job is fenced",
			setup:       placed,
			cmd:         startCmd(2, "node-a", "j2", epoch),
			wantErr:     ErrFenced,
			wantErrText: "JOB_STATE_QUEUED, not running",
		},
		{
			name:     "a cancelled job is fenced and ended",
			setup:    then(placed, cancelCmd(2, "j1", "")),
			cmd:      startCmd(3, "node-a", "j1", epoch),
			wantErr:  ErrFenced,
			wantAlso: []error{ErrJobEnded},
		},
		{
			name:        "an unknown job",
			setup:       placed,
			cmd:         startCmd(2, "node-a", "nope", epoch),
			wantErr:     ErrNotFound,
			wantErrText: `start job "nope"`,
		},
		{
			name:        "no node, job id or epoch",
			setup:       placed,
			cmd:         startCmd(2, "", "", 0),
			wantErr:     ErrInvalid,
			wantErrText: "node: required: the proposing node; job_id: required; epoch: required",
		},
		{
			name: "no time",
			cmd: func() *ferryv1.Command {
				c := startCmd(1, "node-a", "j1", 1)
				c.Time = nil
				return c
			}(),
			wantErr:     ErrInvalid,
			wantErrText: "time: required",
		},
	}
	runCases(t, tests)
}

func TestWaitJob(t *testing.T) {
	waiting := with(waitCmd(1, "j1", "no free drive in library libA"))
	tests := []runCase{
		{
			name:  "a queued job records why it waits, without an event",
			setup: with(),
			cmd:   waitCmd(1, "j1", "no free drive in library libA"),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				if r.Existing || j.GetState() != queued || j.GetStateReason() != "no free drive in library libA" ||
					len(j.GetHistory()) != 1 || !proto.Equal(j.GetUpdatedAt(), stamp(1)) {
					t.Errorf("existing=%v job=%v", r.Existing, j)
				}
			},
		},
		{
			name:  "the same reason again changes nothing",
			setup: waiting,
			cmd:   waitCmd(2, "j1", "no free drive in library libA"),
			check: func(t *testing.T, f *FSM, r Result) {
				if !r.Existing || !proto.Equal(r.Job.GetUpdatedAt(), stamp(1)) {
					t.Errorf("existing=%v updated_at=%v, want the job unchanged", r.Existing, r.Job.GetUpdatedAt())
				}
			},
		},
		{
			name:  "a new reason replaces the old",
			setup: waiting,
			cmd:   waitCmd(2, "j1", "cartridge A00001L9 is in use by job j2"),
			check: func(t *testing.T, f *FSM, r Result) {
				if r.Existing || r.Job.GetStateReason() != "cartridge A00001L9 is in use by job j2" || !proto.Equal(r.Job.GetUpdatedAt(), stamp(2)) {
					t.Errorf("existing=%v job=%v", r.Existing, r.Job)
				}
			},
		},
		{
			name:        "a running job is fenced",
			setup:       with(placeCmd(1, "j1", "node-a", 0)),
			cmd:         waitCmd(2, "j1", "late"),
			wantErr:     ErrFenced,
			wantErrText: "the job is JOB_STATE_RUNNING, not queued",
		},
		{
			name:        "a cancelled job is fenced",
			setup:       with(cancelCmd(1, "j1", "")),
			cmd:         waitCmd(2, "j1", "late"),
			wantErr:     ErrFenced,
			wantErrText: "JOB_STATE_CANCELLED",
		},
		{
			name:        "an unknown job",
			setup:       with(),
			cmd:         waitCmd(1, "nope", "why"),
			wantErr:     ErrNotFound,
			wantErrText: `wait job "nope"`,
		},
		{
			name:        "no job id or reason",
			setup:       with(),
			cmd:         waitCmd(1, "", ""),
			wantErr:     ErrInvalid,
			wantErrText: "job_id: required; reason: required",
		},
		{
			name:        "a reason too long",
			setup:       with(),
			cmd:         waitCmd(1, "j1", strings.Repeat("x", maxReasonBytes+1)),
			wantErr:     ErrInvalid,
			wantErrText: "reason: longer than 1024 bytes",
		},
	}
	runCases(t, tests)
}

func TestWaitJobs(t *testing.T) {
	wait := func(id, reason string) *ferryv1.WaitJobOp { return &ferryv1.WaitJobOp{JobId: id, Reason: reason} }
	tests := []runCase{
		{
			name:  "each reason is recorded on its own",
			setup: with(placeCmd(1, "j2", "node-a", 0), waitCmd(2, "j3", "no mover reaches db01")),
			cmd: waitsCmd(3,
				wait("j1", "no free drive in library libA"),
				wait("j2", "late"),
				wait("nope", "why"),
				wait("j3", ""),
				nil,
				wait("j3", "no mover reaches db01"),
			),
			check: func(t *testing.T, f *FSM, r Result) {
				if len(r.Batch) != 6 {
					t.Fatalf("batch = %+v, want 6 results", r.Batch)
				}
				for i, want := range []error{nil, ErrFenced, ErrNotFound, ErrInvalid, ErrInvalid, nil} {
					b := r.Batch[i]
					if want == nil && (b.Err != nil || b.Job == nil) || want != nil && (!errors.Is(b.Err, want) || b.Job != nil) {
						t.Errorf("Batch[%d] = job %v err %v, want err %v and a job only on success", i, b.Job, b.Err, want)
					}
				}
				if j := r.Batch[0].Job; r.Batch[0].Existing || j.GetStateReason() != "no free drive in library libA" || len(j.GetHistory()) != 1 {
					t.Errorf("j1 = %v existing=%v", j, r.Batch[0].Existing)
				}
				if !r.Batch[5].Existing || !proto.Equal(r.Batch[5].Job.GetUpdatedAt(), stamp(2)) {
					t.Errorf("the unchanged reason of j3: %+v, want a repeat", r.Batch[5])
				}
			},
		},
		{
			name:        "an empty batch",
			setup:       with(),
			cmd:         waitsCmd(1),
			wantErr:     ErrInvalid,
			wantErrText: "waits: must hold 1 to 4096 entries",
		},
		{
			name:        "a batch over the limit",
			setup:       with(),
			cmd:         waitsCmd(1, slices.Repeat([]*ferryv1.WaitJobOp{wait("j1", "x")}, maxBatchWaits+1)...),
			wantErr:     ErrInvalid,
			wantErrText: "waits: must hold 1 to 4096 entries",
		},
		{
			name:        "no body",
			cmd:         &ferryv1.Command{Time: stamp(1), Node: leader, Op: &ferryv1.Command_WaitJobs{}},
			wantErr:     ErrUnknownCommand,
			wantErrText: "wait_jobs without a body",
		},
	}
	runCases(t, tests)
}

func TestCheckpointJob(t *testing.T) {
	epoch := setupIndex
	started := with(placeAndStart(1, "node-a", "j1", epoch, tape("A00001L9", "libA", 0))...)
	tests := []runCase{
		{
			name:  "a checkpoint records progress and one history event",
			setup: started,
			cmd:   checkpointCmd(3, "node-a", "j1", epoch, 1<<19),
			check: func(t *testing.T, f *FSM, r Result) {
				j := r.Job
				want := &ferryv1.JobProgress{BytesTotal: 1 << 20, SegmentsTotal: 4, BytesDone: 1 << 19, SegmentsDone: 2, CheckpointOffset: 1 << 19}
				if !proto.Equal(j.GetProgress(), want) || string(j.GetCheckpoint()) != "cp@524288" {
					t.Errorf("progress %v checkpoint %q, want %v cp@524288", j.GetProgress(), j.GetCheckpoint(), want)
				}
				wantEvent := &ferryv1.JobEvent{Time: stamp(3), State: running, Node: "node-a", Message: "checkpoint at 524288 bytes", RaftIndex: epoch + 2}
				if len(j.GetHistory()) != 4 || !proto.Equal(lastEvent(j), wantEvent) {
					t.Errorf("history = %v, want a fourth event %v", j.GetHistory(), wantEvent)
				}
				if !proto.Equal(j.GetUpdatedAt(), stamp(3)) {
					t.Errorf("updated_at = %v", j.GetUpdatedAt())
				}
			},
		},
		{
			name:  "the next checkpoint replaces the last checkpoint event",
			setup: then(started, checkpointCmd(3, "node-a", "j1", epoch, 100)),
			cmd:   checkpointCmd(4, "node-a", "j1", epoch, 200),
			check: func(t *testing.T, f *FSM, r Result) {
				h := r.Job.GetHistory()
				if len(h) != 4 || h[3].GetMessage() != "checkpoint at 200 bytes" || h[3].GetRaftIndex() != epoch+3 || !proto.Equal(h[3].GetTime(), stamp(4)) {
					t.Errorf("history = %v, want the checkpoint event replaced", h)
				}
			},
		},
		{
			name:  "a checkpoint behind the stored one (an old entry re-proposed) is ignored",
			setup: then(started, checkpointCmd(3, "node-a", "j1", epoch, 200)),
			cmd:   checkpointCmd(4, "node-a", "j1", epoch, 100),
			check: func(t *testing.T, f *FSM, r Result) {
				if !r.Existing || r.Job.GetProgress().GetBytesDone() != 200 || string(r.Job.GetCheckpoint()) != "cp@200" {
					t.Errorf("existing=%v job=%v, want it unchanged", r.Existing, r.Job)
				}
			},
		},
		{
			name:        "a stale epoch is fenced",
			setup:       started,
			cmd:         checkpointCmd(3, "node-a", "j1", epoch-1, 100),
			wantErr:     ErrFenced,
			wantErrText: fmt.Sprintf("epoch %d is stale, the job's epoch is %d", epoch-1, epoch),
		},
		{
			name:        "a newer epoch than the job's is fenced too",
			setup:       started,
			cmd:         checkpointCmd(3, "node-a", "j1", epoch+1, 100),
			wantErr:     ErrFenced,
			wantErrText: "is stale",
		},
		{
			name:        "another node is fenced",
			setup:       started,
			cmd:         checkpointCmd(3, "node-b", "j1", epoch, 100),
			wantErr:     ErrFenced,
			wantErrText: "owned by node-a, not node-b",
		},
		{
			name:        "a queued job is fenced",
			setup:       started,
			cmd:         checkpointCmd(3, "node-a", "j2", epoch, 100),
			wantErr:     ErrFenced,
			wantErrText: "JOB_STATE_QUEUED, not running",
		},
		{
			name:     "a cancelled job is fenced and ended",
			setup:    then(started, cancelCmd(3, "j1", "")),
			cmd:      checkpointCmd(4, "node-a", "j1", epoch, 100),
			wantErr:  ErrFenced,
			wantAlso: []error{ErrJobEnded},
		},
		{
			name:    "unknown job",
			setup:   started,
			cmd:     checkpointCmd(3, "node-a", "nope", epoch, 100),
			wantErr: ErrNotFound,
		},
		{
			name:  "checkpoint without epoch, progress or node, and too big",
			setup: started,
			cmd: func() *ferryv1.Command {
				c := checkpointCmd(3, "", "j1", 0, 100)
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
	epoch := setupIndex
	started := with(placeAndStart(1, "node-a", "j1", epoch, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 0))...)
	freed := func(t *testing.T, f *FSM) {
		t.Helper()
		wantDrive(t, f, "libA", 0, "", "")
		wantDrive(t, f, "libB", 0, "", "")
		wantHome(t, f, "A00001L9", 1)
		wantHome(t, f, "B00001L9", 5)
	}
	tests := []runCase{
		{
			name:  "success records the result and sends the cartridges home",
			setup: started,
			cmd:   succeedCmd(3, "node-a", "j1", epoch),
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
			setup: then(started, checkpointCmd(3, "node-a", "j1", epoch, 512)),
			cmd:   failCmd(4, "node-a", "j1", epoch, "tape write protected"),
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
			cmd:         succeedCmd(3, "node-a", "j1", epoch-1),
			wantErr:     ErrFenced,
			wantErrText: "is stale",
		},
		{
			name:    "another node is fenced",
			setup:   started,
			cmd:     succeedCmd(3, "node-b", "j1", epoch),
			wantErr: ErrFenced,
		},
		{
			name:     "finishing twice",
			setup:    then(started, succeedCmd(3, "node-a", "j1", epoch)),
			cmd:      failCmd(4, "node-a", "j1", epoch, "late"),
			wantErr:  ErrFenced,
			wantAlso: []error{ErrJobEnded},
		},
		{
			name:        "finishing as RUNNING",
			setup:       started,
			cmd:         finishCmd(3, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: running}),
			wantErr:     ErrInvalid,
			wantErrText: "state: must be JOB_STATE_SUCCEEDED or JOB_STATE_FAILED, not JOB_STATE_RUNNING",
		},
		{
			name:        "finishing as CANCELLED",
			setup:       started,
			cmd:         finishCmd(3, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: cancelled}),
			wantErr:     ErrInvalid,
			wantErrText: "state: must be",
		},
		{
			name:        "success without a result",
			setup:       started,
			cmd:         finishCmd(3, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: succeeded, Error: &ferryv1.JobError{}}),
			wantErr:     ErrInvalid,
			wantErrText: "result: required when the job succeeded; error: must not be set when the job succeeded",
		},
		{
			name:  "success with a malformed hash",
			setup: started,
			cmd: finishCmd(3, "node-a", "j1", epoch, &ferryv1.FinishJobOp{
				State: succeeded, Result: &ferryv1.JobResult{Sha256: strings.ToUpper(testSHA256)},
			}),
			wantErr:     ErrInvalid,
			wantErrText: "result.sha256: must be 64 lower-case hexadecimal digits",
		},
		{
			name:        "failure without a message",
			setup:       started,
			cmd:         finishCmd(3, "node-a", "j1", epoch, &ferryv1.FinishJobOp{State: failed, Result: &ferryv1.JobResult{}}),
			wantErr:     ErrInvalid,
			wantErrText: "error.message: required when the job failed; result: must not be set when the job failed",
		},
		{
			name:        "finish without an epoch",
			setup:       started,
			cmd:         succeedCmd(3, "node-a", "j1", 0),
			wantErr:     ErrInvalid,
			wantErrText: "epoch: required",
		},
	}
	runCases(t, tests)
}

func TestCancelRunningJobFreesItsDrives(t *testing.T) {
	f := deviceFixture(t)
	epoch := runJob(t, f, 1, "node-a", "j1", tape("A00001L9", "libA", 0), tape("A00002L9", "libA", 1))
	wantDrive(t, f, "libA", 1, "A00002L9", "j1")
	applyAll(t, f, cancelCmd(3, "j1", "operator"))

	j, _ := f.Job("j1")
	if j.GetState() != cancelled || j.GetOwner() != "node-a" {
		t.Errorf("job = %v, want CANCELLED, owner kept", j)
	}
	wantDrive(t, f, "libA", 0, "", "")
	wantDrive(t, f, "libA", 1, "", "")
	wantHome(t, f, "A00001L9", 1)
	wantHome(t, f, "A00002L9", 2)
	// The owner's late reports, and a takeover decided before the cancel,
	// are refused.
	late := []*ferryv1.Command{
		checkpointCmd(4, "node-a", "j1", epoch, 100),
		succeedCmd(4, "node-a", "j1", epoch),
		startCmd(4, "node-a", "j1", epoch),
		placeCmd(4, "j1", "node-b", epoch, tape("A00001L9", "libA", 0)),
	}
	for _, c := range late {
		if r := f.Apply(f.AppliedIndex()+1, c); r.Err == nil {
			t.Errorf("after cancel: %v was accepted", c)
		}
	}
	// The cartridges are free for the next job, in other drives.
	runJob(t, f, 5, "node-b", "j2", tape("A00002L9", "libA", 0), tape("A00001L9", "libA", 1))
	wantDrive(t, f, "libA", 0, "A00002L9", "j2")
	wantDrive(t, f, "libA", 1, "A00001L9", "j2")
}

// TestJobLifecycle walks the whole path the scheduler and the executors
// drive: register devices, submit, wait, place, start, checkpoint (a stale
// epoch refused), lose the owner, take over, resume, finish.
func TestJobLifecycle(t *testing.T) {
	f := newWithNodes()
	applyAll(t, f,
		diskCmd(0, validDisk("db01", 1)),
		libraryCmd(1, validLibrary("libA")),
		cartridgeCmd(2, validCartridge("A00001L9", "libA", 1, 101)),
		submitCmd(3, "j1", "", validSpec()),
		waitCmd(4, "j1", "no mover reaches db01"),
	)
	if j, _ := f.Job("j1"); j.GetStateReason() != "no mover reaches db01" || len(j.GetHistory()) != 1 {
		t.Errorf("waiting job = %v", j)
	}
	first := f.AppliedIndex() + 1
	if r := f.Apply(first, placeCmd(5, "j1", "node-a", 0, tape("A00001L9", "libA", 0))); r.Err != nil || r.Job.GetEpoch() != first {
		t.Fatalf("place: epoch %d, %v; want epoch %d", r.Job.GetEpoch(), r.Err, first)
	}
	applyAll(t, f, startCmd(6, "node-a", "j1", first))
	wantDrive(t, f, "libA", 0, "A00001L9", "j1")
	for i, done := range []uint64{1 << 18, 1 << 19, 3 << 18} {
		applyAll(t, f, checkpointCmd(7+i, "node-a", "j1", first, done))
	}
	if r := f.Apply(f.AppliedIndex()+1, checkpointCmd(10, "node-a", "j1", first-1, 1<<20)); !errors.Is(r.Err, ErrFenced) {
		t.Errorf("stale checkpoint: %v, want ErrFenced", r.Err)
	}
	second := f.AppliedIndex() + 1
	applyAll(t, f, takeoverCmd(11, "j1", "node-b", first, "owner node-a lost: lease expired", 900000, tape("A00001L9", "libA", 1)))
	if r := f.Apply(f.AppliedIndex()+1, checkpointCmd(12, "node-a", "j1", first, 1<<20)); !errors.Is(r.Err, ErrFenced) {
		t.Errorf("the lost owner's checkpoint: %v, want ErrFenced", r.Err)
	}
	applyAll(t, f,
		resumeCmd(13, "node-b", "j1", second, 3<<18),
		checkpointCmd(14, "node-b", "j1", second, 1<<20),
		succeedCmd(15, "node-b", "j1", second),
	)

	j, _ := f.Job("j1")
	want := []struct{ node, msg string }{
		{"node-a", "submitted"},
		{"node-a", fmt.Sprintf("placed on node-a (epoch %d); A00001L9 in libA drive 0", first)},
		{"node-a", "started on node-a"},
		{"node-a", "checkpoint at 786432 bytes"},
		{"node-a", "owner node-a lost: lease expired; it had copied 900000 bytes, 113568 past its last checkpoint"},
		{"node-b", fmt.Sprintf("taken over by node-b (epoch %d); A00001L9 in libA drive 1 from checkpoint at 786432 bytes", second)},
		{"node-b", "resumed on node-b from offset 786432"},
		{"node-b", "checkpoint at 1048576 bytes"},
		{"node-b", "succeeded: sha256 " + testSHA256},
	}
	var got []struct{ node, msg string }
	for _, e := range j.GetHistory() {
		got = append(got, struct{ node, msg string }{e.GetNode(), e.GetMessage()})
	}
	if !slices.Equal(got, want) {
		t.Errorf("history =\n%q\nwant\n%q", got, want)
	}
	if j.GetState() != succeeded || j.GetOwner() != "node-b" || j.GetEpoch() != second || string(j.GetCheckpoint()) != "cp@1048576" {
		t.Errorf("job = %v", j)
	}
	wantDrive(t, f, "libA", 0, "", "")
	wantDrive(t, f, "libA", 1, "", "")
	wantHome(t, f, "A00001L9", 1)
}

// TestTwoJobsWantOneCartridge: the scheduler's place of the second job is
// refused while the first holds the cartridge; the job waits with the
// reason, and is placed once the first has finished.
func TestTwoJobsWantOneCartridge(t *testing.T) {
	f := deviceFixture(t)
	epoch := runJob(t, f, 1, "node-a", "j1", tape("A00001L9", "libA", 0))
	r := f.Apply(f.AppliedIndex()+1, placeCmd(3, "j2", "node-b", 0, tape("A00001L9", "libA", 1)))
	var b *busyError
	if !errors.As(r.Err, &b) || b.reason != "cartridge A00001L9 is in use by job j1" {
		t.Fatalf("second job's place: %v, want ErrBusy naming j1", r.Err)
	}
	for i := range 3 {
		r := f.Apply(f.AppliedIndex()+1, waitCmd(4+i, "j2", b.reason))
		if r.Err != nil || r.Existing != (i > 0) {
			t.Fatalf("wait %d: existing=%v err=%v", i, r.Existing, r.Err)
		}
	}
	j2, _ := f.Job("j2")
	if j2.GetState() != queued || j2.GetStateReason() != b.reason || len(j2.GetHistory()) != 1 {
		t.Errorf("waiting job = %v", j2)
	}
	if !proto.Equal(j2.GetUpdatedAt(), stamp(4)) {
		t.Errorf("repeats of the same reason moved updated_at to %v", j2.GetUpdatedAt())
	}
	applyAll(t, f, succeedCmd(10, "node-a", "j1", epoch))
	runJob(t, f, 11, "node-b", "j2", tape("A00001L9", "libA", 1))
	j2, _ = f.Job("j2")
	if j2.GetState() != running || j2.GetStateReason() != "running on node-b" {
		t.Errorf("j2 = %v", j2)
	}
	wantDrive(t, f, "libA", 1, "A00001L9", "j2")
}

// TestPlaceRefusalLeavesNoTrace: a place that fails part-way must not leave
// anything moved, loaded or held, for a new placement or a takeover alike.
func TestPlaceRefusalLeavesNoTrace(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, f *FSM)
		cmd     func(f *FSM) *ferryv1.Command
		wantErr error
	}{
		{
			name:    "a place failing on its second cartridge",
			prepare: func(t *testing.T, f *FSM) { runJob(t, f, 1, "node-a", "j1", tape("A00003L9", "libA", 0)) },
			cmd: func(*FSM) *ferryv1.Command {
				return placeCmd(3, "j2", "node-b", 0, tape("A00001L9", "libA", 1), tape("A00002L9", "libA", 0))
			},
			wantErr: ErrBusy,
		},
		{
			name: "a takeover failing after moving a held cartridge",
			prepare: func(t *testing.T, f *FSM) {
				runJob(t, f, 1, "node-a", "j1", tape("A00003L9", "libA", 0), tape("B00001L9", "libB", 0))
				runJob(t, f, 3, "node-b", "j2", tape("A00002L9", "libA", 1))
			},
			cmd: func(f *FSM) *ferryv1.Command {
				j, _ := f.Job("j1")
				// A00003L9 would move to drive 1, which j2's cartridge holds.
				return placeCmd(5, "j1", "node-c", j.GetEpoch(), tape("B00001L9", "libB", 1), tape("A00003L9", "libA", 1))
			},
			wantErr: ErrBusy,
		},
		{
			name: "a takeover failing on an unknown cartridge after dropping a held one",
			prepare: func(t *testing.T, f *FSM) {
				runJob(t, f, 1, "node-a", "j1", tape("A00003L9", "libA", 0), tape("B00001L9", "libB", 0))
			},
			cmd: func(f *FSM) *ferryv1.Command {
				j, _ := f.Job("j1")
				return placeCmd(5, "j1", "node-c", j.GetEpoch(), tape("A00003L9", "libA", 1), tape("Z00001L9", "libA", 0))
			},
			wantErr: ErrNotFound,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := deviceFixture(t)
			tc.prepare(t, f)
			before := observe(t, f)
			if r := f.Apply(f.AppliedIndex()+1, tc.cmd(f)); !errors.Is(r.Err, tc.wantErr) {
				t.Fatalf("Err = %v, want %v", r.Err, tc.wantErr)
			}
			if observe(t, f) != before {
				t.Error("the refused place moved, loaded or released a cartridge")
			}
		})
	}
}

func TestJobsByOwnerAndAcceptingNode(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f, submitCmd(1, "j4", "", validSpec()))
	f.Apply(f.AppliedIndex()+1, &ferryv1.Command{Time: stamp(1), Node: "node-b",
		Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: "j5", Spec: validSpec()}}})
	applyAll(t, f, placeCmd(2, "j1", "node-a", 0), placeCmd(2, "j3", "node-b", 0), placeCmd(3, "j5", "node-b", 0))
	tests := []struct {
		q    Query
		want []string
	}{
		{Query{Owner: "node-b"}, []string{"j3", "j5"}},
		{Query{Owner: "node-a", State: running}, []string{"j1"}},
		{Query{Owner: leader}, nil},
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

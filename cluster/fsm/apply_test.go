package fsm

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestApply(t *testing.T) {
	const (
		queued    = ferryv1.JobState_JOB_STATE_QUEUED
		running   = ferryv1.JobState_JOB_STATE_RUNNING
		succeeded = ferryv1.JobState_JOB_STATE_SUCCEEDED
		failed    = ferryv1.JobState_JOB_STATE_FAILED
		cancelled = ferryv1.JobState_JOB_STATE_CANCELLED
	)
	tests := []struct {
		name string
		// setup is applied at indexes 1..len(setup).
		setup []*ferryv1.Command
		// force puts job "j1" into this state after setup, if set.
		force ferryv1.JobState
		cmd   *ferryv1.Command
		// wantErr is checked with errors.Is; nil means success.
		wantErr      error
		wantErrText  string
		wantExisting bool
		wantID       string
		wantState    ferryv1.JobState
		wantReason   string
		wantHistory  int
		// wantCreated is the created_index the result must carry.
		wantCreated uint64
	}{
		{
			name:        "submit creates a queued job",
			cmd:         submitCmd(0, "j1", "", validSpec()),
			wantID:      "j1",
			wantState:   queued,
			wantReason:  queuedReason,
			wantHistory: 1,
			wantCreated: 1,
		},
		{
			name:         "duplicate idempotency key returns the first job even with another spec",
			setup:        []*ferryv1.Command{submitCmd(0, "j1", "key-1", validSpec())},
			cmd:          submitCmd(1, "j2", "key-1", specWith(func(s *ferryv1.JobSpec) { s.Name = "different" })),
			wantExisting: true,
			wantID:       "j1",
			wantState:    queued,
			wantReason:   queuedReason,
			wantHistory:  1,
			wantCreated:  1,
		},
		{
			name:         "re-proposed job id returns the existing job",
			setup:        []*ferryv1.Command{submitCmd(0, "j1", "", validSpec())},
			cmd:          submitCmd(1, "j1", "", validSpec()),
			wantExisting: true,
			wantID:       "j1",
			wantState:    queued,
			wantReason:   queuedReason,
			wantHistory:  1,
			wantCreated:  1,
		},
		{
			name:        "a new idempotency key creates a new job",
			setup:       []*ferryv1.Command{submitCmd(0, "j1", "key-1", validSpec())},
			cmd:         submitCmd(1, "j2", "key-2", validSpec()),
			wantID:      "j2",
			wantState:   queued,
			wantReason:  queuedReason,
			wantHistory: 1,
			wantCreated: 2,
		},
		{
			name:        "cancel a queued job with a reason",
			setup:       []*ferryv1.Command{submitCmd(0, "j1", "", validSpec())},
			cmd:         cancelCmd(1, "j1", "wrong tape"),
			wantID:      "j1",
			wantState:   cancelled,
			wantReason:  "wrong tape",
			wantHistory: 2,
			wantCreated: 1,
		},
		{
			name:        "cancel without a reason uses the default",
			setup:       []*ferryv1.Command{submitCmd(0, "j1", "", validSpec())},
			cmd:         cancelCmd(1, "j1", ""),
			wantID:      "j1",
			wantState:   cancelled,
			wantReason:  defaultCancelReason,
			wantHistory: 2,
			wantCreated: 1,
		},
		{
			name:        "cancel a running job",
			setup:       []*ferryv1.Command{submitCmd(0, "j1", "", validSpec())},
			force:       running,
			cmd:         cancelCmd(1, "j1", "operator"),
			wantID:      "j1",
			wantState:   cancelled,
			wantReason:  "operator",
			wantHistory: 2,
			wantCreated: 1,
		},
		{
			name:        "cancel a cancelled job returns it unchanged",
			setup:       []*ferryv1.Command{submitCmd(0, "j1", "", validSpec()), cancelCmd(1, "j1", "first")},
			cmd:         cancelCmd(2, "j1", "second"),
			wantID:      "j1",
			wantState:   cancelled,
			wantReason:  "first",
			wantHistory: 2,
			wantCreated: 1,
		},
		{
			name:    "cancel a succeeded job",
			setup:   []*ferryv1.Command{submitCmd(0, "j1", "", validSpec())},
			force:   succeeded,
			cmd:     cancelCmd(1, "j1", ""),
			wantErr: ErrJobEnded,
		},
		{
			name:    "cancel a failed job",
			setup:   []*ferryv1.Command{submitCmd(0, "j1", "", validSpec())},
			force:   failed,
			cmd:     cancelCmd(1, "j1", ""),
			wantErr: ErrJobEnded,
		},
		{
			name:    "cancel an unknown job",
			cmd:     cancelCmd(0, "nope", ""),
			wantErr: ErrNotFound,
		},
		{
			name:        "cancel without a job id",
			cmd:         cancelCmd(0, "", ""),
			wantErr:     ErrInvalid,
			wantErrText: "job_id: required",
		},
		{
			name:        "cancel with an oversized reason",
			setup:       []*ferryv1.Command{submitCmd(0, "j1", "", validSpec())},
			cmd:         cancelCmd(1, "j1", strings.Repeat("r", maxCancelReasonLen+1)),
			wantErr:     ErrInvalid,
			wantErrText: "reason: longer than",
		},
		{
			name:        "submit without a job id",
			cmd:         submitCmd(0, "", "", validSpec()),
			wantErr:     ErrInvalid,
			wantErrText: "job_id: required",
		},
		{
			name:        "submit with an oversized job id",
			cmd:         submitCmd(0, strings.Repeat("j", maxJobIDLen+1), "", validSpec()),
			wantErr:     ErrInvalid,
			wantErrText: "job_id: longer than",
		},
		{
			name:        "submit with an oversized idempotency key",
			cmd:         submitCmd(0, "j1", strings.Repeat("k", maxIdempotencyKeyLen+1), validSpec()),
			wantErr:     ErrInvalid,
			wantErrText: "idempotency_key: longer than 256 bytes",
		},
		{
			name:        "submit with an idempotency key at the limit",
			cmd:         submitCmd(0, "j1", strings.Repeat("k", maxIdempotencyKeyLen), validSpec()),
			wantID:      "j1",
			wantState:   queued,
			wantReason:  queuedReason,
			wantHistory: 1,
			wantCreated: 1,
		},
		{
			name:        "submit without a spec",
			cmd:         submitCmd(0, "j1", "", nil),
			wantErr:     ErrInvalid,
			wantErrText: "spec: required",
		},
		{
			name: "submit with an invalid spec lists every violation",
			cmd: submitCmd(0, "j1", "", specWith(func(s *ferryv1.JobSpec) {
				s.Source.Kind = ferryv1.DeviceKind_DEVICE_KIND_UNSPECIFIED
				s.Destination.Device = nil
			})),
			wantErr:     ErrInvalid,
			wantErrText: "spec.source.kind: required: DEVICE_KIND_DISK or DEVICE_KIND_TAPE; spec.destination.device: required",
		},
		{
			name:    "an invalid spec is rejected even when its key is known",
			setup:   []*ferryv1.Command{submitCmd(0, "j1", "key-1", validSpec())},
			cmd:     submitCmd(1, "j2", "key-1", &ferryv1.JobSpec{}),
			wantErr: ErrInvalid,
		},
		{
			name: "submit without a time",
			cmd: func() *ferryv1.Command {
				c := submitCmd(0, "j1", "", validSpec())
				c.Time = nil
				return c
			}(),
			wantErr:     ErrInvalid,
			wantErrText: "time: required",
		},
		{
			name: "submit with an out-of-range time",
			cmd: func() *ferryv1.Command {
				c := submitCmd(0, "j1", "", validSpec())
				c.Time = &timestamppb.Timestamp{Seconds: 1, Nanos: -1}
				return c
			}(),
			wantErr:     ErrInvalid,
			wantErrText: "time:",
		},
		{
			name:    "nil command",
			cmd:     nil,
			wantErr: ErrUnknownCommand,
		},
		{
			name:    "command without an op",
			cmd:     &ferryv1.Command{Time: stamp(0), Node: "node-a"},
			wantErr: ErrUnknownCommand,
		},
		{
			name:    "submit op with a nil body",
			cmd:     &ferryv1.Command{Time: stamp(0), Op: &ferryv1.Command_SubmitJob{}},
			wantErr: ErrUnknownCommand,
		},
		{
			name:    "cancel op with a nil body",
			cmd:     &ferryv1.Command{Time: stamp(0), Op: &ferryv1.Command_CancelJob{}},
			wantErr: ErrUnknownCommand,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			applyAll(t, f, tc.setup...)
			if tc.force != ferryv1.JobState_JOB_STATE_UNSPECIFIED {
				setJobState(t, f, "j1", tc.force)
			}
			before, _, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			index := uint64(len(tc.setup) + 1)
			got := f.Apply(index, tc.cmd)

			if f.AppliedIndex() != index {
				t.Errorf("AppliedIndex = %d, want %d (failed commands are applied too)", f.AppliedIndex(), index)
			}
			if tc.wantErr != nil {
				if !errors.Is(got.Err, tc.wantErr) {
					t.Fatalf("Err = %v, want %v", got.Err, tc.wantErr)
				}
				if !strings.Contains(got.Err.Error(), tc.wantErrText) {
					t.Errorf("Err = %q, want it to contain %q", got.Err, tc.wantErrText)
				}
				if got.Job != nil || got.Existing {
					t.Errorf("failed Apply returned Job=%v Existing=%v", got.Job, got.Existing)
				}
				after, _, err := f.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if string(before) != string(after) {
					t.Error("a failed command changed the state")
				}
				return
			}
			if got.Err != nil {
				t.Fatalf("Err = %v", got.Err)
			}
			j := got.Job
			if j.GetId() != tc.wantID || got.Existing != tc.wantExisting {
				t.Errorf("got job %q existing=%v, want %q existing=%v", j.GetId(), got.Existing, tc.wantID, tc.wantExisting)
			}
			if j.GetState() != tc.wantState || j.GetStateReason() != tc.wantReason {
				t.Errorf("state = %v %q, want %v %q", j.GetState(), j.GetStateReason(), tc.wantState, tc.wantReason)
			}
			if len(j.GetHistory()) != tc.wantHistory {
				t.Errorf("history has %d events, want %d: %v", len(j.GetHistory()), tc.wantHistory, j.GetHistory())
			}
			if j.GetCreatedIndex() != tc.wantCreated {
				t.Errorf("created_index = %d, want %d", j.GetCreatedIndex(), tc.wantCreated)
			}
			stored, ok := f.Job(j.GetId())
			if !ok || !proto.Equal(stored, j) {
				t.Errorf("Result.Job differs from the stored job:\n got %v\nwant %v", j, stored)
			}
		})
	}
}

// TestSubmitRecordsTheProposer pins every field a new job gets from the
// command, since replicas must agree on all of them.
func TestSubmitRecordsTheProposer(t *testing.T) {
	f := New()
	cmd := submitCmd(7, "j1", "key-1", validSpec())
	cmd.Node = "node-c"
	r := f.Apply(42, cmd)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := &ferryv1.Job{
		Id:             "j1",
		IdempotencyKey: "key-1",
		Spec:           validSpec(),
		State:          ferryv1.JobState_JOB_STATE_QUEUED,
		StateReason:    queuedReason,
		CreatedAt:      stamp(7),
		UpdatedAt:      stamp(7),
		CreatedIndex:   42,
		SubmittedVia:   "node-c",
		History: []*ferryv1.JobEvent{{
			Time: stamp(7), State: ferryv1.JobState_JOB_STATE_QUEUED, Node: "node-c", Message: "submitted", RaftIndex: 42,
		}},
	}
	if !proto.Equal(r.Job, want) {
		t.Errorf("job =\n%v\nwant\n%v", r.Job, want)
	}
}

func TestCancelRecordsTheEvent(t *testing.T) {
	f := New()
	applyAll(t, f, submitCmd(0, "j1", "", validSpec()))
	r := f.Apply(2, cancelCmd(9, "j1", "wrong tape"))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	wantEvent := &ferryv1.JobEvent{
		Time: stamp(9), State: ferryv1.JobState_JOB_STATE_CANCELLED, Node: "node-b", Message: "wrong tape", RaftIndex: 2,
	}
	if h := r.Job.GetHistory(); len(h) != 2 || !proto.Equal(h[1], wantEvent) {
		t.Errorf("history = %v, want second event %v", h, wantEvent)
	}
	if !proto.Equal(r.Job.GetUpdatedAt(), stamp(9)) || !proto.Equal(r.Job.GetCreatedAt(), stamp(0)) {
		t.Errorf("created_at %v updated_at %v, want %v and %v", r.Job.GetCreatedAt(), r.Job.GetUpdatedAt(), stamp(0), stamp(9))
	}
}

// TestApplyDoesNotAliasTheCommand guards against the stored job sharing
// memory with the command, which the caller still owns.
func TestApplyDoesNotAliasTheCommand(t *testing.T) {
	f := New()
	cmd := submitCmd(0, "j1", "", validSpec())
	r := f.Apply(1, cmd)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	cmd.GetSubmitJob().GetSpec().Name = "mutated"
	cmd.GetTime().Seconds = 1
	r.Job.GetSpec().Name = "mutated too"
	r.Job.History[0].Message = "mutated"

	j, _ := f.Job("j1")
	if j.GetSpec().GetName() != validSpec().GetName() || !proto.Equal(j.GetCreatedAt(), stamp(0)) ||
		j.GetHistory()[0].GetMessage() != "submitted" {
		t.Errorf("stored job changed through the command or the result: %v", j)
	}
}

func TestAppliedIndexNeverGoesBack(t *testing.T) {
	f := New()
	f.Apply(10, cancelCmd(0, "nope", ""))
	f.AddNode(5, &ferryv1.NodeInfo{Name: "a", RaftId: 1})
	f.RemoveNode(7, 2)
	if got := f.AppliedIndex(); got != 10 {
		t.Errorf("AppliedIndex = %d, want 10", got)
	}
	f.RemoveNode(11, 2)
	if got := f.AppliedIndex(); got != 11 {
		t.Errorf("AppliedIndex = %d, want 11", got)
	}
}

// TestApplyOpFromANewerVersion: an entry whose op this binary does not know
// unmarshals with no op set (the field is kept as unknown) and must be
// refused, not mistaken for something else.
func TestApplyOpFromANewerVersion(t *testing.T) {
	data, err := proto.Marshal(&ferryv1.Command{RequestId: "r", Time: stamp(0), Node: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	// Field 99 (a future op), wire type 2 (bytes), holding an empty message.
	data = protowire.AppendTag(data, 99, protowire.BytesType)
	data = protowire.AppendBytes(data, nil)
	var cmd ferryv1.Command
	if err := proto.Unmarshal(data, &cmd); err != nil {
		t.Fatal(err)
	}
	if r := New().Apply(1, &cmd); !errors.Is(r.Err, ErrUnknownCommand) {
		t.Errorf("Err = %v, want ErrUnknownCommand", r.Err)
	}
}

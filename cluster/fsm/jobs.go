package fsm

import (
	"cmp"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// queuedReason says who will start a new job: the executor on the node
// that accepted the submission.
const queuedReason = "waiting for the scheduler to place it"

const defaultCancelReason = "cancelled by user"

// submitJob creates the job or returns the one the submit duplicates.
// A new job is refused when its spec breaks a rule on the devices it names
// (resolveAccess).
//
// A known idempotency key returns its job even when the spec differs from
// the one submitted now: the key names the request, and the first request
// under a key is the one that counts. Callers that need to detect a
// mismatched retry must compare specs themselves.
func (s *state) submitJob(index uint64, cmd *ferryv1.Command, op *ferryv1.SubmitJobOp) (*ferryv1.Job, bool, error) {
	if err := validateSubmit(cmd, op); err != nil {
		return nil, false, err
	}
	if key := op.GetIdempotencyKey(); key != "" {
		if id, ok := s.byKey[key]; ok {
			return s.jobs[id], true, nil
		}
	}
	if j, ok := s.jobs[op.GetJobId()]; ok {
		return j, true, nil
	}
	if op.GetSpec().GetStreams() > 1 {
		j, err := s.submitStreams(index, cmd, op)
		return j, false, err
	}
	// The spec against the devices it names, as registered at this entry.
	// A device that is not registered is left to the copy, which fails
	// without touching anything when it cannot open it; the gRPC server
	// refuses such a spec before proposing it.
	acc, verr := s.resolveAccess(op.GetSpec())
	if verr != nil {
		return nil, false, verr
	}
	submitted := "submitted"
	if r := acc.notes(); r != "" {
		// Said once, where the job's story starts: what the overwrite
		// costs, or that what it reads is not a whole file.
		submitted += "; it " + r
	}
	j := newJob(index, cmd, op.GetJobId(), op.GetIdempotencyKey(), op.GetSpec())
	j.History = append(j.History, event(index, cmd, ferryv1.JobState_JOB_STATE_QUEUED, submitted))
	s.insertJob(j)
	return j, false, nil
}

// newJob is a job as submitted at the index, queued, without history.
func newJob(index uint64, cmd *ferryv1.Command, id, key string, spec *ferryv1.JobSpec) *ferryv1.Job {
	now := proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	return &ferryv1.Job{
		Id:             id,
		IdempotencyKey: key,
		Spec:           proto.Clone(spec).(*ferryv1.JobSpec),
		State:          ferryv1.JobState_JOB_STATE_QUEUED,
		StateReason:    queuedReason,
		CreatedAt:      now,
		UpdatedAt:      proto.Clone(now).(*timestamppb.Timestamp),
		CreatedIndex:   index,
		SubmittedVia:   cmd.GetNode(),
	}
}

// cancelJob moves a job that has not ended to CANCELLED. Cancelling twice is
// not an error, so a client can retry a cancel whose answer it lost. A
// running job's cartridges go home at once; its owner notices the state and
// stops, and its epoch no longer admits checkpoints.
func (s *state) cancelJob(index uint64, cmd *ferryv1.Command, op *ferryv1.CancelJobOp) (*ferryv1.Job, error) {
	if err := validateCancel(cmd, op); err != nil {
		return nil, err
	}
	j, ok := s.jobs[op.GetJobId()]
	if !ok {
		return nil, fmt.Errorf("cancel job %q: %w", op.GetJobId(), ErrNotFound)
	}
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_CANCELLED:
		return j, nil
	case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED:
		return nil, fmt.Errorf("cancel job %q: %w (%s)", op.GetJobId(), ErrJobEnded, j.GetState())
	}
	reason := op.GetReason()
	if reason == "" {
		reason = defaultCancelReason
	}
	if IsStreamParent(j) {
		s.endParent(index, cmd, j, ferryv1.JobState_JOB_STATE_CANCELLED, reason)
		return j, nil
	}
	if err := s.cancel(index, cmd, j, reason); err != nil {
		return nil, fmt.Errorf("cancel job %q: %w", op.GetJobId(), err)
	}
	return j, nil
}

// cancel moves a job that has not ended to CANCELLED and sends its
// cartridges home.
func (s *state) cancel(index uint64, cmd *ferryv1.Command, j *ferryv1.Job, reason string) error {
	if IsNDMP(j) {
		// The DMA still has the cartridge in its drive: the session's
		// node hears that the job is gone and closes it.
		s.finishNdmp(j)
	} else if err := s.releaseTapes(j); err != nil {
		return err
	}
	j.State = ferryv1.JobState_JOB_STATE_CANCELLED
	j.StateReason = reason
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.History = append(j.History, event(index, cmd, ferryv1.JobState_JOB_STATE_CANCELLED, reason))
	return nil
}

func event(index uint64, cmd *ferryv1.Command, st ferryv1.JobState, msg string) *ferryv1.JobEvent {
	return &ferryv1.JobEvent{
		Time:      proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp),
		State:     st,
		Node:      cmd.GetNode(),
		Message:   msg,
		RaftIndex: index,
	}
}

// insertJob adds a new job to every index. Raft indexes only grow, so the
// append at the end is the usual case; the search keeps order correct even
// if a caller breaks that rule.
func (s *state) insertJob(j *ferryv1.Job) {
	s.jobs[j.GetId()] = j
	if key := j.GetIdempotencyKey(); key != "" {
		s.byKey[key] = j.GetId()
	}
	if n := len(s.order); n == 0 || compareJobs(s.order[n-1], j) < 0 {
		s.order = append(s.order, j)
		return
	}
	i, _ := slices.BinarySearchFunc(s.order, j, compareJobs)
	s.order = slices.Insert(s.order, i, j)
}

// compareJobs orders jobs by creation; the id breaks ties so the order is
// total and the same on every replica.
func compareJobs(a, b *ferryv1.Job) int {
	return cmp.Or(
		cmp.Compare(a.GetCreatedIndex(), b.GetCreatedIndex()),
		cmp.Compare(a.GetId(), b.GetId()),
	)
}

func validateSubmit(cmd *ferryv1.Command, op *ferryv1.SubmitJobOp) error {
	var v violations
	v.commandTime(cmd)
	v.jobID(op.GetJobId())
	v = append(v, ValidateIdempotencyKey(op.GetIdempotencyKey())...)
	v = append(v, ValidateSpec(op.GetSpec())...)
	if len(op.GetStreams()) > 0 && op.GetSpec().GetStreams() <= 1 {
		v.add("streams", "stream specs need spec.streams of 2 or more")
	}
	if len(v) > 0 {
		return &ValidationError{Violations: v}
	}
	return nil
}

func validateCancel(cmd *ferryv1.Command, op *ferryv1.CancelJobOp) error {
	var v violations
	v.commandTime(cmd)
	v.jobID(op.GetJobId())
	if len(op.GetReason()) > maxCancelReasonLen {
		v.add("reason", fmt.Sprintf("longer than %d bytes", maxCancelReasonLen))
	}
	if len(v) > 0 {
		return &ValidationError{Violations: v}
	}
	return nil
}

// commandTime insists on the proposer's clock: without it replicas would
// have no common time to stamp the job's history with.
func (v *violations) commandTime(cmd *ferryv1.Command) {
	t := cmd.GetTime()
	if t == nil {
		v.add("time", "required: the proposer's clock")
		return
	}
	if err := t.CheckValid(); err != nil {
		v.add("time", err.Error())
	}
}

func (v *violations) jobID(id string) {
	switch {
	case id == "":
		v.add("job_id", "required")
	case len(id) > maxJobIDLen:
		v.add("job_id", fmt.Sprintf("longer than %d bytes", maxJobIDLen))
	}
}

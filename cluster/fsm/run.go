package fsm

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Limits on what a running job's owner may record. A checkpoint is a few
// positions and a hash state; anything near the limit is a bug.
const (
	maxCheckpointBytes = 64 << 10
	maxStartCartridges = 64
	sha256HexLen       = 64
)

// Messages of the history events the job lifecycle records.
const (
	startedEventPrefix    = "started on "
	restartedEventPrefix  = "restarted on "
	checkpointEventPrefix = "checkpoint at "
)

// startJob makes the proposing node the job's owner under a new fencing
// epoch, the command's index, and loads the job's cartridges.
//
// The owner may start its own running job again (after it restarted): the
// checkpoint and progress are kept, the epoch is renewed, and cartridges
// the job already holds stay in their drives. A re-proposal of the very
// command that started the current epoch (same node, same proposer time)
// changes nothing, so a retried proposal cannot fence the owner out.
func (s *state) startJob(index uint64, cmd *ferryv1.Command, op *ferryv1.StartJobOp) (*ferryv1.Job, bool, error) {
	if err := validateStart(cmd, op); err != nil {
		return nil, false, err
	}
	id, node := op.GetJobId(), cmd.GetNode()
	j, ok := s.jobs[id]
	if !ok {
		return nil, false, fmt.Errorf("start job %q: %w", id, ErrNotFound)
	}
	restart := false
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_QUEUED:
	case ferryv1.JobState_JOB_STATE_RUNNING:
		if j.GetOwner() != node {
			return nil, false, fmt.Errorf("start job %q: %w: running on %s (epoch %d)", id, ErrOwned, j.GetOwner(), j.GetEpoch())
		}
		if isRepeatedStart(j, cmd) {
			return j, true, nil
		}
		restart = true
	default:
		return nil, false, fmt.Errorf("start job %q: %w (%s)", id, ErrJobEnded, j.GetState())
	}

	// A job that reads and writes the same cartridge needs it loaded once.
	tapes, err := s.assignTapes(j, uniq(op.GetCartridges()))
	if err != nil {
		var b *busyError
		if errors.As(err, &b) && j.GetState() == ferryv1.JobState_JOB_STATE_QUEUED {
			s.setWaitReason(j, cmd, b.reason)
			// The job goes with the error so that watchers can be told
			// what it waits for.
			return j, false, fmt.Errorf("start job %q: %w", id, err)
		}
		return nil, false, fmt.Errorf("start job %q: %w", id, err)
	}

	msg := startedEventPrefix
	if restart {
		msg = restartedEventPrefix
	}
	msg += fmt.Sprintf("%s (epoch %d)", node, index)
	for _, t := range tapes {
		msg += fmt.Sprintf("; %s loaded in %s drive %d", t.GetBarcode(), t.GetLibrary(), t.GetDrive())
	}
	progress := proto.Clone(j.GetProgress()).(*ferryv1.JobProgress)
	if progress == nil {
		progress = &ferryv1.JobProgress{}
	}
	progress.BytesTotal = op.GetBytesTotal()
	progress.SegmentsTotal = op.GetSegmentsTotal()

	j.State = ferryv1.JobState_JOB_STATE_RUNNING
	j.StateReason = fmt.Sprintf("running on %s", node)
	j.Owner = node
	j.Epoch = index
	j.Progress = progress
	j.Tapes = tapes
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.History = append(j.History, event(index, cmd, ferryv1.JobState_JOB_STATE_RUNNING, msg))
	return j, false, nil
}

// isRepeatedStart reports whether cmd is a second copy of the command that
// started the job's current epoch. Proposals are re-sent unchanged across
// leader changes, time included, while a genuine restart reads the clock
// again; the start event records both the node and that time.
func isRepeatedStart(j *ferryv1.Job, cmd *ferryv1.Command) bool {
	for _, e := range slices.Backward(j.GetHistory()) {
		if e.GetRaftIndex() != j.GetEpoch() {
			continue
		}
		return e.GetNode() == cmd.GetNode() && proto.Equal(e.GetTime(), cmd.GetTime())
	}
	return false
}

// setWaitReason records why a queued job cannot start. Only the reason
// changes: the job stays queued, and retries add no history.
func (s *state) setWaitReason(j *ferryv1.Job, cmd *ferryv1.Command, reason string) {
	if j.GetStateReason() == reason {
		return
	}
	j.StateReason = reason
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
}

// assignTapes loads the cartridges for the job, in the order given, and
// returns where each one is. Cartridges the job already holds stay where
// they are; ones it holds but no longer names go home. Nothing changes
// unless every cartridge can be placed.
func (s *state) assignTapes(j *ferryv1.Job, barcodes []string) ([]*ferryv1.TapeAssignment, error) {
	moves := s.newMoves()
	held := make(map[string]*ferryv1.TapeAssignment)
	for _, t := range s.heldTapes(j) {
		if slices.Contains(barcodes, t.GetBarcode()) {
			held[t.GetBarcode()] = t
			continue
		}
		if err := moves.unload(s.cartridges[t.GetBarcode()]); err != nil {
			return nil, err
		}
	}
	tapes := make([]*ferryv1.TapeAssignment, 0, len(barcodes))
	for _, b := range barcodes {
		if t, ok := held[b]; ok {
			tapes = append(tapes, proto.Clone(t).(*ferryv1.TapeAssignment))
			continue
		}
		c, ok := s.cartridges[b]
		if !ok {
			return nil, fmt.Errorf("cartridge %q: %w", b, ErrNotFound)
		}
		if holder, held := s.holders[b]; held {
			return nil, busy("cartridge %s is in use by job %s", b, holder)
		}
		t, err := moves.load(c)
		if err != nil {
			return nil, err
		}
		tapes = append(tapes, t)
	}
	moves.commit()
	for _, t := range s.heldTapes(j) {
		delete(s.holders, t.GetBarcode())
	}
	for _, t := range tapes {
		s.holders[t.GetBarcode()] = j.GetId()
	}
	return tapes, nil
}

// heldTapes returns the job's tape assignments that are in force: those of
// a running job. An ended job keeps its tapes as a record only.
func (s *state) heldTapes(j *ferryv1.Job) []*ferryv1.TapeAssignment {
	if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		return nil
	}
	return j.GetTapes()
}

// releaseTapes sends every cartridge the job holds back to its home slot.
// The job keeps its tape assignments as a record of what it used.
func (s *state) releaseTapes(j *ferryv1.Job) error {
	moves := s.newMoves()
	for _, t := range s.heldTapes(j) {
		if err := moves.unload(s.cartridges[t.GetBarcode()]); err != nil {
			return err
		}
	}
	moves.commit()
	for _, t := range s.heldTapes(j) {
		delete(s.holders, t.GetBarcode())
	}
	return nil
}

// checkpointJob records the owner's latest checkpoint. The history keeps
// only the latest checkpoint event, so it does not grow with the job's
// size. A checkpoint behind the one stored (a re-proposal of an older
// entry) is ignored rather than allowed to move progress backwards.
func (s *state) checkpointJob(index uint64, cmd *ferryv1.Command, op *ferryv1.CheckpointJobOp) (*ferryv1.Job, bool, error) {
	if err := validateCheckpoint(cmd, op); err != nil {
		return nil, false, err
	}
	j, err := s.fencedJob("checkpoint", cmd, op.GetJobId(), op.GetEpoch())
	if err != nil {
		return nil, false, err
	}
	p := op.GetProgress()
	if p.GetBytesDone() < j.GetProgress().GetBytesDone() {
		return j, true, nil
	}
	if j.Progress == nil {
		j.Progress = &ferryv1.JobProgress{}
	}
	j.Progress.BytesDone = p.GetBytesDone()
	j.Progress.SegmentsDone = p.GetSegmentsDone()
	j.Progress.CheckpointOffset = p.GetCheckpointOffset()
	// The owner learns the totals only once it has planned the copy.
	if p.GetBytesTotal() > 0 {
		j.Progress.BytesTotal = p.GetBytesTotal()
	}
	if p.GetSegmentsTotal() > 0 {
		j.Progress.SegmentsTotal = p.GetSegmentsTotal()
	}
	j.Checkpoint = slices.Clone(op.GetCheckpoint())
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)

	ev := event(index, cmd, ferryv1.JobState_JOB_STATE_RUNNING, fmt.Sprintf("%s%d bytes", checkpointEventPrefix, p.GetBytesDone()))
	if n := len(j.History); n > 0 && isCheckpointEvent(j.History[n-1]) {
		j.History[n-1] = ev
	} else {
		j.History = append(j.History, ev)
	}
	return j, false, nil
}

func isCheckpointEvent(e *ferryv1.JobEvent) bool {
	return e.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && strings.HasPrefix(e.GetMessage(), checkpointEventPrefix)
}

// finishJob ends a running job with its owner's verdict and sends its
// cartridges home.
func (s *state) finishJob(index uint64, cmd *ferryv1.Command, op *ferryv1.FinishJobOp) (*ferryv1.Job, error) {
	if err := validateFinish(cmd, op); err != nil {
		return nil, err
	}
	j, err := s.fencedJob("finish", cmd, op.GetJobId(), op.GetEpoch())
	if err != nil {
		return nil, err
	}
	if err := s.releaseTapes(j); err != nil {
		return nil, fmt.Errorf("finish job %q: %w", j.GetId(), err)
	}
	if j.Progress == nil {
		j.Progress = &ferryv1.JobProgress{}
	}
	var msg string
	switch op.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED:
		res := op.GetResult()
		j.Result = proto.Clone(res).(*ferryv1.JobResult)
		j.Progress.BytesDone = res.GetBytes()
		if n := len(res.GetSegments()); n > 0 {
			j.Progress.SegmentsDone = uint32(n)
		}
		msg = "succeeded: sha256 " + res.GetSha256()
		j.StateReason = fmt.Sprintf("succeeded on %s", cmd.GetNode())
	default:
		j.Error = proto.Clone(op.GetError()).(*ferryv1.JobError)
		msg = "failed: " + op.GetError().GetMessage()
		j.StateReason = op.GetError().GetMessage()
	}
	j.State = op.GetState()
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.History = append(j.History, event(index, cmd, op.GetState(), msg))
	return j, nil
}

// fencedJob returns the job if cmd comes from its current owner with its
// current epoch. Anything else is refused with ErrFenced: a message from an
// older epoch must never change the job, whoever sends it.
func (s *state) fencedJob(what string, cmd *ferryv1.Command, id string, epoch uint64) (*ferryv1.Job, error) {
	j, ok := s.jobs[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("%s job %q: %w", what, id, ErrNotFound)
	case j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, j.GetState() == ferryv1.JobState_JOB_STATE_FAILED,
		j.GetState() == ferryv1.JobState_JOB_STATE_CANCELLED:
		return nil, fmt.Errorf("%s job %q: %w: %w (%s)", what, id, ErrFenced, ErrJobEnded, j.GetState())
	case j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING:
		return nil, fmt.Errorf("%s job %q: %w: the job is %s, not running", what, id, ErrFenced, j.GetState())
	case j.GetEpoch() != epoch:
		return nil, fmt.Errorf("%s job %q: %w: epoch %d is stale, the job's epoch is %d (owner %s)", what, id, ErrFenced, epoch, j.GetEpoch(), j.GetOwner())
	case j.GetOwner() != cmd.GetNode():
		return nil, fmt.Errorf("%s job %q: %w: the job is owned by %s, not %s", what, id, ErrFenced, j.GetOwner(), cmd.GetNode())
	}
	return j, nil
}

func validateStart(cmd *ferryv1.Command, op *ferryv1.StartJobOp) error {
	var v violations
	v.commandTime(cmd)
	v.owner(cmd)
	v.jobID(op.GetJobId())
	if len(op.GetCartridges()) > maxStartCartridges {
		v.add("cartridges", fmt.Sprintf("more than %d cartridges", maxStartCartridges))
	}
	for i, b := range op.GetCartridges() {
		if b == "" {
			v.add(fmt.Sprintf("cartridges[%d]", i), "must not be empty")
		}
	}
	return v.err()
}

func validateCheckpoint(cmd *ferryv1.Command, op *ferryv1.CheckpointJobOp) error {
	var v violations
	v.commandTime(cmd)
	v.owner(cmd)
	v.jobID(op.GetJobId())
	v.epoch(op.GetEpoch())
	if op.GetProgress() == nil {
		v.add("progress", "required")
	}
	if len(op.GetCheckpoint()) > maxCheckpointBytes {
		v.add("checkpoint", fmt.Sprintf("longer than %d bytes", maxCheckpointBytes))
	}
	return v.err()
}

func validateFinish(cmd *ferryv1.Command, op *ferryv1.FinishJobOp) error {
	var v violations
	v.commandTime(cmd)
	v.owner(cmd)
	v.jobID(op.GetJobId())
	v.epoch(op.GetEpoch())
	switch op.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED:
		res := op.GetResult()
		switch {
		case res == nil:
			v.add("result", "required when the job succeeded")
		case !isSHA256Hex(res.GetSha256()):
			v.add("result.sha256", "must be 64 lower-case hexadecimal digits")
		}
		if op.GetError() != nil {
			v.add("error", "must not be set when the job succeeded")
		}
	case ferryv1.JobState_JOB_STATE_FAILED:
		if op.GetError().GetMessage() == "" {
			v.add("error.message", "required when the job failed")
		}
		if op.GetResult() != nil {
			v.add("result", "must not be set when the job failed")
		}
	default:
		v.add("state", fmt.Sprintf("must be JOB_STATE_SUCCEEDED or JOB_STATE_FAILED, not %s", op.GetState()))
	}
	return v.err()
}

// owner insists on the proposing node: it becomes, or must be, the owner.
func (v *violations) owner(cmd *ferryv1.Command) {
	if cmd.GetNode() == "" {
		v.add("node", "required: the proposing node")
	}
}

func (v *violations) epoch(e uint64) {
	if e == 0 {
		v.add("epoch", "required: the epoch the job was started with")
	}
}

// uniq returns the barcodes without repeats, in first-named order.
func uniq(barcodes []string) []string {
	out := make([]string, 0, len(barcodes))
	for _, b := range barcodes {
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

func isSHA256Hex(s string) bool {
	if len(s) != sha256HexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

package fsm

import (
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
	maxCheckpointBytes  = 64 << 10
	maxPlaceTapes       = 64
	maxBatchCheckpoints = 1024
	maxBatchWaits       = 4096
	maxBatchPlaces      = 1024
	maxReasonBytes      = 1024
	sha256HexLen        = 64
)

// Messages of the history events the job lifecycle records.
const (
	placedEventPrefix     = "placed on "
	startedEventPrefix    = "started on "
	resumedEventPrefix    = "resumed on "
	checkpointEventPrefix = "checkpoint at "
)

// placeJob carries out a scheduler decision: the job runs on op.node under
// a new fencing epoch, this entry's index, with its cartridges in the
// drives named. A queued job is placed; a running job is taken over, but
// only from the epoch the decision was made against, so that a decision
// on stale state changes nothing. The state machine re-checks every tape
// rule: a cartridge serves one job, a drive holds one cartridge.
func (s *state) placeJob(index uint64, cmd *ferryv1.Command, op *ferryv1.PlaceJobOp) (*ferryv1.Job, error) {
	if err := validatePlace(cmd, op); err != nil {
		return nil, err
	}
	id, node := op.GetJobId(), op.GetNode()
	j, ok := s.jobs[id]
	if !ok {
		return nil, fmt.Errorf("place job %q: %w", id, ErrNotFound)
	}
	if _, ok := s.nodeByName(node); !ok {
		return nil, fmt.Errorf("place job %q on %q: node %w", id, node, ErrNotFound)
	}
	if IsStreamParent(j) {
		return nil, fmt.Errorf("place job %q: %w: a multi-stream job runs as its streams (%s…), never placed itself", id, ErrInvalid, j.GetStreams()[0])
	}
	if IsNDMP(j) {
		// NDMP has no reconnect: a session lives and dies with its node.
		return nil, fmt.Errorf("place job %q: %w: an NDMP session is never placed or taken over", id, ErrInvalid)
	}
	takeover := false
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_QUEUED:
		if op.GetFromEpoch() != 0 {
			return nil, fmt.Errorf("place job %q: %w: the job is queued, not running under epoch %d", id, ErrFenced, op.GetFromEpoch())
		}
	case ferryv1.JobState_JOB_STATE_RUNNING:
		if op.GetFromEpoch() != j.GetEpoch() {
			return nil, fmt.Errorf("place job %q: %w: taking over from epoch %d, but the job's epoch is %d (owner %s)",
				id, ErrFenced, op.GetFromEpoch(), j.GetEpoch(), j.GetOwner())
		}
		takeover = true
	default:
		return nil, fmt.Errorf("place job %q: %w (%s)", id, ErrJobEnded, j.GetState())
	}
	if !takeover {
		// A copy that already writes the disk goes on after a takeover:
		// the initiator's writes are refused until it ends.
		if reason := s.reservedDestination(j.GetSpec()); reason != "" {
			return nil, fmt.Errorf("place job %q: %w", id, busy("%s", reason))
		}
	}
	bound, err := s.bindPool(j, op.GetTapes())
	if err != nil {
		return nil, fmt.Errorf("place job %q: %w", id, err)
	}
	tapes, err := s.assignTapes(j, op.GetTapes())
	if err != nil {
		return nil, fmt.Errorf("place job %q: %w", id, err)
	}

	at := fmt.Sprintf("%s (epoch %d)", node, index)
	if bound != nil {
		at += fmt.Sprintf("; pool %s chose %s", bound.GetDestination().GetPool(), bound.GetDestination().GetDevice().GetName())
		j.Spec = bound
	}
	for _, t := range tapes {
		at += fmt.Sprintf("; %s in %s drive %d", t.GetBarcode(), t.GetLibrary(), t.GetDrive())
	}
	if takeover {
		lost := fmt.Sprintf("owner %s lost", j.GetOwner())
		if r := op.GetReason(); r != "" {
			lost = r
		}
		if b := op.GetLostBytesDone(); b > j.GetProgress().GetCheckpointOffset() {
			lost += fmt.Sprintf(lostProgressFormat, b, b-j.GetProgress().GetCheckpointOffset())
		}
		j.History = append(j.History, eventAbout(index, cmd, j.GetOwner(), lost))
		j.History = append(j.History, eventAbout(index, cmd, node,
			fmt.Sprintf("taken over by %s from checkpoint at %d bytes", at, j.GetProgress().GetCheckpointOffset())))
	} else {
		j.History = append(j.History, eventAbout(index, cmd, node, placedEventPrefix+at))
	}
	if j.Progress == nil {
		j.Progress = &ferryv1.JobProgress{}
	}
	j.State = ferryv1.JobState_JOB_STATE_RUNNING
	j.StateReason = fmt.Sprintf("placed on %s", node)
	j.Owner = node
	j.Epoch = index
	j.Tapes = tapes
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	return j, nil
}

// lostProgressFormat ends an owner-lost event when the old owner had
// reported progress past its last checkpoint; LostProgress reads it back.
const lostProgressFormat = "; it had copied %d bytes, %d past its last checkpoint"

// LostProgress reads, from a job's owner-lost event, how far the old owner
// had reported copying and how much of that lay past its last checkpoint
// (copied again by the new owner, at least). ok is false when the event
// does not say: the old owner had reported nothing past the checkpoint.
func LostProgress(msg string) (copied, past uint64, ok bool) {
	i := strings.Index(msg, "; it had copied ")
	if i < 0 {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(msg[i:], lostProgressFormat, &copied, &past); err != nil {
		return 0, 0, false
	}
	return copied, past, true
}

// eventAbout is a running job's event that concerns a node other than the
// proposer: the scheduler on the leader decides, the event names the node
// that lost or got the job.
func eventAbout(index uint64, cmd *ferryv1.Command, node, msg string) *ferryv1.JobEvent {
	e := event(index, cmd, ferryv1.JobState_JOB_STATE_RUNNING, msg)
	e.Node = node
	return e
}

// startJob records that the owner began or resumed the copy under its
// epoch, with the totals it planned. An owner restarted with the job still
// its own resumes under the same epoch: its earlier incarnation is gone. A
// re-proposal of the same command (same node, same proposer time) changes
// nothing.
func (s *state) startJob(index uint64, cmd *ferryv1.Command, op *ferryv1.StartJobOp) (*ferryv1.Job, bool, error) {
	if err := validateStart(cmd, op); err != nil {
		return nil, false, err
	}
	j, err := s.fencedJob("start", cmd, op.GetJobId(), op.GetEpoch())
	if err != nil {
		return nil, false, err
	}
	if isRepeatedStart(j, cmd) {
		return j, true, nil
	}
	msg := startedEventPrefix + cmd.GetNode()
	if len(j.GetCheckpoint()) > 0 {
		msg = fmt.Sprintf("%s%s from offset %d", resumedEventPrefix, cmd.GetNode(), op.GetResumeOffset())
	}
	if j.Progress == nil {
		j.Progress = &ferryv1.JobProgress{}
	}
	j.Progress.BytesTotal = op.GetBytesTotal()
	j.Progress.SegmentsTotal = op.GetSegmentsTotal()
	j.StateReason = fmt.Sprintf("running on %s", cmd.GetNode())
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.History = append(j.History, event(index, cmd, ferryv1.JobState_JOB_STATE_RUNNING, msg))
	return j, false, nil
}

// isRepeatedStart reports whether cmd is a second copy of a start already
// recorded in the current epoch. Proposals are re-sent unchanged across
// leader changes, time included, while a genuine restart reads the clock
// again. Only start events count: the placement event names the owner too,
// but carries the leader's clock, which may read the same.
func isRepeatedStart(j *ferryv1.Job, cmd *ferryv1.Command) bool {
	for _, e := range slices.Backward(j.GetHistory()) {
		if e.GetRaftIndex() < j.GetEpoch() {
			return false
		}
		if isStartEvent(e) && e.GetNode() == cmd.GetNode() && proto.Equal(e.GetTime(), cmd.GetTime()) {
			return true
		}
	}
	return false
}

func isStartEvent(e *ferryv1.JobEvent) bool {
	return strings.HasPrefix(e.GetMessage(), startedEventPrefix) || strings.HasPrefix(e.GetMessage(), resumedEventPrefix)
}

// waitJob records why the scheduler cannot place a queued job. Only the
// reason changes: the job stays queued, and no history is added.
func (s *state) waitJob(cmd *ferryv1.Command, op *ferryv1.WaitJobOp) (*ferryv1.Job, bool, error) {
	var v violations
	v.commandTime(cmd)
	v.jobID(op.GetJobId())
	v.reason(op.GetReason())
	if err := v.err(); err != nil {
		return nil, false, err
	}
	j, ok := s.jobs[op.GetJobId()]
	if !ok {
		return nil, false, fmt.Errorf("wait job %q: %w", op.GetJobId(), ErrNotFound)
	}
	if j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
		return nil, false, fmt.Errorf("wait job %q: %w: the job is %s, not queued", op.GetJobId(), ErrFenced, j.GetState())
	}
	if j.GetStateReason() == op.GetReason() {
		return j, true, nil
	}
	j.StateReason = op.GetReason()
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	return j, false, nil
}

// placeJobs applies a round's placements, each on its own: one refused
// (overtaken by events) does not refuse the others.
func (s *state) placeJobs(index uint64, cmd *ferryv1.Command, op *ferryv1.PlaceJobsOp) ([]Result, error) {
	return applyBatch("places", maxBatchPlaces, op.GetPlaces(), func(p *ferryv1.PlaceJobOp) (*ferryv1.Job, bool, error) {
		j, err := s.placeJob(index, cmd, p)
		return j, false, err
	})
}

// waitJobs applies a batch of wait reasons, each on its own.
func (s *state) waitJobs(cmd *ferryv1.Command, op *ferryv1.WaitJobsOp) ([]Result, error) {
	return applyBatch("waits", maxBatchWaits, op.GetWaits(), func(w *ferryv1.WaitJobOp) (*ferryv1.Job, bool, error) {
		return s.waitJob(cmd, w)
	})
}

// applyBatch applies each item of a batch on its own and returns one
// detached result per item: one job's refusal does not refuse the others.
func applyBatch[T any](field string, most int, items []T, apply func(T) (*ferryv1.Job, bool, error)) ([]Result, error) {
	if n := len(items); n == 0 || n > most {
		var v violations
		v.add(field, fmt.Sprintf("must hold 1 to %d entries", most))
		return nil, v.err()
	}
	out := make([]Result, 0, len(items))
	for _, it := range items {
		var r Result
		r.Job, r.Existing, r.Err = apply(it)
		if r.Err != nil {
			r.Job = nil
		} else {
			r.Job = cloneJob(r.Job)
		}
		out = append(out, r)
	}
	return out, nil
}

// assignTapes puts the job's cartridges in the drives given, and returns
// the assignments. Cartridges the job already holds in the drive named
// stay; ones that move go home first; ones it no longer names go home.
// Nothing changes unless every cartridge can be placed.
func (s *state) assignTapes(j *ferryv1.Job, want []*ferryv1.TapeAssignment) ([]*ferryv1.TapeAssignment, error) {
	moves := s.newMoves()
	wanted := make(map[string]*ferryv1.TapeAssignment, len(want))
	type drive struct {
		library string
		index   uint32
	}
	drives := make(map[drive]string, len(want))
	for _, t := range want {
		if _, dup := wanted[t.GetBarcode()]; dup {
			return nil, fmt.Errorf("%w: cartridge %s assigned twice", ErrInvalid, t.GetBarcode())
		}
		wanted[t.GetBarcode()] = t
		// Caught here, a second cartridge for one drive would otherwise
		// read as contention with the first: a retry could never succeed.
		d := drive{t.GetLibrary(), t.GetDrive()}
		if other, dup := drives[d]; dup {
			return nil, fmt.Errorf("%w: %s and %s both assigned to %s drive %d", ErrInvalid, other, t.GetBarcode(), t.GetLibrary(), t.GetDrive())
		}
		drives[d] = t.GetBarcode()
	}
	held := make(map[string]*ferryv1.TapeAssignment)
	for _, t := range s.heldTapes(j) {
		if w, ok := wanted[t.GetBarcode()]; ok && w.GetDrive() == t.GetDrive() && w.GetLibrary() == t.GetLibrary() {
			held[t.GetBarcode()] = t
			continue
		}
		if err := moves.unload(s.cartridges[t.GetBarcode()]); err != nil {
			return nil, err
		}
	}
	tapes := make([]*ferryv1.TapeAssignment, 0, len(want))
	for _, w := range want {
		b := w.GetBarcode()
		if had := held[b]; had != nil {
			// A takeover keeps the volume a spanning copy is on (spanJob).
			t := proto.Clone(w).(*ferryv1.TapeAssignment)
			t.Volume = had.GetVolume()
			tapes = append(tapes, t)
			continue
		}
		c, ok := s.cartridges[b]
		if !ok {
			return nil, fmt.Errorf("cartridge %q: %w", b, ErrNotFound)
		}
		if c.GetLibrary() != w.GetLibrary() {
			return nil, fmt.Errorf("%w: cartridge %s is in library %s, not %s", ErrInvalid, b, c.GetLibrary(), w.GetLibrary())
		}
		if holder, ok := s.holders[b]; ok && holder != j.GetId() {
			return nil, busy("cartridge %s is in use by %s", b, s.holderOf(b))
		}
		if why := DescribeNdmpLoad(c); why != "" {
			return nil, busy("%s", why)
		}
		t, err := moves.loadInto(c, int(w.GetDrive()))
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

// checkpointJobs applies a batch of checkpoints, each fenced on its own:
// one job's stale epoch does not refuse the others.
func (s *state) checkpointJobs(index uint64, cmd *ferryv1.Command, op *ferryv1.CheckpointJobsOp) ([]Result, error) {
	return applyBatch("checkpoints", maxBatchCheckpoints, op.GetCheckpoints(), func(c *ferryv1.CheckpointJobOp) (*ferryv1.Job, bool, error) {
		return s.checkpointJob(index, cmd, c)
	})
}

func isCheckpointEvent(e *ferryv1.JobEvent) bool {
	return e.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && strings.HasPrefix(e.GetMessage(), checkpointEventPrefix)
}

// finishJob ends a running job with its owner's verdict and sends its
// cartridges home.
// An NDMP session's cartridge stays in its drive for the DMA to unload,
// and its result needs no hash: the DMA wrote what it wrote.
func (s *state) finishJob(index uint64, cmd *ferryv1.Command, op *ferryv1.FinishJobOp) (*ferryv1.Job, error) {
	ndmp := IsNDMP(s.jobs[op.GetJobId()])
	if err := validateFinish(cmd, op, ndmp); err != nil {
		return nil, err
	}
	j, err := s.fencedJob("finish", cmd, op.GetJobId(), op.GetEpoch())
	if err != nil {
		return nil, err
	}
	volume := uint32(1) // the volume a copy to a pool ends on
	for _, t := range j.GetTapes() {
		volume = max(volume, t.GetVolume())
	}
	if ndmp {
		s.finishNdmp(j)
	} else if err := s.releaseTapes(j); err != nil {
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
		j.Result.Volumes = resultVolumes(j, res, volume)
		j.Progress.BytesDone = res.GetBytes()
		if n := len(res.GetSegments()); n > 0 {
			j.Progress.SegmentsDone = uint32(n)
		}
		msg = "succeeded: sha256 " + res.GetSha256()
		if ndmp {
			msg = fmt.Sprintf("NDMP session ended: %d bytes", res.GetBytes())
			if len(j.GetTapes()) > 0 {
				msg += fmt.Sprintf("; %s stays in drive %s/%d", j.GetTapes()[0].GetBarcode(), j.GetTapes()[0].GetLibrary(), j.GetTapes()[0].GetDrive())
			}
		}
		j.StateReason = fmt.Sprintf("succeeded on %s", cmd.GetNode())
		s.recordTapeWrites(cmd, j.GetId(), res.GetTapeWrites())
	default:
		j.Error = proto.Clone(op.GetError()).(*ferryv1.JobError)
		s.recordTapeWrites(cmd, j.GetId(), op.GetError().GetTapeWrites())
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
	v.epoch(op.GetEpoch())
	return v.err()
}

func validatePlace(cmd *ferryv1.Command, op *ferryv1.PlaceJobOp) error {
	var v violations
	v.commandTime(cmd)
	v.jobID(op.GetJobId())
	if op.GetNode() == "" {
		v.add("node", "required: the node to run the job")
	}
	if len(op.GetTapes()) > maxPlaceTapes {
		v.add("tapes", fmt.Sprintf("more than %d tapes", maxPlaceTapes))
	}
	for i, t := range op.GetTapes() {
		if t.GetBarcode() == "" {
			v.add(fmt.Sprintf("tapes[%d].barcode", i), "required")
		}
		if t.GetLibrary() == "" {
			v.add(fmt.Sprintf("tapes[%d].library", i), "required")
		}
	}
	if len(op.GetReason()) > maxReasonBytes {
		v.add("reason", fmt.Sprintf("longer than %d bytes", maxReasonBytes))
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

func validateFinish(cmd *ferryv1.Command, op *ferryv1.FinishJobOp, ndmp bool) error {
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
		case ndmp && res.GetSha256() == "":
		case !isSHA256Hex(res.GetSha256()):
			v.add("result.sha256", "must be 64 lower-case hexadecimal digits")
		}
		if op.GetError() != nil {
			v.add("error", "must not be set when the job succeeded")
		}
		v.tapeWrites("result.tape_writes", op.GetJobId(), res.GetTapeWrites())
	case ferryv1.JobState_JOB_STATE_FAILED:
		if op.GetError().GetMessage() == "" {
			v.add("error.message", "required when the job failed")
		}
		if op.GetResult() != nil {
			v.add("result", "must not be set when the job failed")
		}
		v.tapeWrites("error.tape_writes", op.GetJobId(), op.GetError().GetTapeWrites())
	default:
		v.add("state", fmt.Sprintf("must be JOB_STATE_SUCCEEDED or JOB_STATE_FAILED, not %s", op.GetState()))
	}
	return v.err()
}

// reason insists on a reason people can read, of a sane length.
func (v *violations) reason(r string) {
	switch {
	case r == "":
		v.add("reason", "required")
	case len(r) > maxReasonBytes:
		v.add("reason", fmt.Sprintf("longer than %d bytes", maxReasonBytes))
	}
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

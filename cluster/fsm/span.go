package fsm

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// spanJob moves a copy to a pool from the cartridge it filled to the next
// member of the pool (SpanJobOp): the full cartridge goes home, counted in
// use up to what the owner wrote on it, the next goes into the drive it
// left, the spec names the next as destination (so a takeover resumes on
// it) and the job's assignment counts the volume. The files the copy
// wrote on each volume reach the catalogs with its outcome, as for any
// copy. Nothing changes unless all of it can.
func (s *state) spanJob(index uint64, cmd *ferryv1.Command, op *ferryv1.SpanJobOp) (*ferryv1.Job, error) {
	var v violations
	v.commandTime(cmd)
	v.owner(cmd)
	v.epoch(op.GetEpoch())
	if op.GetFullBarcode() == "" {
		v.add("full_barcode", "required")
	}
	if op.GetNextBarcode() == "" {
		v.add("next_barcode", "required")
	}
	cp := op.GetCheckpoint()
	switch {
	case cp == nil:
		v.add("checkpoint", "required: the checkpoint at the volume boundary")
	case cp.GetJobId() != op.GetJobId() || cp.GetEpoch() != op.GetEpoch():
		v.add("checkpoint", "must name the span's job and epoch")
	default:
		if err := validateCheckpoint(cmd, cp); err != nil {
			return nil, err
		}
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	j, err := s.fencedJob("span", cmd, op.GetJobId(), op.GetEpoch())
	if err != nil {
		return nil, err
	}
	if cp.GetProgress().GetBytesDone() < j.GetProgress().GetBytesDone() {
		return nil, &ValidationError{Violations: []FieldViolation{{Field: "checkpoint.progress.bytes_done",
			Description: fmt.Sprintf("%d is behind the job's checkpoint at %d bytes", cp.GetProgress().GetBytesDone(), j.GetProgress().GetBytesDone())}}}
	}
	dst := j.GetSpec().GetDestination()
	pool, full, next := dst.GetPool(), op.GetFullBarcode(), op.GetNextBarcode()
	switch {
	case pool == "":
		return nil, fmt.Errorf("span job %q: %w: its destination is no pool", j.GetId(), ErrInvalid)
	case dst.GetDevice().GetName() != full:
		return nil, fmt.Errorf("span job %q: %w: its destination is %s, not %s", j.GetId(), ErrInvalid, dst.GetDevice().GetName(), full)
	case s.poolOf[next] != pool:
		return nil, &ValidationError{Violations: []FieldViolation{{Field: "next_barcode", Description: fmt.Sprintf("%s is not a member of pool %s", next, pool)}}}
	}
	at := -1
	for i, t := range j.GetTapes() {
		if t.GetBarcode() == full {
			at = i
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("span job %q: %w: %s is not in a drive for it", j.GetId(), ErrInvalid, full)
	}
	c, ok := s.cartridges[next]
	if !ok {
		return nil, fmt.Errorf("span job %q: cartridge %q: %w", j.GetId(), next, ErrNotFound)
	}
	if use := UseOf(c); use != Scratch && use != Appendable {
		return nil, busy("cartridge %s of pool %s is %s", next, pool, use)
	}
	if holder, held := s.holders[next]; held && holder != j.GetId() {
		return nil, busy("cartridge %s is in use by %s", next, s.holderOf(next))
	}
	if why := DescribeNdmpLoad(c); why != "" {
		return nil, busy("%s", why)
	}
	bound := proto.Clone(j.GetSpec()).(*ferryv1.JobSpec)
	bound.Destination.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: next}}
	if _, verr := s.resolveAccess(bound); verr != nil {
		return nil, verr
	}
	old := j.GetTapes()[at]
	moves := s.newMoves()
	if err := moves.unload(s.cartridges[full]); err != nil {
		return nil, err
	}
	t, err := moves.loadInto(c, int(old.GetDrive()))
	if err != nil {
		return nil, err
	}
	moves.commit()
	volume := max(old.GetVolume(), 1) + 1
	t.Volume = volume
	tapes := append([]*ferryv1.TapeAssignment(nil), j.GetTapes()...)
	tapes[at] = t
	delete(s.holders, full)
	s.holders[next] = j.GetId()
	if fc := s.cartridges[full]; op.GetFullUsedBytes() > fc.GetUsedBytes() {
		fc.UsedBytes = op.GetFullUsedBytes()
	}
	j.Tapes = tapes
	j.Spec = bound
	// Checked above: fenced, well-formed, not behind.
	if _, _, err := s.checkpointJob(index, cmd, cp); err != nil {
		return nil, fmt.Errorf("%w: span job %q: the checked checkpoint was refused: %w", ErrBadSnapshot, j.GetId(), err)
	}
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.History = append(j.History, eventAbout(index, cmd, j.GetOwner(), fmt.Sprintf(
		"spanned: %s is full (%d bytes in use); volume %d is %s in %s drive %d", full, s.cartridges[full].GetUsedBytes(), volume, next, t.GetLibrary(), t.GetDrive())))
	return j, nil
}

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
// it) and the job's assignment counts the volume. The copy's part on the
// full cartridge joins Job.volumes, and what it left there (full_write,
// read back by the owner) reaches the cartridge's catalog at once: the
// cartridge goes home, and the next copy that appends to it must find its
// catalog right. The last volume's files reach the catalog with the
// outcome, as for any copy. Nothing changes unless all of it can.
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
	if fw := op.GetFullWrite(); fw != nil {
		if fw.GetBarcode() != op.GetFullBarcode() {
			v.add("full_write.barcode", "must be full_barcode")
		}
		v.tapeWrites("full_write", op.GetJobId(), []*ferryv1.TapeWrite{fw})
	}
	if fv := op.GetFullVolume(); fv != nil && fv.GetFile() == 0 {
		v.add("full_volume.file", "must be at least 1: file 0 is the label")
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
	if fw := op.GetFullWrite(); fw != nil {
		s.recordTapeWrites(cmd, j.GetId(), []*ferryv1.TapeWrite{fw})
	}
	if fc := s.cartridges[full]; op.GetFullUsedBytes() > fc.GetUsedBytes() {
		fc.UsedBytes = op.GetFullUsedBytes()
	}
	if fv := op.GetFullVolume(); fv != nil && fv.GetBytes() > 0 {
		part := proto.Clone(fv).(*ferryv1.TapeVolume)
		part.Volume, part.Barcode = max(old.GetVolume(), 1), full
		j.Volumes = append(j.Volumes, part)
	}
	j.Tapes = tapes
	j.Spec = bound
	// Checked above: fenced, well-formed, not behind.
	if _, _, err := s.checkpointJob(index, cmd, cp); err != nil {
		return nil, fmt.Errorf("%w: span job %q: the checked checkpoint was refused: %w", ErrBadSnapshot, j.GetId(), err)
	}
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.StateReason = fmt.Sprintf("running on %s", j.GetOwner())
	j.History = append(j.History, eventAbout(index, cmd, j.GetOwner(), fmt.Sprintf(
		"spanned: %s is full (%d bytes in use); volume %d is %s in %s drive %d", full, s.cartridges[full].GetUsedBytes(), volume, next, t.GetLibrary(), t.GetDrive())))
	return j, nil
}

// spanWaitPrefix starts the state reason of a copy waiting for a
// cartridge to span to.
const spanWaitPrefix = "waiting for a cartridge to continue on: "

// spanWait records why a copy to a pool that filled its cartridge waits
// for another (SpanWaitOp): in its state reason and, when the reason
// changes, its history. unchanged is true when it already said so.
func (s *state) spanWait(index uint64, cmd *ferryv1.Command, op *ferryv1.SpanWaitOp) (j *ferryv1.Job, unchanged bool, err error) {
	var v violations
	v.commandTime(cmd)
	v.owner(cmd)
	v.epoch(op.GetEpoch())
	v.reason(op.GetReason())
	if err := v.err(); err != nil {
		return nil, false, err
	}
	if j, err = s.fencedJob("span wait", cmd, op.GetJobId(), op.GetEpoch()); err != nil {
		return nil, false, err
	}
	if j.GetSpec().GetDestination().GetPool() == "" {
		return nil, false, fmt.Errorf("span wait job %q: %w: its destination is no pool", j.GetId(), ErrInvalid)
	}
	reason := spanWaitPrefix + op.GetReason()
	if j.GetStateReason() == reason {
		return j, true, nil
	}
	j.StateReason = reason
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.History = append(j.History, eventAbout(index, cmd, j.GetOwner(), reason))
	return j, false, nil
}

// resultVolumes lists every cartridge a successful copy to a pool wrote,
// in order: the volumes it filled (Job.volumes, from its spans) and the
// one it ended on, volume last, whose part is the rest of the copy's bytes
// in the last complete file the job wrote there. Nil for any other job.
func resultVolumes(j *ferryv1.Job, res *ferryv1.JobResult, last uint32) []*ferryv1.TapeVolume {
	dst := j.GetSpec().GetDestination()
	if dst.GetPool() == "" || j.GetSpec().GetStreams() > 1 {
		return nil
	}
	out := cloneVolumes(j.GetVolumes())
	var offset uint64
	for _, v := range out {
		offset += v.GetBytes()
	}
	barcode := dst.GetDevice().GetName()
	var file uint32
	for _, tw := range res.GetTapeWrites() {
		if tw.GetBarcode() != barcode {
			continue
		}
		for _, f := range tw.GetFiles() {
			if f.GetJobId() == j.GetId() && !f.GetIncomplete() {
				file = f.GetNumber()
			}
		}
	}
	if file == 0 || res.GetBytes() < offset {
		return out
	}
	return append(out, &ferryv1.TapeVolume{Volume: last, Barcode: barcode, File: file, Bytes: res.GetBytes() - offset, Offset: offset})
}

// VolumeEndpoint is the tape file holding a volume's part, as a source: a
// restore reads the volumes of a copy in order, and a verify hashes them
// as one stream.
func VolumeEndpoint(v *ferryv1.TapeVolume) *ferryv1.Endpoint {
	file := v.GetFile()
	return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE,
		Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: v.GetBarcode()}}, TapeFile: &file}
}

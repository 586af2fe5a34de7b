package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scheduler"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/tape"
)

// spanner carries a copy to a pool from the cartridge it filled to the
// next member of the pool (the mover's Config.Span), and positions a copy
// resumed after a span on its volume. The order of a span is what keeps
// every crash point safe:
//
//  1. the mover closed the part on the full cartridge with a filemark at a
//     record boundary and flushed it;
//  2. the full cartridge is read back for its catalog;
//  3. SpanJobOp commits, in one entry, the cartridge chosen, the part, the
//     catalog and the checkpoint at the cut, which names the next volume
//     but no position on it. A crash before it resumes from the last
//     checkpoint on the full cartridge: its records and the filemark after
//     it are written again, identically (a write on tape discards what
//     follows it);
//  4. the next cartridge is opened (claimed at the job's epoch), positioned
//     at its end of data as a new file (a file a cut-off copy left open is
//     first closed) and that position is committed before anything is
//     written. A crash before the commit positions it again: nothing of
//     the copy is on it yet.
type spanner struct {
	e     *Executor
	log   *slog.Logger
	jobID string
	epoch uint64
	pool  string
	o     *opened
	// total is the bytes the plan moves (0: unknown), progress the
	// progress a checkpoint reports.
	total    int64
	progress func(mover.Checkpoint) *ferryv1.JobProgress
	// spanned: the copy went on on another cartridge in this run.
	spanned bool
}

// span is mover.Config.Span.
func (s *spanner) span(ctx context.Context, end mover.VolumeEnd) (mover.Device, error) {
	reg := s.e.node.FSM()
	full := unguarded(s.o.devs[end.Device])
	barcode, _ := strings.CutPrefix(full.Name, "tape:")
	cart, ok := full.Tape.(*tape.Cartridge)
	if !ok {
		return mover.Device{}, errors.New("the full volume is not a virtual cartridge")
	}
	b, err := end.Checkpoint.MarshalBinary()
	if err != nil {
		return mover.Device{}, err
	}
	used := uint64(cart.Used())
	if c, ok := reg.Cartridge(barcode); ok && c.GetCapacityBytes() > 0 {
		// The copy met early warning on it: it is full, though the cut
		// left a chunk's room before the zone (UseOf counts it full).
		used = max(used, fsm.EarlyWarningAt(c))
	}
	op := &ferryv1.SpanJobOp{JobId: s.jobID, Epoch: s.epoch, FullBarcode: barcode, FullUsedBytes: used,
		Checkpoint: &ferryv1.CheckpointJobOp{JobId: s.jobID, Epoch: s.epoch, Checkpoint: b, Progress: s.progress(end.Checkpoint)}}
	if end.Bytes > 0 {
		op.FullVolume = &ferryv1.TapeVolume{File: uint32(end.File), Bytes: uint64(end.Bytes), Offset: uint64(end.Offset)}
	}
	if end.HasWritten {
		writes, err := tapeWrites(ctx, s.jobID, []mover.Device{full}, map[int]mover.TapePos{0: end.Written}, false, nil)
		if err != nil {
			s.log.Warn("the catalog of the full cartridge may miss files", "cartridge", barcode, "err", err)
		}
		if len(writes) == 1 {
			op.FullWrite = writes[0]
		}
	}
	need := uint64(0)
	if s.total > 0 {
		need = uint64(max(s.total-end.Checkpoint.BytesDone, 0))
	}
	job, err := s.proposeSpan(ctx, reg, op, need)
	if err != nil {
		return mover.Device{}, err
	}
	s.log.Info("spanned", "full", barcode, "part_bytes", end.Bytes, "next", op.GetNextBarcode(), "volume", end.Volume+1)

	// The full cartridge is home now: close it and drop its fence.
	if err := s.o.closeDevice(end.Device); err != nil {
		s.log.Warn("closing the full cartridge", "cartridge", barcode, "err", err)
	}
	s.o.tapes = job.GetTapes()
	dst := job.GetSpec().GetDestination()
	nextDev, err := reg.ResolveDevice(dst.GetDevice())
	if err != nil {
		return mover.Device{}, err
	}
	release, err := s.e.locks.acquire(ctx, job, []deviceUse{{path: nextDev.Cartridge.GetPath(), write: true}})
	if err != nil {
		return mover.Device{}, err
	}
	// Freed once the job's devices are closed, as the job's other locks.
	s.o.closers = append(s.o.closers, func() error { release(); return nil })
	d, closer, err := s.o.openDevice(reg, dst, true)
	if err != nil {
		return mover.Device{}, err
	}
	s.spanned = true
	s.o.devs[end.Device], s.o.closers[end.Device] = d, closer
	if err := s.pin(ctx, end.Checkpoint, end.Device); err != nil {
		return mover.Device{}, err
	}
	return d, nil
}

// proposeSpan chooses the next member of the pool and commits the span. A
// member another job took meanwhile is chosen again; when none is left the
// copy waits, holding its cartridge and drive, and says why in the job's
// state reason (SpanWaitOp), as a backup application waits for a volume to
// be mounted: the part it wrote stays good, and the copy goes on as soon
// as a cartridge is labelled into the pool, or stops if it is cancelled.
func (s *spanner) proposeSpan(ctx context.Context, reg *fsm.FSM, op *ferryv1.SpanJobOp, need uint64) (*ferryv1.Job, error) {
	said := ""
	for {
		job, ok := reg.Job(s.jobID)
		if !ok {
			return nil, fmt.Errorf("span: job %s: %w", s.jobID, fsm.ErrNotFound)
		}
		next, wait := scheduler.ChoosePoolCartridge(s.pool, need, poolMembers(reg, job, s.pool, op.GetFullBarcode()))
		if next != "" {
			op.NextBarcode = next
			j, err := s.e.propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_SpanJob{SpanJob: op}})
			if err == nil {
				return j, nil
			}
			if !errors.Is(err, fsm.ErrBusy) {
				return nil, fmt.Errorf("span to %s: %w", next, err)
			}
			wait = err.Error()
		}
		if wait != said {
			s.log.Warn("the copy waits for a cartridge of its pool", "pool", s.pool, "why", wait)
			if _, err := s.e.propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_SpanWait{SpanWait: &ferryv1.SpanWaitOp{
				JobId: s.jobID, Epoch: s.epoch, Reason: wait}}}); err != nil {
				return nil, fmt.Errorf("span: record the wait: %w", err)
			}
			said = wait
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(s.e.cfg.Rescan):
		}
	}
}

// poolMembers are the members of pool as ChoosePoolCartridge sees them for
// job's next volume: every member but the cartridge it filled and those it
// reads, each busy when another job holds it in a drive or a DMA loaded
// it. (The state machine checks the choice again when the span applies.)
func poolMembers(reg *fsm.FSM, job *ferryv1.Job, pool, full string) []scheduler.PoolCandidate {
	p, ok := reg.Pool(pool)
	if !ok {
		return nil
	}
	src := job.GetSpec().GetSource().GetDevice().GetName()
	var out []scheduler.PoolCandidate
	for _, c := range reg.Cartridges(p.GetLibrary()) {
		if c.GetPool() != pool || c.GetBarcode() == full || c.GetBarcode() == src {
			continue
		}
		m := scheduler.PoolCandidate{Cartridge: c}
		if loc := c.GetLocation(); loc.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE && loc.GetJobId() != "" && loc.GetJobId() != job.GetId() {
			m.Busy = "used by job " + loc.GetJobId()
		}
		if why := fsm.DescribeNdmpLoad(c); why != "" && m.Busy == "" {
			m.Busy = why
		}
		out = append(out, m)
	}
	return out
}

// resume makes a checkpoint fit to resume from on the volume the job's
// spec names: its volume must be the tape assignment's (else the copy
// would write on the wrong cartridge: it fails instead), and a checkpoint
// taken at a span, which names no position on the new volume, is
// positioned and pinned first.
func (s *spanner) resume(ctx context.Context, job *ferryv1.Job, cp *mover.Checkpoint, dev int) error {
	barcode := job.GetSpec().GetDestination().GetDevice().GetName()
	assigned := uint32(1)
	for _, t := range job.GetTapes() {
		if t.GetBarcode() == barcode {
			assigned = max(t.GetVolume(), 1)
		}
	}
	if got := max(cp.Volumes[dev].Number, 1); got != assigned {
		return fmt.Errorf("%w: the job's checkpoint is on volume %d, its cartridge %s is volume %d: refusing to write on it",
			fsm.ErrInvalid, got, barcode, assigned)
	}
	if _, pinned := cp.Positions[dev]; pinned {
		return nil
	}
	s.log.Info("resuming on a new volume", "cartridge", barcode, "volume", assigned)
	if err := s.pin(ctx, *cp, dev); err != nil {
		return err
	}
	p, err := s.o.devs[dev].Tape.ReadPosition()
	if err != nil {
		return err
	}
	cp.Positions = maps.Clone(cp.Positions)
	if cp.Positions == nil {
		cp.Positions = map[int]mover.TapePos{}
	}
	cp.Positions[dev] = mover.TapePos{ObjectID: p.ObjectID, File: p.File}
	return nil
}

// pin positions device dev, a new volume, where the copy's part on it
// begins (a new file at end of data) and commits cp with that position.
func (s *spanner) pin(ctx context.Context, cp mover.Checkpoint, dev int) error {
	at, err := newFileAt(s.o.devs[dev])
	if err != nil {
		return fmt.Errorf("position the new volume: %w", err)
	}
	cp.Positions = maps.Clone(cp.Positions)
	if cp.Positions == nil {
		cp.Positions = map[int]mover.TapePos{}
	}
	cp.Positions[dev] = at
	b, err := cp.MarshalBinary()
	if err != nil {
		return err
	}
	return s.e.batch.commit(ctx, &ferryv1.CheckpointJobOp{JobId: s.jobID, Epoch: s.epoch, Checkpoint: b, Progress: s.progress(cp)})
}

// newFileAt positions a destination tape at its end of data for a new
// file, first closing with a filemark a file that a cut-off copy left open
// there (as destinationStart does), and returns the position.
func newFileAt(d mover.Device) (mover.TapePos, error) {
	open, err := unterminated(unguarded(d).Tape, nil, 0)
	if err != nil {
		return mover.TapePos{}, err
	}
	if err := d.Tape.Space(tape.SpaceEndOfData, 0); err != nil {
		return mover.TapePos{}, err
	}
	if open {
		if _, err := d.Tape.WriteFilemarks(1); err != nil {
			return mover.TapePos{}, err
		}
		if err := d.Tape.Flush(); err != nil {
			return mover.TapePos{}, err
		}
	}
	p, err := d.Tape.ReadPosition()
	if err != nil {
		return mover.TapePos{}, err
	}
	return mover.TapePos{ObjectID: p.ObjectID, File: p.File}, nil
}

// spanning reports whether a job's copy spans: a source → destination copy
// to a pool. A copy to a named cartridge fails at the end of the medium
// (VOLUME OVERFLOW) as it always did.
func spanning(spec *ferryv1.JobSpec) bool {
	return spec.GetDestination().GetPool() != "" && len(spec.GetXcopyParameterList()) == 0 &&
		spec.GetDestination().GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE
}

// verifySpanned re-reads every part of a copy that spanned, in order (the
// volumes it filled, then its part on dev, which it ends on, standing
// after that part's filemark) and compares their SHA-256 with the one the
// mover computed while writing.
func (e *Executor) verifySpanned(ctx context.Context, jobID string, dev mover.Device, res mover.Result) error {
	job, ok := e.node.FSM().Job(jobID)
	if !ok {
		return fmt.Errorf("verify: job %s: %w", jobID, fsm.ErrNotFound)
	}
	h := sha256.New()
	for _, ep := range VolumeParts(job.GetVolumes()) {
		dv, err := e.node.FSM().ResolveDevice(ep.GetDevice())
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if err := hashTapeInto(ctx, dv.Cartridge, ep, h, &ferryv1.HashResponse{}); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	c, ok := unguarded(dev).Tape.(*tape.Cartridge)
	if !ok {
		return errors.New("verify: tape is not a virtual cartridge")
	}
	pos, err := c.ReadPosition()
	if err != nil || pos.File < 2 {
		return fmt.Errorf("verify: %s: the copy's last part is not behind it (at file %d): %w", dev.Name, pos.File, err)
	}
	if err := PositionAtFile(c, uint32(pos.File-1), false); err != nil {
		return fmt.Errorf("verify: %s: %w", dev.Name, err)
	}
	if _, _, _, err := ReadTapeFile(ctx, c, make([]byte, tape.MaxRecordSize), h); err != nil {
		return fmt.Errorf("verify: read back %s: %w", dev.Name, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, res.SHA256[:]) {
		return fmt.Errorf("%w: verify: the volumes read back hash to %x, the copy wrote %x", sense.New(sense.Miscompare, sense.MiscompareDuringVerify), got, res.SHA256)
	}
	return nil
}

package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/drivemodel"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// opened is a job's devices, open and ready for the mover.
type opened struct {
	devs       []mover.Device
	cartridges []string // barcodes, for the drive assignment
	closers    []func() error
	// guard, if set, claims every device opened for writing and passes
	// its writes through the job's lease and fence.
	guard *writeGuard
	// ctx, tapes and drives, if drives is set, put each cartridge in the
	// drive of the library the job's tape assignment names, paced by the
	// library's drive model (storage/drivemodel) under the job's ctx.
	ctx    context.Context
	tapes  []*ferryv1.TapeAssignment
	drives *drivemodel.Set
	// checkPath, if set, refuses a device this node may not open
	// (Executor.checkPath), before it is claimed.
	checkPath func(device, path string) error
}

// loadDrive returns the modelled drive of drives that the job's tape
// assignment puts the cartridge in, once its load time has passed; nil
// when the library has no drive model (or the job no assignment for the
// cartridge: one made without the scheduler, in tests).
func loadDrive(ctx context.Context, reg *fsm.FSM, drives *drivemodel.Set, tapes []*ferryv1.TapeAssignment, barcode string) (*drivemodel.Drive, error) {
	if drives == nil {
		return nil, nil
	}
	for _, t := range tapes {
		if t.GetBarcode() != barcode {
			continue
		}
		lib, ok := reg.Library(t.GetLibrary())
		if !ok {
			return nil, nil
		}
		m := drivemodel.FromLibrary(lib)
		if m.Off() {
			return nil, nil
		}
		d := drives.Drive(t.GetLibrary(), t.GetDrive(), m)
		if err := d.Load(ctx); err != nil {
			return nil, fmt.Errorf("load %s into %s drive %d: %w", barcode, t.GetLibrary(), t.GetDrive(), err)
		}
		return d, nil
	}
	return nil, nil
}

// claim fences a device about to be opened for writing.
func (o *opened) claim(path string) (*fence.Fence, error) {
	if o.guard == nil {
		return nil, nil
	}
	return o.guard.claim(path)
}

// guarded wraps a device opened for writing.
func (o *opened) guarded(d mover.Device, f *fence.Fence) mover.Device {
	if o.guard == nil {
		return d
	}
	return o.guard.guard(d, f)
}

// closeWritten returns how to close a cartridge opened for writing: through
// the guard, since closing it writes what it still buffers.
func (o *opened) closeWritten(t *tape.Cartridge, f *fence.Fence) func() error {
	if o.guard == nil {
		return t.Close
	}
	return func() error { return o.guard.closeTape(t, f) }
}

// closeDevice closes device i before the job ends (the cartridge a span
// filled) and drops its fence; the job's end closes it no more.
func (o *opened) closeDevice(i int) error {
	err := o.closers[i]()
	o.closers[i] = func() error { return nil }
	if g, ok := o.devs[i].Tape.(*guardedTape); ok && o.guard != nil {
		err = errors.Join(err, o.guard.release(g.f))
	}
	return err
}

func (o *opened) close() error {
	var errs []error
	for _, c := range o.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// openEndpoint opens the registered device an endpoint names, writable when
// it is a destination, and adds it to the job's devices.
func (o *opened) openEndpoint(reg *fsm.FSM, ep *ferryv1.Endpoint, write bool) error {
	d, closer, err := o.openDevice(reg, ep, write)
	if err != nil {
		return err
	}
	o.devs = append(o.devs, d)
	if d.Tape != nil {
		o.cartridges = append(o.cartridges, strings.TrimPrefix(d.Name, "tape:"))
	}
	o.closers = append(o.closers, closer)
	return nil
}

// openDevice opens the registered device an endpoint names, writable when
// it is a destination (claimed and guarded), and returns how to close it.
func (o *opened) openDevice(reg *fsm.FSM, ep *ferryv1.Endpoint, write bool) (mover.Device, func() error, error) {
	dev, err := reg.ResolveDevice(ep.GetDevice())
	if err != nil {
		return mover.Device{}, nil, err
	}
	if o.checkPath != nil {
		if err := o.checkPath(describe(ep), dev.Path()); err != nil {
			return mover.Device{}, nil, err
		}
	}
	var f *fence.Fence
	switch {
	case dev.Disk != nil && ep.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_DISK:
		if write {
			if f, err = o.claim(dev.Disk.GetPath()); err != nil {
				return mover.Device{}, nil, err
			}
		}
		lun, err := OpenDisk(dev.Disk, !write)
		if err != nil {
			return mover.Device{}, nil, err
		}
		d := mover.Device{Name: "disk:" + dev.Disk.GetName(), Block: lun}
		if write {
			d = o.guarded(d, f)
		}
		return d, lun.Close, nil
	case dev.Cartridge != nil && ep.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE:
		if write {
			if f, err = o.claim(dev.Cartridge.GetPath()); err != nil {
				return mover.Device{}, nil, err
			}
		}
		t, err := OpenCartridge(dev.Cartridge, !write)
		if err != nil {
			return mover.Device{}, nil, err
		}
		var td mover.TapeDrive = t
		drive, err := loadDrive(o.ctx, reg, o.drives, o.tapes, dev.Cartridge.GetBarcode())
		if err != nil {
			return mover.Device{}, nil, errors.Join(err, t.Close())
		}
		if drive != nil {
			td = drive.Tape(o.ctx, t)
		}
		d := mover.Device{Name: "tape:" + dev.Cartridge.GetBarcode(), Tape: td}
		closer := t.Close
		if write {
			d = o.guarded(d, f)
			closer = o.closeWritten(t, f)
		}
		return d, closer, nil
	default:
		return mover.Device{}, nil, fmt.Errorf("%w: %s names a %s", fsm.ErrInvalid, describe(ep), kindOf(dev))
	}
}

func kindOf(d fsm.Device) string {
	if d.Disk != nil {
		return "disk"
	}
	return "tape"
}

func describe(ep *ferryv1.Endpoint) string {
	name := ep.GetDevice().GetName()
	if name == "" {
		name = ep.GetDevice().GetNaa()
	}
	if ep.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE {
		return "tape:" + name
	}
	return "disk:" + name
}

// endpointPlan builds the plan of a source → destination job; devs[0] is the
// source, devs[1] the destination. Tape positions are turned into LOCATE
// segments with fixed object ids, so the plan rebuilt for a resume is the
// same plan.
//
//   - disk → disk: the range, to the destination LBA;
//   - disk → tape: a new tape file at end of data, or from tape file N on
//     (everything after it is overwritten, as on a real tape);
//   - tape → disk: one tape file (default 1: file 0 is the label);
//   - tape → tape: one file appended as a new file, or without a file number
//     every file after the label onto the destination after its own label,
//     filemarks included.
func endpointPlan(spec *ferryv1.JobSpec, devs []mover.Device, resume *mover.Checkpoint) (mover.Plan, int64, error) {
	src, dst := spec.GetSource(), spec.GetDestination()
	// Planning only reads and positions: it sees the devices themselves,
	// not the write guard around the destination.
	s, d := unguarded(devs[0]), unguarded(devs[1])
	var segs []mover.Segment
	var total int64
	switch {
	case s.Block != nil && d.Block != nil:
		off, length, err := blockRange(s.Block, src)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		doff, dlen, err := blockRange(d.Block, dst)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		parts, err := extents(spec.GetSegments(), length, dlen)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		for _, p := range parts {
			segs = append(segs, mover.Segment{Kind: mover.BlockToBlock, Src: 0, Dst: 1, SrcOffset: off + p.src, DstOffset: doff + p.dst, Length: p.length})
			total += p.length
		}
	case s.Block != nil && d.Tape != nil:
		off, length, err := blockRange(s.Block, src)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		pos, err := destinationStart(d.Tape, dst, resume, len(segs))
		if err != nil {
			return mover.Plan{}, 0, err
		}
		parts, err := extents(spec.GetSegments(), length, -1)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		segs = append(segs, pos...)
		for _, p := range parts {
			segs = append(segs, mover.Segment{Kind: mover.BlockToStream, Src: 0, Dst: 1, SrcOffset: off + p.src, Length: p.length})
			total += p.length
		}
		segs = append(segs, mover.Segment{Kind: mover.WriteFilemarks, Dst: 1, Filemarks: 1})
	case len(spec.GetSegments()) > 0:
		return mover.Plan{}, 0, fmt.Errorf("%w: explicit segments need a disk source", fsm.ErrInvalid)
	case s.Tape != nil && d.Block != nil:
		file := uint32(1)
		if src.TapeFile != nil {
			file = src.GetTapeFile()
		}
		at, err := fileStart(s.Tape, file, false)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		doff, _, err := blockRange(d.Block, dst)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		segs = append(segs, mover.Segment{Kind: mover.Locate, Dst: 0, ObjectID: at},
			mover.Segment{Kind: mover.StreamToBlock, Src: 0, Dst: 1, DstOffset: doff, Records: -1})
		total = -1
	case s.Tape != nil && d.Tape != nil:
		total = -1
		if src.TapeFile != nil {
			at, err := fileStart(s.Tape, src.GetTapeFile(), false)
			if err != nil {
				return mover.Plan{}, 0, err
			}
			segs = append(segs, mover.Segment{Kind: mover.Locate, Dst: 0, ObjectID: at})
			pos, err := destinationStart(d.Tape, dst, resume, len(segs))
			if err != nil {
				return mover.Plan{}, 0, err
			}
			segs = append(segs, pos...)
			segs = append(segs, mover.Segment{Kind: mover.StreamToStream, Src: 0, Dst: 1, Records: -1},
				mover.Segment{Kind: mover.WriteFilemarks, Dst: 1, Filemarks: 1})
			break
		}
		at, err := fileStart(s.Tape, 1, false)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		dstFile := uint32(1)
		if dst.TapeFile != nil {
			dstFile = dst.GetTapeFile()
		}
		dat, err := fileStart(d.Tape, dstFile, true)
		if err != nil {
			return mover.Plan{}, 0, err
		}
		segs = append(segs, mover.Segment{Kind: mover.Locate, Dst: 0, ObjectID: at},
			mover.Segment{Kind: mover.Locate, Dst: 1, ObjectID: dat},
			mover.Segment{Kind: mover.TapeImage, Src: 0, Dst: 1})
	}
	return mover.Plan{Segments: segs}, total, nil
}

// extent is one explicit segment, in bytes relative to the endpoints.
type extent struct{ src, dst, length int64 }

// extents checks a job's explicit segments against the source range (and
// the destination range, dstLen < 0 for a tape); no segments means one
// covering the whole source range.
func extents(segs []*ferryv1.Segment, srcLen, dstLen int64) ([]extent, error) {
	if len(segs) == 0 {
		if dstLen >= 0 && srcLen > dstLen {
			return nil, fmt.Errorf("%w: %w: %d bytes do not fit in the destination range (%d bytes)", rangeSense(), disk.ErrOutOfRange, srcLen, dstLen)
		}
		return []extent{{0, 0, srcLen}}, nil
	}
	out := make([]extent, 0, len(segs))
	for i, sg := range segs {
		e := extent{int64(sg.GetSourceOffset()), int64(sg.GetDestinationOffset()), int64(sg.GetLength())}
		if e.src < 0 || e.length <= 0 || e.src+e.length > srcLen || e.src+e.length < e.src {
			return nil, fmt.Errorf("%w: %w: segment %d (%d+%d) is outside the source range of %d bytes", rangeSense(), disk.ErrOutOfRange, i, e.src, e.length, srcLen)
		}
		if dstLen >= 0 && (e.dst < 0 || e.dst+e.length > dstLen || e.dst+e.length < e.dst) {
			return nil, fmt.Errorf("%w: %w: segment %d (%d+%d) is outside the destination range of %d bytes", rangeSense(), disk.ErrOutOfRange, i, e.dst, e.length, dstLen)
		}
		out = append(out, e)
	}
	return out, nil
}

func rangeSense() *sense.Sense { return sense.New(sense.IllegalRequest, sense.LBAOutOfRange) }

// blockRange is DiskRange for a mover block device.
func blockRange(b mover.BlockDevice, ep *ferryv1.Endpoint) (off, length int64, err error) {
	lun, ok := b.(*disk.LUN)
	if !ok {
		return 0, 0, fmt.Errorf("executor: block device is not a disk LUN")
	}
	return DiskRange(lun, ep)
}

// destinationStart positions a destination tape: at the start of the named
// file (overwriting from there), or at end of data for a new file. A new
// file first ends the one before it with a filemark when nobody did (a copy
// cancelled, or whose node died, mid-file): else the two would read back as
// one file. Both segments are always there (zero filemarks when none is
// missing), so the plan rebuilt for a resume has the same shape. index is
// where in the plan the segments go.
func destinationStart(t mover.TapeDrive, ep *ferryv1.Endpoint, resume *mover.Checkpoint, index int) ([]mover.Segment, error) {
	if ep.TapeFile == nil {
		// The checkpoint right after the Space names the next segment.
		open, err := unterminated(t, resume, index+1)
		if err != nil {
			return nil, err
		}
		marks := 0
		if open {
			marks = 1
		}
		return []mover.Segment{{Kind: mover.Space, Dst: 1, Space: tape.SpaceEndOfData}, {Kind: mover.WriteFilemarks, Dst: 1, Filemarks: marks}}, nil
	}
	if ep.GetTapeFile() == 0 {
		return nil, fmt.Errorf("%w: tape file 0 is the label; data files count from 1", fsm.ErrInvalid)
	}
	at, err := fileStart(t, ep.GetTapeFile(), true)
	if err != nil {
		return nil, err
	}
	return []mover.Segment{{Kind: mover.Locate, Dst: 1, ObjectID: at}}, nil
}

// unterminated reports whether a data record, not a filemark or the
// beginning of the tape, precedes where a new file starts: end of data,
// or for a copy resumed from the checkpoint right after spacing there (at
// segment pinnedAt), the end of data it pinned: the copy's own writes have
// moved end of data since. From later checkpoints the answer no longer
// matters.
func unterminated(t mover.TapeDrive, resume *mover.Checkpoint, pinnedAt int) (bool, error) {
	c, ok := t.(*tape.Cartridge)
	if !ok {
		return false, fmt.Errorf("executor: tape is not a virtual cartridge")
	}
	var at uint64
	pinned := false
	if resume != nil && resume.Segment == pinnedAt {
		var p mover.TapePos
		p, pinned = resume.Positions[1]
		at = p.ObjectID
	}
	if !pinned {
		if err := c.Space(tape.SpaceEndOfData, 0); err != nil {
			return false, err
		}
		pos, err := c.ReadPosition()
		if err != nil {
			return false, err
		}
		at = pos.ObjectID
	}
	if at == 0 {
		return false, nil
	}
	if err := c.Locate(at - 1); err != nil {
		return false, err
	}
	switch err := c.Space(tape.SpaceRecords, 1); {
	case err == nil:
		return true, nil
	case errors.Is(err, tape.ErrFilemark):
		return false, nil
	default:
		return false, err
	}
}

// fileStart finds the logical object id where tape file n begins; atEnd
// as for PositionAtFile (a destination may start at end of data).
func fileStart(t mover.TapeDrive, n uint32, atEnd bool) (uint64, error) {
	c, ok := t.(*tape.Cartridge)
	if !ok {
		return 0, fmt.Errorf("executor: tape is not a virtual cartridge")
	}
	if err := PositionAtFile(c, n, atEnd); err != nil {
		return 0, err
	}
	pos, err := c.ReadPosition()
	if err != nil {
		return 0, err
	}
	return pos.ObjectID, nil
}

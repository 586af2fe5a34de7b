package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ferry-san/ferry/mover"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/drivemodel"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// writeGuard stands between a copy and every device it writes. A write
// goes ahead only while this node's lease is valid (else it waits for a
// renewal, or for the job to be stopped) and only if no newer epoch has
// claimed the device: the device's fence is checked, and the write done,
// under the fence's lock. So an owner that was paused or cut off and
// wakes up after its job moved writes nothing.
type writeGuard struct {
	ctx context.Context
	// cluster is the id written into the fences claimed.
	cluster string
	epoch   uint64
	// ranges are the devices (by path) whose fence the copy claims for a
	// range, not the whole device: a stream's share of a disk its sibling
	// streams write beside it (fsm.DiskFenceRange).
	ranges  map[string]fence.Range
	lease   *ownerLease
	metrics *metrics

	mu      sync.Mutex
	fences  []*fence.Fence
	onFirst func(time.Time)
}

// claim fences the device at path for the guard's epoch, before the device
// is opened (opening a cartridge for writing may already cut a damaged
// tail). A device that cannot carry a fence (a real tape drive) is guarded
// by the lease alone.
func (g *writeGuard) claim(path string) (*fence.Fence, error) {
	var f *fence.Fence
	var err error
	if r, ok := g.ranges[path]; ok {
		f, err = fence.OpenRange(path, g.cluster, r)
	} else {
		f, err = fence.Open(path, g.cluster)
	}
	if errors.Is(err, fence.ErrUnsupported) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := f.Claim(g.ctx, g.epoch); err != nil {
		g.countRefusal(err)
		return nil, errors.Join(fmt.Errorf("claim %s for epoch %d: %w", path, g.epoch, err), f.Close())
	}
	g.mu.Lock()
	g.fences = append(g.fences, f)
	g.mu.Unlock()
	return f, nil
}

// close closes every fence claimed.
func (g *writeGuard) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for _, f := range g.fences {
		errs = append(errs, f.Close())
	}
	g.fences = nil
	return errors.Join(errs...)
}

// release closes one fence claimed, of a device the job is done with.
func (g *writeGuard) release(f *fence.Fence) error {
	if f == nil {
		return nil
	}
	g.mu.Lock()
	g.fences = slices.DeleteFunc(g.fences, func(x *fence.Fence) bool { return x == f })
	g.mu.Unlock()
	return f.Close()
}

// do runs one device write under the lease and the device's fence.
func (g *writeGuard) do(f *fence.Fence, write func() error) error {
	if err := g.waitLease(); err != nil {
		return err
	}
	g.first()
	return g.fenced(f, write)
}

// pass runs an operation that may write, though it is not a write of the
// copy's data, under the lease and the fence.
func (g *writeGuard) pass(f *fence.Fence, op func() error) error {
	if err := g.waitLease(); err != nil {
		return err
	}
	return g.fenced(f, op)
}

// waitLease returns once the lease is valid, or why the copy stopped
// waiting.
func (g *writeGuard) waitLease() error {
	err := g.lease.wait(g.ctx, func() { g.metrics.fenced.WithLabelValues("lease").Inc() })
	if err != nil {
		return fmt.Errorf("write held back, the lease lapsed: %w", err)
	}
	return nil
}

// fenced runs write under the device's fence, if it has one.
func (g *writeGuard) fenced(f *fence.Fence, write func() error) error {
	if f == nil {
		return write()
	}
	err := f.Write(g.epoch, write)
	g.countRefusal(err)
	return err
}

// countRefusal counts a fence's refusal by its reason.
func (g *writeGuard) countRefusal(err error) {
	switch {
	case errors.Is(err, fence.ErrFenced):
		g.metrics.fenced.WithLabelValues("epoch").Inc()
	case errors.Is(err, fence.ErrOtherCluster):
		g.metrics.fenced.WithLabelValues("cluster").Inc()
	}
}

// closeTape closes a cartridge opened for writing. Closing writes what the
// cartridge still buffers (the end of the last record), so it passes the
// guard like a write. If the guard refuses (a newer epoch claimed the
// cartridge, or the copy was stopped while the lease had lapsed), the
// cartridge is left unclosed: that tail must never land in an image that
// another owner may have rewritten since. The runtime closes the file once
// nothing refers to it.
func (g *writeGuard) closeTape(t *tape.Cartridge, f *fence.Fence) error {
	closed := false
	err := g.pass(f, func() error { closed = true; return t.Close() })
	if err != nil && !closed {
		return fmt.Errorf("cartridge %s left unclosed, its unwritten tail dropped: %w", t.Path(), err)
	}
	return err
}

// first reports the copy's first write, once.
func (g *writeGuard) first() {
	g.mu.Lock()
	fn := g.onFirst
	g.onFirst = nil
	g.mu.Unlock()
	if fn != nil {
		fn(time.Now())
	}
}

// guardedBlock is a block device whose writes pass the guard. It keeps the
// stream paths of *disk.LUN, which the mover looks for.
type guardedBlock struct {
	mover.BlockDevice
	g *writeGuard
	f *fence.Fence
}

type blockStreams interface {
	ReadStream(p []byte, off int64) (int, error)
	WriteStream(p []byte, off int64) (int, error)
}

func (b *guardedBlock) WriteAt(p []byte, off int64) (n int, err error) {
	if err := b.inRange(p, off); err != nil {
		return 0, err
	}
	err = b.g.do(b.f, func() error { n, err = b.BlockDevice.WriteAt(p, off); return err })
	return n, err
}

func (b *guardedBlock) WriteStream(p []byte, off int64) (n int, err error) {
	s, ok := b.BlockDevice.(blockStreams)
	if !ok {
		return b.WriteAt(p, off)
	}
	if err := b.inRange(p, off); err != nil {
		return 0, err
	}
	err = b.g.do(b.f, func() error { n, err = s.WriteStream(p, off); return err })
	return n, err
}

// inRange refuses a write outside the range the disk's fence claims, if
// it claims one: those bytes may be another stream's, fenced by its epoch
// and not this one's. The state machine's ranges bound every write of the
// copy, so this stops a bug, never a copy that is right.
func (b *guardedBlock) inRange(p []byte, off int64) error {
	if b.f == nil || len(p) == 0 {
		return nil
	}
	r, ok := b.f.Range()
	if !ok {
		return nil
	}
	if off < 0 || !r.Contains(fence.Range{Offset: uint64(off), Length: uint64(len(p))}) {
		return fmt.Errorf("%w: a write of %d bytes at %d is outside %s, the range this stream claimed", sense.New(sense.CopyAborted, sense.CopyTargetNotReachable), len(p), off, r)
	}
	return nil
}

func (b *guardedBlock) ReadStream(p []byte, off int64) (int, error) {
	if s, ok := b.BlockDevice.(blockStreams); ok {
		return s.ReadStream(p, off)
	}
	return b.ReadAt(p, off)
}

// guardedTape is a tape whose writes (records and filemarks, each of which
// also cuts off whatever followed on the tape) pass the guard.
type guardedTape struct {
	mover.TapeDrive
	g *writeGuard
	f *fence.Fence
	// labelled: the tape is a cartridge of the registry, whose file 0 is
	// its VOL1 label (tape label and tape import make sure of it).
	labelled bool
}

func (t *guardedTape) WriteRecord(p []byte) (ew bool, err error) {
	if err := t.pastLabel(); err != nil {
		return false, err
	}
	err = t.g.do(t.f, func() error { ew, err = t.TapeDrive.WriteRecord(p); return err })
	return ew, err
}

func (t *guardedTape) WriteFilemarks(n int) (ew bool, err error) {
	if err := t.pastLabel(); err != nil {
		return false, err
	}
	err = t.g.do(t.f, func() error { ew, err = t.TapeDrive.WriteFilemarks(n); return err })
	return ew, err
}

// pastLabel refuses a write inside a cartridge's label (file 0: the VOL1
// record and the filemark after it). A copy's writes begin at end of data
// or at a data file, but an EXTENDED COPY starts at the beginning of the
// tape, so a list that writes before spacing would replace the label: the
// image would name another volume (a tape image copy copies its source's
// label) or none, and every file on it would be gone. The label is
// rewritten only by tape erase.
func (t *guardedTape) pastLabel() error {
	if !t.labelled {
		return nil
	}
	p, err := t.TapeDrive.ReadPosition()
	if err != nil {
		return err
	}
	if p.File == 0 {
		return fmt.Errorf("%w: a write at logical object %d would overwrite the cartridge's label (file 0): space past it first, or erase the cartridge with ferry tape erase",
			tape.ErrWriteProtected, p.ObjectID)
	}
	return nil
}

// Flush passes the guard too: a cartridge buffers the end of what it was
// given (a record's trailer, a filemark), and its Flush writes that to the
// image.
func (t *guardedTape) Flush() error {
	return t.g.do(t.f, t.TapeDrive.Flush)
}

// Locate and Space pass the guard as well: a cartridge writes what it
// buffered before it leaves the position.
func (t *guardedTape) Locate(objectID uint64) error {
	return t.g.pass(t.f, func() error { return t.TapeDrive.Locate(objectID) })
}

func (t *guardedTape) Space(u tape.SpaceUnit, count int64) error {
	return t.g.pass(t.f, func() error { return t.TapeDrive.Space(u, count) })
}

// unguarded returns the device a guard wraps, for reading it back: a
// cartridge also without its drive's pacing (planning, the catalog and
// verify look at the medium, not at a drive's timing).
func unguarded(d mover.Device) mover.Device {
	switch {
	case d.Tape != nil:
		if t, ok := d.Tape.(*guardedTape); ok {
			d.Tape = t.TapeDrive
		}
		if t, ok := d.Tape.(*drivemodel.Tape); ok {
			d.Tape = t.Medium
		}
	case d.Block != nil:
		if b, ok := d.Block.(*guardedBlock); ok {
			d.Block = b.BlockDevice
		}
	}
	return d
}

// guard wraps a device opened for writing.
func (g *writeGuard) guard(d mover.Device, f *fence.Fence) mover.Device {
	switch {
	case d.Tape != nil:
		_, labelled := unguarded(d).Tape.(*tape.Cartridge)
		d.Tape = &guardedTape{TapeDrive: d.Tape, g: g, f: f, labelled: labelled}
	case d.Block != nil:
		d.Block = &guardedBlock{BlockDevice: d.Block, g: g, f: f}
	}
	return d
}

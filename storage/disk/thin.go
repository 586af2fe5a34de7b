package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrUnmapUnsupported reports an Unmap on a LUN that was not opened thin,
// or whose backing store cannot deallocate a range and read it back as
// zeroes (Provisioning says why).
var ErrUnmapUnsupported = errors.New("unmapping is not supported")

// Provisioning is what a LUN's backing store does with unmapped ranges,
// found when the LUN is opened with Options.Thin.
type Provisioning struct {
	// Thin: Unmap deallocates a range (a hole in the file, a discard on a
	// device) and the range then reads as zeroes.
	Thin bool
	// ReportsHoles: the store tells deallocated ranges from allocated ones
	// (SEEK_HOLE finds the holes of a file); without it every block is
	// reported mapped.
	ReportsHoles bool
	// Granularity is the unit the store allocates in, in bytes (the file
	// system's block); a range smaller than it, or its ragged ends, are
	// zeroed but stay allocated.
	Granularity uint32
	// Reason says why a LUN opened thin is not: what the probe found.
	Reason string
}

// Provisioning is what the LUN's backing store does with unmapped ranges;
// the zero value (not thin) unless the LUN was opened with Options.Thin.
func (l *LUN) Provisioning() Provisioning { return l.prov }

// Thin reports whether Unmap deallocates: the LUN was opened with
// Options.Thin and its store passed the probe.
func (l *LUN) Thin() bool { return l.prov.Thin }

// UnmapGranularity is the unit, in bytes, that Unmap deallocates in.
func (l *LUN) UnmapGranularity() uint32 { return l.prov.Granularity }

// Unmap deallocates n bytes at byte offset off, which then read as zeroes.
// Ragged ends and ranges smaller than the store's granularity are zeroed
// in place. It fails with ErrUnmapUnsupported on a LUN that is not thin,
// ErrReadOnly on a read-only one and a *RangeError for a range off the LUN.
func (l *LUN) Unmap(off, n int64) error {
	if l.readOnly {
		return fmt.Errorf("disk %s: unmap LBA %d: %w", l.path, off/int64(l.blockSize), ErrReadOnly)
	}
	if err := l.check(off, int(n)); err != nil {
		return err
	}
	if !l.prov.Thin {
		return fmt.Errorf("disk %s: unmap LBA %d: %w", l.path, off/int64(l.blockSize), ErrUnmapUnsupported)
	}
	if n == 0 {
		return nil
	}
	if err := punch(l.f, off, n); err != nil {
		return fmt.Errorf("disk %s: unmap LBA %d count %d: %w", l.path, off/int64(l.blockSize), n/int64(l.blockSize), err)
	}
	return nil
}

// ExtentAt returns how many blocks from lba are, like it, all mapped or all
// unmapped, as the store reports them: the longest such run. A block only partly
// allocated counts as mapped. On a LUN whose store does not report holes
// every block is mapped.
func (l *LUN) ExtentAt(lba uint64) (count uint64, mapped bool, err error) {
	blocks := l.Blocks()
	if lba >= blocks {
		at := int64(min(lba, math.MaxInt64/uint64(l.blockSize)))
		return 0, false, &RangeError{Path: l.path, Offset: at * int64(l.blockSize), Length: int(l.blockSize), LBA: at, Count: 1, Blocks: blocks}
	}
	if !l.prov.ReportsHoles {
		return blocks - lba, true, nil
	}
	bs := int64(l.blockSize)
	var end int64
	mapped, end, err = seekExtent(l.f, int64(lba)*bs, l.size)
	if err == nil && !mapped && end/bs == int64(lba) {
		// A hole that ends inside block lba: the block is partly
		// allocated, so mapped, as is the data that follows the hole.
		mapped, end, err = seekExtent(l.f, end, l.size)
		if err == nil && !mapped {
			// Two holes side by side cannot happen; call the block mapped.
			mapped, end = true, int64(lba+1)*bs
		}
	}
	if err != nil {
		return 0, false, fmt.Errorf("disk %s: extent at LBA %d: %w", l.path, lba, err)
	}
	last := uint64(end / bs) // one past the extent's last block
	if mapped {
		last = uint64((end + bs - 1) / bs)
	}
	return last - lba, mapped, nil
}

// Allocated is how many bytes the LUN's file occupies on its file system
// (st_blocks × 512); 0 for a block device, which cannot tell.
func (l *LUN) Allocated() (int64, error) {
	if l.device {
		return 0, nil
	}
	n, err := allocatedBytes(l.f)
	if err != nil {
		return 0, fmt.Errorf("disk %s: %w", l.path, err)
	}
	return n, nil
}

// AllocatedBytes is how many bytes the file at path occupies on its file
// system (st_blocks × 512); 0 for a block device.
func AllocatedBytes(path string) (int64, error) {
	n, err := statAllocated(path)
	if err != nil {
		return 0, fmt.Errorf("disk %s: %w", path, err)
	}
	return n, nil
}

// keepSparse unmaps p's range instead of writing it when the LUN is thin
// and p holds only zeroes: it reads back the same, and a copy into a thin
// LUN does not allocate the holes of its source. done reports that it did;
// if punching fails for any reason but the range, the caller writes the
// zeroes after all.
func (l *LUN) keepSparse(p []byte, off int64) (done bool, err error) {
	if !l.prov.Thin || l.readOnly || len(p) == 0 || !allZero(p) {
		return false, nil
	}
	if err := l.Unmap(off, int64(len(p))); err != nil {
		if errors.Is(err, ErrOutOfRange) {
			return false, err
		}
		return false, nil
	}
	return true, nil
}

// allZero reports whether p holds only zero bytes.
func allZero(p []byte) bool {
	for ; len(p) >= 8; p = p[8:] {
		if binary.LittleEndian.Uint64(p) != 0 {
			return false
		}
	}
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

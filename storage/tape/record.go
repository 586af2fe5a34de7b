package tape

import (
	"errors"
	"fmt"
	"io"
)

// maxFilemarkCount is the largest count one WRITE FILEMARKS can carry in
// SSC (a 24-bit field); it also bounds the memory one call can take.
const maxFilemarkCount = 1<<24 - 1

// ReadRecord reads the record at the position into p and moves past it.
//
// At a filemark it returns ErrFilemark, positioned after the mark; at end of
// data ErrEndOfData, not moving. In variable mode a record longer than p is
// cut to len(p); in fixed mode a record that is not BlockSize long is
// returned as far as it fits. Both return an IncorrectLengthError
// (ErrIncorrectLength) positioned after the record. A record flagged bad in
// the image is returned with ErrMediumError.
func (c *Cartridge) ReadRecord(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return 0, err
	}
	if err := c.flushWrites(); err != nil {
		return 0, err
	}
	if c.pos >= c.idx.len() {
		return 0, ErrEndOfData
	}
	w := c.idx.word[c.pos]
	if w == wordTapeMark {
		c.pos++
		return 0, ErrFilemark
	}
	n := int(w & lengthMask)
	m := min(n, len(p))
	off := c.idx.off[c.pos] + wordSize
	if got, err := c.f.ReadAt(p[:m], off); got < m {
		if err == nil || errors.Is(err, io.EOF) {
			return 0, &CorruptError{Path: c.path, Offset: off - wordSize, Reason: "the image ends inside an indexed record (was it truncated while open?)"}
		}
		return 0, fmt.Errorf("tape: read %s at offset %d: %w", c.path, off, err)
	}
	c.pos++
	if w&flagBadRecord != 0 {
		return m, fmt.Errorf("tape: object %d: %w", c.pos-1, ErrMediumError)
	}
	if c.blockSize != 0 && n != int(c.blockSize) {
		return m, &IncorrectLengthError{Requested: int(c.blockSize), RecordLength: n}
	}
	if n > len(p) {
		return m, &IncorrectLengthError{Requested: len(p), RecordLength: n}
	}
	return n, nil
}

// WriteRecord writes p as one record at the position, discarding every
// object from the position on, and moves past it.
//
// earlyWarning is true when the record ends inside the early-warning zone.
// A record that would end past the capacity fails with ErrEndOfMedium and
// nothing changes. The record is buffered: Flush makes it durable.
func (c *Cartridge) WriteRecord(p []byte) (earlyWarning bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return false, err
	}
	n := len(p)
	switch {
	case n == 0 || n > MaxRecordSize:
		return false, fmt.Errorf("%w: %d bytes (a record holds 1 to %d)", ErrInvalidLength, n, MaxRecordSize)
	case c.blockSize != 0 && n != int(c.blockSize):
		return false, fmt.Errorf("%w: %d bytes in fixed mode with %d-byte blocks", ErrInvalidLength, n, c.blockSize)
	}
	off := c.idx.offset(c.pos)
	size := objectSize(uint32(n))
	if err := c.fits(off, size); err != nil {
		return false, err
	}
	if err := c.cutAt(off); err != nil {
		return false, err
	}
	hdr := encodeRecordHeader(n)
	var zero [1]byte
	pad := zero[:n&1]
	if n < directWriteMin {
		if err := c.buffer(off, hdr[:], p, pad, hdr[:]); err != nil {
			return false, err
		}
	} else {
		if err := c.buffer(off, hdr[:]); err != nil {
			return false, err
		}
		if err := c.flushWrites(); err != nil {
			return false, err
		}
		if _, err := c.f.WriteAt(p, off+wordSize); err != nil {
			// The header is in the image without its record: the next
			// write must cut it off.
			c.trunc = true
			return false, fmt.Errorf("tape: write %s at offset %d: %w", c.path, off, err)
		}
		c.startWriteback(off + wordSize + int64(n))
		if err := c.buffer(off+wordSize+int64(n), pad, hdr[:]); err != nil {
			return false, err
		}
	}
	c.idx.add(off, uint32(n))
	c.idx.end = off + size
	c.pos++
	c.dirty = true
	return c.idx.end > c.ewPoint, nil
}

// WriteFilemarks writes n filemarks at the position, discarding every
// object from the position on, and moves past them. n = 0 writes nothing
// and flushes like Flush, as WRITE FILEMARKS(0) does on a real drive.
func (c *Cartridge) WriteFilemarks(n int) (earlyWarning bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return false, err
	}
	if n < 0 || n > maxFilemarkCount {
		return false, fmt.Errorf("%w: filemark count %d (0 to %d)", ErrInvalidArgument, n, maxFilemarkCount)
	}
	if n == 0 {
		return c.idx.offset(c.pos) > c.ewPoint, c.sync()
	}
	if err := c.writable(); err != nil {
		return false, err
	}
	off := c.idx.offset(c.pos)
	if err := c.fits(off, int64(n)*wordSize); err != nil {
		return false, err
	}
	if err := c.cutAt(off); err != nil {
		return false, err
	}
	var mark [wordSize]byte
	for i := range n {
		at := off + int64(i)*wordSize
		if err := c.buffer(at, mark[:]); err != nil {
			return false, err
		}
		c.idx.add(at, wordTapeMark)
	}
	c.idx.end = off + int64(n)*wordSize
	c.pos += uint64(n)
	c.dirty = true
	return c.idx.end > c.ewPoint, nil
}

// Erase makes the position end of data, discarding every object from it
// on, as SSC's ERASE with LONG=0 does: a writer ends a tape where it wants
// without writing anything (an NDMP session cuts the unterminated tail an
// interrupted session left).
func (c *Cartridge) Erase() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	if c.pos >= c.idx.len() && !c.trunc {
		return nil
	}
	if err := c.cutAt(c.idx.offset(c.pos)); err != nil {
		return err
	}
	c.dirty = true
	return nil
}

func (c *Cartridge) writable() error {
	if err := c.ready(); err != nil {
		return err
	}
	if c.opt.ReadOnly {
		return fmt.Errorf("tape: %s: %w", c.path, ErrWriteProtected)
	}
	return nil
}

// fits refuses an object of size bytes at off that would pass the end of
// the medium.
func (c *Cartridge) fits(off, size int64) error {
	if c.opt.Capacity > 0 && off+size > c.opt.Capacity {
		return fmt.Errorf("tape: %s: %w: %d bytes at offset %d pass the capacity of %d bytes",
			c.path, ErrEndOfMedium, size, off, c.opt.Capacity)
	}
	return nil
}

// cutAt makes off, the position's offset, the end of the image before a
// write there: a write anywhere on a tape ends its recorded data.
func (c *Cartridge) cutAt(off int64) error {
	if c.pos >= c.idx.len() && !c.trunc {
		return nil
	}
	if err := c.flushWrites(); err != nil {
		return err
	}
	if err := c.f.Truncate(off); err != nil {
		return fmt.Errorf("tape: truncate %s at offset %d: %w", c.path, off, err)
	}
	c.idx.truncate(c.pos)
	c.trunc = false
	c.writeback = min(c.writeback, off)
	return nil
}

package mover

import (
	"errors"
	"fmt"

	"github.com/ferry-san/ferry/storage/tape"
)

// source produces a segment's data a chunk at a time. fill sets c.data,
// c.recs and the counters, and c.last when the segment's source is done.
type source interface {
	fill(c *chunk) error
}

// stageError is a device error raised inside the pipeline, before Run turns
// it into a *SegmentError.
type stageError struct {
	op     string // read, write, flush, locate, …
	device int
	write  bool // the failure was on the writing side (for sense)
	err    error
}

func (e *stageError) Error() string { return fmt.Sprintf("%s device %d: %v", e.op, e.device, e.err) }
func (e *stageError) Unwrap() error { return e.err }

// blockSource reads a byte range of a block device.
type blockSource struct {
	dev       BlockDevice
	idx       int
	off       int64 // next byte to read
	remaining int64
	chunkSize int // a multiple of the destination record size, if any
}

func (s *blockSource) fill(c *chunk) error {
	n := int(min(int64(s.chunkSize), s.remaining))
	c.data = c.buf[:n]
	c.recs = nil
	if n > 0 {
		read := s.dev.ReadAt
		if sr, ok := s.dev.(streamReader); ok {
			read = sr.ReadStream
		}
		if _, err := read(c.data, s.off); err != nil {
			return &stageError{op: "read", device: s.idx, err: err}
		}
	}
	s.off += int64(n)
	s.remaining -= int64(n)
	c.last = s.remaining == 0
	return nil
}

// streamReader is a block device with a read path for long sequential
// copies, as *disk.LUN has: aligned buffers are read with O_DIRECT, sparing
// a copy out of the page cache.
type streamReader interface {
	ReadStream(p []byte, off int64) (int, error)
}

// inlineSource delivers a segment's inline data in one chunk.
type inlineSource struct {
	data []byte
}

func (s *inlineSource) fill(c *chunk) error {
	c.data, c.recs, c.last = s.data, nil, true
	return nil
}

// ErrUnderrun reports a stream source that ended (filemark or end of data)
// before the segment's record or byte count was reached.
var ErrUnderrun = errors.New("source ended before the requested amount")

// tapeSource reads records from a tape, stopping at the segment's limits.
type tapeSource struct {
	t   TapeDrive
	idx int
	// Limits: recLimit > 0 records, -1 to a filemark, 0 none; byteLimit > 0
	// bytes; fileLimit > 0 filemarks (image copy).
	recLimit, byteLimit, fileLimit int64
	image                          bool // filemarks are data, end of data ends
	// Progress in the segment.
	records, files, bytes int64
	// maxRec is the longest record seen: a chunk with less room left is
	// passed on rather than risk reading a record that does not fit.
	maxRec int
	done   bool
}

func (s *tapeSource) fill(c *chunk) error {
	c.recs = c.recs[:0]
	used := 0
read:
	for !s.done {
		if (s.recLimit > 0 && s.records >= s.recLimit) ||
			(s.byteLimit > 0 && s.bytes >= s.byteLimit) ||
			(s.fileLimit > 0 && s.files >= s.fileLimit) {
			s.done = true
			break read
		}
		room := len(c.buf) - used
		if used > 0 && room < max(s.maxRec, 1) {
			break read
		}
		n, err := s.t.ReadRecord(c.buf[used:])
		switch {
		case err == nil:
		case errors.Is(err, tape.ErrFilemark):
			s.files++
			switch {
			case s.image:
				c.recs = append(c.recs, -1)
			case s.recLimit == -1:
				s.done = true
			default:
				return &stageError{op: "read", device: s.idx, err: fmt.Errorf("%w: filemark after %d records, %d bytes: %w", ErrUnderrun, s.records, s.bytes, err)}
			}
			continue
		case errors.Is(err, tape.ErrEndOfData):
			if s.image || s.recLimit == -1 {
				s.done = true
				continue
			}
			return &stageError{op: "read", device: s.idx, err: fmt.Errorf("%w: end of data after %d records, %d bytes: %w", ErrUnderrun, s.records, s.bytes, err)}
		case errors.Is(err, tape.ErrIncorrectLength) && s.t.BlockSize() == 0:
			// The record did not fit in the room left: step back over it
			// and read it again into a fresh (or larger) buffer.
			if serr := s.t.Space(tape.SpaceRecords, -1); serr != nil {
				return &stageError{op: "space", device: s.idx, err: serr}
			}
			var ile *tape.IncorrectLengthError
			if errors.As(err, &ile) {
				s.maxRec = max(s.maxRec, ile.RecordLength)
			}
			if used > 0 {
				break read
			}
			if ile == nil || ile.RecordLength > tape.MaxRecordSize || ile.RecordLength <= len(c.buf) {
				return &stageError{op: "read", device: s.idx, err: err}
			}
			c.buf = alignedBuffer(alignUp(ile.RecordLength, bufferAlign))
			continue
		default:
			return &stageError{op: "read", device: s.idx, err: err}
		}
		s.records++
		s.maxRec = max(s.maxRec, n)
		if s.byteLimit > 0 && s.bytes+int64(n) > s.byteLimit {
			n = int(s.byteLimit - s.bytes) // the rest of the record is residue, discarded
		}
		s.bytes += int64(n)
		used += n
		c.recs = append(c.recs, n)
	}
	c.data = c.buf[:used]
	c.last = s.done
	c.records, c.files = s.records, s.files
	p, err := s.t.ReadPosition()
	if err != nil {
		return &stageError{op: "read position", device: s.idx, err: err}
	}
	c.srcPos, c.hasSrcPos = TapePos{ObjectID: p.ObjectID, File: p.File}, true
	return nil
}

package mover

import (
	"sync"

	"github.com/ferry-san/ferry/storage/tape"
)

// sink takes a segment's chunks in order.
type sink interface {
	write(c *chunk) error
	// flush makes everything written so far durable. It may be called
	// from another goroutine while write runs.
	flush() error
	// clean reports that nothing is held back between chunks, so the point
	// after the last write is a valid checkpoint.
	clean() bool
	// position is where a tape destination stands; ok is false otherwise.
	position() (p TapePos, ok bool, err error)
}

// blockSink writes a run of bytes from an offset of a block device.
type blockSink struct {
	dev BlockDevice
	idx int
	off int64
	// pad: a stream source's data may end inside a block; the rest of
	// that block is then written with zeros, counted in padded.
	pad    bool
	padded int64
}

func (s *blockSink) write(c *chunk) error {
	if len(c.data) > 0 {
		write := s.dev.WriteAt
		if sw, ok := s.dev.(streamWriter); ok {
			write = sw.WriteStream
		}
		if _, err := write(c.data, s.off); err != nil {
			return &stageError{op: "write", device: s.idx, write: true, err: err}
		}
		s.off += int64(len(c.data))
	}
	if bs := int64(s.dev.BlockSize()); c.last && s.pad && bs > 0 && s.off%bs != 0 {
		// The device holds whole blocks, so the rest of this one is
		// inside it.
		zeros := make([]byte, bs-s.off%bs)
		if _, err := s.dev.WriteAt(zeros, s.off); err != nil {
			return &stageError{op: "write", device: s.idx, write: true, err: err}
		}
		s.padded = int64(len(zeros))
	}
	return nil
}

// streamWriter is a block device with a write path for long sequential
// copies, as *disk.LUN has: aligned buffers bypass the page cache
// (O_DIRECT), others have their write-back started at once. Either way
// the CPU copies less, dirty pages do not pile up, and a checkpoint's
// flush has little left to wait for.
type streamWriter interface {
	WriteStream(p []byte, off int64) (int, error)
}

func (s *blockSink) flush() error {
	if err := s.dev.Flush(); err != nil {
		return &stageError{op: "flush", device: s.idx, write: true, err: err}
	}
	return nil
}

func (s *blockSink) clean() bool                      { return true }
func (s *blockSink) position() (TapePos, bool, error) { return TapePos{}, false, nil }
func (discardSink) write(*chunk) error                { return nil }
func (discardSink) flush() error                      { return nil }
func (discardSink) clean() bool                       { return true }
func (discardSink) position() (TapePos, bool, error)  { return TapePos{}, false, nil }

// discardSink drops everything (stream→discard).
type discardSink struct{}

// tapeSink writes records to a tape. mu serialises writes with a flush
// from the committing goroutine, since a tape drive is not in general safe
// for concurrent use (a *tape.Cartridge is, see flush).
type tapeSink struct {
	mu  sync.Mutex
	t   TapeDrive
	idx int
	// recordSize > 0 cuts a plain run of bytes into records of that size,
	// carrying a partial record to the next chunk unless it is the last.
	// 0 writes c.recs one to one.
	recordSize int
	carry      []byte
	warned     bool
	onWarning  func()
	// stopAtWarning fails the write that reached early warning with
	// errVolumeFull, after that record: the copy spans (Config.Span).
	stopAtWarning bool
	// wrote: a record or filemark reached the tape.
	wrote bool
}

func (s *tapeSink) hasWritten() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrote
}

func (s *tapeSink) write(c *chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recordSize == 0 {
		off := 0
		for _, n := range c.recs {
			if n < 0 {
				if err := s.filemark(); err != nil {
					return err
				}
				continue
			}
			if err := s.record(c.data[off : off+n]); err != nil {
				return err
			}
			off += n
		}
		return nil
	}
	data := c.data
	if len(s.carry) > 0 {
		k := min(s.recordSize-len(s.carry), len(data))
		s.carry = append(s.carry, data[:k]...)
		data = data[k:]
		if len(s.carry) < s.recordSize && !c.last {
			return nil
		}
		if err := s.record(s.carry); err != nil {
			return err
		}
		s.carry = s.carry[:0]
	}
	for len(data) >= s.recordSize {
		if err := s.record(data[:s.recordSize]); err != nil {
			return err
		}
		data = data[s.recordSize:]
	}
	if len(data) > 0 {
		if c.last {
			return s.record(data) // the short last record
		}
		s.carry = append(s.carry, data...)
	}
	return nil
}

func (s *tapeSink) record(p []byte) error {
	ew, err := s.t.WriteRecord(p)
	if err != nil {
		return &stageError{op: "write", device: s.idx, write: true, err: err}
	}
	s.wrote = true
	s.earlyWarning(ew)
	if ew && s.stopAtWarning {
		return errVolumeFull
	}
	return nil
}

func (s *tapeSink) filemark() error {
	ew, err := s.t.WriteFilemarks(1)
	if err != nil {
		return &stageError{op: "write filemark", device: s.idx, write: true, err: err}
	}
	s.wrote = true
	s.earlyWarning(ew)
	return nil
}

// earlyWarning reports the early-warning zone once per segment: writes there
// still succeed, and the end of the medium fails them for real.
func (s *tapeSink) earlyWarning(ew bool) {
	if ew && !s.warned {
		s.warned = true
		if s.onWarning != nil {
			s.onWarning()
		}
	}
}

func (s *tapeSink) flush() error {
	// A cartridge's Flush runs its fsync beside writes from another
	// goroutine, so the writer goes on during a checkpoint's flush; other
	// drives are used by one goroutine at a time.
	if _, ok := s.t.(*tape.Cartridge); !ok {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if err := s.t.Flush(); err != nil {
		return &stageError{op: "flush", device: s.idx, write: true, err: err}
	}
	return nil
}

func (s *tapeSink) clean() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.carry) == 0
}

func (s *tapeSink) position() (TapePos, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.t.ReadPosition()
	if err != nil {
		return TapePos{}, false, &stageError{op: "read position", device: s.idx, err: err}
	}
	return TapePos{ObjectID: p.ObjectID, File: p.File}, true, nil
}

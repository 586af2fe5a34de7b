package mover

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/ferry-san/ferry/storage/tape"
)

// DefaultRecordSize is the record length written to a variable-mode tape
// when a segment does not name one.
const DefaultRecordSize = 256 << 10

// SegmentKind is what a segment does. The SPC-4 EXTENDED COPY segment
// descriptor each corresponds to is noted; FromXCopy does that mapping.
type SegmentKind int

const (
	// BlockToBlock copies Length bytes from SrcOffset on a block device to
	// DstOffset on a block device (descriptors 0x02 and 0x0A).
	BlockToBlock SegmentKind = iota
	// BlockToStream copies Length bytes from SrcOffset on a block device to
	// a tape as records of RecordSize bytes, the last one short in variable
	// mode (0x00). In fixed mode Length must be a multiple of the block size.
	BlockToStream
	// StreamToBlock reads tape records into a block device from DstOffset,
	// stopping as described by Records and Length (0x01).
	StreamToBlock
	// StreamToStream copies tape records to another tape: one record per
	// record when RecordSize is 0, re-blocked into RecordSize records
	// otherwise. Filemarks end it (with Records -1) and are not copied (0x03).
	StreamToStream
	// InlineToStream writes Inline to a tape as RecordSize records (0x04).
	InlineToStream
	// StreamToDiscard reads tape records and throws them away (0x06).
	StreamToDiscard
	// Verify checks that Src answers, moving no data (0x07).
	Verify
	// WriteFilemarks writes Filemarks filemarks on Dst (0x0F).
	WriteFilemarks
	// Space moves Dst by Count units of Space (0x10).
	Space
	// Locate moves Dst to logical object ObjectID (0x11).
	Locate
	// TapeImage copies records and filemarks one to one from Src to Dst
	// until end of data, or until Filemarks filemarks are copied when it is
	// positive (0x12).
	TapeImage
)

var kindNames = [...]string{"block→block", "block→stream", "stream→block", "stream→stream",
	"inline→stream", "stream→discard", "verify", "write filemarks", "space", "locate", "tape image"}

func (k SegmentKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("SegmentKind(%d)", int(k))
}

// Segment is one step of a Plan. Which fields matter depends on Kind; the
// others must be zero.
//
// A stream (tape) source stops at the first of these limits: Records > 0
// records read, Length > 0 bytes delivered (the rest of the record that
// crosses it is discarded), or, with Records == -1, a filemark (consumed)
// or end of data. With Records >= 0 a filemark or end of data before the
// limit is an underrun error.
type Segment struct {
	Kind SegmentKind
	// Src and Dst index the devices passed to Run. Single-device kinds
	// (Verify uses Src; WriteFilemarks, Space and Locate use Dst) ignore
	// the other.
	Src, Dst int
	// SrcOffset and DstOffset are byte offsets on block devices.
	SrcOffset, DstOffset int64
	// Length is the byte count: exact for block sources, a limit for
	// stream sources (0 = none).
	Length int64
	// RecordSize is the record length written to a tape. Zero means
	// DefaultRecordSize in variable mode and the block size in fixed mode,
	// and for StreamToStream onto a variable-mode tape: keep the source's
	// record lengths.
	RecordSize int
	// Records limits a stream source: >0 exactly that many records, -1 up
	// to the next filemark or end of data, 0 no record limit.
	Records int64
	// Filemarks is the count for WriteFilemarks, and for TapeImage the
	// number of filemarks after which to stop (0 = copy to end of data).
	Filemarks int
	// Space and Count are the unit and signed count of a Space segment.
	Space tape.SpaceUnit
	Count int64
	// ObjectID is the logical object identifier for Locate.
	ObjectID uint64
	// Inline is the data of an InlineToStream segment.
	Inline []byte
}

// Plan is an ordered list of segments, executed one after the other.
type Plan struct {
	Segments []Segment
}

// ErrInvalidPlan reports a plan that cannot run against the given devices.
var ErrInvalidPlan = errors.New("invalid copy plan")

// roles says which devices a kind reads and writes and what they must be.
func (k SegmentKind) roles() (src, dst deviceClass) {
	switch k {
	case BlockToBlock:
		return classBlock, classBlock
	case BlockToStream:
		return classBlock, classTape
	case StreamToBlock:
		return classTape, classBlock
	case StreamToStream, TapeImage:
		return classTape, classTape
	case InlineToStream, WriteFilemarks, Space, Locate:
		return classNone, classTape
	case StreamToDiscard:
		return classTape, classNone
	case Verify:
		return classAny, classNone
	}
	return classNone, classNone
}

type deviceClass int

const (
	classNone deviceClass = iota
	classBlock
	classTape
	classAny
)

func (c deviceClass) accepts(d Device) bool {
	switch c {
	case classBlock:
		return d.Block != nil
	case classTape:
		return d.Tape != nil
	}
	return true
}

// validate checks a whole plan before any IO, so that a bad segment late in
// a plan cannot leave the earlier ones half done.
func (p Plan) validate(devs []Device) error {
	for i, s := range p.Segments {
		if err := s.validate(devs); err != nil {
			err = fmt.Errorf("%w: %w", ErrInvalidPlan, err)
			return &SegmentError{Segment: i, Kind: s.Kind, Device: -1, Op: "validate", Err: err, Sense: senseFor(err, false)}
		}
	}
	return nil
}

func (s Segment) validate(devs []Device) error {
	if s.Kind < 0 || int(s.Kind) >= len(kindNames) {
		return fmt.Errorf("unknown segment kind %d", int(s.Kind))
	}
	srcClass, dstClass := s.Kind.roles()
	check := func(role string, idx int, c deviceClass) error {
		if c == classNone {
			return nil
		}
		if idx < 0 || idx >= len(devs) {
			return fmt.Errorf("%s device index %d out of range (%d devices)", role, idx, len(devs))
		}
		if !c.accepts(devs[idx]) {
			want := map[deviceClass]string{classBlock: "a block device", classTape: "a tape"}[c]
			return fmt.Errorf("%s device %d (%s) is not %s", role, idx, devs[idx], want)
		}
		return nil
	}
	if err := check("source", s.Src, srcClass); err != nil {
		return err
	}
	if err := check("destination", s.Dst, dstClass); err != nil {
		return err
	}
	if srcClass == classTape && dstClass == classTape && s.Src == s.Dst {
		return fmt.Errorf("source and destination are the same tape %d", s.Src)
	}
	if s.SrcOffset < 0 || s.DstOffset < 0 || s.Length < 0 || s.RecordSize < 0 || s.Filemarks < 0 || s.Records < -1 {
		return errors.New("negative offset, length, record size, filemark or record count")
	}
	if srcClass == classBlock {
		if s.Length == 0 {
			return errors.New("block source needs a length")
		}
		if err := inRange(devs[s.Src].Block, s.SrcOffset, s.Length); err != nil {
			return fmt.Errorf("source %s: %w", devs[s.Src], err)
		}
	}
	if dstClass == classBlock && s.Length > 0 {
		if err := inRange(devs[s.Dst].Block, s.DstOffset, s.Length); err != nil {
			return fmt.Errorf("destination %s: %w", devs[s.Dst], err)
		}
	}
	if s.Kind == BlockToBlock && s.Src == s.Dst &&
		s.SrcOffset < s.DstOffset+s.Length && s.DstOffset < s.SrcOffset+s.Length {
		return fmt.Errorf("source and destination ranges overlap on device %d", s.Src)
	}
	if srcClass == classTape && s.Kind != TapeImage && s.Records == 0 && s.Length == 0 {
		return errors.New("stream source needs a record count, a length, or Records -1 (to the next filemark)")
	}
	if dstClass == classTape {
		if _, err := s.recordSize(devs[s.Dst].Tape); err != nil {
			return err
		}
	}
	switch s.Kind {
	case InlineToStream:
		if len(s.Inline) == 0 {
			return errors.New("inline segment without data")
		}
	case Space:
		if s.Space < tape.SpaceRecords || s.Space > tape.SpaceEndOfData {
			return fmt.Errorf("unknown space unit %d", int(s.Space))
		}
	}
	return nil
}

// recordSize is the record length a segment writes to tape t, checked
// against the tape's mode: fixed mode writes records of exactly the block
// size, so a byte count that would need a short last record is refused.
func (s Segment) recordSize(t TapeDrive) (int, error) {
	bs := int(t.BlockSize())
	rs := s.RecordSize
	switch {
	case s.Kind == TapeImage || s.Kind == WriteFilemarks || s.Kind == Space || s.Kind == Locate:
		return 0, nil
	case s.Kind == StreamToStream && rs == 0 && bs == 0:
		return 0, nil // one record per source record; a fixed-mode tape takes blocks
	case rs == 0 && bs > 0:
		rs = bs
	case rs == 0:
		rs = DefaultRecordSize
	}
	if rs > tape.MaxRecordSize {
		return 0, fmt.Errorf("record size %d above the tape maximum %d", rs, tape.MaxRecordSize)
	}
	if bs > 0 {
		if rs != bs {
			return 0, fmt.Errorf("record size %d on a fixed-mode tape with %d-byte blocks", rs, bs)
		}
		n := s.Length
		if s.Kind == InlineToStream {
			n = int64(len(s.Inline))
		}
		if n%int64(bs) != 0 {
			return 0, fmt.Errorf("%d bytes is not a multiple of the fixed tape block size %d", n, bs)
		}
	}
	return rs, nil
}

func inRange(d BlockDevice, off, n int64) error {
	size := deviceSize(d)
	if off > size || n > size-off {
		bs := uint64(max(d.BlockSize(), 1))
		count := (uint64(off)%bs + uint64(n) + bs - 1) / bs
		return &RangeError{LBA: off / int64(bs), Count: int64(min(count, math.MaxInt64)), Blocks: d.Blocks()}
	}
	return nil
}

// deviceSize is a block device's size in bytes, saturated at
// math.MaxInt64: offsets beyond cannot be addressed anyway.
func deviceSize(d BlockDevice) int64 {
	hi, lo := bits.Mul64(d.Blocks(), uint64(d.BlockSize()))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// RangeError is a block range past the end of a device, found while
// validating a plan. It matches ErrOutOfRange.
type RangeError struct {
	LBA, Count int64
	Blocks     uint64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("LBA %d count %d beyond the device's %d blocks", e.LBA, e.Count, e.Blocks)
}

// ErrOutOfRange is matched by a *RangeError.
var ErrOutOfRange = errors.New("logical block address out of range")

// Unwrap lets errors.Is(err, ErrOutOfRange) match.
func (e *RangeError) Unwrap() error { return ErrOutOfRange }

package xcopy

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Extent is a byte range of a block device that a segment reads or writes.
type Extent struct {
	Offset, Length int64
}

// End is the offset just past the range. Extents from Extents never
// overflow it.
func (e Extent) End() int64 { return e.Offset + e.Length }

// Overlaps reports whether the two ranges share a byte.
func (e Extent) Overlaps(o Extent) bool {
	return e.Length > 0 && o.Length > 0 && e.Offset < o.End() && o.Offset < e.End()
}

// Extents returns the byte ranges segment i of a decoded list reads (src)
// and writes (dst) on block devices, computed with the block lengths of its
// CSCDs; nil for a side that is not a block device. Every LBA × block length
// (+ byte offset) + length is checked: a range that does not end below 2^63
// (no device is that large, and offsets are int64 from here on) is a fault
// of the list: ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE with the
// LBA as INFORMATION and a field pointer to the LBA field. A range that
// moves data past srcSize or dstSize, the sizes in bytes of the devices
// (math.MaxInt64 when unknown), is what the copy target would refuse when
// the segment ran, so it is reported as the copy manager reports a segment
// whose copy target failed (rpc/copymanager), found before anything is
// copied: COPY ABORTED, NO ADDITIONAL SENSE INFORMATION (the target's own
// LOGICAL BLOCK ADDRESS OUT OF RANGE is not the copy manager's to report),
// the segment's index in COMMAND-SPECIFIC INFORMATION and a segment pointer
// to the LBA field; libiscsi's ExtendedCopy.ValidSegDescr expects exactly
// COPY ABORTED. The error's text names the LBA. A CSCD index Decode would
// have refused gives nil ranges.
func (p *ParameterList) Extents(i int, srcSize, dstSize int64) (src, dst *Extent, err error) {
	if i < 0 || i >= len(p.Segments) {
		return nil, nil, nil
	}
	s := p.Segments[i]
	st, dt, ok := p.targetsOf(s)
	if !ok {
		return nil, nil, nil
	}
	src, dst, fe := segmentExtents(s, st, dt)
	if fe == nil {
		fe = src.past(srcSize, s, true)
	}
	if fe == nil {
		fe = dst.past(dstSize, s, false)
	}
	if fe != nil {
		if fe.capacity {
			return nil, nil, fe.segmentSense(i)
		}
		return nil, nil, fe.sense(p.SegmentOffset(i))
	}
	return src, dst, nil
}

// past is the address error of a range of segment s that moves data past
// size bytes; src tells which of the segment's LBAs it starts at.
func (e *Extent) past(size int64, s Segment, src bool) *addressError {
	if e == nil || e.Length == 0 || e.End() <= size {
		return nil
	}
	switch {
	case src:
		return &addressError{at: srcLBAField(s.Type), lba: s.SrcLBA, capacity: true}
	default:
		return &addressError{at: dstLBAField(s.Type), lba: s.DstLBA, capacity: true}
	}
}

// srcLBAField and dstLBAField are where a segment type's source and
// destination LBAs are in its descriptor.
func srcLBAField(t SegmentType) int {
	if t == BlockToStream {
		return 16
	}
	return 12
}

func dstLBAField(t SegmentType) int {
	if t == StreamToBlock {
		return 16
	}
	return 20
}

// SegmentOffset is where segment i starts in the encoded list.
func (p *ParameterList) SegmentOffset(i int) int {
	off := headerLen + targetDescLen*len(p.Targets)
	for _, s := range p.Segments[:min(max(i, 0), len(p.Segments))] {
		off += segmentLen(s.Type)
	}
	return off
}

// targetsOf resolves a segment's source and destination CSCDs (nil where
// its type has none); ok is false for an index past the CSCD list.
func (p *ParameterList) targetsOf(s Segment) (src, dst *TargetDescriptor, ok bool) {
	l, known := layoutOf(s.Type)
	if !known {
		return nil, nil, false
	}
	get := func(r role, index uint16) (*TargetDescriptor, bool) {
		if r == roleNone {
			return nil, true
		}
		if int(index) >= len(p.Targets) {
			return nil, false
		}
		return &p.Targets[index], true
	}
	src, okSrc := get(l.src, s.Src)
	dst, okDst := get(l.dst, s.Dst)
	return src, dst, okSrc && okDst
}

// addressError is an LBA whose byte range overflows, found at byte at of
// its segment descriptor.
type addressError struct {
	at  int
	lba uint64
	// capacity: the range fits in 2^63 but not in its device.
	capacity bool
}

// sense is the error for the segment starting at byte off of the list.
func (e *addressError) sense(off int) *sense.Sense {
	s := sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(e.lba)
	if off+e.at <= math.MaxUint16 {
		s.FieldPointer = &sense.FieldPointer{BitValid: true, Bit: 7, Byte: uint16(off + e.at)}
	}
	return s
}

// segmentSense is the error for segment i's range past its device: COPY
// ABORTED with a segment pointer (relative to the segment descriptor).
func (e *addressError) segmentSense(i int) error {
	s := sense.New(sense.CopyAborted, sense.NoAdditionalSense)
	s.CommandInfo = uint64(i)
	s.FieldPointer = &sense.FieldPointer{Segment: true, BitValid: true, Bit: 7, Byte: uint16(e.at)}
	return fmt.Errorf("segment %d: LBA %d is past the end of its copy target: %w", i, e.lba, s)
}

// segmentExtents is Extents for a segment and its resolved CSCDs.
func segmentExtents(s Segment, src, dst *TargetDescriptor) (se, de *Extent, err *addressError) {
	n := dataBytes(s, src, dst)
	switch s.Type {
	case BlockToStream:
		se, err = byteRange(s.SrcLBA, src.BlockLength, 0, n, srcLBAField(s.Type))
	case StreamToBlock:
		de, err = byteRange(s.DstLBA, dst.BlockLength, 0, n, dstLBAField(s.Type))
	case BlockToBlock, BlockToBlockOffsets:
		var srcOff, dstOff uint64
		if s.Type == BlockToBlockOffsets {
			srcOff, dstOff = uint64(s.SrcOffset), uint64(s.DstOffset)
		}
		if se, err = byteRange(s.SrcLBA, src.BlockLength, srcOff, n, srcLBAField(s.Type)); err == nil {
			de, err = byteRange(s.DstLBA, dst.BlockLength, dstOff, n, dstLBAField(s.Type))
		}
	}
	return se, de, err
}

// byteRange is n bytes from lba × blockLen + add, with the LBA field at
// byte at of the descriptor, checked for overflow.
func byteRange(lba uint64, blockLen uint32, add, n uint64, at int) (*Extent, *addressError) {
	hi, start := bits.Mul64(lba, uint64(blockLen))
	start, c1 := bits.Add64(start, add, 0)
	end, c2 := bits.Add64(start, n, 0)
	if hi != 0 || c1 != 0 || c2 != 0 || end > math.MaxInt64 {
		return nil, &addressError{at: at, lba: lba}
	}
	return &Extent{Offset: int64(start), Length: int64(n)}, nil
}

// checkTargets applies the checks that need the identity of a segment's
// CSCDs, which may name one device twice (two descriptors with one NAA are
// one device, with one position): LBAs whose byte ranges overflow (LOGICAL
// BLOCK ADDRESS OUT OF RANGE), a block→block copy whose source and
// destination ranges overlap on one device, and a stream→stream or tape
// image copy from a tape onto itself, which no drive can do (both INVALID
// FIELD IN PARAMETER LIST, pointing at the destination LBA or CSCD index).
// The mover copies segment by segment, so a later segment may read what an
// earlier one wrote; only a segment overlapping itself is refused.
func checkTargets(s Segment, off int, src, dst *TargetDescriptor) error {
	se, de, fe := segmentExtents(s, src, dst)
	if fe != nil {
		return fe.sense(off)
	}
	same := src != nil && dst != nil && bytes.Equal(src.NAA, dst.NAA)
	switch s.Type {
	case BlockToBlock, BlockToBlockOffsets:
		if same && se.Overlaps(*de) {
			return invalidAt(off+dstLBAField(s.Type), 7)
		}
	case StreamToStream, TapeImageCopy:
		if same {
			return invalidAt(off+6, 7)
		}
	}
	return nil
}

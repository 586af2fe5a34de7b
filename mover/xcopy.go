package mover

import (
	"math"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
	"github.com/ferry-san/ferry/storage/tape"
)

// FromXCopy turns a decoded EXTENDED COPY (LID1) parameter list into a Plan
// and the devices it runs on. resolve opens the device a CSCD descriptor's
// NAA designator names, writable when write is set (some segment writes to
// it). Descriptors with one NAA are one device: resolve is called once per
// designator, and the returned devices (one per designator some segment
// names, in the order segments first name them) share one handle, so one
// position and one write buffer, however many descriptors name them.
//
// Every address is checked before anything runs: an LBA whose byte range
// overflows or leaves its device is ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS
// OUT OF RANGE with the LBA as INFORMATION and a field pointer to it (see
// xcopy.ParameterList.Extents). Other errors are *sense.Sense as a copy
// manager returns them: COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE for
// a designator resolve cannot find (or fails on); COPY ABORTED, INCORRECT
// COPY TARGET DEVICE TYPE when the device is not the descriptor's type;
// ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST pointing at a block
// length the device does not have, or at a CAT bit (the mover holds no
// residual data between segments). Both COPY ABORTED senses carry the
// segment index in COMMAND-SPECIFIC INFORMATION and a segment pointer to
// the CSCD index field.
//
// Stream device transfer lengths set the record size written to a variable-
// mode tape; reads always take whole records. A segment that moves zero
// bytes becomes a Verify of its source, as SPC-4 makes it valid and inert.
func FromXCopy(pl *xcopy.ParameterList, resolve func(naa []byte, write bool) (Device, error)) (Plan, []Device, error) {
	m := xcopyMapper{pl: pl, resolve: resolve, writes: map[string]bool{}, byNAA: map[string]int{}, checked: map[uint16]bool{}}
	for _, xs := range pl.Segments {
		if xs.Type.Writes() && int(xs.Dst) < len(pl.Targets) {
			m.writes[string(pl.Targets[xs.Dst].NAA)] = true
		}
	}
	var plan Plan
	for i, xs := range pl.Segments {
		s, err := m.segment(i, xs)
		if err != nil {
			return Plan{}, nil, err
		}
		plan.Segments = append(plan.Segments, s)
	}
	return plan, m.devs, nil
}

type xcopyMapper struct {
	pl      *xcopy.ParameterList
	resolve func([]byte, bool) (Device, error)
	writes  map[string]bool // NAAs some segment writes to
	devs    []Device
	byNAA   map[string]int  // NAA → device index
	checked map[uint16]bool // CSCDs checked against their device
}

// Offsets inside a segment descriptor and a CSCD descriptor.
const (
	segSrcField      = 4
	segDstField      = 6
	segFlagsByte     = 1
	cscdListStart    = 16
	cscdSize         = 32
	cscdBlockLenByte = 29
)

// device resolves CSCD idx for segment seg, named at byte field of the
// segment descriptor, to the device its NAA names, opened once.
func (m *xcopyMapper) device(seg int, idx uint16, field int) (int, error) {
	if int(idx) >= len(m.pl.Targets) {
		return 0, segmentSense(sense.UnreachableCopyTarget, seg, field)
	}
	td := m.pl.Targets[idx]
	key := string(td.NAA)
	d, ok := m.byNAA[key]
	if !ok {
		dev, err := m.resolve(td.NAA, m.writes[key])
		if err != nil || (dev.Block == nil) == (dev.Tape == nil) {
			return 0, segmentSense(sense.CopyTargetNotReachable, seg, field)
		}
		d = len(m.devs)
		m.devs = append(m.devs, dev)
		m.byNAA[key] = d
	}
	if m.checked[idx] {
		return d, nil
	}
	dev := m.devs[d]
	blockLen := uint32(0)
	switch td.DeviceType {
	case xcopy.DeviceBlock:
		if dev.Block == nil {
			return 0, segmentSense(sense.IncorrectCopyTargetType, seg, field)
		}
		blockLen = dev.Block.BlockSize()
	case xcopy.DeviceStream:
		if dev.Tape == nil {
			return 0, segmentSense(sense.IncorrectCopyTargetType, seg, field)
		}
		if td.Fixed {
			blockLen = dev.Tape.BlockSize()
		}
	}
	if (td.DeviceType == xcopy.DeviceBlock || td.Fixed) && td.BlockLength != blockLen {
		return 0, sense.InvalidParameter(uint16(cscdListStart+cscdSize*int(idx)+cscdBlockLenByte), -1)
	}
	if td.DeviceType == xcopy.DeviceStream && !td.Fixed && dev.Tape.BlockSize() != 0 {
		// Variable-length records asked of a tape in fixed mode.
		return 0, sense.InvalidParameter(uint16(cscdListStart+cscdSize*int(idx)+28), 0)
	}
	m.checked[idx] = true
	return d, nil
}

// segmentSense is COPY ABORTED with the segment's index in COMMAND-SPECIFIC
// INFORMATION and a segment pointer to byte field of the segment descriptor.
func segmentSense(code sense.Code, seg, field int) *sense.Sense {
	s := sense.New(sense.CopyAborted, code)
	s.CommandInfo = uint64(seg)
	s.FieldPointer = &sense.FieldPointer{Segment: true, BitValid: true, Bit: 7, Byte: uint16(field)}
	return s
}

func (m *xcopyMapper) segment(i int, xs xcopy.Segment) (Segment, error) {
	if xs.CAT {
		return Segment{}, sense.InvalidParameter(uint16(m.pl.SegmentOffset(i)+segFlagsByte), 0)
	}
	var s Segment
	var err error
	src := func() int {
		var d int
		if err == nil {
			d, err = m.device(i, xs.Src, segSrcField)
		}
		return d
	}
	dst := func() int {
		var d int
		if err == nil {
			d, err = m.device(i, xs.Dst, segDstField)
		}
		return d
	}
	// extents are the segment's block ranges, checked against the
	// devices (their block lengths are the descriptors', checked above).
	extents := func(src, dst int, srcBlock, dstBlock bool) (se, de xcopy.Extent) {
		if err != nil {
			return
		}
		size := func(d int, block bool) int64 {
			if !block {
				return math.MaxInt64
			}
			return deviceSize(m.devs[d].Block)
		}
		var sp, dp *xcopy.Extent
		if sp, dp, err = m.pl.Extents(i, size(src, srcBlock), size(dst, dstBlock)); err == nil {
			if sp != nil {
				se = *sp
			}
			if dp != nil {
				de = *dp
			}
		}
		return
	}
	// recordSize is the variable-mode record length a stream transfer
	// length asks for; fixed mode writes one block per record.
	recordSize := func(d int, n uint32) int {
		if err != nil || m.devs[d].Tape.BlockSize() != 0 {
			return 0
		}
		return int(n)
	}
	switch xs.Type {
	case xcopy.BlockToStream:
		s = Segment{Kind: BlockToStream, Src: src(), Dst: dst()}
		se, _ := extents(s.Src, s.Dst, true, false)
		s.SrcOffset, s.Length = se.Offset, se.Length
		s.RecordSize = recordSize(s.Dst, xs.StreamLength)
	case xcopy.StreamToBlock:
		s = Segment{Kind: StreamToBlock, Src: src(), Dst: dst()}
		_, de := extents(s.Src, s.Dst, false, true)
		s.DstOffset, s.Length = de.Offset, de.Length
	case xcopy.BlockToBlock, xcopy.BlockToBlockOffsets:
		s = Segment{Kind: BlockToBlock, Src: src(), Dst: dst()}
		se, de := extents(s.Src, s.Dst, true, true)
		s.SrcOffset, s.DstOffset, s.Length = se.Offset, de.Offset, se.Length
	case xcopy.StreamToStream:
		s = Segment{Kind: StreamToStream, Src: src(), Dst: dst(), Length: int64(xs.ByteCount)}
		s.RecordSize = recordSize(s.Dst, xs.DstStreamLength)
	case xcopy.InlineToStream:
		s = Segment{Kind: InlineToStream, Dst: dst(), Length: int64(xs.ByteCount)}
		if end := uint64(xs.InlineOffset) + uint64(xs.ByteCount); end > uint64(len(m.pl.InlineData)) {
			return Segment{}, segmentSense(sense.InlineDataLengthExceeded, i, 16)
		}
		s.Inline = m.pl.InlineData[xs.InlineOffset : uint64(xs.InlineOffset)+uint64(xs.ByteCount)]
		s.RecordSize = recordSize(s.Dst, xs.StreamLength)
	case xcopy.StreamToDiscard:
		s = Segment{Kind: StreamToDiscard, Src: src(), Length: int64(xs.ByteCount)}
	case xcopy.VerifyCSCD:
		s = Segment{Kind: Verify, Src: src()}
	case xcopy.WriteFilemarks:
		s = Segment{Kind: WriteFilemarks, Dst: dst(), Filemarks: int(xs.Filemarks)}
	case xcopy.Space:
		s = Segment{Kind: Space, Dst: dst(), Count: int64(xs.SpaceCount)}
		switch xs.SpaceCode {
		case xcopy.SpaceBlocks:
			s.Space = tape.SpaceRecords
		case xcopy.SpaceFilemarks:
			s.Space = tape.SpaceFilemarks
		case xcopy.SpaceEndOfData:
			s.Space = tape.SpaceEndOfData
		default:
			return Segment{}, sense.InvalidParameter(uint16(m.pl.SegmentOffset(i)+8), 3)
		}
	case xcopy.Locate:
		s = Segment{Kind: Locate, Dst: dst(), ObjectID: uint64(xs.LocateBlock)}
	case xcopy.TapeImageCopy:
		s = Segment{Kind: TapeImage, Src: src(), Dst: dst(), Filemarks: int(xs.ImageCount)}
	default:
		return Segment{}, sense.New(sense.IllegalRequest, sense.UnsupportedSegmentDescriptor)
	}
	if err != nil {
		return Segment{}, err
	}
	if s.Length == 0 && (s.Kind == BlockToStream || s.Kind == StreamToBlock || s.Kind == BlockToBlock ||
		s.Kind == StreamToStream || s.Kind == InlineToStream || s.Kind == StreamToDiscard) {
		// Zero bytes to move: valid and inert in SPC-4.
		v := s.Src
		if s.Kind == InlineToStream {
			v = s.Dst
		}
		return Segment{Kind: Verify, Src: v}, nil
	}
	if s.Kind == InlineToStream {
		s.Length = 0
	}
	return s, nil
}

package xcopy

import (
	"encoding/binary"
	"math"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Decode parses and validates an EXTENDED COPY (LID1) parameter list
// against lim. Every error is a *sense.Sense a copy manager can return as
// is:
//   - ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR: the header is cut short,
//     the lengths it gives reach past b or past MaxDescriptorListLength, or
//     a descriptor straddles the end of its list;
//   - ILLEGAL REQUEST, TOO MANY TARGET/SEGMENT DESCRIPTORS;
//   - ILLEGAL REQUEST, UNSUPPORTED TARGET/SEGMENT DESCRIPTOR TYPE CODE;
//   - ILLEGAL REQUEST, INLINE DATA LENGTH EXCEEDED: more inline data than
//     MaxInlineData;
//   - ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST with a field pointer
//     to the byte (and bit) of the parameter list at fault: reserved bits
//     set, a designator that is not a binary logical-unit NAA, a zero block
//     length, a wrong descriptor length, a zero stream transfer length;
//   - COPY ABORTED for a segment that names a CSCD outside the list
//     (UNREACHABLE COPY TARGET) or of the wrong device type (INVALID
//     OPERATION FOR COPY SOURCE OR DESTINATION), reads past the inline data
//     (INLINE DATA LENGTH EXCEEDED) or breaks a granularity (COPY SEGMENT
//     GRANULARITY VIOLATION) or, without CAT, leaves part of a block
//     (UNEXPECTED INEXACT SEGMENT), with the segment's index in
//     COMMAND-SPECIFIC INFORMATION and a segment pointer;
//   - ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE for an LBA whose
//     byte range overflows (see Extents), and INVALID FIELD IN PARAMETER
//     LIST for a segment that copies a block range onto an overlapping
//     range of the same device or a tape onto itself (see checkTargets).
//
// An empty b is an empty list: SPC-4 makes a zero PARAMETER LIST LENGTH a
// successful no-op. The zero Limits accept no descriptors at all; start
// from DefaultLimits.
func Decode(b []byte, lim Limits) (*ParameterList, error) {
	p := &ParameterList{}
	if len(b) == 0 {
		return p, nil
	}
	if len(b) < headerLen {
		return nil, lengthError()
	}
	if r := b[1] & 0xC0; r != 0 {
		return nil, invalidAt(1, highBit(r))
	}
	if err := checkReserved(b, 4, 8, 0); err != nil {
		return nil, err
	}
	p.ListID = b[0]
	p.STR = b[1]&0x20 != 0
	p.ListIDUsage = ListIDUsage(b[1] >> 3 & 0x03)
	if p.ListIDUsage == 1 { // 01b is reserved
		return nil, invalidAt(1, 4)
	}
	p.Priority = b[1] & 0x07
	tdll := int(binary.BigEndian.Uint16(b[2:4]))
	sdll := uint64(binary.BigEndian.Uint32(b[8:12]))
	inline := uint64(binary.BigEndian.Uint32(b[12:16]))
	if uint64(tdll)+sdll > uint64(lim.MaxDescriptorListLength) {
		return nil, lengthError()
	}
	if inline > uint64(lim.MaxInlineData) {
		s := sense.New(sense.IllegalRequest, sense.InlineDataLengthExceeded)
		s.FieldPointer = &sense.FieldPointer{BitValid: true, Bit: 7, Byte: 12}
		return nil, s
	}
	if headerLen+uint64(tdll)+sdll+inline > uint64(len(b)) || tdll%targetDescLen != 0 {
		return nil, lengthError()
	}
	if n := tdll / targetDescLen; n > int(lim.MaxTargetDescriptors) {
		return nil, sense.New(sense.IllegalRequest, sense.TooManyTargetDescriptors)
	}
	segStart := headerLen + tdll
	segList := b[segStart : segStart+int(sdll)]
	segOffs, err := segmentOffsets(segList, lim)
	if err != nil {
		return nil, err
	}
	for off := headerLen; off < segStart; off += targetDescLen {
		t, err := decodeTarget(b[off:off+targetDescLen], off)
		if err != nil {
			return nil, err
		}
		p.Targets = append(p.Targets, t)
	}
	if inline > 0 {
		start := segStart + int(sdll)
		p.InlineData = append([]byte(nil), b[start:start+int(inline)]...)
	}
	for i, rel := range segOffs {
		s, err := decodeSegment(segList[rel:], segStart+rel, i, p, lim)
		if err != nil {
			return nil, err
		}
		p.Segments = append(p.Segments, s)
	}
	return p, nil
}

// segmentOffsets walks the segment descriptor list by DESCRIPTOR LENGTH and
// returns where each descriptor starts, before any descriptor is examined,
// so that a list with too many segments is refused as such.
func segmentOffsets(list []byte, lim Limits) ([]int, error) {
	var offs []int
	for off := 0; off < len(list); {
		if len(list)-off < segHeaderLen {
			return nil, lengthError()
		}
		n := segHeaderLen + int(binary.BigEndian.Uint16(list[off+2:off+4]))
		if n > len(list)-off {
			return nil, lengthError()
		}
		if len(offs) == int(lim.MaxSegmentDescriptors) {
			return nil, sense.New(sense.IllegalRequest, sense.TooManySegmentDescriptors)
		}
		offs = append(offs, off)
		off += n
	}
	return offs, nil
}

// decodeTarget parses the CSCD descriptor d found at byte off of the list.
func decodeTarget(d []byte, off int) (TargetDescriptor, error) {
	if d[0] != identCSCD {
		s := sense.New(sense.IllegalRequest, sense.UnsupportedTargetDescriptor)
		if off <= math.MaxUint16 {
			s.FieldPointer = &sense.FieldPointer{BitValid: true, Bit: 7, Byte: uint16(off)}
		}
		return TargetDescriptor{}, s
	}
	t := TargetDescriptor{
		LUIDType:              d[1] >> 6,
		NUL:                   d[1]&0x20 != 0,
		DeviceType:            DeviceType(d[1] & 0x1F),
		RelativeInitiatorPort: binary.BigEndian.Uint16(d[2:4]),
	}
	switch {
	case t.DeviceType != DeviceBlock && t.DeviceType != DeviceStream:
		return t, invalidAt(off+1, 4)
	case d[4]&0x0F != codeSetBinary:
		return t, invalidAt(off+4, 3)
	case d[5]&0x40 != 0:
		return t, invalidAt(off+5, 6)
	case d[5]&0x30 != 0: // ASSOCIATION must be the logical unit
		return t, invalidAt(off+5, 5)
	case d[5]&0x0F != designatorNAA:
		return t, invalidAt(off+5, 3)
	case d[6] != 0:
		return t, invalidAt(off+6, highBit(d[6]))
	}
	n := int(d[7])
	if n != 8 && n != 16 {
		return t, invalidAt(off+7, 7)
	}
	naa := d[8] >> 4
	if (n == 8 && naa != 2 && naa != 3 && naa != 5) || (n == 16 && naa != 6) {
		return t, invalidAt(off+8, 7)
	}
	t.NAA = append([]byte(nil), d[8:8+n]...)
	t.PAD = d[28]&0x04 != 0
	reserved := d[28] &^ 0x04
	if t.DeviceType == DeviceStream {
		t.Fixed = d[28]&0x01 != 0
		reserved &^= 0x01
	}
	if reserved != 0 {
		return t, invalidAt(off+28, highBit(reserved))
	}
	t.BlockLength = get24(d[29:32])
	if t.BlockLength == 0 && (t.DeviceType == DeviceBlock || t.Fixed) {
		return t, invalidAt(off+29, 7)
	}
	return t, nil
}

// decodeSegment parses and validates the segment descriptor at the start of
// d, found at byte off of the list; idx is its position in the segment list.
func decodeSegment(d []byte, off, idx int, p *ParameterList, lim Limits) (Segment, error) {
	s := Segment{Type: SegmentType(d[0])}
	l, ok := layoutOf(s.Type)
	if !ok || !lim.accepts(s.Type) {
		e := sense.New(sense.IllegalRequest, sense.UnsupportedSegmentDescriptor)
		if off <= math.MaxUint16 {
			e.FieldPointer = &sense.FieldPointer{BitValid: true, Bit: 7, Byte: uint16(off)}
		}
		return s, e
	}
	if binary.BigEndian.Uint16(d[2:4]) != l.descLen {
		return s, invalidAt(off+2, 7)
	}
	d = d[:segHeaderLen+int(l.descLen)]
	if r := d[1] &^ l.flags; r != 0 {
		return s, invalidAt(off+1, highBit(r))
	}
	s.CAT = d[1]&flagCAT != 0
	s.DC = d[1]&flagDC != 0
	if l.src == roleNone {
		if err := checkReserved(d, 4, 6, off); err != nil {
			return s, err
		}
	} else {
		s.Src = binary.BigEndian.Uint16(d[4:6])
	}
	if l.dst == roleNone {
		if err := checkReserved(d, 6, 8, off); err != nil {
			return s, err
		}
	} else {
		s.Dst = binary.BigEndian.Uint16(d[6:8])
	}
	for _, r := range reservedRanges(s.Type) {
		if err := checkReserved(d, r[0], r[1], off); err != nil {
			return s, err
		}
	}
	if err := decodeSegmentFields(&s, d, off); err != nil {
		return s, err
	}
	src, dst, err := segmentTargets(s, l, idx, p)
	if err != nil {
		return s, err
	}
	if err := checkSegment(s, off, idx, src, dst, p, lim); err != nil {
		return s, err
	}
	return s, checkTargets(s, off, src, dst)
}

// decodeSegmentFields reads the type-specific fields of d into s.
func decodeSegmentFields(s *Segment, d []byte, off int) error {
	switch s.Type {
	case BlockToStream, StreamToBlock:
		s.StreamLength = get24(d[9:12])
		s.Blocks = uint32(binary.BigEndian.Uint16(d[14:16]))
		if s.Type == BlockToStream {
			s.SrcLBA = binary.BigEndian.Uint64(d[16:24])
		} else {
			s.DstLBA = binary.BigEndian.Uint64(d[16:24])
		}
	case BlockToBlock:
		s.Blocks = uint32(binary.BigEndian.Uint16(d[10:12]))
		s.SrcLBA = binary.BigEndian.Uint64(d[12:20])
		s.DstLBA = binary.BigEndian.Uint64(d[20:28])
	case StreamToStream:
		s.StreamLength = get24(d[9:12])
		s.DstStreamLength = get24(d[13:16])
		s.ByteCount = binary.BigEndian.Uint32(d[16:20])
	case InlineToStream:
		s.StreamLength = get24(d[9:12])
		s.InlineOffset = binary.BigEndian.Uint32(d[12:16])
		s.ByteCount = binary.BigEndian.Uint32(d[16:20])
	case StreamToDiscard:
		s.StreamLength = get24(d[9:12])
		s.ByteCount = binary.BigEndian.Uint32(d[12:16])
	case VerifyCSCD:
		if r := d[8] &^ 0x01; r != 0 {
			return invalidAt(off+8, highBit(r))
		}
		s.TUR = d[8]&0x01 != 0
	case BlockToBlockOffsets:
		s.ByteCount = binary.BigEndian.Uint32(d[8:12])
		s.SrcLBA = binary.BigEndian.Uint64(d[12:20])
		s.DstLBA = binary.BigEndian.Uint64(d[20:28])
		s.SrcOffset = binary.BigEndian.Uint16(d[28:30])
		s.DstOffset = binary.BigEndian.Uint16(d[30:32])
	case WriteFilemarks:
		// Bit 1 is WSMK: setmarks are obsolete and not supported.
		if d[8] != 0 {
			return invalidAt(off+8, highBit(d[8]))
		}
		s.Filemarks = get24(d[9:12])
	case Space:
		if r := d[8] &^ 0x0F; r != 0 {
			return invalidAt(off+8, highBit(r))
		}
		s.SpaceCode = SpaceCode(d[8])
		if s.SpaceCode != SpaceBlocks && s.SpaceCode != SpaceFilemarks && s.SpaceCode != SpaceEndOfData {
			return invalidAt(off+8, 3)
		}
		s.SpaceCount = int32(get24(d[9:12])<<8) >> 8
	case Locate:
		s.LocateBlock = binary.BigEndian.Uint32(d[8:12])
	case TapeImageCopy:
		s.ImageCount = binary.BigEndian.Uint32(d[8:12])
	}
	return nil
}

// segmentTargets resolves the segment's CSCD indexes and checks each CSCD
// has the device type the segment type requires.
func segmentTargets(s Segment, l layout, idx int, p *ParameterList) (src, dst *TargetDescriptor, err error) {
	resolve := func(r role, index uint16, field int) (*TargetDescriptor, error) {
		if r == roleNone {
			return nil, nil
		}
		if int(index) >= len(p.Targets) {
			return nil, copyAborted(sense.UnreachableCopyTarget, idx, field, 7)
		}
		t := &p.Targets[index]
		if (r == roleBlock && t.DeviceType != DeviceBlock) || (r == roleStream && t.DeviceType != DeviceStream) {
			return nil, copyAborted(sense.InvalidOperationForCopyTarget, idx, field, 7)
		}
		return t, nil
	}
	if src, err = resolve(l.src, s.Src, 4); err != nil {
		return nil, nil, err
	}
	if dst, err = resolve(l.dst, s.Dst, 6); err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// checkSegment applies the checks that need the segment's CSCDs and the
// limits: transfer lengths, byte offsets, segment length, inline data and
// granularity.
func checkSegment(s Segment, off, idx int, src, dst *TargetDescriptor, p *ParameterList, lim Limits) error {
	// streamLen checks a stream transfer length at descriptor byte at: zero
	// would never make progress, and one transfer must fit
	// MaxStreamTransferSize.
	streamLen := func(n uint32, t *TargetDescriptor, moves bool, at int) error {
		if n == 0 && moves {
			return invalidAt(off+at, 7)
		}
		size := uint64(n)
		if t.Fixed {
			size *= uint64(t.BlockLength)
		}
		if size > uint64(lim.MaxStreamTransferSize) {
			return invalidAt(off+at, 7)
		}
		return nil
	}
	total := dataBytes(s, src, dst)
	countAt := 0 // descriptor byte of the count field
	switch s.Type {
	case BlockToStream:
		countAt = 14
		if err := streamLen(s.StreamLength, dst, s.Blocks > 0, 9); err != nil {
			return err
		}
	case StreamToBlock:
		countAt = 14
		if err := streamLen(s.StreamLength, src, s.Blocks > 0, 9); err != nil {
			return err
		}
	case BlockToBlock:
		countAt = 10
		// Without CAT a residue of less than a destination (or, with DC,
		// source) block cannot be carried to the next segment.
		other := dst.BlockLength
		if s.DC {
			other = src.BlockLength
		}
		if !s.CAT && total%uint64(other) != 0 {
			return copyAborted(sense.UnexpectedInexactSegment, idx, countAt, 7)
		}
	case StreamToStream:
		countAt = 16
		if err := streamLen(s.StreamLength, src, s.ByteCount > 0, 9); err != nil {
			return err
		}
		if err := streamLen(s.DstStreamLength, dst, s.ByteCount > 0, 13); err != nil {
			return err
		}
	case InlineToStream:
		countAt = 16
		if err := streamLen(s.StreamLength, dst, s.ByteCount > 0, 9); err != nil {
			return err
		}
		if uint64(s.InlineOffset)+uint64(s.ByteCount) > uint64(len(p.InlineData)) {
			at := 16
			if uint64(s.InlineOffset) > uint64(len(p.InlineData)) {
				at = 12
			}
			return copyAborted(sense.InlineDataLengthExceeded, idx, at, 7)
		}
		if g := lim.InlineDataGranularity; g > 0 && (s.InlineOffset|s.ByteCount)&(1<<g-1) != 0 {
			return copyAborted(sense.CopySegmentGranularity, idx, 12, 7)
		}
	case StreamToDiscard:
		countAt = 12
		if err := streamLen(s.StreamLength, src, s.ByteCount > 0, 9); err != nil {
			return err
		}
	case BlockToBlockOffsets:
		countAt = 8
		if uint32(s.SrcOffset) >= src.BlockLength {
			return invalidAt(off+28, 7)
		}
		if uint32(s.DstOffset) >= dst.BlockLength {
			return invalidAt(off+30, 7)
		}
	}
	if countAt == 0 {
		return nil
	}
	if total > uint64(lim.MaxSegmentLength) {
		return invalidAt(off+countAt, 7)
	}
	if g := lim.DataSegmentGranularity; g > 0 && s.Type != InlineToStream && total&(1<<g-1) != 0 {
		return copyAborted(sense.CopySegmentGranularity, idx, countAt, 7)
	}
	return nil
}

// lengthError is ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR.
func lengthError() *sense.Sense {
	return sense.New(sense.IllegalRequest, sense.ParameterListLengthError)
}

// invalidAt is INVALID FIELD IN PARAMETER LIST at byte off; the field
// pointer is left out when off does not fit its 16 bits (SPC-4 4.5.2.4.2
// allows this for lists longer than 65 528 bytes).
func invalidAt(off, bit int) *sense.Sense {
	if off > math.MaxUint16 {
		return sense.New(sense.IllegalRequest, sense.InvalidFieldInParameterList)
	}
	return sense.InvalidParameter(uint16(off), bit)
}

// copyAborted is COPY ABORTED for segment idx, with the segment's index in
// COMMAND-SPECIFIC INFORMATION bytes 2-3 and a segment pointer to byte at
// (bit bit) of the segment descriptor.
func copyAborted(code sense.Code, idx, at, bit int) *sense.Sense {
	s := sense.New(sense.CopyAborted, code)
	s.CommandInfo = uint64(idx)
	s.FieldPointer = &sense.FieldPointer{Segment: true, BitValid: true, Bit: uint8(bit), Byte: uint16(at)}
	return s
}

// checkReserved refuses a non-zero byte in b[from:to], pointing at the
// highest bit set; base is b's offset in the parameter list.
func checkReserved(b []byte, from, to, base int) error {
	for i := from; i < to; i++ {
		if b[i] != 0 {
			return invalidAt(base+i, highBit(b[i]))
		}
	}
	return nil
}

// highBit returns the index of the highest bit set in v, which is non-zero.
func highBit(v byte) int {
	for i := 7; i > 0; i-- {
		if v&(1<<i) != 0 {
			return i
		}
	}
	return 0
}

package xcopy

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
)

// validationBase is the list the validation cases corrupt. Its layout:
//
//	  0-15  header
//	 16-47  CSCD 0: 512-byte disk
//	 48-79  CSCD 1: variable-block tape
//	 80-107 segment 0: 02h block→block, CSCD 0 → 0, 4 blocks
//	108-131 segment 1: 00h block→stream, CSCD 0 → 1, 4 blocks, 512 bytes a write
//	132-151 segment 2: 04h inline→stream, 8 bytes to CSCD 1
//	152-159 inline data
func validationBase() *ParameterList {
	t := targets()
	return &ParameterList{
		ListID:  7,
		Targets: []TargetDescriptor{t[0], t[2]},
		Segments: []Segment{
			{Type: BlockToBlock, Src: 0, Dst: 0, Blocks: 4, SrcLBA: 0, DstLBA: 8},
			{Type: BlockToStream, Src: 0, Dst: 1, StreamLength: 512, Blocks: 4},
			{Type: InlineToStream, Dst: 1, StreamLength: 8, ByteCount: 8},
		},
		InlineData: []byte("HDR1DATA"),
	}
}

// tapeOpsBase has one CSCD of each kind and one segment, at byte 80.
func tapeOpsBase(s Segment) *ParameterList {
	t := targets()
	return &ParameterList{Targets: []TargetDescriptor{t[0], t[2]}, Segments: []Segment{s}}
}

func fp(byteOff uint16, bit uint8) *sense.FieldPointer {
	return &sense.FieldPointer{BitValid: true, Bit: bit, Byte: byteOff}
}

func segPtr(byteOff uint16, bit uint8) *sense.FieldPointer {
	return &sense.FieldPointer{Segment: true, BitValid: true, Bit: bit, Byte: byteOff}
}

// TestDecodeRejects lists every validation error: the sense key, ASC/ASCQ,
// field pointer and command-specific information a copy manager returns.
func TestDecodeRejects(t *testing.T) {
	type want struct {
		key     sense.Key
		code    sense.Code
		ptr     *sense.FieldPointer
		cmdInfo uint64
	}
	plle := want{sense.IllegalRequest, sense.ParameterListLengthError, nil, 0}
	invalid := func(b uint16, bit uint8) want {
		return want{sense.IllegalRequest, sense.InvalidFieldInParameterList, fp(b, bit), 0}
	}
	lbaRange := func(b uint16) want {
		return want{sense.IllegalRequest, sense.LBAOutOfRange, fp(b, 7), 0}
	}
	aborted := func(code sense.Code, seg uint64, b uint16, bit uint8) want {
		return want{sense.CopyAborted, code, segPtr(b, bit), seg}
	}
	for _, tc := range []struct {
		name   string
		list   *ParameterList        // default validationBase()
		mutate func(b []byte) []byte // applied to the encoded list
		limits func(*Limits)
		want   want
	}{
		// Lengths.
		{name: "header cut short", mutate: func(b []byte) []byte { return b[:15] }, want: plle},
		{name: "inline data cut short", mutate: func(b []byte) []byte { return b[:159] }, want: plle},
		{name: "segment list cut short", mutate: func(b []byte) []byte { return b[:140] }, want: plle},
		{name: "CSCD list not a multiple of 32", mutate: func(b []byte) []byte { b[3] = 63; return b }, want: plle},
		{name: "segment descriptor straddles the list end", mutate: func(b []byte) []byte { b[135] = 0x11; return b }, want: plle},
		{name: "descriptor lists over the limit", limits: func(l *Limits) { l.MaxDescriptorListLength = 100 }, want: plle},

		// Counts and types.
		{name: "too many CSCD descriptors", limits: func(l *Limits) { l.MaxTargetDescriptors = 1 },
			want: want{sense.IllegalRequest, sense.TooManyTargetDescriptors, nil, 0}},
		{name: "too many segment descriptors", limits: func(l *Limits) { l.MaxSegmentDescriptors = 2 },
			want: want{sense.IllegalRequest, sense.TooManySegmentDescriptors, nil, 0}},
		{name: "inline data over the limit", limits: func(l *Limits) { l.MaxInlineData = 4 },
			want: want{sense.IllegalRequest, sense.InlineDataLengthExceeded, fp(12, 7), 0}},
		{name: "unsupported CSCD descriptor type", mutate: func(b []byte) []byte { b[48] = 0xE0; return b },
			want: want{sense.IllegalRequest, sense.UnsupportedTargetDescriptor, fp(48, 7), 0}},
		{name: "unsupported segment descriptor type", mutate: func(b []byte) []byte { b[108] = 0x05; return b },
			want: want{sense.IllegalRequest, sense.UnsupportedSegmentDescriptor, fp(108, 7), 0}},
		{name: "segment type not offered by the limits", limits: func(l *Limits) { l.SegmentTypes = []SegmentType{BlockToBlock, InlineToStream} },
			want: want{sense.IllegalRequest, sense.UnsupportedSegmentDescriptor, fp(108, 7), 0}},

		// Header fields.
		{name: "header byte 1 reserved bit", mutate: func(b []byte) []byte { b[1] |= 0x80; return b }, want: invalid(1, 7)},
		{name: "reserved LIST ID USAGE 01b", mutate: func(b []byte) []byte { b[1] |= 0x08; return b }, want: invalid(1, 4)},
		{name: "header reserved byte 5", mutate: func(b []byte) []byte { b[5] = 0x10; return b }, want: invalid(5, 4)},

		// CSCD descriptor fields.
		{name: "unsupported peripheral device type", mutate: func(b []byte) []byte { b[17] = 0x05; return b }, want: invalid(17, 4)},
		{name: "code set not binary", mutate: func(b []byte) []byte { b[20] = 0x02; return b }, want: invalid(20, 3)},
		{name: "designator reserved bit", mutate: func(b []byte) []byte { b[21] |= 0x40; return b }, want: invalid(21, 6)},
		{name: "association not the logical unit", mutate: func(b []byte) []byte { b[21] |= 0x10; return b }, want: invalid(21, 5)},
		{name: "designator type not NAA", mutate: func(b []byte) []byte { b[21] = 0x08; return b }, want: invalid(21, 3)},
		{name: "designation reserved byte", mutate: func(b []byte) []byte { b[22] = 1; return b }, want: invalid(22, 0)},
		{name: "designator length neither 8 nor 16", mutate: func(b []byte) []byte { b[23] = 12; return b }, want: invalid(23, 7)},
		{name: "zero-length designator", mutate: func(b []byte) []byte { b[23] = 0; return b }, want: invalid(23, 7)},
		{name: "16-byte designator not NAA 6h", mutate: func(b []byte) []byte { b[24] = 0x50; return b }, want: invalid(24, 7)},
		{name: "8-byte designator of NAA 6h", mutate: func(b []byte) []byte { b[56] = 0x60; return b }, want: invalid(56, 7)},
		{name: "FIXED bit on a block device", mutate: func(b []byte) []byte { b[44] |= 0x01; return b }, want: invalid(44, 0)},
		{name: "stream device specific reserved bit", mutate: func(b []byte) []byte { b[76] |= 0x80; return b }, want: invalid(76, 7)},
		{name: "zero disk block length", mutate: func(b []byte) []byte { b[45], b[46], b[47] = 0, 0, 0; return b }, want: invalid(45, 7)},
		{name: "fixed tape with zero block length", mutate: func(b []byte) []byte { b[76] = 0x01; return b }, want: invalid(77, 7)},

		// Segment descriptor fields.
		{name: "wrong descriptor length for the type", mutate: func(b []byte) []byte { b[80] = 0x00; return b }, want: invalid(82, 7)},
		{name: "DC on a block→stream segment", mutate: func(b []byte) []byte { b[109] |= 0x02; return b }, want: invalid(109, 1)},
		{name: "segment flags reserved bit", mutate: func(b []byte) []byte { b[81] |= 0x40; return b }, want: invalid(81, 6)},
		{name: "block→block reserved byte", mutate: func(b []byte) []byte { b[88] = 0x01; return b }, want: invalid(88, 0)},
		{name: "block→stream reserved bytes 12-13", mutate: func(b []byte) []byte { b[121] = 0x20; return b }, want: invalid(121, 5)},
		{name: "inline segment source index is reserved", mutate: func(b []byte) []byte { b[137] = 0x01; return b }, want: invalid(137, 0)},
		{name: "zero stream transfer length", mutate: func(b []byte) []byte { b[118] = 0; return b }, want: invalid(117, 7)},
		{name: "stream transfer over the limit", limits: func(l *Limits) { l.MaxStreamTransferSize = 256 }, want: invalid(117, 7)},
		{name: "segment longer than the limit", limits: func(l *Limits) { l.MaxSegmentLength = 1024 }, want: invalid(90, 7)},
		{
			name: "source byte offset past the block",
			list: tapeOpsBase(Segment{Type: BlockToBlockOffsets, ByteCount: 10, SrcOffset: 512}),
			want: invalid(108, 7),
		},
		{
			name: "destination byte offset past the block",
			list: tapeOpsBase(Segment{Type: BlockToBlockOffsets, ByteCount: 10, DstOffset: 600}),
			want: invalid(110, 7),
		},
		{
			name:   "write filemarks WSMK",
			list:   tapeOpsBase(Segment{Type: WriteFilemarks, Dst: 1, Filemarks: 1}),
			mutate: func(b []byte) []byte { b[88] = 0x02; return b },
			want:   invalid(88, 1),
		},
		{
			name: "unsupported space code",
			list: tapeOpsBase(Segment{Type: Space, Dst: 1, SpaceCode: 0x02, SpaceCount: 1}),
			want: invalid(88, 3),
		},
		{
			name:   "space reserved bits",
			list:   tapeOpsBase(Segment{Type: Space, Dst: 1, SpaceCount: 1}),
			mutate: func(b []byte) []byte { b[88] = 0x10; return b },
			want:   invalid(88, 4),
		},
		{
			name:   "verify reserved bits",
			list:   tapeOpsBase(Segment{Type: VerifyCSCD, Src: 1}),
			mutate: func(b []byte) []byte { b[88] = 0x80; return b },
			want:   invalid(88, 7),
		},
		{
			name:   "locate flags byte is reserved",
			list:   tapeOpsBase(Segment{Type: Locate, Dst: 1}),
			mutate: func(b []byte) []byte { b[81] = 0x01; return b },
			want:   invalid(81, 0),
		},

		// Copy targets and inline data: COPY ABORTED.
		{name: "destination CSCD index past the list", mutate: func(b []byte) []byte { b[87] = 5; return b },
			want: aborted(sense.UnreachableCopyTarget, 0, 6, 7)},
		{name: "source CSCD index past the list", mutate: func(b []byte) []byte { b[112] = 1; return b },
			want: aborted(sense.UnreachableCopyTarget, 1, 4, 7)},
		{name: "block→stream to a block device", mutate: func(b []byte) []byte { b[115] = 0; return b },
			want: aborted(sense.InvalidOperationForCopyTarget, 1, 6, 7)},
		{name: "block→block from a tape", mutate: func(b []byte) []byte { b[85] = 1; return b },
			want: aborted(sense.InvalidOperationForCopyTarget, 0, 4, 7)},
		{
			name: "space on a disk",
			list: tapeOpsBase(Segment{Type: Space, Dst: 0, SpaceCount: 1}),
			want: aborted(sense.InvalidOperationForCopyTarget, 0, 6, 7),
		},
		{name: "inline segment past the inline data", mutate: func(b []byte) []byte { b[151] = 9; return b },
			want: aborted(sense.InlineDataLengthExceeded, 2, 16, 7)},
		{name: "inline offset past the inline data", mutate: func(b []byte) []byte { b[147] = 9; return b },
			want: aborted(sense.InlineDataLengthExceeded, 2, 12, 7)},
		{
			name: "inexact block→block without CAT",
			list: &ParameterList{Targets: targets()[:2], Segments: []Segment{{Type: BlockToBlock, Src: 0, Dst: 1, Blocks: 1}}},
			want: aborted(sense.UnexpectedInexactSegment, 0, 10, 7),
		},
		// Addresses and device identities (validate.go).
		{name: "block→block destination LBA overflows", mutate: func(b []byte) []byte { putLBA(b[100:], 1<<55+100); return b },
			want: lbaRange(100)},
		{name: "block→block source LBA overflows", mutate: func(b []byte) []byte { putLBA(b[92:], 1<<63); return b },
			want: lbaRange(92)},
		{name: "block→stream source range passes 2^63", mutate: func(b []byte) []byte { putLBA(b[124:], 1<<54-2); return b },
			want: lbaRange(124)},
		{
			name: "stream→block destination LBA overflows",
			list: tapeOpsBase(Segment{Type: StreamToBlock, Src: 1, Dst: 0, StreamLength: 512, Blocks: 1, DstLBA: 1<<64 - 1}),
			want: lbaRange(96),
		},
		{
			name: "byte offset carries the range past 2^63",
			list: tapeOpsBase(Segment{Type: BlockToBlockOffsets, ByteCount: 10, SrcLBA: (1<<63 - 1) / 512, SrcOffset: 511}),
			want: lbaRange(92),
		},
		{name: "block→block onto an overlapping range", mutate: func(b []byte) []byte { putLBA(b[100:], 3); return b },
			want: invalid(100, 7)},
		{
			name: "block→block between two CSCDs of one disk, overlapping",
			list: &ParameterList{Targets: []TargetDescriptor{targets()[0], targets()[0]},
				Segments: []Segment{{Type: BlockToBlock, Src: 0, Dst: 1, Blocks: 16, SrcLBA: 100, DstLBA: 115}}},
			want: invalid(100, 7),
		},
		{
			name: "byte offsets overlapping by one byte",
			list: &ParameterList{Targets: []TargetDescriptor{targets()[0], targets()[0]},
				Segments: []Segment{{Type: BlockToBlockOffsets, Src: 0, Dst: 1, ByteCount: 513, SrcLBA: 1, DstLBA: 2}}},
			want: invalid(100, 7),
		},
		{
			name: "stream→stream from a tape onto itself",
			list: &ParameterList{Targets: []TargetDescriptor{targets()[2], targets()[2]},
				Segments: []Segment{{Type: StreamToStream, Src: 0, Dst: 1, StreamLength: 512, DstStreamLength: 512, ByteCount: 512}}},
			want: invalid(86, 7),
		},
		{
			name: "tape image copy onto the same CSCD",
			list: tapeOpsBase(Segment{Type: TapeImageCopy, Src: 1, Dst: 1}),
			want: invalid(86, 7),
		},
		{name: "data segment granularity", limits: func(l *Limits) { l.DataSegmentGranularity = 12 },
			want: aborted(sense.CopySegmentGranularity, 0, 10, 7)},
		{name: "inline data granularity", limits: func(l *Limits) { l.InlineDataGranularity = 4 },
			want: aborted(sense.CopySegmentGranularity, 2, 12, 7)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := tc.list
			if list == nil {
				list = validationBase()
			}
			b := mustEncode(t, list)
			if tc.mutate != nil {
				b = tc.mutate(b)
			}
			lim := DefaultLimits()
			if tc.limits != nil {
				tc.limits(&lim)
			}
			p, err := Decode(b, lim)
			if err == nil {
				t.Fatalf("Decode accepted the list: %+v", p)
			}
			var s *sense.Sense
			if !errors.As(err, &s) {
				t.Fatalf("error %v is not sense data", err)
			}
			if s.Key != tc.want.key || s.Code() != tc.want.code {
				t.Errorf("got %v, want %v %v", s, tc.want.key, tc.want.code)
			}
			if !reflect.DeepEqual(s.FieldPointer, tc.want.ptr) {
				t.Errorf("field pointer %+v, want %+v (%v)", s.FieldPointer, tc.want.ptr, s)
			}
			if s.CommandInfo != tc.want.cmdInfo {
				t.Errorf("command-specific information %d, want %d", s.CommandInfo, tc.want.cmdInfo)
			}
		})
	}
}

// TestValidationBaseIsValid guards the table above: its base lists decode.
func TestValidationBaseIsValid(t *testing.T) {
	requireEqual(t, mustDecode(t, mustEncode(t, validationBase()), DefaultLimits()), validationBase())
}

// TestLargeListOmitsFieldPointer: past 65 535 bytes a field pointer does not
// fit, and SPC-4 lets the copy manager leave it out.
func TestLargeListOmitsFieldPointer(t *testing.T) {
	p := validationBase()
	p.InlineData = nil
	p.Segments = p.Segments[:1]
	for len(p.Segments)*28 < 70000 {
		p.Segments = append(p.Segments, p.Segments[0])
	}
	lim := DefaultLimits()
	lim.MaxSegmentDescriptors = 4096
	b := mustEncode(t, p)
	b[len(b)-20] = 1 // reserved byte 8 of the last segment
	_, err := Decode(b, lim)
	var s *sense.Sense
	if !errors.As(err, &s) || s.Code() != sense.InvalidFieldInParameterList || s.FieldPointer != nil {
		t.Fatalf("got %v, want INVALID FIELD IN PARAMETER LIST without a field pointer", err)
	}
}

func TestSegmentBytes(t *testing.T) {
	p := fullList()
	want := []uint64{2048 * 512, 16 * 4096, 8 * 4096, 1 << 20, 80, 65536, 0, 1000, 0, 0, 0, 0}
	for i, w := range want {
		if got := p.SegmentBytes(i); got != w {
			t.Errorf("SegmentBytes(%d) (%v) = %d, want %d", i, p.Segments[i].Type, got, w)
		}
	}
	if got := p.SegmentBytes(len(want)); got != 0 {
		t.Errorf("SegmentBytes past the end = %d", got)
	}
	p.Segments[0].Src = 9
	if got := p.SegmentBytes(0); got != 0 {
		t.Errorf("SegmentBytes with a dangling CSCD index = %d", got)
	}
}

// TestInexactWithCAT: with CAT the residue carries to the next segment, so
// the copy manager accepts the segment.
func TestInexactWithCAT(t *testing.T) {
	p := &ParameterList{Targets: targets()[:2], Segments: []Segment{{Type: BlockToBlock, CAT: true, Src: 0, Dst: 1, Blocks: 1}}}
	requireEqual(t, mustDecode(t, mustEncode(t, p), DefaultLimits()), p)
}

func putLBA(b []byte, lba uint64) { binary.BigEndian.PutUint64(b, lba) }

// TestDecodeAcceptsDistinctRanges: ranges of one device that touch without
// overlapping, the same NAA read and written by different segments, and a
// tape read in one segment and written in the next are valid.
func TestDecodeAcceptsDistinctRanges(t *testing.T) {
	disk, tape := targets()[0], targets()[2]
	for _, p := range []*ParameterList{
		{Targets: []TargetDescriptor{disk, disk}, Segments: []Segment{{Type: BlockToBlock, Src: 0, Dst: 1, Blocks: 16, SrcLBA: 100, DstLBA: 116}}},
		{Targets: []TargetDescriptor{disk}, Segments: []Segment{{Type: BlockToBlock, Src: 0, Dst: 0, Blocks: 16, SrcLBA: 116, DstLBA: 100}}},
		{Targets: []TargetDescriptor{disk}, Segments: []Segment{{Type: BlockToBlockOffsets, Src: 0, Dst: 0, ByteCount: 512, SrcLBA: 1, DstLBA: 2}}},
		{Targets: []TargetDescriptor{disk}, Segments: []Segment{{Type: BlockToBlock, Src: 0, Dst: 0, Blocks: 0, SrcLBA: 5, DstLBA: 5}}},
		{Targets: []TargetDescriptor{disk}, Segments: []Segment{{Type: BlockToBlock, Src: 0, Dst: 0, Blocks: 1, SrcLBA: 1<<54 - 2, DstLBA: 0}}},
		{Targets: []TargetDescriptor{disk, tape, tape}, Segments: []Segment{
			{Type: BlockToStream, Src: 0, Dst: 1, StreamLength: 512, Blocks: 1},
			{Type: StreamToBlock, Src: 2, Dst: 0, StreamLength: 512, Blocks: 1, DstLBA: 0},
		}},
	} {
		requireEqual(t, mustDecode(t, mustEncode(t, p), DefaultLimits()), p)
	}
}

// TestExtents: the byte ranges a segment touches, and the sense of one
// that overflows.
func TestExtents(t *testing.T) {
	p := fullList()
	for i, want := range []struct{ src, dst *Extent }{
		0: {src: &Extent{4096 * 512, 2048 * 512}},
		1: {dst: &Extent{100 * 4096, 16 * 4096}},
		2: {src: &Extent{2048 * 512, 8 * 4096}, dst: &Extent{0x0001020304050607 * 4096, 8 * 4096}},
		7: {src: &Extent{10*512 + 100, 1000}, dst: &Extent{20*512 + 200, 1000}},
		8: {},
	} {
		src, dst, err := p.Extents(i, math.MaxInt64, math.MaxInt64)
		if err != nil || !reflect.DeepEqual(src, want.src) || !reflect.DeepEqual(dst, want.dst) {
			t.Errorf("Extents(%d) = %+v, %+v, %v; want %+v, %+v", i, src, dst, err, want.src, want.dst)
		}
	}
	p.Segments[2].DstLBA = 1<<55 + 100
	_, _, err := p.Extents(2, math.MaxInt64, math.MaxInt64)
	var s *sense.Sense
	off := uint16(p.SegmentOffset(2))
	if !errors.As(err, &s) || s.Code() != sense.LBAOutOfRange || !s.InfoValid || s.Information != 1<<55+100 ||
		!reflect.DeepEqual(s.FieldPointer, fp(off+20, 7)) {
		t.Fatalf("Extents of an overflowing LBA: %v", err)
	}
	p.Segments[2].DstLBA = 100
	_, _, err = p.Extents(2, math.MaxInt64, 108*4096-1)
	// Past a device's end is the segment's failure, not the list's: COPY
	// ABORTED with a segment pointer into the descriptor.
	segPtr := func(b uint16) *sense.FieldPointer {
		return &sense.FieldPointer{Segment: true, BitValid: true, Bit: 7, Byte: b}
	}
	if !errors.As(err, &s) || s.Key != sense.CopyAborted || s.CommandInfo != 2 || !reflect.DeepEqual(s.FieldPointer, segPtr(20)) ||
		!strings.Contains(err.Error(), "LBA 100") {
		t.Fatalf("Extents past the destination's end: %v", err)
	}
	if _, _, err = p.Extents(2, 2112*512, 108*4096); err != nil {
		t.Fatalf("Extents up to both ends: %v", err)
	}
	_, _, err = p.Extents(0, 6143*512, math.MaxInt64)
	if !errors.As(err, &s) || s.Key != sense.CopyAborted || s.CommandInfo != 0 || !reflect.DeepEqual(s.FieldPointer, segPtr(16)) ||
		!strings.Contains(err.Error(), "LBA 4096") {
		t.Fatalf("Extents past the source's end: %v", err)
	}
	if got := p.SegmentOffset(0); got != 16+4*32 {
		t.Errorf("SegmentOffset(0) = %d", got)
	}
}

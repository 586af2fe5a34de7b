package xcopy

var (
	naa16 = []byte{0x60, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11, 0x22, 0x33, 0x44}
	naa8a = []byte{0x50, 0x01, 0x40, 0x50, 0x00, 0x00, 0x00, 0x01}
	naa8b = []byte{0x50, 0x01, 0x40, 0x50, 0x00, 0x00, 0x00, 0x02}
	naa8c = []byte{0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03}
)

// targets are the CSCDs of the golden lists: a 512-byte disk (0), a 4 KiB
// disk (1), a variable-block tape (2) and a 64 KiB fixed-block tape (3).
func targets() []TargetDescriptor {
	return []TargetDescriptor{
		{DeviceType: DeviceBlock, NAA: naa16, BlockLength: 512},
		{DeviceType: DeviceBlock, NAA: naa8a, BlockLength: 4096, RelativeInitiatorPort: 1},
		{DeviceType: DeviceStream, NAA: naa8b},
		{DeviceType: DeviceStream, NAA: naa8c, Fixed: true, PAD: true, BlockLength: 65536},
	}
}

// label is 80 bytes of inline data, an ANSI VOL1 label.
func label() []byte {
	b := []byte("VOL1A00001")
	for len(b) < 80 {
		b = append(b, ' ')
	}
	return b
}

// segmentCases has one segment of every supported type, valid against
// targets().
func segmentCases() []struct {
	name string
	seg  Segment
} {
	return []struct {
		name string
		seg  Segment
	}{
		{"seg00_block_to_stream", Segment{Type: BlockToStream, CAT: true, Src: 0, Dst: 2, StreamLength: 262144, Blocks: 2048, SrcLBA: 4096}},
		{"seg01_stream_to_block", Segment{Type: StreamToBlock, Src: 2, Dst: 1, StreamLength: 65536, Blocks: 16, DstLBA: 100}},
		{"seg02_block_to_block", Segment{Type: BlockToBlock, DC: true, Src: 0, Dst: 1, Blocks: 8, SrcLBA: 2048, DstLBA: 0x0001020304050607}},
		{"seg03_stream_to_stream", Segment{Type: StreamToStream, Src: 2, Dst: 3, StreamLength: 65536, DstStreamLength: 1, ByteCount: 1 << 20}},
		{"seg04_inline_to_stream", Segment{Type: InlineToStream, Dst: 2, StreamLength: 80, InlineOffset: 0, ByteCount: 80}},
		{"seg06_stream_to_discard", Segment{Type: StreamToDiscard, Src: 3, StreamLength: 1, ByteCount: 65536}},
		{"seg07_verify", Segment{Type: VerifyCSCD, Src: 1, TUR: true}},
		{"seg0a_block_to_block_offsets", Segment{Type: BlockToBlockOffsets, Src: 0, Dst: 0, ByteCount: 1000, SrcLBA: 10, DstLBA: 20, SrcOffset: 100, DstOffset: 200}},
		{"seg10_write_filemarks", Segment{Type: WriteFilemarks, Dst: 2, Filemarks: 2}},
		{"seg11_space", Segment{Type: Space, Dst: 2, SpaceCode: SpaceFilemarks, SpaceCount: -3}},
		{"seg12_locate", Segment{Type: Locate, Dst: 3, LocateBlock: 123456}},
		{"seg13_tape_image_copy", Segment{Type: TapeImageCopy, Src: 2, Dst: 3, ImageCount: 2}},
	}
}

// singleSegmentList is targets() and one segment, with the VOL1 label as
// inline data when the segment needs it.
func singleSegmentList(s Segment) *ParameterList {
	p := &ParameterList{ListID: 1, Targets: targets(), Segments: []Segment{s}}
	if s.Type == InlineToStream {
		p.InlineData = label()
	}
	return p
}

// fullList uses every target, every segment type and every header field.
func fullList() *ParameterList {
	p := &ParameterList{ListID: 0x5A, STR: true, ListIDUsage: ListIDNoResults, Priority: 3, Targets: targets(), InlineData: label()}
	for _, c := range segmentCases() {
		p.Segments = append(p.Segments, c.seg)
	}
	return p
}

package xcopy

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/internal/goldenhex"
)

func mustEncode(t *testing.T, p *ParameterList) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

func mustDecode(t *testing.T, b []byte, lim Limits) *ParameterList {
	t.Helper()
	p, err := Decode(b, lim)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return p
}

// TestGoldenDescriptors pins the encoding of every segment descriptor type
// (with the E4h CSCD descriptors of both device types) and checks that the
// golden bytes decode to the same list and re-encode to the same bytes.
func TestGoldenDescriptors(t *testing.T) {
	cases := segmentCases()
	lists := map[string]*ParameterList{"full_list": fullList()}
	names := []string{"full_list"}
	for _, c := range cases {
		lists[c.name] = singleSegmentList(c.seg)
		names = append(names, c.name)
	}
	for _, name := range names {
		p := lists[name]
		t.Run(name, func(t *testing.T) {
			b := mustEncode(t, p)
			checkGolden(t, name, "EXTENDED COPY (LID1) parameter list: "+name, b)
			golden := goldenhex.Read(t, "testdata/"+name+".hex")
			got := mustDecode(t, golden, DefaultLimits())
			if !reflect.DeepEqual(got, p) {
				t.Errorf("Decode(golden) =\n%+v\nwant\n%+v", got, p)
			}
			if again := mustEncode(t, got); string(again) != string(golden) {
				t.Errorf("re-encoding differs:\n got % x\nwant % x", again, golden)
			}
		})
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSegmentLayout checks each segment descriptor byte by byte against the
// SPC-4 tables, written out independently of the encoder and the goldens.
func TestSegmentLayout(t *testing.T) {
	want := map[SegmentType]string{
		// type flags len    src   dst   rsv  STDL    rsv  blocks LBA
		BlockToStream: "00 01 0014 0000 0002  00 040000  0000 0800 0000000000001000",
		StreamToBlock: "01 00 0014 0002 0001  00 010000  0000 0010 0000000000000064",
		// type flags(DC) len src dst rsv blocks srcLBA dstLBA
		BlockToBlock: "02 02 0018 0000 0001 0000 0008 0000000000000800 0001020304050607",
		// type flags len src dst rsv srcSTDL rsv dstSTDL byte count
		StreamToStream: "03 00 0010 0002 0003 00 010000 00 000001 00100000",
		// type flags len rsv dst rsv STDL inline offset, inline bytes
		InlineToStream: "04 00 0010 0000 0002 00 000050 00000000 00000050",
		// type flags len src rsv rsv STDL number of bytes
		StreamToDiscard: "06 00 000c 0003 0000 00 000001 00010000",
		// type rsv len src rsv TUR rsv
		VerifyCSCD: "07 00 0008 0001 0000 01 000000",
		// type flags len src dst bytes srcLBA dstLBA srcoff dstoff
		BlockToBlockOffsets: "0a 00 001c 0000 0000 000003e8 000000000000000a 0000000000000014 0064 00c8",
		// type rsv len rsv dst WSMK count
		WriteFilemarks: "10 00 0008 0000 0002 00 000002",
		// type rsv len rsv dst code count(-3)
		Space: "11 00 0008 0000 0002 01 fffffd",
		// type rsv len rsv dst block address
		Locate: "12 00 0008 0000 0003 0001e240",
		// type rsv len src dst count
		TapeImageCopy: "13 00 0008 0002 0003 00000002",
	}
	for _, c := range segmentCases() {
		t.Run(c.name, func(t *testing.T) {
			b := mustEncode(t, singleSegmentList(c.seg))
			off := headerLen + 4*targetDescLen
			exp := unhex(t, want[c.seg.Type])
			if got := b[off : off+len(exp)]; string(got) != string(exp) {
				t.Errorf("segment bytes\n got % x\nwant % x", got, exp)
			}
			if len(b) != off+len(exp)+len(singleSegmentList(c.seg).InlineData) {
				t.Errorf("list is %d bytes, want %d", len(b), off+len(exp))
			}
		})
	}
}

// TestHeaderAndTargetLayout checks the header and both device kinds of the
// identification CSCD descriptor against SPC-4.
func TestHeaderAndTargetLayout(t *testing.T) {
	b := mustEncode(t, fullList())
	header := unhex(t, "5a 33 0080 00000000 000000e0 00000050") // 12 segments: 224 bytes
	if got := b[:16]; string(got) != string(header) {
		t.Errorf("header\n got % x\nwant % x", got, header)
	}
	disk := unhex(t, `e4 00 0000  01 03 00 10  600140501234567 89abcdef011223344
		00000000  00000200`)
	if got := b[16:48]; string(got) != string(disk) {
		t.Errorf("block CSCD\n got % x\nwant % x", got, disk)
	}
	tape := unhex(t, `e4 01 0000  01 03 00 08  3000000000000003 0000000000000000 00000000
		05 010000`)
	if got := b[112:144]; string(got) != string(tape) {
		t.Errorf("fixed stream CSCD\n got % x\nwant % x", got, tape)
	}
}

// TestLibiscsiLists decodes lists laid out the way libiscsi's iscsi-test-cu
// builds them (populate_tgt_desc, populate_seg_desc_b2b and _b2b_off,
// populate_param_header), including an SPC-4 target's duty to ignore the
// LU ID TYPE.
func TestLibiscsiLists(t *testing.T) {
	build := func(luidType byte, seg []byte) []byte {
		b := make([]byte, 16, 16+32+len(seg))
		b[0] = 1               // list identifier
		b[1] = 3 << 3          // LIST ID USAGE 11b, as test_extendedcopy_simple sends
		b[3] = 32              // CSCD descriptor list length
		b[11] = byte(len(seg)) // segment descriptor list length
		tgt := make([]byte, 32)
		tgt[0] = 0xE4
		tgt[1] = luidType << 6
		tgt[4] = 0x01 // code set binary
		tgt[5] = 0x03 // association LU, designator type NAA
		tgt[7] = 16
		copy(tgt[8:], naa16)
		tgt[30] = 0x02 // block size 512
		b = append(b, tgt...)
		return append(b, seg...)
	}
	b2b := unhex(t, "02 00 0018 0000 0000 0000 0800 0000000000000000 00000000000ff800")
	b2bOff := unhex(t, "0a 00 001c 0000 0000 10000000 0000000000000000 00000000000f0000 0000 0000")
	for _, tc := range []struct {
		name string
		list []byte
		want Segment
	}{
		{"block to block", build(0, b2b), Segment{Type: BlockToBlock, Blocks: 2048, DstLBA: 0xff800}},
		{"reserved LU ID type", build(2, b2b), Segment{Type: BlockToBlock, Blocks: 2048, DstLBA: 0xff800}},
		{"block to block with offsets", build(0, b2bOff), Segment{Type: BlockToBlockOffsets, ByteCount: 256 << 20, DstLBA: 0xf0000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := DefaultLimits()
			p := mustDecode(t, tc.list, lim)
			if p.ListIDUsage != ListIDNone || !p.NRCR() || p.ListID != 1 {
				t.Errorf("header decoded as %+v", p)
			}
			if len(p.Targets) != 1 || p.Targets[0].BlockLength != 512 || !reflect.DeepEqual(p.Targets[0].NAA, naa16) {
				t.Errorf("targets = %+v", p.Targets)
			}
			if len(p.Segments) != 1 || !reflect.DeepEqual(p.Segments[0], tc.want) {
				t.Errorf("segments = %+v, want %+v", p.Segments, tc.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	base := mustEncode(t, fullList())
	for _, tc := range []struct {
		name   string
		in     []byte
		check  func(*testing.T, *ParameterList)
		mutate func([]byte) []byte
	}{
		{
			name:  "empty list is a no-op",
			in:    []byte{},
			check: func(t *testing.T, p *ParameterList) { requireEqual(t, p, &ParameterList{}) },
		},
		{
			name:   "bytes after the inline data are ignored",
			mutate: func(b []byte) []byte { return append(b, 0xFF, 0xFF, 0xFF, 0xFF) },
			check:  func(t *testing.T, p *ParameterList) { requireEqual(t, p, fullList()) },
		},
		{
			name:   "PIV and protocol identifier are ignored",
			mutate: func(b []byte) []byte { b[16+4] |= 0x50; b[16+5] |= 0x80; return b },
			check:  func(t *testing.T, p *ParameterList) { requireEqual(t, p, fullList()) },
		},
		{
			name:   "LU ID type and NUL are kept",
			mutate: func(b []byte) []byte { b[16+1] |= 0xE0; return b },
			check: func(t *testing.T, p *ParameterList) {
				if p.Targets[0].LUIDType != 3 || !p.Targets[0].NUL {
					t.Errorf("target 0 = %+v", p.Targets[0])
				}
			},
		},
		{
			name: "zero blocks and zero bytes are valid segments",
			in: mustEncode(t, &ParameterList{Targets: targets(), Segments: []Segment{
				{Type: BlockToBlock, Src: 0, Dst: 1},
				{Type: StreamToStream, Src: 2, Dst: 3},
				{Type: BlockToStream, Src: 0, Dst: 2},
			}}),
			check: func(t *testing.T, p *ParameterList) {
				if len(p.Segments) != 3 {
					t.Errorf("segments = %+v", p.Segments)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if tc.mutate != nil {
				in = tc.mutate(append([]byte(nil), base...))
			}
			tc.check(t, mustDecode(t, in, DefaultLimits()))
		})
	}
}

func requireEqual(t *testing.T, got, want *ParameterList) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestEncodeRefusesOverflow(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ParameterList
	}{
		{"priority", ParameterList{Priority: 8}},
		{"list ID usage", ParameterList{ListIDUsage: 4}},
		{"designator", ParameterList{Targets: []TargetDescriptor{{NAA: make([]byte, 21)}}}},
		{"block length", ParameterList{Targets: []TargetDescriptor{{BlockLength: 1 << 24}}}},
		{"device type", ParameterList{Targets: []TargetDescriptor{{DeviceType: 0x20}}}},
		{"blocks", ParameterList{Segments: []Segment{{Type: BlockToBlock, Blocks: 1 << 16}}}},
		{"stream length", ParameterList{Segments: []Segment{{Type: BlockToStream, StreamLength: 1 << 24}}}},
		{"space count", ParameterList{Segments: []Segment{{Type: Space, SpaceCount: 1 << 23}}}},
		{"unknown type", ParameterList{Segments: []Segment{{Type: 0x05}}}},
		{"too many targets", ParameterList{Targets: make([]TargetDescriptor, 2048)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.p.Encode(); err == nil {
				t.Error("Encode succeeded")
			}
		})
	}
}

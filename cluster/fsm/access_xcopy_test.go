package fsm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// xcopyFixture registers devices whose NAA designators a parameter list
// can carry (type 5, 8 bytes): disks x512 (2048 blocks of 512 bytes), x4k
// (256 of 4096) and the read-only xro, and cartridges X00001L9 and the
// write-protected X00002L9.
func xcopyFixture(t *testing.T) *FSM {
	t.Helper()
	f := newWithNodes()
	disk := func(name, naa string, bs uint32, ro bool) *ferryv1.Command {
		return diskCmd(0, &ferryv1.Disk{Name: name, Naa: naa, Path: "/san/" + name + ".img", SizeBytes: 1 << 20, BlockSize: bs, ReadOnly: ro, Site: "east"})
	}
	cart := func(barcode, naa string, slot uint32, wp bool) *ferryv1.Command {
		c := validCartridge(barcode, "libX", slot, 0)
		c.Naa, c.WriteProtected = naa, wp
		return cartridgeCmd(0, c)
	}
	applyAll(t, f,
		disk("x512", "5000000000000011", 512, false), disk("x4k", "5000000000000012", 4096, false), disk("xro", "5000000000000013", 512, true),
		libraryCmd(0, validLibrary("libX")),
		cart("X00001L9", "5000000000000021", 1, false), cart("X00002L9", "5000000000000022", 2, true),
	)
	return f
}

func naa5(last byte) []byte { return []byte{0x50, 0, 0, 0, 0, 0, 0, last} }

// xcopyTargets: 0 x512, 1 x4k, 2 xro, 3 X00001L9, 4 X00002L9, 5 an NAA
// nobody registered.
func xcopyTargets() []xcopy.TargetDescriptor {
	return []xcopy.TargetDescriptor{
		{DeviceType: xcopy.DeviceBlock, NAA: naa5(0x11), BlockLength: 512},
		{DeviceType: xcopy.DeviceBlock, NAA: naa5(0x12), BlockLength: 4096},
		{DeviceType: xcopy.DeviceBlock, NAA: naa5(0x13), BlockLength: 512},
		{DeviceType: xcopy.DeviceStream, NAA: naa5(0x21)},
		{DeviceType: xcopy.DeviceStream, NAA: naa5(0x22)},
		{DeviceType: xcopy.DeviceBlock, NAA: naa5(0x99), BlockLength: 512},
	}
}

// firstSegment is where the first segment starts in a list with
// xcopyTargets: after the header and six CSCD descriptors.
const firstSegment = 16 + 6*32

func TestSubmitRefusesParameterListsWithSense(t *testing.T) {
	cases := []struct {
		name    string
		targets func([]xcopy.TargetDescriptor)
		segs    []xcopy.Segment
		want    *sense.Sense // nil: accepted
		pointer int          // byte of the field pointer (of a segment pointer: in the segment descriptor); -1 none
		info    uint64
		reason  string
	}{
		{"block to block in range", nil, []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 8, SrcLBA: 2040, DstLBA: 255}}, nil, 0, 0, ""},
		{"reads a read-only disk", nil, []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 2, Dst: 0, Blocks: 8}}, nil, 0, 0, ""},
		{"reads a write-protected cartridge", nil, []xcopy.Segment{{Type: xcopy.StreamToBlock, Src: 4, Dst: 0, Blocks: 8, StreamLength: 512}}, nil, 0, 0, ""},
		{"unregistered target", nil, []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 5, Dst: 0, Blocks: 8}}, nil, 0, 0, ""},

		{"destination past the end", nil, []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 16, DstLBA: 255}},
			sense.New(sense.CopyAborted, sense.NoAdditionalSense), 20, 0, "past the end of disk x4k (256 blocks"},
		{"source LBA wraps", nil, []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 8, SrcLBA: 1<<55 + 100}},
			sense.New(sense.IllegalRequest, sense.LBAOutOfRange), firstSegment + 12, 1<<55 + 100, "past the end of disk x512"},
		{"block to stream past the end", nil, []xcopy.Segment{{Type: xcopy.BlockToStream, Src: 0, Dst: 3, Blocks: 9, SrcLBA: 2040, StreamLength: 512}},
			sense.New(sense.CopyAborted, sense.NoAdditionalSense), 16, 0, "segment 0"},
		{"byte offsets past the end", nil, []xcopy.Segment{{Type: xcopy.BlockToBlockOffsets, Src: 1, Dst: 0, ByteCount: 4096, SrcLBA: 255, SrcOffset: 1}},
			sense.New(sense.CopyAborted, sense.NoAdditionalSense), 12, 0, "past the end"},
		{"block length not the disk's", func(ts []xcopy.TargetDescriptor) { ts[1].BlockLength = 512 }, []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 8}},
			sense.New(sense.IllegalRequest, sense.InvalidFieldInParameterList), 16 + 32 + 29, 0, "block length 512, but disk x4k has 4096-byte blocks"},
		{"writes a read-only disk", nil, []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 2, Blocks: 8}},
			sense.New(sense.DataProtect, sense.WriteProtected), -1, 0, "writes disk xro, which is read-only"},
		{"writes a write-protected cartridge", nil, []xcopy.Segment{{Type: xcopy.WriteFilemarks, Dst: 4, Filemarks: 1}},
			sense.New(sense.DataProtect, sense.WriteProtected), -1, 0, "cartridge X00002L9, which is write-protected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := xcopyFixture(t)
			ts := xcopyTargets()
			if tc.targets != nil {
				tc.targets(ts)
			}
			list, err := (&xcopy.ParameterList{Targets: ts, Segments: tc.segs}).Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := xcopy.Decode(list, xcopy.DefaultLimits()); err != nil && tc.want != nil {
				// What the list alone decides is Decode's; this test is
				// about the registry.
				t.Skipf("xcopy.Decode refuses the list by itself: %v", err)
			}
			r := f.Apply(f.AppliedIndex()+1, submitCmd(1, "j", "", &ferryv1.JobSpec{XcopyParameterList: list}))
			if tc.want == nil {
				if r.Err != nil {
					t.Fatalf("refused: %v", r.Err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(r.Err, &ve) || ve.Sense == nil {
				t.Fatalf("Err = %v, want a *ValidationError with sense", r.Err)
			}
			var sd *sense.Sense
			if !errors.As(r.Err, &sd) || !errors.Is(sd, tc.want) {
				t.Fatalf("sense %v, want %v", sd, tc.want)
			}
			switch fp := sd.FieldPointer; {
			case tc.pointer < 0 && fp != nil:
				t.Errorf("field pointer %+v, want none", fp)
			case tc.pointer >= 0 && (fp == nil || int(fp.Byte) != tc.pointer):
				t.Errorf("field pointer %+v, want byte %d", fp, tc.pointer)
			}
			if tc.info != 0 && (!sd.InfoValid || sd.Information != tc.info) {
				t.Errorf("information %d (valid %v), want %d", sd.Information, sd.InfoValid, tc.info)
			}
			if v := ve.Violations[0]; v.Field != listField || !strings.Contains(v.Description, tc.reason) {
				t.Errorf("violation %+v, want %s saying %q", v, listField, tc.reason)
			}
		})
	}
}

// TestJobAccessOfAList: a CSCD of a list counts as written when a segment
// writes it, read otherwise, and its block segments' ranges are recorded on
// their disks.
func TestJobAccessOfAList(t *testing.T) {
	f := xcopyFixture(t)
	list, err := (&xcopy.ParameterList{Targets: xcopyTargets(), Segments: []xcopy.Segment{
		{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 8, SrcLBA: 16, DstLBA: 2},
		{Type: xcopy.BlockToStream, Src: 0, Dst: 3, Blocks: 2, StreamLength: 512},
	}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := f.JobAccess(&ferryv1.JobSpec{XcopyParameterList: list})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := acc.Writes(), []string{"disk:x4k", "tape:X00001L9"}; !slices.Equal(got, want) {
		t.Errorf("writes %v, want %v", got, want)
	}
	if got, want := acc.Reads(), []string{"disk:x512", "disk:xro", "tape:X00002L9"}; !slices.Equal(got, want) {
		t.Errorf("reads %v, want %v", got, want)
	}
	if len(acc.Missing) != 1 || acc.Unresolvable {
		t.Errorf("missing %v, unresolvable %v: want the one unregistered CSCD, and the copy still runnable", acc.Missing, acc.Unresolvable)
	}
	if d := acc.Devices[0]; !slices.Equal(d.Reads, []ByteRange{{8192, 4096}, {0, 1024}}) {
		t.Errorf("x512 reads %v", d.Reads)
	}
	if d := acc.Devices[1]; !slices.Equal(d.Writes, []ByteRange{{8192, 4096}}) {
		t.Errorf("x4k writes %v", d.Writes)
	}
}

package mover

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
	"github.com/ferry-san/ferry/storage/tape"
)

var (
	naaDisk   = []byte{0x50, 0, 0, 0, 0, 0, 0, 1}
	naaDisk2  = []byte{0x50, 0, 0, 0, 0, 0, 0, 2}
	naaTape   = []byte{0x50, 0, 0, 0, 0, 0, 0, 3}
	naaAbsent = []byte{0x50, 0, 0, 0, 0, 0, 0, 9}
)

// decoded round-trips a list through its wire form, as a copy manager
// receives it.
func decoded(t *testing.T, pl *xcopy.ParameterList) *xcopy.ParameterList {
	t.Helper()
	b, err := pl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := xcopy.Decode(b, xcopy.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestFromXCopy(t *testing.T) {
	src := randomBytes(20, 256<<10)
	disk1 := newLUN(t, "d1", 256<<10, 512, src)
	disk2 := newLUN(t, "d2", 256<<10, 4096, nil)
	tp := newCart(t, "t.tap", tape.Options{})
	registry := map[string]Device{string(naaDisk): {Name: "d1", Block: disk1}, string(naaDisk2): {Name: "d2", Block: disk2}, string(naaTape): {Name: "t", Tape: tp}}
	resolve := func(naa []byte, _ bool) (Device, error) {
		d, ok := registry[string(naa)]
		if !ok {
			return Device{}, errors.New("unknown")
		}
		return d, nil
	}
	pl := decoded(t, &xcopy.ParameterList{
		Targets: []xcopy.TargetDescriptor{
			{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512},
			{DeviceType: xcopy.DeviceStream, NAA: naaTape},
			{DeviceType: xcopy.DeviceBlock, NAA: naaDisk2, BlockLength: 4096},
			{DeviceType: xcopy.DeviceBlock, NAA: naaAbsent, BlockLength: 512}, // never used
		},
		Segments: []xcopy.Segment{
			{Type: xcopy.InlineToStream, Dst: 1, StreamLength: 80, ByteCount: 80},
			{Type: xcopy.WriteFilemarks, Dst: 1, Filemarks: 1},
			{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 32 << 10, Blocks: 128, SrcLBA: 8},
			{Type: xcopy.WriteFilemarks, Dst: 1, Filemarks: 1},
			{Type: xcopy.Locate, Dst: 1, LocateBlock: 2},
			{Type: xcopy.StreamToBlock, Src: 1, Dst: 2, StreamLength: 32 << 10, Blocks: 16, DstLBA: 1},
			{Type: xcopy.BlockToBlock, Src: 0, Dst: 2, Blocks: 8, SrcLBA: 0, DstLBA: 40},
			{Type: xcopy.BlockToBlock, DC: true, Src: 0, Dst: 2, Blocks: 1, SrcLBA: 0, DstLBA: 50},
			{Type: xcopy.BlockToBlockOffsets, Src: 0, Dst: 2, ByteCount: 1000, SrcLBA: 1, SrcOffset: 7, DstLBA: 60, DstOffset: 3},
			{Type: xcopy.Space, Dst: 1, SpaceCode: xcopy.SpaceEndOfData},
			{Type: xcopy.VerifyCSCD, Src: 0},
			{Type: xcopy.BlockToBlock, Src: 0, Dst: 2, Blocks: 0},
		},
		InlineData: bytes.Repeat([]byte("L"), 80),
	})
	plan, devs, err := FromXCopy(pl, resolve)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 3 || devs[0].Name != "t" || devs[1].Name != "d1" || devs[2].Name != "d2" {
		t.Fatalf("devices %v", devs)
	}
	if _, err := Run(context.Background(), smallConfig(), plan, devs, nil); err != nil {
		t.Fatal(err)
	}
	files := readTape(t, tp)
	if len(files) != 2 || len(files[0]) != 1 || len(files[1]) != 2 || !bytes.Equal(concat(files[1]), src[4096:4096+64<<10]) {
		t.Fatalf("tape: %d files", len(files))
	}
	got := lunBytes(t, disk2)
	checks := []struct {
		name string
		at   int
		want []byte
	}{
		{"stream→block", 4096, src[4096 : 4096+64<<10]},
		{"block→block", 40 * 4096, src[:4096]},
		{"block→block DC", 50 * 4096, src[:4096]},
		{"byte offsets", 60*4096 + 3, src[512+7 : 512+7+1000]},
	}
	for _, c := range checks {
		if !bytes.Equal(got[c.at:c.at+len(c.want)], c.want) {
			t.Errorf("%s: destination differs", c.name)
		}
	}
}

func TestFromXCopyErrors(t *testing.T) {
	disk1 := newLUN(t, "d1", 64<<10, 512, nil)
	tp := newCart(t, "t.tap", tape.Options{BlockSize: 1024})
	registry := map[string]Device{string(naaDisk): {Block: disk1}, string(naaTape): {Tape: tp}}
	resolve := func(naa []byte, _ bool) (Device, error) {
		if d, ok := registry[string(naa)]; ok {
			return d, nil
		}
		return Device{}, errors.New("no such device")
	}
	tests := []struct {
		name    string
		targets []xcopy.TargetDescriptor
		segment xcopy.Segment
		key     sense.Key
		code    sense.Code
		field   uint16
	}{
		{
			name:    "unresolvable designator",
			targets: []xcopy.TargetDescriptor{{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512}, {DeviceType: xcopy.DeviceBlock, NAA: naaAbsent, BlockLength: 512}},
			segment: xcopy.Segment{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 1},
			key:     sense.CopyAborted, code: sense.CopyTargetNotReachable, field: 6,
		},
		{
			name:    "block descriptor names a tape",
			targets: []xcopy.TargetDescriptor{{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512}, {DeviceType: xcopy.DeviceBlock, NAA: naaTape, BlockLength: 512}},
			segment: xcopy.Segment{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 1},
			key:     sense.CopyAborted, code: sense.IncorrectCopyTargetType, field: 6,
		},
		{
			name:    "wrong disk block length",
			targets: []xcopy.TargetDescriptor{{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 4096}, {DeviceType: xcopy.DeviceStream, NAA: naaTape, Fixed: true, BlockLength: 1024}},
			segment: xcopy.Segment{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 1, Blocks: 1},
			key:     sense.IllegalRequest, code: sense.InvalidFieldInParameterList, field: 16 + 29,
		},
		{
			name:    "variable records on a fixed-mode tape",
			targets: []xcopy.TargetDescriptor{{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512}, {DeviceType: xcopy.DeviceStream, NAA: naaTape}},
			segment: xcopy.Segment{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 512, Blocks: 2},
			key:     sense.IllegalRequest, code: sense.InvalidFieldInParameterList, field: 16 + 32 + 28,
		},
		{
			name:    "CAT",
			targets: []xcopy.TargetDescriptor{{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512}, {DeviceType: xcopy.DeviceStream, NAA: naaTape, Fixed: true, BlockLength: 1024}},
			segment: xcopy.Segment{Type: xcopy.BlockToStream, CAT: true, Src: 0, Dst: 1, StreamLength: 1, Blocks: 2},
			key:     sense.IllegalRequest, code: sense.InvalidFieldInParameterList, field: 16 + 64 + 12 + 1, // after the CSCDs and the 12-byte verify segment
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl := decoded(t, &xcopy.ParameterList{Targets: tc.targets, Segments: []xcopy.Segment{{Type: xcopy.VerifyCSCD, Src: 0}, tc.segment}})
			_, _, err := FromXCopy(pl, resolve)
			var s *sense.Sense
			if !errors.As(err, &s) {
				t.Fatalf("error %v carries no sense", err)
			}
			if s.Key != tc.key || s.Code() != tc.code || s.FieldPointer == nil || s.FieldPointer.Byte != tc.field {
				t.Fatalf("sense %v, want %v %v at byte %d", s, tc.key, tc.code, tc.field)
			}
			if s.Key == sense.CopyAborted && s.CommandInfo != 1 {
				t.Fatalf("segment index %d, want 1", s.CommandInfo)
			}
		})
	}
}

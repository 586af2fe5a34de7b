package mover

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// opener resolves designators as a copy manager does, opening a fresh
// handle on every call, and records the calls.
type opener struct {
	t      *testing.T
	disks  map[string]*disk.LUN // NAA → a LUN whose path is reopened
	tapes  map[string]string    // NAA → image path
	calls  map[string]int
	writes map[string]bool
}

func (o *opener) resolve(naa []byte, write bool) (Device, error) {
	key := string(naa)
	o.calls[key]++
	o.writes[key] = write
	if l, ok := o.disks[key]; ok {
		return Device{Name: "disk", Block: openLUN(o.t, l.Path(), l.BlockSize(), !write)}, nil
	}
	if p, ok := o.tapes[key]; ok {
		c, err := tape.Open(p, tape.Options{ReadOnly: !write})
		if err != nil {
			return Device{}, err
		}
		o.t.Cleanup(func() { c.Close() })
		return Device{Name: "tape", Tape: c}, nil
	}
	return Device{}, errors.New("no such device")
}

func newOpener(t *testing.T) *opener {
	return &opener{t: t, disks: map[string]*disk.LUN{}, tapes: map[string]string{}, calls: map[string]int{}, writes: map[string]bool{}}
}

// TestXCopySharedCartridge is issue 9's list: two CSCDs name one cartridge;
// through each, space to end of data and write 1 MiB and a filemark. With a
// handle per descriptor the second write went over the first; with one
// shared handle the cartridge holds both files.
func TestXCopySharedCartridge(t *testing.T) {
	src := randomBytes(9, 2<<20)
	o := newOpener(t)
	o.disks[string(naaDisk)] = newLUN(t, "d", 2<<20, 512, src)
	cart := newCart(t, "t.tap", tape.Options{})
	writeTape(t, cart, tapeFile{[]byte("VOL1")})
	if err := cart.Close(); err != nil {
		t.Fatal(err)
	}
	o.tapes[string(naaTape)] = cart.Path()
	tapeCSCD := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceStream, NAA: naaTape}
	pl := decoded(t, &xcopy.ParameterList{
		Targets: []xcopy.TargetDescriptor{tapeCSCD, tapeCSCD, {DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512}},
		Segments: []xcopy.Segment{
			{Type: xcopy.Space, Dst: 0, SpaceCode: xcopy.SpaceEndOfData},
			{Type: xcopy.BlockToStream, Src: 2, Dst: 0, StreamLength: 64 << 10, Blocks: 2048, SrcLBA: 0},
			{Type: xcopy.WriteFilemarks, Dst: 0, Filemarks: 1},
			{Type: xcopy.Space, Dst: 1, SpaceCode: xcopy.SpaceEndOfData},
			{Type: xcopy.BlockToStream, Src: 2, Dst: 1, StreamLength: 64 << 10, Blocks: 2048, SrcLBA: 2048},
			{Type: xcopy.WriteFilemarks, Dst: 1, Filemarks: 1},
		},
	})
	plan, devs, err := FromXCopy(pl, o.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || o.calls[string(naaTape)] != 1 || !o.writes[string(naaTape)] || o.writes[string(naaDisk)] {
		t.Fatalf("%d devices; resolve calls %v, writable %v", len(devs), o.calls, o.writes)
	}
	res, err := Run(context.Background(), smallConfig(), plan, devs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != 2<<20 {
		t.Fatalf("copied %d bytes", res.Bytes)
	}
	for _, d := range devs {
		if d.Tape != nil {
			if err := d.Tape.(*tape.Cartridge).Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	again, err := tape.Open(cart.Path(), tape.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	files := readTape(t, again)
	if len(files) != 3 || !bytes.Equal(concat(files[1]), src[:1<<20]) || !bytes.Equal(concat(files[2]), src[1<<20:]) {
		t.Fatalf("cartridge holds %d files, want the label and two of 1 MiB", len(files))
	}
}

// TestXCopyAddressOverflow is issue 9's other list: 16 blocks to LBA
// 2^55+100 of a 512-byte disk, whose byte offset wrapped to block 100. It
// is refused before anything is written, by Decode and, for a list that
// did not come through it, by FromXCopy; so is an LBA past the disk's end.
func TestXCopyAddressOverflow(t *testing.T) {
	src := randomBytes(10, 64<<10)
	dstBytes := randomBytes(11, 64<<10)
	o := newOpener(t)
	o.disks[string(naaDisk)] = newLUN(t, "src", 64<<10, 512, src)
	dst := newLUN(t, "dst", 64<<10, 512, dstBytes)
	o.disks[string(naaDisk2)] = dst
	targets := []xcopy.TargetDescriptor{
		{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512},
		{DeviceType: xcopy.DeviceBlock, NAA: naaDisk2, BlockLength: 512},
	}
	for _, tc := range []struct {
		name string
		seg  xcopy.Segment
		lba  uint64
		at   uint16 // field pointer, from the start of the list
	}{
		{"destination LBA wraps", xcopy.Segment{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 16, DstLBA: 1<<55 + 100}, 1<<55 + 100, 80 + 20},
		{"source LBA wraps", xcopy.Segment{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 16, SrcLBA: 1<<55 + 100}, 1<<55 + 100, 80 + 12},
		{"byte offsets wrap", xcopy.Segment{Type: xcopy.BlockToBlockOffsets, Src: 0, Dst: 1, ByteCount: 100, DstLBA: 1 << 55, DstOffset: 7}, 1 << 55, 80 + 20},
		{"block→stream source wraps", xcopy.Segment{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 512, Blocks: 1, SrcLBA: 1<<64 - 1}, 1<<64 - 1, 80 + 16},
		{"past the end", xcopy.Segment{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 16, DstLBA: 120}, 120, 80 + 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := &xcopy.ParameterList{Targets: targets, Segments: []xcopy.Segment{tc.seg}}
			if tc.seg.Type == xcopy.BlockToStream {
				pl.Targets = []xcopy.TargetDescriptor{targets[0], {DeviceType: xcopy.DeviceStream, NAA: naaTape}}
				o.tapes[string(naaTape)] = newCart(t, "t.tap", tape.Options{}).Path()
			}
			b, err := pl.Encode()
			if err != nil {
				t.Fatal(err)
			}
			_, derr := xcopy.Decode(b, xcopy.DefaultLimits())
			_, _, ferr := FromXCopy(pl, o.resolve)
			for i, err := range []error{derr, ferr} {
				if i == 0 && tc.name == "past the end" {
					if err != nil {
						t.Fatalf("Decode refused an address it cannot check: %v", err)
					}
					continue
				}
				// An overflowing address is the list's fault (ILLEGAL
				// REQUEST, pointer into the list); one past the device is
				// the segment's (COPY ABORTED, pointer into its descriptor).
				var s *sense.Sense
				if tc.name == "past the end" {
					if !errors.As(err, &s) || s.Key != sense.CopyAborted || s.Code() != sense.NoAdditionalSense ||
						s.FieldPointer == nil || !s.FieldPointer.Segment || s.FieldPointer.Byte != tc.at-80 {
						t.Fatalf("error %d: %v, want COPY ABORTED with a segment pointer to byte %d", i, err, tc.at-80)
					}
					continue
				}
				if !errors.As(err, &s) || s.Key != sense.IllegalRequest || s.Code() != sense.LBAOutOfRange ||
					s.Information != tc.lba || s.FieldPointer == nil || s.FieldPointer.Byte != tc.at {
					t.Fatalf("error %d: %v, want LOGICAL BLOCK ADDRESS OUT OF RANGE, information %d, at byte %d", i, err, tc.lba, tc.at)
				}
			}
			if !bytes.Equal(lunBytes(t, dst), dstBytes) {
				t.Fatal("the destination changed")
			}
		})
	}
}

// TestXCopyOneDiskTwice: two CSCDs of one disk are one device, so a
// block→block copy between overlapping ranges of them is refused by the
// plan (had the list not come through Decode), and a list that only reads
// it opens it read-only.
func TestXCopyOneDiskTwice(t *testing.T) {
	content := randomBytes(12, 64<<10)
	o := newOpener(t)
	l := newLUN(t, "d", 64<<10, 512, content)
	o.disks[string(naaDisk)] = l
	o.tapes[string(naaTape)] = newCart(t, "t.tap", tape.Options{}).Path()
	cscd := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 512}
	pl := &xcopy.ParameterList{Targets: []xcopy.TargetDescriptor{cscd, cscd},
		Segments: []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 16, SrcLBA: 0, DstLBA: 8}}}
	plan, devs, err := FromXCopy(pl, o.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || o.calls[string(naaDisk)] != 1 {
		t.Fatalf("%d devices, %d opens", len(devs), o.calls[string(naaDisk)])
	}
	_, err = Run(context.Background(), smallConfig(), plan, devs, nil)
	var s *sense.Sense
	if !errors.As(err, &s) || s.Code() != sense.InvalidFieldInParameterList {
		t.Fatalf("overlapping copy on one disk: %v", err)
	}
	if !bytes.Equal(lunBytes(t, l), content) {
		t.Fatal("the disk changed")
	}

	o = newOpener(t)
	o.disks[string(naaDisk)] = l
	o.tapes[string(naaTape)] = newCart(t, "t2.tap", tape.Options{}).Path()
	pl = &xcopy.ParameterList{Targets: []xcopy.TargetDescriptor{cscd, {DeviceType: xcopy.DeviceStream, NAA: naaTape}, cscd},
		Segments: []xcopy.Segment{
			{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 4096, Blocks: 8},
			{Type: xcopy.Locate, Dst: 1},
			{Type: xcopy.StreamToDiscard, Src: 1, StreamLength: 4096, ByteCount: 4096},
			{Type: xcopy.BlockToStream, Src: 2, Dst: 1, StreamLength: 4096, Blocks: 8, SrcLBA: 8},
		}}
	if _, _, err := FromXCopy(pl, o.resolve); err != nil {
		t.Fatal(err)
	}
	if o.writes[string(naaDisk)] || !o.writes[string(naaTape)] || o.calls[string(naaDisk)] != 1 {
		t.Fatalf("opens %v, writable %v", o.calls, o.writes)
	}
}

// TestXCopySequentialSegments: segments run one after the other, each
// pipeline drained before the next starts, so a segment reads what an
// earlier one of the list wrote: on a disk (A→B, then B→C) and on a tape
// written and read back through two CSCDs of it.
func TestXCopySequentialSegments(t *testing.T) {
	content := randomBytes(13, 256<<10)
	o := newOpener(t)
	l := newLUN(t, "d", 256<<10, 4096, content)
	o.disks[string(naaDisk)] = l
	cart := newCart(t, "t.tap", tape.Options{})
	if err := cart.Close(); err != nil {
		t.Fatal(err)
	}
	o.tapes[string(naaTape)] = cart.Path()
	blockCSCD := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceBlock, NAA: naaDisk, BlockLength: 4096}
	stream := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceStream, NAA: naaTape}
	pl := decoded(t, &xcopy.ParameterList{Targets: []xcopy.TargetDescriptor{blockCSCD, stream, blockCSCD, stream},
		Segments: []xcopy.Segment{
			{Type: xcopy.BlockToBlock, Src: 0, Dst: 2, Blocks: 16, SrcLBA: 0, DstLBA: 16},
			{Type: xcopy.BlockToBlock, Src: 2, Dst: 0, Blocks: 16, SrcLBA: 16, DstLBA: 32},
			{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 8192, Blocks: 16, SrcLBA: 32},
			{Type: xcopy.Locate, Dst: 3, LocateBlock: 0},
			{Type: xcopy.StreamToBlock, Src: 3, Dst: 0, StreamLength: 8192, Blocks: 16, DstLBA: 48},
		}})
	plan, devs, err := FromXCopy(pl, o.resolve)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig()
	cfg.BufferSize = 8 << 10 // many chunks per segment
	if _, err := Run(context.Background(), cfg, plan, devs, nil); err != nil {
		t.Fatal(err)
	}
	got := lunBytes(t, devs[0].Block.(*disk.LUN))
	block := content[:16*4096]
	for _, at := range []int{16, 32, 48} {
		if !bytes.Equal(got[at*4096:(at+16)*4096], block) {
			t.Errorf("blocks %d-%d are not blocks 0-15", at, at+15)
		}
	}
	if !bytes.Equal(got[64*4096:], content[64*4096:]) {
		t.Error("bytes past the copies changed")
	}
}

package mover

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ferry-san/ferry/storage/tape"
)

// TestSegmentKinds runs every segment kind against real LUNs and
// cartridges and checks what lands on the destination and the hashes.
func TestSegmentKinds(t *testing.T) {
	src := randomBytes(1, 1<<20)
	file1 := randomRecords(2, 300<<10, 100<<10) // records up to 100 KiB: larger than a 64 KiB buffer
	file2 := randomRecords(3, 50<<10, 8<<10)
	label := tapeFile{[]byte("VOL1 label record")}

	type env struct {
		devs []Device
		// check verifies the destination; written is what the job wrote.
		check func(t *testing.T) []byte
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) env
		plan  func(devs []Device) Plan
	}{
		{
			name: "block→block with offsets",
			setup: func(t *testing.T) env {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newLUN(t, "dst", 1<<20, 512, nil)
				return env{devs: []Device{{Name: "src", Block: s}, {Name: "dst", Block: d}}, check: func(t *testing.T) []byte {
					got := lunBytes(t, d)
					want := make([]byte, 1<<20)
					copy(want[1000:], src[333:333+200000])
					if !bytes.Equal(got, want) {
						t.Fatal("destination differs")
					}
					return src[333 : 333+200000]
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{{Kind: BlockToBlock, Src: 0, Dst: 1, SrcOffset: 333, DstOffset: 1000, Length: 200000}}}
			},
		},
		{
			name: "block→stream variable with short last record",
			setup: func(t *testing.T) env {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newCart(t, "dst.tap", tape.Options{})
				return env{devs: []Device{{Block: s}, {Tape: d}}, check: func(t *testing.T) []byte {
					files := readTape(t, d)
					if len(files) != 1 {
						t.Fatalf("%d files", len(files))
					}
					for i, r := range files[0] {
						want := 48 << 10
						if i == len(files[0])-1 {
							want = (1<<20 - 4096) % (48 << 10)
						}
						if len(r) != want {
							t.Fatalf("record %d: %d bytes, want %d", i, len(r), want)
						}
					}
					return concat(files[0])
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{{Kind: BlockToStream, Src: 0, Dst: 1, SrcOffset: 4096, Length: 1<<20 - 4096, RecordSize: 48 << 10}}}
			},
		},
		{
			name: "block→stream fixed mode",
			setup: func(t *testing.T) env {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newCart(t, "dst.tap", tape.Options{BlockSize: 4096})
				return env{devs: []Device{{Block: s}, {Tape: d}}, check: func(t *testing.T) []byte {
					files := readTape(t, d)
					if len(files[0]) != 16 {
						t.Fatalf("%d records, want 16", len(files[0]))
					}
					return concat(files[0])
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{{Kind: BlockToStream, Src: 0, Dst: 1, Length: 64 << 10}}}
			},
		},
		{
			name: "stream→block: tape file 1 to a LUN",
			setup: func(t *testing.T) env {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, label, file1, file2)
				d := newLUN(t, "dst", 1<<20, 512, nil)
				return env{devs: []Device{{Tape: s}, {Block: d}}, check: func(t *testing.T) []byte {
					got := lunBytes(t, d)
					want := concat(file1)
					if !bytes.Equal(got[512:512+len(want)], want) {
						t.Fatal("destination differs")
					}
					p, _ := s.ReadPosition()
					if p.File != 2 {
						t.Fatalf("source left in file %d, want 2 (after the filemark)", p.File)
					}
					return want
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{
					{Kind: Space, Dst: 0, Space: tape.SpaceFilemarks, Count: 1},
					{Kind: StreamToBlock, Src: 0, Dst: 1, DstOffset: 512, Records: -1},
				}}
			},
		},
		{
			name: "stream→block by length discards the residue",
			setup: func(t *testing.T) env {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, file1)
				d := newLUN(t, "dst", 1<<20, 512, nil)
				return env{devs: []Device{{Tape: s}, {Block: d}}, check: func(t *testing.T) []byte {
					want := concat(file1)[:100000]
					got := lunBytes(t, d)
					if !bytes.Equal(got[:100000], want) || !bytes.Equal(got[100000:], make([]byte, len(got)-100000)) {
						t.Fatal("destination differs")
					}
					return want
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{{Kind: StreamToBlock, Src: 0, Dst: 1, Length: 100000}}}
			},
		},
		{
			name: "stream→stream one to one, then filemark",
			setup: func(t *testing.T) env {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, file1, file2)
				d := newCart(t, "dst.tap", tape.Options{})
				return env{devs: []Device{{Tape: s}, {Tape: d}}, check: func(t *testing.T) []byte {
					files := readTape(t, d)
					if len(files) != 1 || len(files[0]) != len(file1)+3 {
						t.Fatalf("got %d files", len(files))
					}
					for i := range file1 {
						if !bytes.Equal(files[0][i], file1[i]) {
							t.Fatalf("record %d differs", i)
						}
					}
					return concat(file1, file2[:3])
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{
					{Kind: StreamToStream, Src: 0, Dst: 1, Records: -1},
					{Kind: StreamToStream, Src: 0, Dst: 1, Records: 3},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
				}}
			},
		},
		{
			name: "stream→stream re-blocked",
			setup: func(t *testing.T) env {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, file1)
				d := newCart(t, "dst.tap", tape.Options{})
				return env{devs: []Device{{Tape: s}, {Tape: d}}, check: func(t *testing.T) []byte {
					files := readTape(t, d)
					want := concat(file1)
					if !bytes.Equal(concat(files...), want) {
						t.Fatal("data differs")
					}
					for i, r := range files[0][:len(files[0])-1] {
						if len(r) != 10000 {
							t.Fatalf("record %d is %d bytes", i, len(r))
						}
					}
					return want
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{
					{Kind: StreamToStream, Src: 0, Dst: 1, Records: -1, RecordSize: 10000},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
				}}
			},
		},
		{
			name: "inline→stream, discard, verify, locate",
			setup: func(t *testing.T) env {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, file1, file2)
				d := newCart(t, "dst.tap", tape.Options{})
				writeTape(t, d, label)
				return env{devs: []Device{{Tape: s}, {Tape: d}}, check: func(t *testing.T) []byte {
					files := readTape(t, d)
					if len(files) != 2 || !bytes.Equal(concat(files[1]), []byte("HDR1 inline data")) {
						t.Fatalf("files %d", len(files))
					}
					p, _ := s.ReadPosition()
					if p.File != 1 {
						t.Fatalf("source in file %d", p.File)
					}
					return []byte("HDR1 inline data")
				}}
			},
			plan: func([]Device) Plan {
				return Plan{Segments: []Segment{
					{Kind: Verify, Src: 0},
					{Kind: Verify, Src: 1},
					{Kind: StreamToDiscard, Src: 0, Records: -1},
					{Kind: Locate, Dst: 1, ObjectID: 2},
					{Kind: InlineToStream, Dst: 1, Inline: []byte("HDR1 inline data"), RecordSize: 4},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
				}}
			},
		},
		{
			name: "tape image copy",
			setup: func(t *testing.T) env {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, label, file1, file2)
				d := newCart(t, "dst.tap", tape.Options{})
				return env{devs: []Device{{Tape: s}, {Tape: d}}, check: func(t *testing.T) []byte {
					s.Flush()
					d.Flush()
					if !bytes.Equal(fileBytes(t, s.Path()), fileBytes(t, d.Path())) {
						t.Fatal("images differ")
					}
					return concat(label, file1, file2)
				}}
			},
			plan: func([]Device) Plan { return Plan{Segments: []Segment{{Kind: TapeImage, Src: 0, Dst: 1}}} },
		},
		{
			name: "tape image copy of two files",
			setup: func(t *testing.T) env {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, label, file1, file2)
				d := newCart(t, "dst.tap", tape.Options{})
				return env{devs: []Device{{Tape: s}, {Tape: d}}, check: func(t *testing.T) []byte {
					files := readTape(t, d)
					if len(files) != 2 || len(files[1]) != len(file1) {
						t.Fatalf("got %d files", len(files))
					}
					return concat(label, file1)
				}}
			},
			plan: func([]Device) Plan { return Plan{Segments: []Segment{{Kind: TapeImage, Src: 0, Dst: 1, Filemarks: 2}}} },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.setup(t)
			plan := tc.plan(e.devs)
			res := run(t, smallConfig(), plan, e.devs)
			written := e.check(t)
			if res.Bytes != int64(len(written)) || res.SHA256 != sum(written) {
				t.Fatalf("result %d bytes %x, want %d bytes %x", res.Bytes, res.SHA256, len(written), sum(written))
			}
			if len(res.Segments) != len(plan.Segments) {
				t.Fatalf("%d segment results", len(res.Segments))
			}
		})
	}
}

// TestStreamEndsInsideABlock: a tape file whose data ends inside a disk
// block has the rest of that block written with zeros, reported as
// padding; the hash covers the tape's bytes, and nothing after the block
// changes. Small buffers make chunks end inside blocks too.
func TestStreamEndsInsideABlock(t *testing.T) {
	for _, bs := range []uint32{512, 4096} {
		file := randomRecords(uint64(bs), 3*4096+100, 1500)
		old := randomBytes(77, 64<<10)
		lun := newLUN(t, "d", 64<<10, bs, old)
		c := newCart(t, "t.tap", tape.Options{})
		writeTape(t, c, file)
		cfg := smallConfig()
		cfg.BufferSize = 4096
		plan := Plan{Segments: []Segment{{Kind: StreamToBlock, Src: 0, Dst: 1, DstOffset: int64(bs), Records: -1}}}
		res := run(t, cfg, plan, []Device{{Tape: c}, {Block: lun}})
		data := concat(file)
		pad := int64(bs) - int64(len(data))%int64(bs)
		if res.Bytes != int64(len(data)) || res.Padding != pad || res.SHA256 != sum(data) {
			t.Fatalf("%d-byte blocks: %d bytes, %d padding (want %d)", bs, res.Bytes, res.Padding, pad)
		}
		got := lunBytes(t, lun)
		end := int(bs) + len(data)
		if !bytes.Equal(got[:bs], old[:bs]) || !bytes.Equal(got[bs:end], data) ||
			!bytes.Equal(got[end:end+int(pad)], make([]byte, pad)) || !bytes.Equal(got[end+int(pad):], old[end+int(pad):]) {
			t.Fatalf("%d-byte blocks: the disk is not the data, zeros to the block's end, and what it held", bs)
		}
	}
}

// TestStreamToFixedModeTape: a stream→stream copy onto a fixed-mode tape
// re-blocks the source's records into blocks (it used to copy them one to
// one and fail on the first that was not a block long).
func TestStreamToFixedModeTape(t *testing.T) {
	file := randomRecords(5, 4096, 700)
	src := newCart(t, "s.tap", tape.Options{})
	writeTape(t, src, file)
	dst := newCart(t, "d.tap", tape.Options{BlockSize: 512})
	plan := Plan{Segments: []Segment{{Kind: StreamToStream, Src: 0, Dst: 1, Length: 4096}}}
	res := run(t, smallConfig(), plan, []Device{{Tape: src}, {Tape: dst}})
	if res.Bytes != 4096 {
		t.Fatalf("copied %d bytes", res.Bytes)
	}
	got := readTape(t, dst)
	if len(got) != 1 || len(got[0]) != 8 || !bytes.Equal(concat(got[0]), concat(file)) {
		t.Fatalf("the fixed-mode tape holds %d files, not 8 blocks of the source's bytes", len(got))
	}
	plan.Segments[0].Length = 1000
	if _, err := Run(context.Background(), smallConfig(), plan, []Device{{Tape: src}, {Tape: dst}}, nil); !errors.Is(err, ErrInvalidPlan) {
		t.Fatalf("1000 bytes onto 512-byte blocks: %v", err)
	}
}

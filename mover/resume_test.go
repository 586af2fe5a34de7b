package mover

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// scenario builds fresh devices holding the same source data each time.
type scenario struct {
	name string
	// make returns the devices and the plan.
	make func(t *testing.T) ([]Device, Plan)
	// crash closes and reopens the devices, as a restarted process would,
	// losing the cartridges' unflushed buffers.
	crash func(t *testing.T, devs []Device) []Device
	// result is the destination's final content.
	result func(t *testing.T, devs []Device) []byte
}

const resumeData = 3 << 20

func resumeScenarios() []scenario {
	src := randomBytes(10, resumeData)
	label := tapeFile{[]byte("VOL1A00001L9")}
	data := randomRecords(11, resumeData, 100<<10)
	other := randomRecords(12, 200<<10, 30<<10)

	reopenLUN := func(t *testing.T, d Device) Device {
		l := d.Block.(*disk.LUN)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return Device{Name: d.Name, Block: openLUN(t, l.Path(), l.BlockSize(), false)}
	}
	reopenTape := func(t *testing.T, d Device) Device {
		return Device{Name: d.Name, Tape: reopenCart(t, d.Tape.(*tape.Cartridge), tape.Options{})}
	}
	tapeImage := func(t *testing.T, d Device) []byte {
		c := d.Tape.(*tape.Cartridge)
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		return fileBytes(t, c.Path())
	}
	return []scenario{
		{
			name: "disk→disk",
			make: func(t *testing.T) ([]Device, Plan) {
				s := newLUN(t, "src", resumeData, 512, src)
				d := newLUN(t, "dst", resumeData, 4096, nil)
				return []Device{{Name: "src", Block: s}, {Name: "dst", Block: d}}, Plan{Segments: []Segment{
					{Kind: BlockToBlock, Src: 0, Dst: 1, SrcOffset: 1 << 20, DstOffset: 0, Length: 2 << 20},
					{Kind: BlockToBlock, Src: 0, Dst: 1, SrcOffset: 512, DstOffset: 2 << 20, Length: 1<<20 - 512},
				}}
			},
			crash: func(t *testing.T, devs []Device) []Device {
				return []Device{devs[0], reopenLUN(t, devs[1])}
			},
			result: func(t *testing.T, devs []Device) []byte { return lunBytes(t, devs[1].Block.(*disk.LUN)) },
		},
		{
			name: "disk→tape",
			make: func(t *testing.T) ([]Device, Plan) {
				s := newLUN(t, "src", resumeData, 512, src)
				d := newCart(t, "dst.tap", tape.Options{})
				writeTape(t, d, label)
				return []Device{{Name: "src", Block: s}, {Name: "dst", Tape: d}}, Plan{Segments: []Segment{
					{Kind: Space, Dst: 1, Space: tape.SpaceEndOfData},
					{Kind: BlockToStream, Src: 0, Dst: 1, Length: 2<<20 + 512, RecordSize: 48 << 10},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
					{Kind: BlockToStream, Src: 0, Dst: 1, SrcOffset: 2<<20 + 512, Length: 1<<20 - 512, RecordSize: 32 << 10},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
				}}
			},
			crash: func(t *testing.T, devs []Device) []Device {
				return []Device{devs[0], reopenTape(t, devs[1])}
			},
			result: func(t *testing.T, devs []Device) []byte { return tapeImage(t, devs[1]) },
		},
		{
			name: "tape→disk",
			make: func(t *testing.T) ([]Device, Plan) {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, label, data, other)
				d := newLUN(t, "dst", 4<<20, 512, nil)
				return []Device{{Name: "src", Tape: s}, {Name: "dst", Block: d}}, Plan{Segments: []Segment{
					{Kind: Space, Dst: 0, Space: tape.SpaceFilemarks, Count: 1},
					{Kind: StreamToBlock, Src: 0, Dst: 1, DstOffset: 4096, Records: -1},
					{Kind: StreamToBlock, Src: 0, Dst: 1, DstOffset: 4096 + resumeData, Records: -1},
				}}
			},
			crash: func(t *testing.T, devs []Device) []Device {
				return []Device{reopenTape(t, devs[0]), reopenLUN(t, devs[1])}
			},
			result: func(t *testing.T, devs []Device) []byte { return lunBytes(t, devs[1].Block.(*disk.LUN)) },
		},
		{
			name: "tape→tape image",
			make: func(t *testing.T) ([]Device, Plan) {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, label, data, other)
				d := newCart(t, "dst.tap", tape.Options{})
				return []Device{{Name: "src", Tape: s}, {Name: "dst", Tape: d}}, Plan{Segments: []Segment{
					{Kind: TapeImage, Src: 0, Dst: 1},
				}}
			},
			crash: func(t *testing.T, devs []Device) []Device {
				return []Device{reopenTape(t, devs[0]), reopenTape(t, devs[1])}
			},
			result: func(t *testing.T, devs []Device) []byte { return tapeImage(t, devs[1]) },
		},
	}
}

var errStop = errors.New("stopped by the test")

// TestResumeProperty stops each copy at 50 random checkpoints, resumes it
// from there after reopening the devices (sometimes stopping and resuming
// once more), and requires the destination and every hash to equal those
// of an uninterrupted copy.
func TestResumeProperty(t *testing.T) {
	const stops = 50
	for i, sc := range resumeScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			cfg := smallConfig()
			cfg.CheckpointBytes = 1 // after every chunk
			cfg.BufferSize = 32 << 10
			n := 0
			cfg.OnCheckpoint = func(context.Context, Checkpoint) error { n++; return nil }
			devs, plan := sc.make(t)
			want := run(t, cfg, plan, devs)
			wantBytes := sc.result(t, devs)
			if n < stops {
				t.Fatalf("only %d checkpoints in the reference run", n)
			}
			total := n
			for _, k := range rng.Perm(total)[:stops] {
				devs, plan := sc.make(t)
				cp, ok := stopAt(t, cfg, plan, devs, nil, k)
				if !ok {
					t.Fatalf("the copy ended before checkpoint %d", k)
				}
				devs = sc.crash(t, devs)
				if rng.IntN(2) == 0 && total-k > 1 {
					// Stop the resumed copy too, at a later checkpoint if it
					// gets there: chunking after a resume may differ.
					if later, ok := stopAt(t, cfg, plan, devs, &cp, rng.IntN(total-k-1)); ok {
						cp = later
						devs = sc.crash(t, devs)
					} else {
						devs = sc.crash(t, devs)
						if !bytes.Equal(sc.result(t, devs), wantBytes) {
							t.Fatalf("resume from checkpoint %d: destination differs", k)
						}
						continue
					}
				}
				cfg.OnCheckpoint = func(context.Context, Checkpoint) error { return nil }
				got, err := Run(context.Background(), cfg, plan, devs, &cp)
				if err != nil {
					t.Fatalf("resume from checkpoint %d: %v", k, err)
				}
				if got.Bytes != want.Bytes || got.SHA256 != want.SHA256 || len(got.Segments) != len(want.Segments) {
					t.Fatalf("resume from checkpoint %d: %d bytes %x, want %d bytes %x", k, got.Bytes, got.SHA256, want.Bytes, want.SHA256)
				}
				if !maps.Equal(got.Written, want.Written) {
					t.Fatalf("resume from checkpoint %d: written from %v, want %v", k, got.Written, want.Written)
				}
				for j := range got.Segments {
					if got.Segments[j] != want.Segments[j] {
						t.Fatalf("resume from checkpoint %d: segment %d result differs", k, j)
					}
				}
				if !bytes.Equal(sc.result(t, devs), wantBytes) {
					t.Fatalf("resume from checkpoint %d: destination differs", k)
				}
			}
		})
	}
}

// stopAt runs (or resumes) a copy until its k-th checkpoint (0-based) and
// returns that checkpoint after a trip through its binary form; ok is false
// if the copy completed first (its result must then be the reference).
func stopAt(t *testing.T, cfg Config, plan Plan, devs []Device, resume *Checkpoint, k int) (_ Checkpoint, ok bool) {
	t.Helper()
	var cp Checkpoint
	n := 0
	cfg.OnCheckpoint = func(_ context.Context, c Checkpoint) error {
		if n++; n-1 < k {
			return nil
		}
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		return errStop
	}
	_, err := Run(context.Background(), cfg, plan, devs, resume)
	if err == nil {
		return cp, false
	}
	if !errors.Is(err, errStop) {
		t.Fatalf("stopping at checkpoint %d: %v", k, err)
	}
	return cp, true
}

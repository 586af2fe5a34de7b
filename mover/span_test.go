package mover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ferry-san/ferry/storage/tape"
)

// spanRig is a copy of a LUN to a tape that spans small cartridges: the
// caller's side of Config.Span, kept in memory.
type spanRig struct {
	t     *testing.T
	src   []byte
	opt   tape.Options
	carts []*tape.Cartridge // every volume, in order
	ends  []VolumeEnd
	// committed is the last checkpoint "committed", by OnCheckpoint or by
	// a span; crashAt makes the span's commit fail at that point.
	committed *Checkpoint
	crashAt   string
}

const (
	spanCapacity = 4 << 20
	spanRecord   = 64 << 10
)

func newSpanRig(t *testing.T, size int) *spanRig {
	return &spanRig{t: t, src: randomBytes(uint64(size), size), opt: tape.Options{Capacity: spanCapacity}}
}

var errCrash = errors.New("crash")

func (g *spanRig) config() Config {
	cfg := smallConfig()
	cfg.BufferSize = 256 << 10
	cfg.CheckpointBytes = 512 << 10
	cfg.OnCheckpoint = func(_ context.Context, cp Checkpoint) error {
		g.committed = &cp
		return nil
	}
	cfg.Span = func(_ context.Context, end VolumeEnd) (Device, error) {
		if g.crashAt == "before span" {
			return Device{}, errCrash // the filemark is on the tape, the span is not committed
		}
		g.ends = append(g.ends, end)
		cp := end.Checkpoint
		g.committed = &cp
		if g.crashAt == "after span" {
			return Device{}, errCrash // committed, nothing on the next volume yet
		}
		d := g.nextVolume()
		if g.crashAt == "on the next volume" {
			// The owner dies after writing a few records there.
			d.Tape = &crashAfter{TapeDrive: d.Tape, records: 12}
		}
		return d, nil
	}
	return cfg
}

// crashAfter fails every write after its first records, as a dead owner
// writes nothing more.
type crashAfter struct {
	TapeDrive
	records int
}

func (c *crashAfter) WriteRecord(p []byte) (bool, error) {
	if c.records == 0 {
		return false, errCrash
	}
	c.records--
	return c.TapeDrive.WriteRecord(p)
}

// nextVolume loads a new cartridge, positions it where the part begins and
// commits that position, as the executor does.
func (g *spanRig) nextVolume() Device {
	c := newCart(g.t, fmt.Sprintf("v%d", len(g.carts)+1), g.opt)
	// Something of another job is on it already: the part is appended.
	writeTape(g.t, c, tapeFile{[]byte("another job's file")})
	if err := c.Space(tape.SpaceEndOfData, 0); err != nil {
		g.t.Fatal(err)
	}
	g.carts = append(g.carts, c)
	g.pin(c)
	return Device{Name: c.Path(), Tape: c}
}

// pin commits the position of the volume a span checkpoint left open.
func (g *spanRig) pin(c *tape.Cartridge) {
	p, err := c.ReadPosition()
	if err != nil {
		g.t.Fatal(err)
	}
	cp := *g.committed
	if _, open := cp.Positions[1]; open {
		return
	}
	cp.Positions = map[int]TapePos{}
	for k, v := range g.committed.Positions {
		cp.Positions[k] = v
	}
	cp.Positions[1] = TapePos{ObjectID: p.ObjectID, File: p.File}
	g.committed = &cp
}

func (g *spanRig) plan() Plan {
	return Plan{Segments: []Segment{
		{Kind: BlockToStream, Src: 0, Dst: 1, Length: int64(len(g.src)), RecordSize: spanRecord},
		{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
	}}
}

// check compares what the volumes hold with the source: each volume's
// part is the file VolumeEnd (or, for the last, the result) names, and
// the parts in order are the source.
func (g *spanRig) check(res Result) {
	t := g.t
	if res.SHA256 != sum(g.src) || res.Bytes != int64(len(g.src)) {
		t.Fatalf("result %d bytes %x, want %d bytes %x", res.Bytes, res.SHA256, len(g.src), sum(g.src))
	}
	if len(g.carts) < 2 {
		t.Fatalf("the copy used %d volumes, want it to span", len(g.carts))
	}
	var got []byte
	var offset int64
	for i, c := range g.carts {
		files := readTape(t, c)
		skip := 0
		if i > 0 {
			skip = 1 // another job's file before the part
		}
		if i < len(g.ends) {
			e := g.ends[i]
			if e.Offset != offset || int(e.File) != skip || len(files) != skip+1 {
				t.Fatalf("volume %d: end %+v with offset %d and %d files, want the part in file %d at offset %d", i+1, e, e.Offset, len(files), skip, offset)
			}
			if part := concat(files[skip]); int64(len(part)) != e.Bytes {
				t.Fatalf("volume %d holds %d bytes of the part, its end says %d", i+1, len(part), e.Bytes)
			}
			offset += e.Bytes
		}
		if len(files) != skip+1 {
			t.Fatalf("volume %d has %d files, want %d", i+1, len(files), skip+1)
		}
		got = append(got, concat(files[skip])...)
	}
	if !bytes.Equal(got, g.src) {
		t.Fatalf("the volumes hold %d bytes that differ from the source's %d", len(got), len(g.src))
	}
}

func (g *spanRig) devs() []Device {
	c := newCart(g.t, "v1", g.opt)
	g.carts = []*tape.Cartridge{c}
	return []Device{{Name: "src", Block: newLUN(g.t, "src", int64(len(g.src)), 512, g.src)}, {Name: c.Path(), Tape: c}}
}

// A copy larger than a cartridge goes on on the next volume at early
// warning, each part a whole file, and hashes as one copy.
func TestSpanVolumes(t *testing.T) {
	g := newSpanRig(t, 10<<20)
	res, err := Run(context.Background(), g.config(), g.plan(), g.devs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	g.check(res)
	for _, e := range g.ends {
		if e.Checkpoint.Volumes[1].Number != e.Volume+1 || e.Checkpoint.Volumes[1].From != e.Offset+e.Bytes {
			t.Errorf("span checkpoint volumes %v after volume %d", e.Checkpoint.Volumes, e.Volume)
		}
		if _, ok := e.Checkpoint.Positions[1]; ok {
			t.Errorf("span checkpoint pins the next volume: %v", e.Checkpoint.Positions)
		}
		if e.Bytes <= 0 || e.Bytes%spanRecord != 0 {
			t.Errorf("part of %d bytes: want whole records", e.Bytes)
		}
	}
}

// Without Span a tape in early warning is written on until the end of the
// medium fails the copy, as before (a copy to a named cartridge).
func TestNoSpanOverflows(t *testing.T) {
	g := newSpanRig(t, 10<<20)
	cfg := g.config()
	cfg.Span = nil
	_, err := Run(context.Background(), cfg, g.plan(), g.devs(), nil)
	if !errors.Is(err, tape.ErrEndOfMedium) {
		t.Fatalf("err = %v, want end of medium", err)
	}
}

// Every crash point of a span resumes byte-identical: before the span is
// committed (the filemark on the full volume is rewritten from the last
// checkpoint there), after it (the next volume is positioned and pinned
// first), and on the next volume after a few checkpoints.
func TestSpanCrashPoints(t *testing.T) {
	for _, crash := range []string{"before span", "after span", "on the next volume"} {
		t.Run(crash, func(t *testing.T) {
			g := newSpanRig(t, 10<<20)
			cfg := g.config()
			g.crashAt = crash
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			devs := g.devs()
			if _, err := Run(ctx, cfg, g.plan(), devs, nil); !errors.Is(err, errCrash) {
				t.Fatalf("err = %v, want the crash", err)
			}
			// The new owner: the volume the committed checkpoint is on.
			g.crashAt = ""
			cfg = g.config()
			cp := *g.committed
			vol := int(max(cp.Volumes[1].Number, 1))
			switch {
			case vol == len(g.carts)+1: // spanned, nothing on the next one
				next := g.nextVolume()
				devs[1] = next
				cp = *g.committed
			case vol == len(g.carts):
				c := reopenCart(t, g.carts[vol-1], g.opt)
				g.carts[vol-1] = c
				devs[1] = Device{Name: c.Path(), Tape: c}
			default:
				t.Fatalf("checkpoint on volume %d with %d loaded", vol, len(g.carts))
			}
			devs[0] = Device{Name: "src", Block: newLUN(t, "src2", int64(len(g.src)), 512, g.src)}
			res, err := Run(context.Background(), cfg, g.plan(), devs, &cp)
			if err != nil {
				t.Fatal(err)
			}
			g.check(res)
		})
	}
}

// A volume whose room ends before the copy's first chunk on it holds an
// empty part, closed by a filemark at the cut: none of the records written
// past the cut stays on it, and the copy goes on on the next volume.
func TestSpanEmptyPart(t *testing.T) {
	g := newSpanRig(t, 10<<20)
	cfg := g.config()
	span := cfg.Span
	cfg.Span = func(ctx context.Context, end VolumeEnd) (Device, error) {
		d, err := span(ctx, end)
		if err == nil && len(g.carts) == 2 {
			// Another job nearly filled volume 2: a few KiB are left
			// before early warning.
			c := g.carts[1]
			if _, err := c.WriteRecord(make([]byte, spanCapacity-(1<<20)-int(c.Used())-(16<<10))); err != nil {
				t.Fatal(err)
			}
			if _, err := c.WriteFilemarks(1); err != nil {
				t.Fatal(err)
			}
			g.pin(c)
		}
		return d, err
	}
	res, err := Run(context.Background(), cfg, g.plan(), g.devs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.ends) < 2 || g.ends[1].Bytes != 0 {
		t.Fatalf("ends %+v: want an empty part on volume 2", g.ends)
	}
	files := readTape(t, g.carts[1])
	if len(files) != 3 || len(files[2]) != 0 {
		t.Fatalf("volume 2 holds %d files (last %d records), want the two others' and an empty one", len(files), len(files[len(files)-1]))
	}
	var got []byte
	for i, c := range g.carts {
		files := readTape(t, c)
		if i != 1 {
			got = append(got, concat(files[len(files)-1])...)
		}
	}
	if res.SHA256 != sum(g.src) || !bytes.Equal(got, g.src) {
		t.Fatal("the parts are not the source")
	}
}

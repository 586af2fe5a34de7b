package mover

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// TestDeviceErrors checks that device failures stop the copy with the
// failing segment, the bytes it got through and the right sense data.
func TestDeviceErrors(t *testing.T) {
	src := randomBytes(5, 1<<20)
	tests := []struct {
		name      string
		setup     func(t *testing.T) ([]Device, Plan)
		wantErr   error
		wantKey   sense.Key
		wantCode  sense.Code
		wantSeg   int
		wantBytes func(b int64) bool
	}{
		{
			name: "end of medium on a small cartridge",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newCart(t, "dst.tap", tape.Options{Capacity: 300 << 10, EarlyWarning: 100 << 10})
				return []Device{{Block: s}, {Name: "small", Tape: d}}, Plan{Segments: []Segment{
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
					{Kind: BlockToStream, Src: 0, Dst: 1, Length: 1 << 20, RecordSize: 32 << 10},
				}}
			},
			wantErr: tape.ErrEndOfMedium, wantKey: sense.VolumeOverflow, wantCode: sense.EndOfPartitionDetected,
			// The records before the failure may or may not have been
			// committed by the time the writer fails: only the bound holds.
			wantSeg: 1, wantBytes: func(b int64) bool { return b >= 0 && b < 300<<10 },
		},
		{
			name: "write-protected tape",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newCart(t, "dst.tap", tape.Options{})
				d = reopenCart(t, d, tape.Options{ReadOnly: true})
				return []Device{{Block: s}, {Tape: d}}, Plan{Segments: []Segment{
					{Kind: BlockToStream, Src: 0, Dst: 1, Length: 1 << 20},
				}}
			},
			wantErr: tape.ErrWriteProtected, wantKey: sense.DataProtect, wantCode: sense.WriteProtected,
			wantBytes: func(b int64) bool { return b == 0 },
		},
		{
			name: "write-protected filemarks",
			setup: func(t *testing.T) ([]Device, Plan) {
				d := newCart(t, "dst.tap", tape.Options{})
				d = reopenCart(t, d, tape.Options{ReadOnly: true})
				return []Device{{Tape: d}}, Plan{Segments: []Segment{{Kind: Verify, Src: 0}, {Kind: WriteFilemarks, Dst: 0, Filemarks: 2}}}
			},
			wantErr: tape.ErrWriteProtected, wantKey: sense.DataProtect, wantCode: sense.WriteProtected, wantSeg: 1,
			wantBytes: func(b int64) bool { return b == 0 },
		},
		{
			name: "read-only LUN",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newLUN(t, "dst", 1<<20, 512, nil)
				ro := openLUN(t, d.Path(), 512, true)
				return []Device{{Block: s}, {Block: ro}}, Plan{Segments: []Segment{{Kind: BlockToBlock, Src: 0, Dst: 1, Length: 1 << 20}}}
			},
			wantErr: disk.ErrReadOnly, wantKey: sense.DataProtect, wantCode: sense.WriteProtected,
			wantBytes: func(b int64) bool { return b == 0 },
		},
		{
			name: "read past the end of a LUN (refused before any IO)",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newLUN(t, "dst", 4<<20, 512, nil)
				return []Device{{Block: s}, {Block: d}}, Plan{Segments: []Segment{{Kind: BlockToBlock, Src: 0, Dst: 1, SrcOffset: 512, Length: 1 << 20}}}
			},
			wantErr: ErrOutOfRange, wantKey: sense.IllegalRequest, wantCode: sense.LBAOutOfRange,
			wantBytes: func(b int64) bool { return b == 0 },
		},
		{
			name: "tape file larger than the LUN",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, randomRecords(6, 2<<20, 64<<10))
				d := newLUN(t, "dst", 1<<20, 512, nil)
				return []Device{{Tape: s}, {Block: d}}, Plan{Segments: []Segment{{Kind: StreamToBlock, Src: 0, Dst: 1, Records: -1}}}
			},
			wantErr: disk.ErrOutOfRange, wantKey: sense.IllegalRequest, wantCode: sense.LBAOutOfRange,
			wantBytes: func(b int64) bool { return b > 0 && b <= 1<<20 },
		},
		{
			name: "short read: filemark before the record count",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, randomRecords(7, 100<<10, 10<<10))
				d := newLUN(t, "dst", 1<<20, 512, nil)
				return []Device{{Tape: s}, {Block: d}}, Plan{Segments: []Segment{{Kind: StreamToBlock, Src: 0, Dst: 1, Records: 1000}}}
			},
			wantErr: ErrUnderrun, wantKey: sense.CopyAborted, wantCode: sense.CopyTargetDataUnderrun,
			wantBytes: func(b int64) bool { return b < 100<<10 },
		},
		{
			name: "space over end of data",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newCart(t, "src.tap", tape.Options{})
				writeTape(t, s, tapeFile{[]byte("x")})
				return []Device{{Tape: s}}, Plan{Segments: []Segment{{Kind: Space, Dst: 0, Space: tape.SpaceFilemarks, Count: 5}}}
			},
			wantErr: tape.ErrEndOfData, wantKey: sense.BlankCheck, wantCode: sense.EndOfDataDetected,
			wantBytes: func(b int64) bool { return b == 0 },
		},
		{
			name: "fixed-mode tape and a length that is not a multiple of the block",
			setup: func(t *testing.T) ([]Device, Plan) {
				s := newLUN(t, "src", 1<<20, 512, src)
				d := newCart(t, "dst.tap", tape.Options{BlockSize: 4096})
				return []Device{{Block: s}, {Tape: d}}, Plan{Segments: []Segment{{Kind: BlockToStream, Src: 0, Dst: 1, Length: 4096 + 512}}}
			},
			wantErr: ErrInvalidPlan, wantKey: sense.IllegalRequest, wantCode: sense.InvalidFieldInParameterList,
			wantBytes: func(b int64) bool { return b == 0 },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			devs, plan := tc.setup(t)
			res, err := Run(context.Background(), smallConfig(), plan, devs, nil)
			if err == nil {
				t.Fatalf("copy succeeded: %+v", res)
			}
			if res.Bytes != 0 || res.Segments != nil {
				t.Fatalf("partial result returned with the error: %+v", res)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			var se *SegmentError
			if !errors.As(err, &se) {
				t.Fatalf("%T is not a *SegmentError: %v", err, err)
			}
			if se.Segment != tc.wantSeg || !tc.wantBytes(se.Bytes) {
				t.Fatalf("segment %d bytes %d: %v", se.Segment, se.Bytes, err)
			}
			var sn *sense.Sense
			if !errors.As(err, &sn) {
				t.Fatalf("no sense data in %v", err)
			}
			if sn.Key != tc.wantKey || sn.Code() != tc.wantCode {
				t.Fatalf("sense %v, want %v %v", sn, tc.wantKey, tc.wantCode)
			}
			t.Log(err)
		})
	}
}

func TestCancel(t *testing.T) {
	s := newLUN(t, "src", 8<<20, 512, randomBytes(8, 8<<20))
	d := newLUN(t, "dst", 8<<20, 512, nil)
	devs := []Device{{Block: s}, {Block: d}}
	plan := Plan{Segments: []Segment{{Kind: BlockToBlock, Src: 0, Dst: 1, Length: 8 << 20}}}

	ctx, cancel := context.WithCancel(context.Background())
	cfg := smallConfig()
	cfg.OnProgress = func(p Progress) {
		if p.Bytes > 0 {
			cancel()
		}
	}
	cfg.BandwidthLimit = 4 << 20 // slow enough that the copy is still running
	_, err := Run(ctx, cfg, plan, devs, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	var se *SegmentError
	if !errors.As(err, &se) || se.Sense != nil {
		t.Fatalf("want a *SegmentError without sense, got %v", err)
	}

	// Already cancelled: nothing runs.
	_, err = Run(ctx, cfg, plan, devs, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestLimiter drives the limiter with a fake clock.
func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	var slept time.Duration
	l := newLimiter(1 << 20)
	l.now = func() time.Time { return now }
	l.sleep = func(_ context.Context, d time.Duration) error { slept += d; now = now.Add(d); return nil }
	ctx := context.Background()
	for range 8 {
		if err := l.wait(ctx, 256<<10); err != nil {
			t.Fatal(err)
		}
	}
	// 8 quarter-MiB chunks at 1 MiB/s: the first goes at once, the last
	// after 7/4 s.
	if slept != 1750*time.Millisecond {
		t.Fatalf("slept %v, want 1.75s", slept)
	}
	// Idle time earns no burst.
	now = now.Add(10 * time.Second)
	slept = 0
	l.wait(ctx, 256<<10)
	l.wait(ctx, 256<<10)
	if slept != 250*time.Millisecond {
		t.Fatalf("after idling slept %v, want 250ms", slept)
	}
}

// TestBandwidthLimit checks the limit end to end with loose bounds.
func TestBandwidthLimit(t *testing.T) {
	s := newLUN(t, "src", 2<<20, 512, randomBytes(9, 2<<20))
	d := newLUN(t, "dst", 2<<20, 512, nil)
	cfg := smallConfig()
	cfg.BandwidthLimit = 8 << 20
	start := time.Now()
	run(t, cfg, Plan{Segments: []Segment{{Kind: BlockToBlock, Src: 0, Dst: 1, Length: 2 << 20}}}, []Device{{Block: s}, {Block: d}})
	// 2 MiB at 8 MiB/s is 250ms; the first 64 KiB chunk is free.
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("copy took %v, faster than the limit allows", el)
	}
}

// TestBandwidthLimitAcrossSegments: the limit holds for the job, not each
// segment. A list of many one-chunk segments (an EXTENDED COPY of 4 MiB
// segments, a copy split at checkpoints) ran unlimited when every segment
// started a limiter of its own, whose first chunk was free.
func TestBandwidthLimitAcrossSegments(t *testing.T) {
	const chunk, n = 64 << 10, 32
	s := newLUN(t, "src", chunk*n, 512, randomBytes(10, chunk*n))
	d := newLUN(t, "dst", chunk*n, 512, nil)
	cfg := smallConfig()
	cfg.BandwidthLimit = 8 << 20
	var plan Plan
	for i := range int64(n) {
		plan.Segments = append(plan.Segments, Segment{Kind: BlockToBlock, Src: 0, Dst: 1, SrcOffset: i * chunk, DstOffset: i * chunk, Length: chunk})
	}
	start := time.Now()
	run(t, cfg, plan, []Device{{Block: s}, {Block: d}})
	// 2 MiB at 8 MiB/s is 250ms; only the first chunk is free.
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("copy of %d segments took %v, faster than the limit allows", n, el)
	}
}

func TestCheckpointEncoding(t *testing.T) {
	cp := Checkpoint{
		Segment: 3, SegmentDone: 1 << 40, SegmentRecords: 12, SegmentFiles: 2, BytesDone: 5 << 40,
		Positions:   map[int]TapePos{2: {ObjectID: 99, File: 3}, 0: {ObjectID: 7}},
		Hash:        []byte{1, 2, 3},
		SegmentHash: []byte{4, 5},
		Done:        []SegmentResult{{Bytes: 10, SHA256: sum([]byte("a"))}, {}, {Bytes: 1}},
		Written:     map[int]TapePos{2: {ObjectID: 40, File: 2}},
		Volumes:     map[int]Volume{2: {Number: 3, From: 1 << 30}},
	}
	b, err := cp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Checkpoint
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if string(b) != string(b2) || got.Positions[2] != cp.Positions[2] || got.Written[2] != cp.Written[2] || got.Volumes[2] != cp.Volumes[2] || got.Done[0] != cp.Done[0] || got.BytesDone != cp.BytesDone {
		t.Fatalf("round trip: %+v", got)
	}
	// Every truncation, a wrong version and trailing bytes are refused.
	for i := range len(b) {
		if err := new(Checkpoint).UnmarshalBinary(b[:i]); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("truncated to %d: %v", i, err)
		}
	}
	bad := append([]byte(nil), b...)
	bad[4] = 4
	if err := new(Checkpoint).UnmarshalBinary(bad); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("version 4: %v", err)
	}
	// Versions 1 (before Written) and 2 (before Volumes) are still read.
	v1, _ := Checkpoint{Segment: 1, Positions: map[int]TapePos{1: {2, 3}}, Done: []SegmentResult{{}}}.MarshalBinary()
	v1 = v1[:len(v1)-2] // no Written count, no Volumes count
	v1[4] = 1
	if err := got.UnmarshalBinary(v1); err != nil || got.Segment != 1 || got.Written != nil {
		t.Fatalf("version 1: %+v, %v", got, err)
	}
	v2, _ := Checkpoint{Segment: 1, Written: map[int]TapePos{1: {2, 3}}, Done: []SegmentResult{{}}}.MarshalBinary()
	v2 = v2[:len(v2)-1]
	v2[4] = 2
	if err := got.UnmarshalBinary(v2); err != nil || got.Written[1] != (TapePos{2, 3}) || got.Volumes != nil {
		t.Fatalf("version 2: %+v, %v", got, err)
	}
	// A volume 0 is no volume.
	v0, _ := Checkpoint{Volumes: map[int]Volume{1: {}}}.MarshalBinary()
	if err := got.UnmarshalBinary(v0); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("volume 0: %v", err)
	}
	if err := new(Checkpoint).UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func FuzzCheckpoint(f *testing.F) {
	b, _ := Checkpoint{Segment: 1, Positions: map[int]TapePos{1: {2, 3}}, Hash: []byte("h"), Done: []SegmentResult{{}}}.MarshalBinary()
	f.Add(b)
	f.Add([]byte("FYCP\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cp Checkpoint
		if cp.UnmarshalBinary(data) != nil {
			return
		}
		again, err := cp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var cp2 Checkpoint
		if err := cp2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
	})
}

// TestResumeRejectsForeignCheckpoint: a checkpoint that cannot belong to the
// plan is refused before any IO.
func TestResumeRejectsForeignCheckpoint(t *testing.T) {
	s := newLUN(t, "src", 1<<20, 512, nil)
	d := newCart(t, "dst.tap", tape.Options{})
	devs := []Device{{Block: s}, {Tape: d}}
	plan := Plan{Segments: []Segment{{Kind: BlockToStream, Src: 0, Dst: 1, Length: 1 << 20}}}
	for name, cp := range map[string]Checkpoint{
		"segment past the plan": {Segment: 5, Done: make([]SegmentResult, 5)},
		"no tape position":      {},
		"bad hash state":        {Positions: map[int]TapePos{1: {}}, Hash: []byte("x"), SegmentHash: []byte("x")},
	} {
		if _, err := Run(context.Background(), smallConfig(), plan, devs, &cp); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

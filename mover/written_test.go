package mover

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/ferry-san/ferry/storage/tape"
)

// TestWritten: Result.Written is where each tape's lowest write began, on
// success and on failure; tapes only read or positioned are not in it.
func TestWritten(t *testing.T) {
	label := tapeFile{[]byte("VOL1A00001L9")}
	data := randomBytes(3, 300<<10)
	for name, tc := range map[string]struct {
		plan     func() Plan
		fail     bool
		readOnly bool
		want     map[int]TapePos
	}{
		"append at end of data": {
			plan: func() Plan {
				return Plan{Segments: []Segment{
					{Kind: Space, Dst: 1, Space: tape.SpaceEndOfData},
					{Kind: BlockToStream, Src: 0, Dst: 1, Length: int64(len(data))},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
				}}
			},
			want: map[int]TapePos{1: {ObjectID: 4, File: 2}},
		},
		"lowest write wins": {
			plan: func() Plan {
				return Plan{Segments: []Segment{
					{Kind: Space, Dst: 1, Space: tape.SpaceEndOfData},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 1},
					{Kind: Locate, Dst: 1, ObjectID: 2},
					{Kind: BlockToStream, Src: 0, Dst: 1, Length: 1000},
				}}
			},
			want: map[int]TapePos{1: {ObjectID: 2, File: 1}},
		},
		"flush only and positioning write nothing": {
			plan: func() Plan {
				return Plan{Segments: []Segment{
					{Kind: Space, Dst: 1, Space: tape.SpaceEndOfData},
					{Kind: WriteFilemarks, Dst: 1, Filemarks: 0},
				}}
			},
			want: map[int]TapePos{},
		},
		"failed copy still says": {
			plan: func() Plan {
				return Plan{Segments: []Segment{
					{Kind: Space, Dst: 1, Space: tape.SpaceEndOfData},
					{Kind: BlockToStream, Src: 0, Dst: 1, Length: int64(len(data))},
					{Kind: Locate, Dst: 1, ObjectID: 1 << 40},
				}}
			},
			fail: true,
			want: map[int]TapePos{1: {ObjectID: 4, File: 2}},
		},
		"a refused write is none": {
			plan: func() Plan {
				return Plan{Segments: []Segment{
					{Kind: Space, Dst: 1, Space: tape.SpaceEndOfData},
					{Kind: BlockToStream, Src: 0, Dst: 1, Length: int64(len(data))},
				}}
			},
			fail: true, readOnly: true,
			want: map[int]TapePos{},
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newLUN(t, "src", int64(len(data)), 512, data)
			d := newCart(t, "dst.tap", tape.Options{})
			writeTape(t, d, label, tapeFile{[]byte("old")})
			if tc.readOnly {
				d = reopenCart(t, d, tape.Options{ReadOnly: true})
			}
			res, err := Run(context.Background(), smallConfig(), tc.plan(), []Device{{Block: s}, {Tape: d}}, nil)
			var se *SegmentError
			if tc.fail != (err != nil) || err != nil && !errors.As(err, &se) {
				t.Fatalf("err %v", err)
			}
			if !maps.Equal(res.Written, tc.want) {
				t.Fatalf("written %v, want %v", res.Written, tc.want)
			}
		})
	}
}

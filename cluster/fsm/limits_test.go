package fsm

import (
	"crypto/sha256"
	"encoding"
	"math"
	"testing"

	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestLargestSpecCheckpointFits: the mover's checkpoint carries one result
// per finished segment, and the state machine refuses checkpoints longer
// than maxCheckpointBytes, so a copy with more segments than fit would
// fail midway, its destination half written (issue 9 saw it at segment
// 3,769). The largest spec submission accepts must fit with room to spare,
// counted at its worst: every segment of the plan done with the longest
// byte count, the positions of two tapes at the end of everything, and the
// job and segment hash states.
func TestLargestSpecCheckpointFits(t *testing.T) {
	f := accessFixture(t)
	segs := make([]*ferryv1.Segment, maxSpecSegments())
	for i := range segs {
		segs[i] = seg(uint64(i)*512, 0, 512)
	}
	if r := f.Apply(f.AppliedIndex()+1, submitCmd(1, "big", "", copySpec(diskEP("d512", 0, 0), tapeEP("A00001L9"), segs...))); r.Err != nil {
		t.Fatalf("the largest spec is refused: %v", r.Err)
	}
	state, err := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The executor's plan adds at most three segments of its own: spacing
	// to end of data, closing an open file, the final filemark.
	planned := maxSpecSegments() + 3
	cp := mover.Checkpoint{
		Segment: planned, SegmentDone: math.MaxInt64, SegmentRecords: math.MaxInt64, SegmentFiles: math.MaxInt64, BytesDone: math.MaxInt64,
		Positions: map[int]mover.TapePos{0: {ObjectID: math.MaxUint64, File: math.MaxUint64}, 1: {ObjectID: math.MaxUint64, File: math.MaxUint64}},
		Hash:      state, SegmentHash: state,
		Done: make([]mover.SegmentResult, planned),
	}
	for i := range cp.Done {
		cp.Done[i].Bytes = math.MaxInt64
	}
	b, err := cp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxCheckpointBytes {
		t.Fatalf("the checkpoint of a %d-segment plan takes %d bytes, more than the %d a checkpoint may have", planned, len(b), maxCheckpointBytes)
	}
	t.Logf("worst checkpoint of the largest spec: %d of %d bytes", len(b), maxCheckpointBytes)
}

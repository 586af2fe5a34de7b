package sbc

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// streamRead runs READ(16) of blocks at lba for a transport that streams
// data-in.
func (f *fixture) streamRead(lba uint64, blocks uint32) task.Result {
	return f.srv.Execute(context.Background(), &task.Task{LUN: 1, CDB: rw16(opRead16, lba, blocks, 0, 0),
		AllocationLength: blocks * 512, Initiator: "iqn.test,isid1", StreamDataIn: true})
}

// A READ for a streaming transport returns its range as a task.Stream,
// read in pieces of any size; a piece that fails is MEDIUM ERROR naming
// the piece's first block.
func TestReadStreams(t *testing.T) {
	f := newFixture(t)
	for i := range f.disk.data {
		f.disk.data[i] = byte(i * 13)
	}
	res := f.streamRead(10, 8)
	check(t, res, good)
	if res.DataIn != nil || res.Stream == nil || res.Stream.Len() != 8*512 {
		t.Fatalf("result %+v, want a stream of %d bytes", res, 8*512)
	}
	var got []byte
	for off := uint64(0); off < res.Stream.Len(); off += 700 {
		p := make([]byte, min(700, res.Stream.Len()-off))
		if err := res.Stream.ReadAt(context.Background(), p, off); err != nil {
			t.Fatalf("piece at %d: %v", off, err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, f.disk.data[10*512:18*512]) {
		t.Fatal("the pieces do not hold the range")
	}
	// Checks still come first: a bad range streams nothing.
	check(t, f.streamRead(testBlocks, 1), lbaOOB)

	if err := res.Stream.ReadAt(context.Background(), make([]byte, 512), 8*512); err == nil {
		t.Fatal("a piece past the range was read")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := res.Stream.ReadAt(ctx, make([]byte, 512), 0); !task.Aborted(err) {
		t.Fatalf("piece of a cancelled task: %v, want an abort", err)
	}
	f.disk.fail = errors.New("disk on fire")
	err := res.Stream.ReadAt(context.Background(), make([]byte, 1024), 3*512)
	var s *sense.Sense
	if !errors.As(err, &s) || s.Key != sense.MediumError || s.Code() != sense.UnrecoveredReadError ||
		!s.InfoValid || s.Information != 13 {
		t.Fatalf("failed piece: %v, want MEDIUM ERROR at LBA 13", err)
	}
}

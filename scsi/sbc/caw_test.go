package sbc

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ferry-san/ferry/scsi/task"
)

// cawCDB builds COMPARE AND WRITE: byte 1 is wrprotect<<5 | flags.
func cawCDB(lba uint64, blocks byte, wrprotect, flags byte) []byte {
	c := make([]byte, 16)
	c[0], c[1] = opCompareAndWrite, wrprotect<<5|flags
	binary.BigEndian.PutUint64(c[2:10], lba)
	c[13] = blocks
	return c
}

// TestCompareAndWrite encodes SCSI.CompareAndWrite and SBC-3 5.3.
func TestCompareAndWrite(t *testing.T) {
	const n = testBlocks
	a, b := fill(2*512, 'A'), fill(2*512, 'B')
	cat := func(x ...[]byte) []byte { return bytes.Join(x, nil) }
	bad := fill(2*512, 'A')
	bad[512+485] = 'C'
	tests := []struct {
		name   string
		cdb    []byte
		data   []byte
		want   want
		info   uint64 // INFORMATION of a MISCOMPARE
		result []byte // blocks 0-1 afterwards (at LBA n-2 for the end cases)
		atEnd  bool
	}{
		{"one block", cawCDB(0, 1, 0, 0), cat(a[:512], b[:512]), good, 0, cat(b[:512], a[:512]), false},
		{"two blocks", cawCDB(0, 2, 0, 0), cat(a, b), good, 0, b, false},
		{"last two blocks", cawCDB(n-2, 2, 0, 0), cat(a, b), good, 0, b, true},
		{"DPO FUA", cawCDB(0, 2, 0, 0x18), cat(a, b), good, 0, b, false},
		{"miscompare", cawCDB(0, 2, 0, 0), cat(bad, b), miscompare, 512 + 485, a, false},
		{"miscompare first byte", cawCDB(0, 1, 0, 0), cat(fill(512, '%'), b[:512]), miscompare, 0, a, false},
		{"zero blocks", cawCDB(0, 0, 0, 0), nil, good, 0, a, false},
		{"zero blocks past end", cawCDB(n+1, 0, 0, 0), nil, lbaOOB, 0, a, false},
		{"zero blocks with data", cawCDB(0, 0, 0, 0), cat(a, b), invalidAt(13, 7), 0, a, false},
		{"data-out too small", cawCDB(0, 2, 0, 0), cat(a[:512], b[:512]), invalidAt(13, 7), 0, a, false},
		{"data-out too large", cawCDB(0, 1, 0, 0), cat(a, b), invalidAt(13, 7), 0, a, false},
		{"beyond eol", cawCDB(n-1, 2, 0, 0), cat(a, b), lbaOOB, 0, a, false},
		{"2^63", cawCDB(1<<63, 1, 0, 0), cat(a[:512], b[:512]), lbaOOB, 0, a, false},
		{"-1", cawCDB(^uint64(0), 1, 0, 0), cat(a[:512], b[:512]), lbaOOB, 0, a, false},
		{"WRPROTECT", cawCDB(0, 1, 1, 0), cat(a[:512], b[:512]), invalidAt(1, 7), 0, a, false},
		{"reserved byte 10", func() []byte { c := cawCDB(0, 1, 0, 0); c[10] = 1; return c }(), cat(a[:512], b[:512]), invalidAt(10, 0), 0, a, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			at := int64(0)
			if tc.atEnd {
				at = (n - 2) * 512
			}
			f.disk.WriteAt(a, at)
			res := f.run(tc.cdb, tc.data)
			check(t, res, tc.want)
			if tc.want == miscompare && (!res.Sense.InfoValid || res.Sense.Information != tc.info) {
				t.Fatalf("INFORMATION %d (valid %v), want %d", res.Sense.Information, res.Sense.InfoValid, tc.info)
			}
			got := make([]byte, 2*512)
			f.disk.ReadAt(got, at)
			if !bytes.Equal(got, tc.result) {
				t.Fatalf("medium afterwards: %q..., want %q...", got[:4], tc.result[:4])
			}
		})
	}
}

func TestCompareAndWriteLimits(t *testing.T) {
	f := newFixture(t)
	if got := f.srv.maxCompareBlocks(f.srv.lun(1)); got != 255 {
		t.Fatalf("MAXIMUM COMPARE AND WRITE LENGTH %d, want 255", got)
	}
	res := f.run(inquiryCDB(true, vpdBlockLimits, 64), nil)
	if res.DataIn[5] != 255 {
		t.Fatalf("VPD B0h byte 5 = %d, want 255", res.DataIn[5])
	}
	small := New(Config{MaxTransferBytes: 4 * 512, Logger: slog.New(slog.DiscardHandler)}, nil)
	if err := small.Add(1, NewLUN(newMemLUN(testBlocks, 512), Identity{NAA: testNAA})); err != nil {
		t.Fatal(err)
	}
	g := &fixture{srv: small}
	check(t, g.run(cawCDB(0, 3, 0, 0), make([]byte, 6*512)), invalidAt(13, 7))
	check(t, g.run(cawCDB(0, 2, 0, 0), make([]byte, 4*512)), good)
}

func TestCompareAndWriteReadOnly(t *testing.T) {
	f := newFixture(t)
	f.disk.readOnly = true
	check(t, f.run(cawCDB(0, 1, 0, 0), make([]byte, 1024)), writeProtect)
	check(t, f.run(orWriteCDB(0, 1, 0, 0), make([]byte, 512)), writeProtect)
}

// TestCompareAndWriteFUA: FUA makes the write durable before GOOD.
func TestCompareAndWriteFUA(t *testing.T) {
	f := newFixture(t)
	check(t, f.run(cawCDB(0, 1, 0, fuaBit), make([]byte, 1024)), good)
	check(t, f.run(orWriteCDB(0, 1, 0, fuaBit), make([]byte, 512)), good)
	if f.disk.flushes != 2 {
		t.Fatalf("%d flushes, want 2", f.disk.flushes)
	}
}

// TestCompareAndWriteAborted: a task aborted before its write leaves the
// medium alone and answers TASK ABORTED.
func TestCompareAndWriteAborted(t *testing.T) {
	f := newFixture(t)
	g := &task.Gate{}
	g.Abort()
	for _, tk := range []*task.Task{
		{LUN: 1, CDB: cawCDB(0, 1, 0, 0), DataOut: append(make([]byte, 512), fill(512, 'B')...), Gate: g},
		{LUN: 1, CDB: orWriteCDB(0, 1, 0, 0), DataOut: fill(512, 'B'), Gate: g},
	} {
		if res := f.srv.Execute(context.Background(), tk); res.Status != task.TaskAborted {
			t.Fatalf("status %#x, want TASK ABORTED", res.Status)
		}
	}
	got := make([]byte, 512)
	f.disk.ReadAt(got, 0)
	if !bytes.Equal(got, make([]byte, 512)) {
		t.Fatal("an aborted task wrote")
	}
}

// TestWaitForRangeLock: a write or a COMPARE AND WRITE waits while another
// holder has the range locked exclusively, and gives up with TASK ABORTED
// when its context ends.
func TestWaitForRangeLock(t *testing.T) {
	f := newFixture(t)
	_, locker := f.srv.lunLocker(1)
	unlock, err := locker.LockRange(context.Background(), 512, 512, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cdb  []byte
		data []byte
	}{
		{"WRITE(10)", rw10(opWrite10, 0, 2, 0, 0), fill(1024, 1)},
		{"WRITE SAME(16)", rw16(opWriteSame16, 1, 1, 0, 0), fill(512, 1)},
		{"COMPARE AND WRITE", cawCDB(1, 1, 0, 0), make([]byte, 1024)},
		{"ORWRITE(16)", orWriteCDB(1, 1, 0, 0), fill(512, 1)},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		res := f.srv.Execute(ctx, &task.Task{LUN: 1, CDB: tc.cdb, DataOut: tc.data})
		cancel()
		if res.Status != task.TaskAborted {
			t.Fatalf("%s: status %#x, want TASK ABORTED while the range is locked", tc.name, res.Status)
		}
	}
	got := make([]byte, 1024)
	f.disk.ReadAt(got, 0)
	if !bytes.Equal(got, make([]byte, 1024)) {
		t.Fatal("a write landed in a locked range")
	}
	done := make(chan task.Result)
	go func() { done <- f.run(cawCDB(1, 1, 0, 0), append(make([]byte, 512), fill(512, 'B')...)) }()
	unlock()
	check(t, <-done, good)
}

// TestCompareAndWriteCounter: goroutines increment a counter in block 0 by
// read, COMPARE AND WRITE, retry on MISCOMPARE, while others WRITE the
// block after it and WRITE SAME over both; no increment is lost and no
// write tears the counter block (run with -race).
func TestCompareAndWriteCounter(t *testing.T) {
	f := newFixture(t)
	const workers, rounds = 4, 50
	stop := make(chan struct{})
	var wg, writers sync.WaitGroup
	for range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if res := f.run(rw10(opWrite10, 1, 1, 0, 0), fill(512, 7)); res.Status != task.Good {
					t.Errorf("WRITE: status %#x, sense %v", res.Status, res.Sense)
					return
				}
			}
		}()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				for {
					cur := f.run(rw10(opRead10, 0, 1, 0, 0), nil).DataIn
					next := binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(cur)+1)
					next = append(next, cur[8:]...)
					res := f.run(cawCDB(0, 1, 0, 0), append(cur, next...))
					if res.Status == task.Good {
						break
					}
					if res.Sense == nil || res.Sense.Code() != miscompare.code {
						t.Errorf("COMPARE AND WRITE: status %#x, sense %v", res.Status, res.Sense)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	writers.Wait()
	got := f.run(rw10(opRead10, 0, 1, 0, 0), nil).DataIn
	if c := binary.BigEndian.Uint64(got); c != workers*rounds {
		t.Fatalf("counter %d, want %d", c, workers*rounds)
	}
}

func orWriteCDB(lba uint64, blocks uint32, protect, flags byte) []byte {
	return rw16(opOrWrite16, lba, blocks, protect, flags)
}

// TestOrWrite encodes SCSI.OrWrite.
func TestOrWrite(t *testing.T) {
	const n = testBlocks
	tests := []struct {
		name   string
		cdb    []byte
		data   []byte
		want   want
		result byte // every byte of blocks 0-1 afterwards, from 0x0F
	}{
		{"or", orWriteCDB(0, 2, 0, 0), fill(1024, 0xA0), good, 0xAF},
		{"DPO FUA", orWriteCDB(0, 2, 0, 0x18), fill(1024, 0x50), good, 0x5F},
		{"zero blocks", orWriteCDB(0, 0, 0, 0), nil, good, 0x0F},
		{"zero blocks past end", orWriteCDB(n+1, 0, 0, 0), nil, lbaOOB, 0x0F},
		{"zero blocks 2^63", orWriteCDB(1<<63, 0, 0, 0), nil, lbaOOB, 0x0F},
		{"beyond eol", orWriteCDB(n-1, 2, 0, 0), fill(1024, 1), lbaOOB, 0x0F},
		{"-1", orWriteCDB(^uint64(0), 1, 0, 0), fill(512, 1), lbaOOB, 0x0F},
		{"ORPROTECT", orWriteCDB(0, 1, 1, 0), fill(512, 1), invalidAt(1, 7), 0x0F},
		{"ORPROTECT 7", orWriteCDB(0, 1, 7, 0), fill(512, 1), invalidAt(1, 7), 0x0F},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.disk.WriteAt(fill(1024, 0x0F), 0)
			check(t, f.run(tc.cdb, tc.data), tc.want)
			got := make([]byte, 1024)
			f.disk.ReadAt(got, 0)
			if !bytes.Equal(got, fill(1024, tc.result)) {
				t.Fatalf("medium afterwards % x..., want %#x", got[:4], tc.result)
			}
		})
	}
	// Less data than the range: only what came is ORed.
	f := newFixture(t)
	check(t, f.run(orWriteCDB(0, 2, 0, 0), fill(512, 0xFF)), good)
	got := make([]byte, 1024)
	f.disk.ReadAt(got, 0)
	if !bytes.Equal(got, append(fill(512, 0xFF), make([]byte, 512)...)) {
		t.Fatal("a short ORWRITE touched more than it was sent")
	}
	if l, ok := f.srv.DataOutLength(1, orWriteCDB(0, 3, 0, 0)); !ok || l != 3*512 {
		t.Fatalf("DataOutLength(ORWRITE 3 blocks) = %d, %v", l, ok)
	}
	if _, ok := f.srv.DataOutLength(1, cawCDB(0, 1, 0, 0)); ok {
		t.Fatal("DataOutLength cuts a COMPARE AND WRITE data-out, whose size it must check")
	}
}

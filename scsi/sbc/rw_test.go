package sbc

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// TestReadCapacity encodes SCSI.ReadCapacity10 and SCSI.ReadCapacity16.
func TestReadCapacity(t *testing.T) {
	f := newFixture(t)
	rc10 := f.run([]byte{opReadCapacity10, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil)
	check(t, rc10, good)
	if !bytes.Equal(rc10.DataIn, []byte{0, 0, 0x03, 0xFF, 0, 0, 0x02, 0}) {
		t.Fatalf("READ CAPACITY(10) % x", rc10.DataIn)
	}
	check(t, f.run([]byte{opReadCapacity10, 0, 0, 0, 0, 1, 0, 0, 0, 0}, nil), invalidAt(5, 0))

	rc16 := func(alloc byte) []byte {
		return []byte{opServiceActionIn16, saReadCapacity16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, alloc, 0, 0}
	}
	for alloc := byte(0); alloc <= 32; alloc++ { // ReadCapacity16.Alloclen
		res := f.run(rc16(alloc), nil)
		check(t, res, good)
		if len(res.DataIn) != min(int(alloc), 32) {
			t.Fatalf("alloc %d: %d bytes", alloc, len(res.DataIn))
		}
	}
	d := f.run(rc16(32), nil).DataIn
	want := []byte{0, 0, 0, 0, 0, 0, 0x03, 0xFF, 0, 0, 0x02, 0, 0, 3, 0, 0} // not thin: LBPME, LBPRZ clear
	if !bytes.Equal(d[:16], want) || !bytes.Equal(d[16:], make([]byte, 16)) {
		t.Fatalf("READ CAPACITY(16) % x", d)
	}
	for _, tc := range []struct {
		phys, bs uint32
		exp      byte
	}{{4096, 512, 3}, {4096, 4096, 0}, {8192, 4096, 1}, {512, 4096, 0}, {3000, 512, 0}} {
		f.srv.cfg.PhysicalBlockBytes = tc.phys
		if got := f.srv.physicalExponent(tc.bs); got != tc.exp {
			t.Errorf("physical %d, logical %d: exponent %d, want %d", tc.phys, tc.bs, got, tc.exp)
		}
	}
	check(t, f.run([]byte{opServiceActionIn16, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, nil), invalidAt(1, 4))
}

// TestReadWriteLibiscsi encodes the status and sense SCSI.Read10/16 and
// SCSI.Write10/16 expect.
func TestReadWriteLibiscsi(t *testing.T) {
	const n = testBlocks
	tests := []struct {
		name string
		cdb  []byte
		data []byte
		want want
	}{
		{"Read10 0blocks", rw10(opRead10, 0, 0, 0, 0), nil, good},
		{"Read10 0blocks past end", rw10(opRead10, n+1, 0, 0, 0), nil, lbaOOB},
		{"Read10 0blocks 2^31", rw10(opRead10, 0x80000000, 0, 0, 0), nil, lbaOOB},
		{"Read10 0blocks -1", rw10(opRead10, 0xFFFFFFFF, 0, 0, 0), nil, lbaOOB},
		{"Read10 last block", rw10(opRead10, n-1, 1, 0, 0), nil, good},
		{"Read10 last 256", rw10(opRead10, n-256, 256, 0, 0), nil, good},
		{"Read10 beyond eol", rw10(opRead10, n+1-256, 256, 0, 0), nil, lbaOOB},
		{"Read10 last block +1", rw10(opRead10, n-1, 2, 0, 0), nil, lbaOOB},
		{"Read10 -1 wraps", rw10(opRead10, 0xFFFFFFFF, 2, 0, 0), nil, lbaOOB},
		{"Read10 DPO", rw10(opRead10, 0, 1, 0, 0x10), nil, good},
		{"Read10 FUA", rw10(opRead10, 0, 1, 0, 0x08), nil, good},
		{"Read10 RDPROTECT", rw10(opRead10, 0, 1, 1, 0), nil, invalidAt(1, 7)},
		{"Read10 RDPROTECT 7", rw10(opRead10, 0, 1, 7, 0), nil, invalidAt(1, 7)},
		{"Read16 0blocks past end", rw16(opRead16, n+1, 0, 0, 0), nil, lbaOOB},
		{"Read16 2^63", rw16(opRead16, 1<<63, 0, 0, 0), nil, lbaOOB},
		{"Read16 -1", rw16(opRead16, ^uint64(0), 1, 0, 0), nil, lbaOOB},
		{"Read16 -1 wraps to 0", rw16(opRead16, ^uint64(0), 2, 0, 0), nil, lbaOOB},
		{"Read16 DPO FUA", rw16(opRead16, 0, 1, 0, 0x18), nil, good},
		{"Write10 0blocks", rw10(opWrite10, 0, 0, 0, 0), nil, good},
		{"Write10 0blocks past end", rw10(opWrite10, n+1, 0, 0, 0), nil, lbaOOB},
		{"Write10 flags", rw10(opWrite10, 0, 1, 0, 0x18), fill(512, 0xa6), good},
		{"Write10 WRPROTECT", rw10(opWrite10, 0, 1, 3, 0), fill(512, 0xa6), invalidAt(1, 7)},
		{"Write10 beyond eol", rw10(opWrite10, n-1, 2, 0, 0), fill(1024, 0xa6), lbaOOB},
		{"Write16 -1", rw16(opWrite16, ^uint64(0), 1, 0, 0), fill(512, 0xa6), lbaOOB},
		{"Write16 FUA", rw16(opWrite16, 5, 1, 0, 0x08), fill(512, 0xa6), good},
		{"Read12 last 256", rw12(opRead12, n-256, 256, 0, 0), nil, good},
		{"Read12 beyond eol", rw12(opRead12, n-1, 2, 0, 0), nil, lbaOOB},
		{"Write12 DPO FUA", rw12(opWrite12, 0, 1, 0, 0x18), fill(512, 1), good},
		{"Write12 WRPROTECT", rw12(opWrite12, 0, 1, 1, 0), fill(512, 1), invalidAt(1, 7)},
		{"WriteVerify10 BYTCHK", rw10(opWriteVerify10, 0, 1, 0, writeVerifyByte), fill(512, 0xa6), good},
		{"WriteVerify10 DPO", rw10(opWriteVerify10, 0, 1, 0, 0x10|writeVerifyByte), fill(512, 0xa6), good},
		{"WriteVerify10 FUA refused", rw10(opWriteVerify10, 0, 1, 0, fuaBit), fill(512, 0xa6), invalidAt(1, 3)},
		{"WriteVerify12 beyond eol", rw12(opWriteVerify12, n, 1, 0, 0), fill(512, 0xa6), lbaOOB},
		{"WriteVerify16 WRPROTECT", rw16(opWriteVerify16, 0, 1, 2, 0), fill(512, 0xa6), invalidAt(1, 7)},
		{"Verify12", rw12(opVerify12, 0, 2, 0, 1<<bytchkShift), make([]byte, 1024), good},
		{"Read10 group number", []byte{opRead10, 0, 0, 0, 0, 0, 0x1F, 0, 1, 0}, nil, good},
		{"Read10 NACA", []byte{opRead10, 0, 0, 0, 0, 0, 0, 0, 1, 0x04}, nil, invalidAt(9, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			check(t, f.run(tc.cdb, tc.data), tc.want)
		})
	}
}

func TestMaxTransferLength(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.MaxTransferBytes = 64 * 512
	check(t, f.run(rw10(opRead10, 0, 64, 0, 0), nil), good)
	check(t, f.run(rw10(opRead10, 0, 65, 0, 0), nil), invalidAt(7, 7))
	check(t, f.run(rw16(opWrite16, 0, 65, 0, 0), fill(65*512, 1)), invalidAt(10, 7))
	d := f.run(inquiryCDB(true, vpdBlockLimits, 64), nil).DataIn
	if got := uint32(d[8])<<24 | uint32(d[9])<<16 | uint32(d[10])<<8 | uint32(d[11]); got != 64 {
		t.Fatalf("MAXIMUM TRANSFER LENGTH %d, want 64", got)
	}
}

// TestReadWriteData checks the bytes: what WRITE puts is what READ gets,
// FUA flushes, and a short data-out writes only what was sent (libiscsi's
// Write10.Residuals overflow cases).
func TestReadWriteData(t *testing.T) {
	f := newFixture(t)
	pattern := make([]byte, 3*512)
	for i := range pattern {
		pattern[i] = byte(i * 7)
	}
	check(t, f.run(rw10(opWrite10, 10, 3, 0, 0), pattern), good)
	res := f.run(rw16(opRead16, 10, 3, 0, 0), nil)
	check(t, res, good)
	if !bytes.Equal(res.DataIn, pattern) {
		t.Fatal("read back differs")
	}
	if f.disk.flushes != 0 {
		t.Fatal("flushed without FUA")
	}
	check(t, f.run(rw10(opWrite10, 10, 1, 0, fuaBit), pattern[:512]), good)
	if f.disk.flushes != 1 {
		t.Fatal("FUA did not flush")
	}
	check(t, f.run(rw16(opWriteVerify16, 20, 3, 0, writeVerifyByte), pattern), good)
	if f.disk.flushes != 2 || !bytes.Equal(f.disk.data[20*512:23*512], pattern) {
		t.Fatal("WRITE AND VERIFY did not write durably")
	}

	check(t, f.run(rw10(opWrite10, 0, 1, 0, 0), fill(512, 'a')), good)
	check(t, f.run(rw10(opWrite10, 0, 1, 0, 0), fill(200, 'b')), good)
	got := f.run(rw10(opRead10, 0, 1, 0, 0), nil).DataIn
	if !bytes.Equal(got, append(fill(200, 'b'), fill(312, 'a')...)) {
		t.Fatalf("short write: % x", got[195:205])
	}
	check(t, f.run(rw10(opWrite10, 0, 1, 0, 0), fill(1024, 'c')), good)
	if got := f.run(rw10(opRead10, 1, 1, 0, 0), nil).DataIn; got[0] == 'c' {
		t.Fatal("wrote past the transfer length")
	}
}

func TestReadOnlyAndIOErrors(t *testing.T) {
	f := newFixture(t)
	f.disk.readOnly = true
	check(t, f.run(rw10(opWrite10, 0, 1, 0, 0), fill(512, 1)), writeProtect)
	check(t, f.run(rw16(opWriteSame16, 0, 1, 0, ndobBit), nil), writeProtect)
	check(t, f.run(rw10(opRead10, 0, 1, 0, 0), nil), good)
	ms := f.run(modeSense6CDB(false, 0, pageAll, 0, 255), nil).DataIn
	if ms[2]&wpBit == 0 {
		t.Fatal("MODE SENSE without WP on a read-only LUN")
	}

	f = newFixture(t)
	f.disk.fail = errors.New("disk on fire")
	check(t, f.run(rw10(opRead10, 4, 1, 0, 0), nil), want{key: sense.MediumError, code: sense.UnrecoveredReadError})
	res := f.run(rw10(opWrite10, 4, 1, 0, 0), fill(512, 1))
	check(t, res, want{key: sense.MediumError, code: sense.WriteError})
	if !res.Sense.InfoValid || res.Sense.Information != 4 {
		t.Fatalf("INFORMATION %v", res.Sense)
	}
	check(t, f.run([]byte{opSyncCache10, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil), want{key: sense.MediumError, code: sense.WriteError})
}

func TestSynchronizeCache(t *testing.T) {
	f := newFixture(t)
	sync10 := func(lba uint32, n uint16) []byte { return rw10(opSyncCache10, lba, n, 0, 0) }
	check(t, f.run(sync10(0, 0), nil), good)
	check(t, f.run(sync10(testBlocks-1, 1), nil), good)
	check(t, f.run(sync10(testBlocks, 0), nil), lbaOOB)
	check(t, f.run(sync10(0, 0)[:10:10], nil), good)
	check(t, f.run(rw16(opSyncCache16, 0, 0, 0, 0x02), nil), good) // IMMED
	check(t, f.run(rw16(opSyncCache16, 0, testBlocks+1, 0, 0), nil), lbaOOB)
	if f.disk.flushes != 4 {
		t.Fatalf("%d flushes, want 4", f.disk.flushes)
	}
}

// A task its transport aborted writes nothing: every write goes through
// the task's gate, and the command ends with TASK ABORTED.
func TestAbortedTaskWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		cdb  []byte
		data []byte
	}{
		{"WRITE(10)", rw10(opWrite10, 5, 1, 0, 0), fill(512, 'w')},
		{"WRITE AND VERIFY(16)", rw16(opWriteVerify16, 5, 1, 0, writeVerifyByte), fill(512, 'v')},
		{"WRITE SAME(16)", rw16(opWriteSame16, 5, 4, 0, 0), fill(512, 's')},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var gate task.Gate
			gate.Abort()
			res := f.srv.Execute(context.Background(), &task.Task{LUN: 1, CDB: tc.cdb, DataOut: tc.data,
				Initiator: "iqn.test,isid1", Gate: &gate})
			if res.Status != task.TaskAborted {
				t.Fatalf("status %#x, want TASK ABORTED", res.Status)
			}
			if !bytes.Equal(f.disk.data[5*512:9*512], make([]byte, 4*512)) {
				t.Fatal("an aborted task wrote to the medium")
			}
		})
	}
}

package sbc

import (
	"bytes"
	"context"
	"testing"

	"github.com/ferry-san/ferry/scsi/task"
)

// rw6 builds READ(6) or WRITE(6); blocks 0 means 256.
func rw6(op byte, lba uint32, blocks byte) []byte {
	return []byte{op, byte(lba>>16) & 0x1F, byte(lba >> 8), byte(lba), blocks, 0}
}

// TestReadWrite6Libiscsi encodes SCSI.Read6 (Simple, BeyondEol) and the
// same checks for WRITE(6).
func TestReadWrite6Libiscsi(t *testing.T) {
	tests := []struct {
		name string
		cdb  []byte
		data []byte
		want want
	}{
		{"read 1 at 0", rw6(opRead6, 0, 1), nil, good},
		{"read 255 at 0", rw6(opRead6, 0, 255), nil, good},
		{"read 256 at 0 (length 0)", rw6(opRead6, 0, 0), nil, good},
		{"read 1 at end", rw6(opRead6, testBlocks-1, 1), nil, good},
		{"read 255 at end", rw6(opRead6, testBlocks-255, 255), nil, good},
		{"read 256 at end", rw6(opRead6, testBlocks-256, 0), nil, good},
		{"read 2 one beyond end", rw6(opRead6, testBlocks-1, 2), nil, lbaOOB},
		{"read 256 one beyond end", rw6(opRead6, testBlocks-255, 0), nil, lbaOOB},
		{"read at end of LUN", rw6(opRead6, testBlocks, 1), nil, lbaOOB},
		{"read at LBA 1fffff", rw6(opRead6, 0x1FFFFF, 1), nil, lbaOOB},
		{"read obsolete LUN field", append([]byte{opRead6, 0x20}, 0, 0, 1, 0), nil, invalidAt(1, 7)},
		{"read control byte", []byte{opRead6, 0, 0, 0, 1, 0x01}, nil, invalidAt(5, 0)},
		{"write 1 at 0", rw6(opWrite6, 0, 1), fill(512, 1), good},
		{"write 256 at end", rw6(opWrite6, testBlocks-256, 0), fill(256*512, 2), good},
		{"write 2 one beyond end", rw6(opWrite6, testBlocks-1, 2), fill(1024, 3), lbaOOB},
		{"write at LBA 1fffff", rw6(opWrite6, 0x1FFFFF, 1), fill(512, 4), lbaOOB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			res := f.run(tc.cdb, tc.data)
			check(t, res, tc.want)
			if tc.want == good && tc.cdb[0] == opRead6 {
				_, n, _ := blockRange(tc.cdb)
				if len(res.DataIn) != int(n)*512 {
					t.Fatalf("%d bytes of data-in, want %d", len(res.DataIn), n*512)
				}
			}
			if tc.want != good && !bytes.Equal(f.disk.data, make([]byte, len(f.disk.data))) {
				t.Fatal("a refused WRITE(6) wrote")
			}
		})
	}
}

// TestReadWrite6Data checks the bytes and the limits: WRITE(6) and
// READ(6) reach the same blocks as their 10-byte forms, 21 bits of LBA
// count, the MAXIMUM TRANSFER LENGTH applies with a field pointer into
// the 6-byte CDB, and a read-only LUN refuses WRITE(6).
func TestReadWrite6Data(t *testing.T) {
	f := newFixture(t)
	pattern := make([]byte, 3*512)
	for i := range pattern {
		pattern[i] = byte(i*5 + 1)
	}
	check(t, f.run(rw6(opWrite6, 700, 3), pattern), good)
	res := f.run(rw10(opRead10, 700, 3, 0, 0), nil)
	if !bytes.Equal(res.DataIn, pattern) {
		t.Fatal("READ(10) does not see what WRITE(6) wrote")
	}
	check(t, f.run(rw16(opWrite16, 5, 1, 0, 0), fill(512, 9)), good)
	if got := f.run(rw6(opRead6, 5, 1), nil).DataIn; !bytes.Equal(got, fill(512, 9)) {
		t.Fatal("READ(6) does not see what WRITE(16) wrote")
	}
	if f.disk.flushes != 0 {
		t.Fatal("WRITE(6) flushed: its byte 1 bit 3 is an LBA bit, not FUA")
	}

	big := New(Config{}, nil)
	far := &farLUN{memLUN: newMemLUN(1, 512), blocks: 0x200000}
	if err := big.Add(0, NewLUN(far, Identity{NAA: testNAA})); err != nil {
		t.Fatal(err)
	}
	res = big.Execute(context.Background(), &task.Task{CDB: rw6(opWrite6, 0x1FFFFF, 1), DataOut: fill(512, 7)})
	check(t, res, good)
	if far.off != 0x1FFFFF*512 || far.n != 512 {
		t.Fatalf("WRITE(6) at LBA 1fffff wrote %d bytes at %#x", far.n, far.off)
	}

	f = newFixture(t)
	f.srv.cfg.MaxTransferBytes = 128 * 512
	check(t, f.run(rw6(opRead6, 0, 128), nil), good)
	check(t, f.run(rw6(opRead6, 0, 0), nil), invalidAt(4, 7))
	check(t, f.run(rw6(opWrite6, 0, 129), fill(129*512, 1)), invalidAt(4, 7))

	f = newFixture(t)
	f.disk.readOnly = true
	check(t, f.run(rw6(opWrite6, 0, 1), fill(512, 1)), writeProtect)
	check(t, f.run(rw6(opWrite6, testBlocks, 1), fill(512, 1)), writeProtect)
	check(t, f.run(rw6(opRead6, 0, 1), nil), good)
}

// farLUN is a LUN of many blocks that stores none: it records where the
// last write went.
type farLUN struct {
	*memLUN
	blocks uint64
	off    int64
	n      int
}

func (l *farLUN) Blocks() uint64 { return l.blocks }

func (l *farLUN) WriteAt(p []byte, off int64) (int, error) {
	l.off, l.n = off, len(p)
	return len(p), nil
}

func TestDataOutLengthWrite6(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		cdb []byte
		n   uint32
	}{
		{rw6(opWrite6, 0, 3), 3 * 512},
		{rw6(opWrite6, 0, 0), 256 * 512},
		{append(rw6(opWrite6, 0, 1), make([]byte, 10)...), 512}, // the 16-byte CDB field of iSCSI
	} {
		if n, ok := f.srv.DataOutLength(1, tc.cdb); n != tc.n || !ok {
			t.Errorf("% x: %d %v, want %d true", tc.cdb, n, ok, tc.n)
		}
	}
	if _, ok := f.srv.DataOutLength(1, rw6(opRead6, 0, 1)); ok {
		t.Error("READ(6) has a data-out length")
	}
}

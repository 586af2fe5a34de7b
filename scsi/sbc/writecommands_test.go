package sbc

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// writeCommands are well-formed CDBs, each with its data-out, of every
// SBC-3 and SPC-4 command that changes the medium, whether the server
// implements it or not. Each writes or unmaps block 0 or 1, so that it
// would succeed on a writable LUN.
func writeCommands() []struct {
	name string
	cdb  []byte
	data []byte
} {
	block := fill(512, 0xA6)
	unmap := make([]byte, 24) // UNMAP parameter list: one descriptor, LBA 0, 1 block
	binary.BigEndian.PutUint16(unmap[0:2], 22)
	binary.BigEndian.PutUint16(unmap[2:4], 16)
	binary.BigEndian.PutUint32(unmap[16:20], 1)
	caw := rw16(0x89, 1, 0, 0, 0)
	caw[13] = 1                  // NUMBER OF LOGICAL BLOCKS
	compare := make([]byte, 512) // block 1 as patternFixture fills it
	for i := range compare {
		compare[i] = patternByte(512 + i)
	}
	atomic := rw16(0x9C, 0, 0, 0, 0)
	atomic[13] = 1
	return []struct {
		name string
		cdb  []byte
		data []byte
	}{
		{"WRITE(6)", rw6(opWrite6, 1, 1), block},
		{"WRITE(10)", rw10(opWrite10, 1, 1, 0, 0), block},
		{"WRITE(12)", rw12(opWrite12, 1, 1, 0, 0), block},
		{"WRITE(16)", rw16(opWrite16, 1, 1, 0, 0), block},
		{"WRITE(10) FUA", rw10(opWrite10, 1, 1, 0, fuaBit), block},
		{"WRITE AND VERIFY(10)", rw10(opWriteVerify10, 1, 1, 0, writeVerifyByte), block},
		{"WRITE AND VERIFY(12)", rw12(opWriteVerify12, 1, 1, 0, writeVerifyByte), block},
		{"WRITE AND VERIFY(16)", rw16(opWriteVerify16, 1, 1, 0, writeVerifyByte), block},
		{"WRITE SAME(10)", rw10(opWriteSame10, 1, 1, 0, 0), block},
		{"WRITE SAME(10) UNMAP", rw10(opWriteSame10, 1, 1, 0, unmapBit), block},
		{"WRITE SAME(16)", rw16(opWriteSame16, 1, 1, 0, 0), block},
		{"WRITE SAME(16) UNMAP", rw16(opWriteSame16, 1, 1, 0, unmapBit), block},
		{"WRITE SAME(16) NDOB", rw16(opWriteSame16, 1, 1, 0, ndobBit), nil},
		{"UNMAP", []byte{0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, unmap},
		{"COMPARE AND WRITE", caw, append(compare, block...)},
		{"ORWRITE(16)", rw16(0x8B, 1, 1, 0, 0), block},
		{"WRITE ATOMIC(16)", atomic, block},
		{"FORMAT UNIT", []byte{0x04, 0, 0, 0, 0, 0}, nil},
		{"SANITIZE OVERWRITE", []byte{0x48, 0x01, 0, 0, 0, 0, 0, 0, 8, 0}, []byte{1, 0, 0, 4, 0xA6, 0xA6, 0xA6, 0xA6}},
		{"WRITE LONG(10)", rw10(0x3F, 1, 0, 0, 0), nil},
	}
}

// patternFixture is a fixture whose LUN 1, thin or fully provisioned,
// holds a pattern that no command of writeCommands writes over any of
// its blocks; unmaps counts the ranges a thin LUN deallocated.
func patternFixture(t testing.TB, thin bool) (f *fixture, unmaps func() int) {
	unmaps = func() int { return 0 }
	if thin {
		var m *memThin
		f, m = newThinFixture(t)
		unmaps = func() int { return m.unmaps }
	} else {
		f = newFixture(t)
	}
	for i := range f.disk.data {
		f.disk.data[i] = patternByte(i)
	}
	return f, unmaps
}

// patternByte is byte i of a patternFixture LUN.
func patternByte(i int) byte { return byte(i*7 + 3) }

// offered reports whether the server offers c on a LUN like
// patternFixture's: it knows the operation code (and service action),
// and a writable LUN does not refuse the well-formed CDB with ILLEGAL
// REQUEST (as UNMAP, or WRITE SAME's UNMAP bit, are refused on a fully
// provisioned LUN). The sense data of a refusal says why not.
func offered(t *testing.T, thin bool, cdb, data []byte) (bool, *sense.Sense) {
	t.Helper()
	f, _ := patternFixture(t, thin)
	if _, err := f.srv.lookup(cdb); err != nil {
		return false, nil
	}
	res := f.run(cdb, data)
	if res.Sense != nil && res.Sense.Key == sense.IllegalRequest {
		return false, res.Sense
	}
	return true, nil
}

// lunKinds are the LUNs the write commands are checked on.
var lunKinds = []struct {
	name string
	thin bool
}{{"fully provisioned", false}, {"thin", true}}

// writeCountingLUN counts the writes that reach it.
type writeCountingLUN struct {
	*memLUN
	writes int
}

func (l *writeCountingLUN) WriteAt(p []byte, off int64) (int, error) {
	l.writes++
	return l.memLUN.WriteAt(p, off)
}

// TestReadOnlyLUN encodes SCSI.ReadOnly (ReadOnlySBC) for every command
// that changes the medium: on a read-only LUN each one the server
// offers is DATA PROTECT, WRITE PROTECTED, one it does not is refused
// (ILLEGAL REQUEST, or DATA PROTECT all the same), and none reaches the
// Volume. MODE SENSE reports WP, which is how libiscsi finds a read-only
// LUN.
func TestReadOnlyLUN(t *testing.T) {
	f, _ := patternFixture(t, false)
	l := &writeCountingLUN{memLUN: f.disk}
	l.readOnly = true
	before := bytes.Clone(l.data)
	f.srv.Remove(1)
	if err := f.srv.Add(1, NewLUN(l, Identity{NAA: testNAA})); err != nil {
		t.Fatal(err)
	}
	for _, c := range writeCommands() {
		t.Run(c.name, func(t *testing.T) {
			res := f.run(c.cdb, c.data)
			thick, _ := offered(t, false, c.cdb, c.data)
			thin, _ := offered(t, true, c.cdb, c.data)
			if !thick && !thin {
				// Refused on any LUN: either way is right.
				if res.Sense == nil || (res.Sense.Key != sense.IllegalRequest && res.Sense.Key != sense.DataProtect) {
					t.Fatalf("not offered: status %#x, sense %v", res.Status, res.Sense)
				}
				return
			}
			check(t, res, writeProtect)
		})
	}
	if l.writes != 0 || !bytes.Equal(l.data, before) {
		t.Fatalf("%d writes reached a read-only LUN", l.writes)
	}
	for _, cdb := range [][]byte{modeSense6CDB(true, 0, pageAll, 0, 255), {opModeSense10, dbdBit, pageAll, 0, 0, 0, 0, 1, 0, 0}} {
		res := f.run(cdb, nil)
		check(t, res, good)
		at := 2
		if cdb[0] == opModeSense10 {
			at = 3
		}
		if res.DataIn[at]&wpBit == 0 {
			t.Fatalf("MODE SENSE %#x: device-specific parameter %#x without WP", cdb[0], res.DataIn[at])
		}
	}
}

// eachOffered runs check for every write command on each kind of LUN
// that offers it, on a fresh patternFixture.
func eachOffered(t *testing.T, check func(t *testing.T, f *fixture, unmaps func() int, cdb, data []byte)) {
	for _, k := range lunKinds {
		for _, c := range writeCommands() {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				if ok, why := offered(t, k.thin, c.cdb, c.data); !ok {
					t.Skipf("not offered on this LUN: %v", why)
				}
				f, unmaps := patternFixture(t, k.thin)
				check(t, f, unmaps, c.cdb, c.data)
			})
		}
	}
}

// TestWriteCommandsWrite is the other half of TestReadOnlyLUN: on a
// writable LUN, fully provisioned and thin, each command offered succeeds,
// so that a refusal on a read-only one is for its write protection and not
// for a bad CDB.
func TestWriteCommandsWrite(t *testing.T) {
	eachOffered(t, func(t *testing.T, f *fixture, _ func() int, cdb, data []byte) {
		check(t, f.run(cdb, data), good)
	})
}

// TestAbortedWriteCommandsWriteNothing: every command that changes the
// medium, by writing or by unmapping, does so through Task.Commit, so once
// task management has aborted the task (its gate closed) it ends with TASK
// ABORTED and the LUN is as it was.
func TestAbortedWriteCommandsWriteNothing(t *testing.T) {
	eachOffered(t, func(t *testing.T, f *fixture, unmaps func() int, cdb, data []byte) {
		before := bytes.Clone(f.disk.data)
		var gate task.Gate
		gate.Abort()
		res := f.srv.Execute(context.Background(), &task.Task{LUN: 1, CDB: cdb, DataOut: data,
			Initiator: "iqn.test,isid1", Gate: &gate})
		if res.Status != task.TaskAborted {
			t.Fatalf("status %#x, sense %v; want TASK ABORTED", res.Status, res.Sense)
		}
		if !bytes.Equal(f.disk.data, before) || unmaps() != 0 {
			t.Fatalf("the medium changed after the abort (%d unmaps)", unmaps())
		}
	})
}

package sbc

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// rsocDescriptor is one command descriptor of the all_commands data.
type rsocDescriptor struct {
	op       byte
	sa       uint16
	servactv bool
	ctdp     bool
	cdbLen   uint16
	timeouts uint16
}

func parseAllCommands(t *testing.T, d []byte) []rsocDescriptor {
	t.Helper()
	if n := binary.BigEndian.Uint32(d[0:4]); int(n) != len(d)-4 {
		t.Fatalf("COMMAND DATA LENGTH %d for %d bytes", n, len(d)-4)
	}
	var out []rsocDescriptor
	for p := d[4:]; len(p) > 0; {
		r := rsocDescriptor{op: p[0], sa: binary.BigEndian.Uint16(p[2:4]), servactv: p[5]&1 != 0, ctdp: p[5]&2 != 0, cdbLen: binary.BigEndian.Uint16(p[6:8])}
		n := 8
		if r.ctdp {
			r.timeouts = binary.BigEndian.Uint16(p[8:10])
			n += 12
		}
		out = append(out, r)
		p = p[n:]
	}
	return out
}

// TestReportSupportedOpcodesLibiscsi encodes SCSI.ReportSupportedOpcodes
// and the DPO/FUA usage checks of Read10/Write10/Verify10.
func TestReportSupportedOpcodesLibiscsi(t *testing.T) {
	f := newFixture(t)
	check(t, f.run(rsocCDB(false, 0, 0, 0, 1024), nil), good) // Simple

	all := parseAllCommands(t, f.run(rsocCDB(false, 0, 0, 0, 65535), nil).DataIn)
	if len(all) != len(f.srv.commands) {
		t.Fatalf("%d descriptors for %d commands", len(all), len(f.srv.commands))
	}
	for _, c := range all {
		if c.ctdp {
			t.Fatalf("%#x: CTDP without RCTD", c.op)
		}
		if !c.servactv && c.sa != 0 { // ServiceAction
			t.Fatalf("%#x: service action %#x without SERVACTV", c.op, c.sa)
		}
		// OneCommand: option 1 for commands without service actions,
		// option 2 for those with, and each refuses the other.
		one, other := byte(1), byte(2)
		if c.servactv {
			one, other = 2, 1
		}
		check(t, f.run(rsocCDB(false, other, c.op, c.sa, 65535), nil), invalidAt(2, 2))
		res := f.run(rsocCDB(false, one, c.op, c.sa, 65535), nil)
		check(t, res, good)
		d := res.DataIn
		if d[1]&7 != supportStandardConforming || binary.BigEndian.Uint16(d[2:4]) != c.cdbLen || d[4] != c.op {
			t.Fatalf("%#x/%#x one_command % x", c.op, c.sa, d)
		}
		if c.servactv && d[5]&serviceActionMask != byte(c.sa) {
			t.Fatalf("%#x: usage data lacks service action %#x", c.op, c.sa)
		}
	}

	for _, c := range parseAllCommands(t, f.run(rsocCDB(true, 0, 0, 0, 65535), nil).DataIn) { // Rctd
		if !c.ctdp || c.timeouts != 0x0A {
			t.Fatalf("%#x with RCTD: CTDP %v, timeouts length %#x", c.op, c.ctdp, c.timeouts)
		}
	}
	d := f.run(rsocCDB(true, 1, opRead10, 0, 65535), nil).DataIn
	if d[1]&0x80 == 0 || len(d) != 4+10+12 {
		t.Fatalf("one_command with RCTD % x", d)
	}

	for _, op := range []byte{opRead10, opWrite10, opVerify10} { // DPOFUA
		d := f.run(rsocCDB(false, 1, op, 0, 65535), nil).DataIn
		want := byte(0x18)
		if op == opVerify10 {
			want = 0x10
		}
		if d[5]&0x18 != want {
			t.Fatalf("%#x usage byte 1 %#x, want DPO/FUA bits %#x", op, d[5], want)
		}
	}
	ms := f.run(modeSense6CDB(false, 0, pageAll, 0, 255), nil).DataIn
	if ms[2]&dpofuaBit == 0 {
		t.Fatal("MODE SENSE lacks DPOFUA though the usage data has DPO and FUA")
	}

	d = f.run(rsocCDB(false, 1, 0xC7, 0, 65535), nil).DataIn
	if len(d) != 4 || d[1] != supportNotSupported {
		t.Fatalf("unsupported opcode: % x", d)
	}
	d = f.run(rsocCDB(false, 3, opRead16, 0x55, 65535), nil).DataIn
	if d[1] != supportStandardConforming || d[4] != opRead16 {
		t.Fatalf("option 3 ignores the service action of an opcode without: % x", d)
	}
	check(t, f.run(rsocCDB(false, 4, 0, 0, 65535), nil), invalidAt(2, 2))
	if got := f.run(rsocCDB(false, 0, 0, 0, 10), nil).DataIn; len(got) != 10 {
		t.Fatalf("allocation length 10: %d bytes", len(got))
	}
}

// TestAdvertisedMatchesAccepted sends, for every command, a CDB with every
// bit its usage data allows set: the dispatcher must not refuse it for a
// CDB bit (it may for the values, as LBA out of range).
func TestAdvertisedMatchesAccepted(t *testing.T) {
	f := newFixture(t)
	for _, c := range f.srv.commands {
		cdb := append([]byte(nil), c.usage...)
		res := f.run(cdb, nil)
		if res.Sense != nil && res.Sense.Code() == sense.InvalidFieldInCDB && res.Sense.FieldPointer != nil &&
			res.Sense.FieldPointer.CDB && int(res.Sense.FieldPointer.Byte) < len(cdb) &&
			cdb[res.Sense.FieldPointer.Byte]&^c.usage[res.Sense.FieldPointer.Byte] != 0 {
			t.Fatalf("%#x/%#x refused an advertised bit: %v", c.op, c.sa, res.Sense)
		}
	}
}

func TestDispatch(t *testing.T) {
	f := newFixture(t)
	res := f.run([]byte{0xC7, 0, 0, 0, 0, 0}, nil)
	check(t, res, invalidOp)
	check(t, f.run(nil, nil), invalidOp)
	check(t, f.run([]byte{opServiceActionIn16, 0x1F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil), invalidAt(1, 4))
	check(t, f.run([]byte{opRead16, 0, 0, 0}, nil), invalidCDB)
	check(t, f.run([]byte{opTestUnitReady, 0, 0, 0, 0, 0}, nil), good)
	check(t, f.run([]byte{opTestUnitReady, 0, 0, 1, 0, 0}, nil), invalidAt(3, 0))
	// A transport may hand over the whole 16-byte CDB field.
	check(t, f.run(append(rw10(opRead10, 0, 1, 0, 0), make([]byte, 6)...), nil), good)

	for _, cdb := range [][]byte{
		{opTestUnitReady, 0, 0, 0, 0, 0},
		rw10(opRead10, 0, 1, 0, 0),
		rsocCDB(false, 0, 0, 0, 1024),
		modeSense6CDB(false, 0, pageAll, 0, 255),
	} {
		check(t, f.runLUN(3, cdb, nil), lunMissing)
	}
	res = f.runLUN(3, []byte{opRequestSense, 0, 0, 0, 18, 0}, nil)
	check(t, res, good)
	if res.DataIn[2]&0x0F != byte(sense.IllegalRequest) || res.DataIn[12] != 0x25 {
		t.Fatalf("REQUEST SENSE for a missing LUN: % x", res.DataIn)
	}
	res = f.run([]byte{opRequestSense, 1, 0, 0, 252, 0}, nil)
	check(t, res, good)
	if res.DataIn[0] != 0x72 || res.DataIn[1] != 0 {
		t.Fatalf("REQUEST SENSE DESC: % x", res.DataIn)
	}

	noCopy := New(Config{}, nil)
	if err := noCopy.Add(0, NewLUN(newMemLUN(8, 4096), Identity{NAA: testNAA[:8]})); err != nil {
		t.Fatal(err)
	}
	exec := func(cdb []byte) task.Result {
		return noCopy.Execute(context.Background(), &task.Task{LUN: 0, CDB: cdb})
	}
	check(t, exec(make([]byte, 16)[:0:0]), invalidOp)
	xc := make([]byte, 16)
	xc[0] = opExtendedCopy
	check(t, exec(xc), invalidOp)
	if d := exec(inquiryCDB(false, 0, 96)).DataIn; d[5]&tpcBit != 0 {
		t.Fatal("TPC set without a copy manager")
	}
	if _, present := New(Config{}, nil).vpdPages()[vpdThirdPartyCopy]; present {
		t.Fatal("third-party copy page without a copy manager")
	}
}

func TestAddValidates(t *testing.T) {
	s := New(Config{}, nil)
	ok := NewLUN(newMemLUN(8, 512), Identity{NAA: testNAA})
	tests := []struct {
		name string
		n    uint64
		lun  LUN
	}{
		{"too big", MaxLUN + 1, ok},
		{"nil", 1, nil},
		{"block size", 1, NewLUN(newMemLUN(8, 0), Identity{NAA: testNAA})},
		{"empty", 1, NewLUN(newMemLUN(0, 512), Identity{NAA: testNAA})},
		{"NAA", 1, NewLUN(newMemLUN(8, 512), Identity{NAA: testNAA[:4]})},
	}
	for _, tc := range tests {
		if err := s.Add(tc.n, tc.lun); !errors.Is(err, ErrLUN) {
			t.Errorf("%s: Add returned %v, want ErrLUN", tc.name, err)
		}
	}
	if err := s.Add(1, ok); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(1, ok); err == nil {
		t.Fatal("duplicate LUN accepted")
	}
}

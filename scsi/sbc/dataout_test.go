package sbc

import (
	"testing"

	"github.com/ferry-san/ferry/scsi/xcopy"
)

func TestDataOutLength(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		lun  uint64
		cdb  []byte
		n    uint32
		ok   bool
	}{
		{"WRITE(10)", 1, rw10(opWrite10, 0, 3, 0, 0), 1536, true},
		{"WRITE(12)", 1, rw12(opWrite12, 0, 2, 0, 0), 1024, true},
		{"WRITE AND VERIFY(10)", 1, rw10(opWriteVerify10, 0, 2, 0, writeVerifyByte), 1024, true},
		{"VERIFY(12) BYTCHK 1", 1, rw12(opVerify12, 0, 2, 0, 1<<bytchkShift), 1024, true},
		{"WRITE(16) 0 blocks", 1, rw16(opWrite16, 0, 0, 0, 0), 0, true},
		{"WRITE(16) huge", 1, rw16(opWrite16, 0, 0xFFFFFFFF, 0, 0), 0xFFFFFFFF, true},
		{"WRITE SAME(10)", 1, rw10(opWriteSame10, 0, 100, 0, unmapBit), 0, false},
		{"VERIFY(10) BYTCHK 0", 1, rw10(opVerify10, 0, 4, 0, 0), 0, true},
		{"VERIFY(10) BYTCHK 1", 1, rw10(opVerify10, 0, 4, 0, 1<<bytchkShift), 2048, true},
		{"VERIFY(16) BYTCHK 3", 1, rw16(opVerify16, 0, 4, 0, 3<<bytchkShift), 512, true},
		{"EXTENDED COPY", 1, xcopy.ExtendedCopyCDB{ParameterListLength: 92}.Encode(), 92, true},
		{"UNMAP", 1, unmapCDB(40, 0), 40, true},
		{"READ(10)", 1, rw10(opRead10, 0, 4, 0, 0), 0, false},
		{"unknown LUN", 5, rw10(opWrite10, 0, 3, 0, 0), 0, false},
		{"unknown opcode", 1, []byte{0xC7, 0, 0, 0, 0, 0}, 0, false},
		{"short CDB", 1, []byte{opWrite16, 0, 0}, 0, false},
	}
	for _, tc := range tests {
		n, ok := f.srv.DataOutLength(tc.lun, tc.cdb)
		if n != tc.n || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, n, ok, tc.n, tc.ok)
		}
	}
}

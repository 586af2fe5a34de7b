package sbc

import (
	"bytes"
	"testing"
)

// TestPersistentReserveIn: libiscsi's test tool reads the registered keys
// before and after every test and logs a [SKIPPED] line when PERSISTENT
// RESERVE IN is not implemented.
func TestPersistentReserveIn(t *testing.T) {
	f := newFixture(t)
	for _, sa := range []byte{saReadKeys, saReadReservation, saReportCapabilities, saReadFullStatus} {
		res := f.run([]byte{opPersistentReserveIn, sa, 0, 0, 0, 0, 0, 0x40, 0, 0}, nil)
		check(t, res, good)
		want := make([]byte, 8)
		if sa == saReportCapabilities {
			want[1] = 8
		}
		if !bytes.Equal(res.DataIn, want) {
			t.Fatalf("service action %d: % x", sa, res.DataIn)
		}
	}
	for sa := byte(4); sa < 0x20; sa++ { // PrinServiceactionRange
		check(t, f.run([]byte{opPersistentReserveIn, sa, 0, 0, 0, 0, 0, 0x40, 0, 0}, nil), invalidAt(1, 4))
	}
	check(t, f.run([]byte{0x5F, 0, 0, 0, 0, 0, 0, 0, 0x18, 0}, nil), invalidOp)
	if d := f.run([]byte{opPersistentReserveIn, 0, 0, 0, 0, 0, 0, 0, 4, 0}, nil).DataIn; len(d) != 4 {
		t.Fatalf("allocation length 4: %d bytes", len(d))
	}
}

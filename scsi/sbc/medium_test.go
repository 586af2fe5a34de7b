package sbc

import "testing"

// startStopCDB builds START STOP UNIT (libiscsi's argument order).
func startStopCDB(immed bool, pcm, pc byte, noFlush, loej, start bool) []byte {
	c := []byte{opStartStopUnit, 0, 0, pcm, pc << 4, 0}
	if immed {
		c[1] = 0x01
	}
	for _, b := range []struct {
		set bool
		bit byte
	}{{noFlush, 0x04}, {loej, 0x02}, {start, startBit}} {
		if b.set {
			c[4] |= b.bit
		}
	}
	return c
}

func TestStartStopUnit(t *testing.T) {
	tests := []struct {
		name string
		cdb  []byte
		want want
	}{
		{"start", startStopCDB(false, 0, 0, false, false, true), good},
		{"start IMMED", startStopCDB(true, 0, 0, false, false, true), good},
		{"load (LOEJ START)", startStopCDB(true, 0, 0, false, true, true), good},
		{"start NO_FLUSH", startStopCDB(false, 0, 0, true, false, true), good},
		{"stop", startStopCDB(false, 0, 0, false, false, false), invalidAt(4, 0)},
		{"stop IMMED NO_FLUSH", startStopCDB(true, 0, 0, true, false, false), invalidAt(4, 0)},
		{"eject (LOEJ, no START)", startStopCDB(true, 0, 0, false, true, false), invalidAt(4, 0)},
		{"ACTIVE", startStopCDB(false, 0, pcActive, false, false, false), good},
		{"LU_CONTROL", startStopCDB(true, 0, pcLUControl, false, true, false), good},
		{"IDLE", startStopCDB(true, 0, 0x2, false, false, false), invalidAt(4, 7)},
		{"STANDBY", startStopCDB(true, 0, 0x3, false, false, true), invalidAt(4, 7)},
		{"FORCE_STANDBY_0", startStopCDB(true, 0, 0xB, false, false, true), invalidAt(4, 7)},
		{"reserved power condition", startStopCDB(true, 0, 0xF, false, false, true), invalidAt(4, 7)},
		{"POWER CONDITION MODIFIER", startStopCDB(true, 1, pcActive, false, false, true), invalidAt(3, 0)},
		{"reserved byte 2", []byte{opStartStopUnit, 0, 0x80, 0, startBit, 0}, invalidAt(2, 7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			check(t, f.run(tc.cdb, nil), tc.want)
			// Whatever it was told, the LUN stays ready.
			check(t, f.run([]byte{opTestUnitReady, 0, 0, 0, 0, 0}, nil), good)
		})
	}
	f := newFixture(t)
	f.disk.readOnly = true
	check(t, f.run(startStopCDB(false, 0, 0, false, false, true), nil), good)
}

func TestPreventAllowMediumRemoval(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		prevent byte
		want    want
	}{
		{0, good}, {1, good}, {0, good}, {2, invalidAt(4, 1)}, {3, invalidAt(4, 1)},
	} {
		check(t, f.run([]byte{opPreventAllowRemoval, 0, 0, 0, tc.prevent, 0}, nil), tc.want)
	}
	// Removal prevented or not, the LUN is there and is no removable
	// medium: INQUIRY keeps RMB clear.
	check(t, f.run([]byte{opPreventAllowRemoval, 0, 0, 0, 1, 0}, nil), good)
	if d := f.run(inquiryCDB(false, 0, 96), nil).DataIn; d[1]&0x80 != 0 {
		t.Fatal("RMB set")
	}
	check(t, f.run([]byte{opTestUnitReady, 0, 0, 0, 0, 0}, nil), good)
}

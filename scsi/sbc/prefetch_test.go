package sbc

import "testing"

// prefetchCDB builds PRE-FETCH(10) (len 10) or (16).
func prefetchCDB(len16 bool, lba uint64, blocks uint32, immed bool, group byte) []byte {
	var c []byte
	if len16 {
		c = rw16(opPrefetch16, lba, blocks, 0, 0)
		c[14] = group
	} else {
		c = rw10(opPrefetch10, uint32(lba), uint16(blocks), 0, 0)
		c[6] = group
	}
	if immed {
		c[1] |= immedBit
	}
	return c
}

// advisedLUN records the PRE-FETCH advice it is given.
type advisedLUN struct {
	*memLUN
	advice [][2]int64
}

func (l *advisedLUN) Prefetch(off, n int64) { l.advice = append(l.advice, [2]int64{off, n}) }

// TestPrefetchLibiscsi encodes SCSI.Prefetch10 and SCSI.Prefetch16
// (Simple, BeyondEol, ZeroBlocks, Flags) and checks the advice passed to
// the Volume.
func TestPrefetchLibiscsi(t *testing.T) {
	const n = testBlocks
	tests := []struct {
		name   string
		lba    uint64
		blocks uint32
		immed  bool
		group  byte
		want   want
		advice [2]int64 // off, length in bytes, when GOOD
	}{
		{"1 block at 0", 0, 1, false, 0, good, [2]int64{0, 512}},
		{"256 blocks at 0", 0, 256, false, 0, good, [2]int64{0, 256 * 512}},
		{"1 block at the end", n - 1, 1, false, 0, good, [2]int64{(n - 1) * 512, 512}},
		{"256 blocks at the end", n - 256, 256, false, 0, good, [2]int64{(n - 256) * 512, 256 * 512}},
		{"0 blocks at 0: the whole LUN", 0, 0, false, 0, good, [2]int64{0, n * 512}},
		{"0 blocks at the last block", n - 1, 0, false, 0, good, [2]int64{(n - 1) * 512, 512}},
		{"0 blocks one past the end", n + 1, 0, false, 0, lbaOOB, [2]int64{}},
		{"0 blocks at the end", n, 0, false, 0, lbaOOB, [2]int64{}},
		{"0 blocks at 2^31", 0x80000000, 0, false, 0, lbaOOB, [2]int64{}},
		{"0 blocks at -1", 0xFFFFFFFF, 0, false, 0, lbaOOB, [2]int64{}},
		{"1 block one beyond the end", n, 1, false, 0, lbaOOB, [2]int64{}},
		{"256 blocks one beyond the end", n - 255, 256, false, 0, lbaOOB, [2]int64{}},
		{"2 blocks at the last block", n - 1, 2, false, 0, lbaOOB, [2]int64{}},
		{"256 blocks at -1", 0xFFFFFFFF, 256, false, 0, lbaOOB, [2]int64{}},
		{"IMMED", 0, 1, true, 0, good, [2]int64{0, 512}},
		{"GROUP 3", 0, 1, false, 3, good, [2]int64{0, 512}},
		{"IMMED and GROUP 3", 0, 1, true, 3, good, [2]int64{0, 512}},
		{"GROUP 1fh", 0, 1, false, 0x1F, good, [2]int64{0, 512}},
	}
	for _, len16 := range []bool{false, true} {
		for _, tc := range tests {
			name := "10/" + tc.name
			if len16 {
				name = "16/" + tc.name
			}
			t.Run(name, func(t *testing.T) {
				f := newFixture(t)
				l := &advisedLUN{memLUN: f.disk}
				f.srv.Remove(1)
				if err := f.srv.Add(1, NewLUN(l, Identity{NAA: testNAA})); err != nil {
					t.Fatal(err)
				}
				check(t, f.run(prefetchCDB(len16, tc.lba, tc.blocks, tc.immed, tc.group), nil), tc.want)
				switch {
				case tc.want == good && (len(l.advice) != 1 || l.advice[0] != tc.advice):
					t.Fatalf("advice %v, want %v", l.advice, tc.advice)
				case tc.want != good && len(l.advice) != 0:
					t.Fatalf("advice %v for a refused PRE-FETCH", l.advice)
				}
			})
		}
	}
}

func TestPrefetchFields(t *testing.T) {
	f := newFixture(t)
	c := prefetchCDB(false, 0, 1, false, 0)
	c[1] |= 0x01 // obsolete RELADR
	check(t, f.run(c, nil), invalidAt(1, 0))
	c = prefetchCDB(true, 0, 1, false, 0)
	c[14] = 0x20 // reserved bits of GROUP NUMBER's byte
	check(t, f.run(c, nil), invalidAt(14, 5))
	// A PRE-FETCH(16) past what 32 bits of LBA reach.
	c = prefetchCDB(true, 1<<40, 1, false, 0)
	check(t, f.run(c, nil), lbaOOB)
	// A Volume that takes no advice still answers GOOD.
	check(t, f.run(prefetchCDB(true, 0, 8, false, 0), nil), good)
}

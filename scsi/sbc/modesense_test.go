package sbc

import (
	"encoding/binary"
	"testing"
)

func TestModeSenseGolden(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, title string
		cdb         []byte
	}{
		{"mode_sense6_all", "MODE SENSE(6) all pages, current, block descriptor", modeSense6CDB(false, pcCurrent, pageAll, 0, 255)},
		{"mode_sense6_caching_dbd", "MODE SENSE(6) caching page, DBD", modeSense6CDB(true, pcCurrent, pageCaching, 0, 255)},
		{"mode_sense6_control_changeable", "MODE SENSE(6) control page, changeable values, DBD", modeSense6CDB(true, pcChangeable, pageControl, 0, 255)},
		{"mode_sense10_all_llbaa", "MODE SENSE(10) all pages and subpages, LLBAA: long block descriptor", []byte{opModeSense10, llbaaBit, pageAll, subpageAll, 0, 0, 0, 0x10, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.run(tc.cdb, nil)
			check(t, res, good)
			checkGolden(t, tc.name, tc.title, res.DataIn)
		})
	}
}

func TestModeSense(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		cdb  []byte
		want want
	}{
		{"saved", modeSense6CDB(false, pcSaved, pageAll, 0, 255), illegal(savingNotAllowed)},
		{"default", modeSense6CDB(false, pcDefault, pageInfoExcept, 0, 255), good},
		{"unknown page", modeSense6CDB(false, pcCurrent, 0x19, 0, 255), invalidAt(2, 5)},
		{"unknown subpage", modeSense6CDB(false, pcCurrent, pageCaching, 1, 255), invalidAt(3, 7)},
		{"all subpages of one page", modeSense6CDB(false, pcCurrent, pageCaching, subpageAll, 255), good},
		{"LLBAA on MODE SENSE(6)", []byte{opModeSense6, llbaaBit, pageAll, 0, 255, 0}, invalidAt(1, 4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { check(t, f.run(tc.cdb, nil), tc.want) })
	}
	d := f.run(modeSense6CDB(false, pcCurrent, pageAll, 0, 255), nil).DataIn
	if int(d[0]) != len(d)-1 || d[3] != shortBlockDesc {
		t.Fatalf("header % x for %d bytes", d[:4], len(d))
	}
	if got := binary.BigEndian.Uint32(d[4:8]); got != testBlocks {
		t.Fatalf("block descriptor blocks %d", got)
	}
	if d := f.run(modeSense6CDB(false, pcCurrent, pageAll, 0, 6), nil).DataIn; len(d) != 6 || int(d[0]) <= 5 {
		t.Fatalf("truncated MODE SENSE must keep the full MODE DATA LENGTH: % x", d)
	}
}

func TestReportLUNs(t *testing.T) {
	f := newFixture(t)
	for _, n := range []uint64{0, 300} {
		if err := f.srv.Add(n, NewLUN(newMemLUN(8, 512), Identity{NAA: testNAA})); err != nil {
			t.Fatal(err)
		}
	}
	cdb := func(sel byte, alloc uint32) []byte {
		c := []byte{opReportLUNs, 0, sel, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(c[6:10], alloc)
		return c
	}
	res := f.runLUN(99, cdb(0, 4096), nil) // any LUN answers
	check(t, res, good)
	checkGolden(t, "report_luns", "REPORT LUNS: LUNs 0, 1 (peripheral addressing) and 300 (flat space)", res.DataIn)
	if d := f.run(cdb(reportWellKnownLUNs, 4096), nil).DataIn; len(d) != 8 || d[3] != 0 {
		t.Fatalf("well-known LUNs % x", d)
	}
	check(t, f.run(cdb(3, 4096), nil), invalidAt(2, 7))
	check(t, f.run(cdb(0, 15), nil), invalidAt(6, 7))
	if d := f.run(cdb(0, 16), nil).DataIn; len(d) != 16 || d[3] != 24 {
		t.Fatalf("truncated REPORT LUNS keeps LUN LIST LENGTH: % x", d)
	}
	f.srv.Remove(300)
	if d := f.run(cdb(0, 4096), nil).DataIn; d[3] != 16 {
		t.Fatalf("after Remove: % x", d)
	}
}

package sbc

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/ferry-san/ferry/storage/disk"
)

// TestDiskLUN serves a real *disk.LUN, the cluster's storage, through
// NewLUN.
func TestDiskLUN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lun")
	if err := disk.Create(path, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	d, err := disk.Open(path, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := New(Config{}, nil)
	if err := s.Add(0, NewLUN(d, Identity{NAA: testNAA, Serial: "d0"})); err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: s}
	data := fill(2*512, 0x3c)
	check(t, f.runLUN(0, rw16(opWrite16, 2046, 2, 0, fuaBit), data), good)
	res := f.runLUN(0, rw10(opRead10, 2046, 2, 0, 0), nil)
	check(t, res, good)
	if !bytes.Equal(res.DataIn, data) {
		t.Fatal("read back differs")
	}
	check(t, f.runLUN(0, rw10(opRead10, 2047, 2, 0, 0), nil), lbaOOB)
	check(t, f.runLUN(0, rw10(opWriteSame10, 0, 0, 0, unmapBit), fill(512, 9)), invalidAt(1, 3)) // not thin
	check(t, f.runLUN(0, rw10(opWriteSame10, 0, 0, 0, 0), make([]byte, 512)), good)
	check(t, f.runLUN(0, rw10(opVerify10, 2046, 2, 0, 1<<bytchkShift), make([]byte, 1024)), good)

	ro, err := disk.Open(path, disk.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	if err := s.Add(1, NewLUN(ro, Identity{NAA: testNAA})); err != nil {
		t.Fatal(err)
	}
	check(t, f.runLUN(1, rw10(opWrite10, 0, 1, 0, 0), fill(512, 1)), writeProtect)
}

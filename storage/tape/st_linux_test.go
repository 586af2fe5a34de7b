//go:build linux && (386 || amd64 || arm || arm64 || loong64 || riscv64 || s390x)

package tape

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The request numbers must be what <linux/mtio.h> gives on this machine.
func TestMTIORequestNumbers(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("reference values recorded for 64-bit Linux")
	}
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"MTIOCTOP", mtiocTop, 0x40086d01},
		{"MTIOCGET", mtiocGet, 0x80306d02},
		{"MTIOCPOS", mtiocPos, 0x80086d03},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func TestOpenSTRefusesNonTape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-a-tape")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenST(path); err == nil {
		t.Fatal("OpenST accepted a regular file")
	}
}

// TestSTDrive runs against a real drive and erases its cartridge:
// FERRY_TEST_NST=/dev/nst0 go test -run TestSTDrive ./storage/tape/
func TestSTDrive(t *testing.T) {
	dev := os.Getenv("FERRY_TEST_NST")
	if dev == "" {
		t.Skip("set FERRY_TEST_NST to a scratch tape device such as /dev/nst0 (its cartridge is overwritten)")
	}
	d, err := OpenST(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SetBlockSize(0); err != nil {
		t.Fatal(err)
	}
	if err := WriteLabel(d, "FERRY1L8"); err != nil {
		t.Fatal(err)
	}
	recs := [][]byte{record(1, 1000), record(2, 256<<10), record(3, 7)}
	for _, r := range recs {
		if _, err := d.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.WriteFilemarks(1); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLabel(d)
	if err != nil || l.VolumeID != "FERRY1" {
		t.Fatalf("ReadLabel: %+v, %v", l, err)
	}
	p, err := d.ReadPosition()
	if err != nil || p.File != 1 || p.ObjectID != 2 {
		t.Fatalf("position after the label: %+v, %v", p, err)
	}
	buf := make([]byte, 1<<20)
	for i, r := range recs {
		n, err := d.ReadRecord(buf)
		if err != nil || !bytes.Equal(buf[:n], r) {
			t.Fatalf("record %d: %d bytes, %v", i, n, err)
		}
	}
	if _, err := d.ReadRecord(buf); !errors.Is(err, ErrFilemark) {
		t.Fatalf("after the records: %v, want ErrFilemark", err)
	}
	if err := d.Space(SpaceRecords, -2); !errors.Is(err, ErrFilemark) {
		t.Fatalf("space back over the filemark: %v", err)
	}
	if err := d.Locate(3); err != nil {
		t.Fatal(err)
	}
	if n, err := d.ReadRecord(buf); err != nil || n != len(recs[1]) {
		t.Fatalf("record after locate: %d, %v", n, err)
	}
}

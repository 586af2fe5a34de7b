package sbc

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// defectFlags is the byte of REQ_PLIST, REQ_GLIST and DEFECT LIST FORMAT.
func defectFlags(plist, glist bool, format byte) byte {
	if plist {
		format |= 0x10
	}
	if glist {
		format |= 0x08
	}
	return format
}

func readDefect10CDB(plist, glist bool, format byte, alloc uint16) []byte {
	c := []byte{opReadDefectData10, 0, defectFlags(plist, glist, format), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(c[7:9], alloc)
	return c
}

func readDefect12CDB(plist, glist bool, format byte, index, alloc uint32) []byte {
	c := []byte{opReadDefectData12, defectFlags(plist, glist, format), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(c[2:6], index)
	binary.BigEndian.PutUint32(c[6:10], alloc)
	return c
}

// TestReadDefectData encodes SCSI.ReadDefectData10 and 12 (Simple) and
// checks the headers: the lists asked for are valid and empty, in the
// format asked for.
func TestReadDefectData(t *testing.T) {
	tests := []struct {
		name string
		cdb  []byte
		want want
		data []byte
	}{
		{"10 libiscsi", readDefect10CDB(false, false, 0, 32), good, []byte{0, 0, 0, 0}},
		{"10 both lists, long block", readDefect10CDB(true, true, formatLongBlock, 32), good, []byte{0, 0x1B, 0, 0}},
		{"10 GLIST, physical sector", readDefect10CDB(false, true, formatSector, 32), good, []byte{0, 0x0D, 0, 0}},
		{"10 PLIST, bytes from index", readDefect10CDB(true, false, formatIndex, 32), good, []byte{0, 0x14, 0, 0}},
		{"10 vendor format", readDefect10CDB(true, false, formatVendor, 32), good, []byte{0, 0x16, 0, 0}},
		{"10 allocation 2", readDefect10CDB(true, true, 0, 2), good, []byte{0, 0x18}},
		{"10 allocation 0", readDefect10CDB(true, true, 0, 0), good, []byte{}},
		{"10 reserved format 1", readDefect10CDB(false, false, 1, 32), invalidAt(2, 2), nil},
		{"10 reserved format 7", readDefect10CDB(true, true, 7, 32), invalidAt(2, 2), nil},
		{"10 reserved byte 1", []byte{opReadDefectData10, 0x01, 0, 0, 0, 0, 0, 0, 4, 0}, invalidAt(1, 0), nil},
		{"12 libiscsi", readDefect12CDB(false, false, 0, 0, 32), good, make([]byte, 8)},
		{"12 both lists, short block", readDefect12CDB(true, true, formatShortBlock, 0, 32), good, []byte{0, 0x18, 0, 0, 0, 0, 0, 0}},
		{"12 index past the list", readDefect12CDB(false, true, formatLongBlock, 1000, 32), good, []byte{0, 0x0B, 0, 0, 0, 0, 0, 0}},
		{"12 reserved format 2", readDefect12CDB(false, true, 2, 0, 32), invalidAt(1, 2), nil},
		{"12 obsolete LUN field", append([]byte{opReadDefectData12, 0x20}, make([]byte, 10)...), invalidAt(1, 7), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			res := f.run(tc.cdb, nil)
			check(t, res, tc.want)
			if tc.want == good && !bytes.Equal(res.DataIn, tc.data) {
				t.Fatalf("data % x, want % x", res.DataIn, tc.data)
			}
		})
	}
}

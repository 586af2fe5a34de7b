package sbc

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/storage/disk"
)

// memThin is a thin memLUN: a block is mapped once written, unmapped by
// Unmap, and reads as zeroes then. Granularity is one block.
type memThin struct {
	*memLUN
	mapped []bool
	unmaps int
}

func newMemThin(blocks uint64, bs uint32) *memThin {
	return &memThin{memLUN: newMemLUN(blocks, bs), mapped: make([]bool, blocks)}
}

func (m *memThin) WriteAt(p []byte, off int64) (int, error) {
	n, err := m.memLUN.WriteAt(p, off)
	m.mu.Lock()
	defer m.mu.Unlock()
	bs := int64(m.bs)
	for b := off / bs; b < (off+int64(n)+bs-1)/bs; b++ {
		m.mapped[b] = true
	}
	return n, err
}

func (m *memThin) Thin() bool               { return true }
func (m *memThin) UnmapGranularity() uint32 { return m.bs }

func (m *memThin) Unmap(off, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 || off+n > int64(len(m.data)) {
		return errOutside
	}
	m.unmaps++
	clear(m.data[off : off+n])
	bs := int64(m.bs)
	for b := off / bs; b < (off+n)/bs; b++ {
		m.mapped[b] = false
	}
	return nil
}

func (m *memThin) ExtentAt(lba uint64) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := uint64(1)
	for lba+n < uint64(len(m.mapped)) && m.mapped[lba+n] == m.mapped[lba] {
		n++
	}
	return n, m.mapped[lba], nil
}

// newThinFixture is newFixture with a thin LUN 1, all of it written.
func newThinFixture(t testing.TB) (*fixture, *memThin) {
	f := newFixture(t)
	thin := newMemThin(testBlocks, 512)
	for i := range thin.mapped {
		thin.mapped[i] = true
	}
	f.srv.Remove(1)
	if err := f.srv.Add(1, NewLUN(thin, Identity{NAA: testNAA, Serial: "ferry-disk-1"})); err != nil {
		t.Fatal(err)
	}
	f.disk = thin.memLUN
	return f, thin
}

type unmapDesc struct {
	lba   uint64
	count uint32
}

// unmapCDB is UNMAP with a parameter list length.
func unmapCDB(plen uint16, flags byte) []byte {
	c := []byte{opUnmap, flags, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(c[7:9], plen)
	return c
}

// unmapList is an UNMAP parameter list as libiscsi builds it.
func unmapList(ds ...unmapDesc) []byte {
	b := make([]byte, 8, 8+16*len(ds))
	binary.BigEndian.PutUint16(b[0:2], uint16(6+16*len(ds)))
	binary.BigEndian.PutUint16(b[2:4], uint16(16*len(ds)))
	for _, d := range ds {
		e := make([]byte, 16)
		binary.BigEndian.PutUint64(e[0:8], d.lba)
		binary.BigEndian.PutUint32(e[8:12], d.count)
		b = append(b, e...)
	}
	return b
}

func lbaStatusCDB(lba uint64, alloc uint32) []byte {
	c := make([]byte, 16)
	c[0], c[1] = opServiceActionIn16, saGetLBAStatus
	binary.BigEndian.PutUint64(c[2:10], lba)
	binary.BigEndian.PutUint32(c[10:14], alloc)
	return c
}

func invalidParamAt(b uint16) want {
	w := illegal(sense.InvalidFieldInParameterList)
	w.fp = &sense.FieldPointer{Byte: b}
	return w
}

// TestUnmapCommand encodes SCSI.Unmap and UNMAP's parameter list rules.
func TestUnmapCommand(t *testing.T) {
	const n = testBlocks
	list := unmapList(unmapDesc{0, 1})
	many := make([]unmapDesc, maxUnmapDescriptors+1)
	for i := range many {
		many[i] = unmapDesc{uint64(i), 1}
	}
	tests := []struct {
		name   string
		cdb    []byte
		data   []byte
		want   want
		zeroed []unmapDesc
	}{
		{"one block", unmapCDB(uint16(len(list)), 0), list, good, []unmapDesc{{0, 1}}},
		{"two descriptors", unmapCDB(40, 0), unmapList(unmapDesc{3, 2}, unmapDesc{n - 1, 1}), good, []unmapDesc{{3, 2}, {n - 1, 1}}},
		{"no parameter list", unmapCDB(0, 0), nil, good, nil},
		{"no descriptors", unmapCDB(8, 0), unmapList(), good, nil},
		{"0 blocks at the end", unmapCDB(24, 0), unmapList(unmapDesc{n, 0}), good, nil},
		{"0 blocks past the end", unmapCDB(24, 0), unmapList(unmapDesc{n + 1, 0}), lbaOOB, nil},
		{"past the end", unmapCDB(24, 0), unmapList(unmapDesc{n - 1, 2}), lbaOOB, nil},
		{"wraps", unmapCDB(24, 0), unmapList(unmapDesc{^uint64(0), 2}), lbaOOB, nil},
		{"bad second: nothing unmapped", unmapCDB(40, 0), unmapList(unmapDesc{0, 1}, unmapDesc{n, 1}), lbaOOB, nil},
		{"header cut", unmapCDB(7, 0), list[:7], illegal(sense.ParameterListLengthError), nil},
		{"less sent than said", unmapCDB(24, 0), list[:6], illegal(sense.ParameterListLengthError), nil},
		{"last descriptor cut", unmapCDB(23, 0), list, good, nil},
		{"descriptor length past the list", unmapCDB(24, 0), func() []byte {
			b := unmapList(unmapDesc{5, 1})
			binary.BigEndian.PutUint16(b[2:4], 64)
			return b
		}(), good, []unmapDesc{{5, 1}}},
		{"too many descriptors", unmapCDB(uint16(8+16*len(many)), 0), unmapList(many...), invalidParamAt(2), nil},
		{"ANCHOR", unmapCDB(24, 0x01), list, invalidAt(1, 0), nil},
		{"GROUP NUMBER", func() []byte { c := unmapCDB(24, 0); c[6] = 0x1F; return c }(), list, good, []unmapDesc{{0, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, thin := newThinFixture(t)
			copy(f.disk.data, fill(len(f.disk.data), 0xa6))
			check(t, f.run(tc.cdb, tc.data), tc.want)
			want := fill(len(f.disk.data), 0xa6)
			for _, z := range tc.zeroed {
				clear(want[z.lba*512 : (z.lba+uint64(z.count))*512])
				for b := z.lba; b < z.lba+uint64(z.count); b++ {
					if thin.mapped[b] {
						t.Errorf("block %d still mapped", b)
					}
				}
			}
			if !bytes.Equal(f.disk.data, want) {
				t.Fatal("UNMAP did not zero exactly the blocks it was given")
			}
		})
	}
}

// TestUnmapLimits: more blocks than MAXIMUM UNMAP LBA COUNT is INVALID
// FIELD IN PARAMETER LIST pointing at the descriptor that went over.
func TestUnmapLimits(t *testing.T) {
	f, _ := newThinFixture(t)
	big := &hugeThin{blocks: uint64(maxUnmapBlocks(512)) + 8}
	f.srv.Remove(1)
	if err := f.srv.Add(1, NewLUN(big, Identity{NAA: testNAA})); err != nil {
		t.Fatal(err)
	}
	max := maxUnmapBlocks(512)
	check(t, f.run(unmapCDB(40, 0), unmapList(unmapDesc{0, max}, unmapDesc{uint64(max), 1})), invalidParamAt(8+16+8))
	check(t, f.run(unmapCDB(40, 0), unmapList(unmapDesc{0, max - 1}, unmapDesc{uint64(max), 1})), good)
	if big.unmapped != uint64(max) {
		t.Fatalf("%d blocks unmapped, want %d", big.unmapped, max)
	}
}

// hugeThin is a thin LUN of 512-byte blocks that stores nothing: Unmap
// counts the blocks it is given.
type hugeThin struct {
	blocks, unmapped uint64
}

func (h *hugeThin) ReadAt(p []byte, _ int64) (int, error)  { clear(p); return len(p), nil }
func (h *hugeThin) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }
func (h *hugeThin) Flush() error                           { return nil }
func (h *hugeThin) BlockSize() uint32                      { return 512 }
func (h *hugeThin) Blocks() uint64                         { return h.blocks }
func (h *hugeThin) ReadOnly() bool                         { return false }
func (h *hugeThin) Thin() bool                             { return true }
func (h *hugeThin) UnmapGranularity() uint32               { return 4096 }
func (h *hugeThin) Unmap(_, n int64) error                 { h.unmapped += uint64(n) / 512; return nil }
func (h *hugeThin) ExtentAt(lba uint64) (uint64, bool, error) {
	return h.blocks - lba, false, nil
}

// TestNotThin: a fully provisioned LUN says so everywhere and refuses to
// unmap.
func TestNotThin(t *testing.T) {
	f := newFixture(t)
	opByte := invalidCDB
	opByte.fp = &sense.FieldPointer{CDB: true}
	check(t, f.run(unmapCDB(24, 0), unmapList(unmapDesc{0, 1})), opByte)
	check(t, f.run(unmapCDB(0, 0), nil), opByte) // nothing to unmap: still not offered
	check(t, f.run(rw10(opWriteSame10, 0, 1, 0, unmapBit), make([]byte, 512)), invalidAt(1, 3))
	check(t, f.run(rw16(opWriteSame16, 0, 1, 0, unmapBit|ndobBit), nil), invalidAt(1, 3))
	check(t, f.run(rw16(opWriteSame16, 0, 1, 0, ndobBit), nil), good) // zeroes, written
	res := f.run(rc16CDB(32), nil)
	if res.DataIn[14] != 0 {
		t.Errorf("READ CAPACITY(16) byte 14 = %#x, want LBPME and LBPRZ clear", res.DataIn[14])
	}
	res = f.run(lbaStatusCDB(10, 24), nil)
	check(t, res, good)
	if got, want := res.DataIn, lbaStatus(t, lbaExt{10, testBlocks - 10, true}); !bytes.Equal(got, want) {
		t.Errorf("GET LBA STATUS % x, want % x", got, want)
	}
	f.disk.readOnly = true // a read-only LUN is write protected, thin or not
	check(t, f.run(unmapCDB(24, 0), unmapList(unmapDesc{0, 1})), writeProtect)
	ro, _ := newThinFixture(t)
	ro.disk.readOnly = true
	check(t, ro.run(unmapCDB(24, 0), unmapList(unmapDesc{0, 1})), writeProtect)
	check(t, ro.run(rw10(opWriteSame10, 0, 1, 0, unmapBit), make([]byte, 512)), writeProtect)
}

func rc16CDB(alloc byte) []byte {
	return []byte{opServiceActionIn16, saReadCapacity16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, alloc, 0, 0}
}

type lbaExt struct {
	lba    uint64
	count  uint32
	mapped bool
}

// lbaStatus is GET LBA STATUS parameter data.
func lbaStatus(t *testing.T, exts ...lbaExt) []byte {
	t.Helper()
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[0:4], uint32(4+16*len(exts)))
	for _, e := range exts {
		d := make([]byte, 16)
		binary.BigEndian.PutUint64(d[0:8], e.lba)
		binary.BigEndian.PutUint32(d[8:12], e.count)
		if !e.mapped {
			d[12] = 1
		}
		b = append(b, d...)
	}
	return b
}

// TestGetLBAStatus encodes SCSI.GetLBAStatus: the first descriptor starts
// at the LBA asked for, runs follow as the allocation length allows.
func TestGetLBAStatus(t *testing.T) {
	const n = testBlocks
	f, _ := newThinFixture(t)
	check(t, f.run(unmapCDB(40, 0), unmapList(unmapDesc{8, 8}, unmapDesc{20, 4})), good)
	tests := []struct {
		name  string
		cdb   []byte
		want  want
		exts  []lbaExt
		bytes int
	}{
		{"first", lbaStatusCDB(0, 24), good, []lbaExt{{0, 8, true}}, 24},
		{"inside a hole", lbaStatusCDB(9, 24), good, []lbaExt{{9, 7, false}}, 24},
		{"runs", lbaStatusCDB(0, 1000), good, []lbaExt{{0, 8, true}, {8, 8, false}, {16, 4, true}, {20, 4, false}, {24, n - 24, true}}, 8 + 5*16},
		{"cut to two", lbaStatusCDB(0, 40), good, []lbaExt{{0, 8, true}, {8, 8, false}}, 40},
		{"short allocation", lbaStatusCDB(0, 20), good, []lbaExt{{0, 8, true}}, 20},
		{"zero allocation", lbaStatusCDB(0, 0), good, nil, 0},
		{"last block", lbaStatusCDB(n-1, 24), good, []lbaExt{{n - 1, 1, true}}, 24},
		{"past the end", lbaStatusCDB(n, 24), lbaOOB, nil, 0},
		{"2^63", lbaStatusCDB(1<<63, 24), lbaOOB, nil, 0},
		{"-1", lbaStatusCDB(^uint64(0), 24), lbaOOB, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.run(tc.cdb, nil)
			check(t, res, tc.want)
			if tc.want != good {
				return
			}
			want := lbaStatus(t, tc.exts...)
			if len(tc.exts) == 0 {
				want = nil
			}
			if tc.name == "short allocation" || tc.name == "zero allocation" {
				want = lbaStatus(t, lbaExt{0, 8, true})[:tc.bytes]
			}
			if !bytes.Equal(res.DataIn, want) || len(res.DataIn) != tc.bytes {
				t.Fatalf("got % x\nwant % x", res.DataIn, want)
			}
		})
	}
}

// TestWriteSameUnmap: WRITE SAME with UNMAP unmaps its range whatever the
// block holds, and the range reads back as zeroes.
func TestWriteSameUnmap(t *testing.T) {
	tests := []struct {
		name     string
		cdb      []byte
		data     []byte
		unmapped bool
		wantData byte
	}{
		{"10 zeroes", rw10(opWriteSame10, 4, 8, 0, unmapBit), make([]byte, 512), true, 0},
		{"16 zeroes", rw16(opWriteSame16, 4, 8, 0, unmapBit), make([]byte, 512), true, 0},
		{"16 NDOB", rw16(opWriteSame16, 4, 8, 0, unmapBit|ndobBit), nil, true, 0},
		{"not zeroes", rw10(opWriteSame10, 4, 8, 0, unmapBit), fill(512, 0x5c), true, 0},
		{"without UNMAP: written", rw16(opWriteSame16, 4, 8, 0, 0), make([]byte, 512), false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, thin := newThinFixture(t)
			copy(f.disk.data, fill(len(f.disk.data), 0xa6))
			check(t, f.run(tc.cdb, tc.data), good)
			want := fill(len(f.disk.data), 0xa6)
			copy(want[4*512:12*512], fill(8*512, tc.wantData))
			if !bytes.Equal(f.disk.data, want) {
				t.Fatal("WRITE SAME with UNMAP changed the wrong bytes")
			}
			if got := !thin.mapped[4] && !thin.mapped[11] && thin.mapped[12] && thin.mapped[3]; got != tc.unmapped {
				t.Fatalf("unmapped = %v, want %v", got, tc.unmapped)
			}
		})
	}
}

// TestThinPages checks the provisioning bits of a thin LUN: READ
// CAPACITY(16) LBPME and LBPRZ, VPD B2h, the UNMAP limits of VPD B0h.
func TestThinPages(t *testing.T) {
	f, _ := newThinFixture(t)
	if got := f.run(rc16CDB(32), nil).DataIn[14]; got != lbpme|lbprz {
		t.Errorf("READ CAPACITY(16) byte 14 = %#x, want LBPME|LBPRZ", got)
	}
	checkGolden(t, "vpd_b2_provisioning_thin", "VPD B2h of a thin LUN", f.run(inquiryCDB(true, vpdLogicalBlockProv, 255), nil).DataIn)
	checkGolden(t, "vpd_b0_limits_thin", "VPD B0h of a thin LUN", f.run(inquiryCDB(true, vpdBlockLimits, 255), nil).DataIn)
}

// TestUnmapAborted: an UNMAP whose task was aborted before it ran leaves
// the medium alone and answers TASK ABORTED.
func TestUnmapAborted(t *testing.T) {
	f, thin := newThinFixture(t)
	gate := &task.Gate{}
	gate.Abort()
	for _, c := range []struct {
		cdb  []byte
		data []byte
	}{
		{unmapCDB(24, 0), unmapList(unmapDesc{0, 8})},
		{rw16(opWriteSame16, 0, 8, 0, unmapBit|ndobBit), nil},
	} {
		res := f.srv.Execute(context.Background(), &task.Task{LUN: 1, CDB: c.cdb, DataOut: c.data, Gate: gate})
		if res.Status != task.TaskAborted {
			t.Fatalf("status %#x, want TASK ABORTED", res.Status)
		}
	}
	if thin.unmaps != 0 {
		t.Fatalf("%d unmaps reached the medium after the abort", thin.unmaps)
	}
}

// TestThinDiskLUN serves a thin *disk.LUN: UNMAP punches holes that GET
// LBA STATUS then reports deallocated, and that read as zeroes.
func TestThinDiskLUN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lun")
	if err := disk.Create(path, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	d, err := disk.Open(path, disk.Options{Thin: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if !d.Thin() || !d.Provisioning().ReportsHoles {
		t.Skipf("the test directory's file system cannot unmap: %+v", d.Provisioning())
	}
	s := New(Config{}, nil)
	if err := s.Add(0, NewLUN(d, Identity{NAA: testNAA, Serial: "d0"})); err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: s}
	check(t, f.runLUN(0, rw10(opWrite10, 0, 64, 0, 0), fill(64*512, 0x77)), good)
	check(t, f.runLUN(0, unmapCDB(24, 0), unmapList(unmapDesc{16, 16})), good)
	res := f.runLUN(0, lbaStatusCDB(0, 1000), nil)
	check(t, res, good)
	g := d.UnmapGranularity() / 512
	want := lbaStatus(t, lbaExt{0, 16, true}, lbaExt{16, 16, false}, lbaExt{32, 32, true}, lbaExt{64, 2048 - 64, false})
	if g != 8 {
		t.Logf("granularity %d blocks: not checking the extents", g)
	} else if !bytes.Equal(res.DataIn, want) {
		t.Fatalf("GET LBA STATUS\n got % x\nwant % x", res.DataIn, want)
	}
	res = f.runLUN(0, rw10(opRead10, 0, 64, 0, 0), nil)
	wantData := fill(64*512, 0x77)
	clear(wantData[16*512 : 32*512])
	if !bytes.Equal(res.DataIn, wantData) {
		t.Fatal("an unmapped range does not read back as zeroes")
	}
	check(t, f.runLUN(0, rw16(opWriteSame16, 0, 0, 0, unmapBit|ndobBit), nil), good)
	if n, err := d.Allocated(); err != nil || n != 0 {
		t.Fatalf("Allocated after unmapping all = %d, %v", n, err)
	}
}

package smc

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/library"
)

func TestMap(t *testing.T) {
	m := Map{Slots: 4, IESlots: 1, Drives: 2}
	for _, tc := range []struct {
		addr uint16
		typ  byte
		loc  library.Location
		ok   bool
	}{
		{0, TypeTransport, library.Location{}, true},
		{1, TypeStorage, library.AtSlot(1), true},
		{4, TypeStorage, library.AtSlot(4), true},
		{5, TypeIE, library.AtIE(1), true},
		{6, TypeDrive, library.AtDrive(0), true},
		{7, TypeDrive, library.AtDrive(1), true},
		{8, 0, library.Location{}, false},
		{0xFFFF, 0, library.Location{}, false},
	} {
		e, ok := m.Lookup(tc.addr)
		if ok != tc.ok || e.Type != tc.typ || e.Location != tc.loc {
			t.Errorf("Lookup(%d) = %v, %v; want type %d %v, %v", tc.addr, e, ok, tc.typ, tc.loc, tc.ok)
		}
		if ok && tc.typ != TypeTransport {
			if a, ok := m.Address(tc.loc); !ok || a != tc.addr {
				t.Errorf("Address(%v) = %d, %v; want %d", tc.loc, a, ok, tc.addr)
			}
		}
	}
	// Without import/export slots the drives follow the slots.
	m = Map{Slots: 3, Drives: 1}
	if e, _ := m.Lookup(4); e.Location != library.AtDrive(0) {
		t.Errorf("no IE: @4 is %v", e)
	}
	for _, l := range []library.Location{library.AtSlot(0), library.AtSlot(4), library.AtIE(1), library.AtDrive(1), {}} {
		if a, ok := m.Address(l); ok {
			t.Errorf("Address(%v) = %d, want none", l, a)
		}
	}
}

// cdb builders, as ndmjob and chg-ndmp build them.
func inquiryCDB(evpd bool, page byte, alloc uint16) []byte {
	c := []byte{opInquiry, 0, page, byte(alloc >> 8), byte(alloc), 0}
	if evpd {
		c[1] = 1
	}
	return c
}

func resCDB(flags1 byte, start, n uint16, byte6 byte, alloc uint32) []byte {
	return []byte{opReadElementStatus, flags1, byte(start >> 8), byte(start), byte(n >> 8), byte(n), byte6,
		byte(alloc >> 16), byte(alloc >> 8), byte(alloc), 0, 0}
}

func moveCDB(transport, from, to uint16) []byte {
	return []byte{opMoveMedium, 0, byte(transport >> 8), byte(transport), byte(from >> 8), byte(from),
		byte(to >> 8), byte(to), 0, 0, 0, 0}
}

func illegal(c sense.Code) *sense.Sense { return sense.New(sense.IllegalRequest, c) }

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(f *fakeLibrary)
		cdb    []byte
		maxIn  int // 0: 64 KiB
		want   *sense.Sense
		ptr    int    // expected field pointer byte, -1 for none
		golden string // testdata/<golden>.hex holds the data-in
		check  func(t *testing.T, r Response, f *fakeLibrary)
	}{
		{name: "test unit ready", cdb: []byte{0, 0, 0, 0, 0, 0}, ptr: -1},
		{name: "test unit ready without the cluster", setup: func(f *fakeLibrary) { f.snapErr = errNoQuorum },
			cdb: []byte{0, 0, 0, 0, 0, 0}, want: sense.New(sense.NotReady, sense.NotReadyCauseNotReportable), ptr: -1},

		{name: "inquiry as ndmjob asks", cdb: []byte{opInquiry, 0, 0, 0, 128, 0}, ptr: -1, golden: "inquiry_standard",
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				if r.Data[0] != 0x08 || len(r.Data) != 96 {
					t.Errorf("device type %#x, %d bytes", r.Data[0], len(r.Data))
				}
				if got := string(r.Data[8:36]); got != "FERRY   SMC LIBRARY     0001" {
					t.Errorf("identification %q", got)
				}
			}},
		{name: "inquiry as chg-ndmp asks", cdb: inquiryCDB(false, 0, 96), ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				if len(r.Data) != 96 || r.Data[0] != 8 {
					t.Errorf("%d bytes, type %d", len(r.Data), r.Data[0])
				}
			}},
		{name: "inquiry truncated to the allocation length", cdb: inquiryCDB(false, 0, 5), ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				if !bytes.Equal(r.Data, []byte{0x08, 0x80, 0x06, 0x02, 91}) {
					t.Errorf("% x", r.Data)
				}
			}},
		{name: "inquiry truncated to NDMP's datain_len", cdb: inquiryCDB(false, 0, 96), maxIn: 36, ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				if len(r.Data) != 36 {
					t.Errorf("%d bytes", len(r.Data))
				}
			}},
		{name: "vpd supported pages", cdb: inquiryCDB(true, 0x00, 255), ptr: -1, golden: "vpd_00"},
		{name: "vpd unit serial", cdb: inquiryCDB(true, 0x80, 255), ptr: -1, golden: "vpd_80"},
		{name: "vpd device identification", cdb: inquiryCDB(true, 0x83, 255), ptr: -1, golden: "vpd_83"},
		{name: "vpd page not supported", cdb: inquiryCDB(true, 0xB0, 255), want: illegal(sense.InvalidFieldInCDB), ptr: 2},
		{name: "page code without EVPD", cdb: inquiryCDB(false, 0x80, 255), want: illegal(sense.InvalidFieldInCDB), ptr: 2},
		{name: "inquiry CMDDT", cdb: []byte{opInquiry, 2, 0, 0, 96, 0}, want: illegal(sense.InvalidFieldInCDB), ptr: 1},

		{name: "mode sense 6 element address page as ndmjob asks", cdb: []byte{opModeSense6, 0x08, 0x1D, 0, 255, 0},
			ptr: -1, golden: "mode_sense6_1d",
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				// ndmjob: mode data length >= 18, page at byte 4.
				if r.Data[0] < 18 || r.Data[4] != 0x1D {
					t.Fatalf("% x", r.Data)
				}
				p := r.Data[4:]
				want := []uint16{0, 1, 1, 4, 5, 1, 6, 2}
				for i, w := range want {
					if got := binary.BigEndian.Uint16(p[2+2*i:]); got != w {
						t.Errorf("page 1Dh field %d = %d, want %d", i, got, w)
					}
				}
			}},
		{name: "mode sense 10 all pages", cdb: []byte{opModeSense10, 0, 0x3F, 0, 0, 0, 0, 0x01, 0x00, 0}, ptr: -1,
			golden: "mode_sense10_all"},
		{name: "mode sense 6 all pages and subpages", cdb: []byte{opModeSense6, 0, 0x3F, 0xFF, 255, 0}, ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				if len(r.Data) != 4+20+4+20 {
					t.Errorf("%d bytes", len(r.Data))
				}
			}},
		{name: "mode sense 6 capabilities changeable", cdb: []byte{opModeSense6, 0x08, 0x40 | 0x1F, 0, 255, 0}, ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				want := append([]byte{23, 0, 0, 0, 0x1F, 0x12}, make([]byte, 18)...)
				if !bytes.Equal(r.Data, want) {
					t.Errorf("% x", r.Data)
				}
			}},
		{name: "mode sense saved values", cdb: []byte{opModeSense6, 0, 0xC0 | 0x1D, 0, 255, 0},
			want: illegal(sense.SavingParametersNotSupported), ptr: -1},
		{name: "mode sense unknown page", cdb: []byte{opModeSense6, 0, 0x08, 0, 255, 0}, want: illegal(sense.InvalidFieldInCDB), ptr: 2},
		{name: "mode sense subpage", cdb: []byte{opModeSense6, 0, 0x1D, 1, 255, 0}, want: illegal(sense.InvalidFieldInCDB), ptr: 3},

		{name: "read element status as ndmjob asks", cdb: resCDB(0x10, 0, 80, 0, 8192), ptr: -1, golden: "res_all_voltag"},
		{name: "read element status as chg-ndmp asks first", cdb: resCDB(0x10, 0, 0xFFFF, 0x02, 8), ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				// 8 elements; pages: 4 headers + 8 descriptors of 52 bytes.
				want := []byte{0, 0, 0, 8, 0, 0, 0x01, 0xC0}
				if !bytes.Equal(r.Data, want) {
					t.Errorf("% x, want % x", r.Data, want)
				}
			}},
		{name: "read element status without volume tags", cdb: resCDB(0, 0, 0xFFFF, 0, 0xFFFF), ptr: -1, golden: "res_all"},
		{name: "read element status of the drives with identifiers", cdb: resCDB(0x10|TypeDrive, 0, 0xFFFF, 0x01, 0xFFFF),
			ptr: -1, golden: "res_drives_dvcid",
			setup: func(f *fakeLibrary) { f.holders[0] = "job 7f3a (copy)" }},
		{name: "read element status from an address, two elements", cdb: resCDB(0, 4, 2, 0, 0xFFFF), ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				els := parseStatus(t, r.Data)
				if len(els) != 2 || els[0].addr != 4 || els[1].addr != 5 || els[1].typ != TypeIE {
					t.Errorf("%+v", els)
				}
			}},
		{name: "read element status of zero elements", cdb: resCDB(0, 0, 0, 0, 0xFFFF), ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				if !bytes.Equal(r.Data, make([]byte, 8)) {
					t.Errorf("% x", r.Data)
				}
			}},
		{name: "read element status past the last element", cdb: resCDB(0, 8, 1, 0, 0xFFFF),
			want: illegal(sense.InvalidElementAddress), ptr: 2},
		{name: "read element status of a reserved type", cdb: resCDB(5, 0, 1, 0, 0xFFFF),
			want: illegal(sense.InvalidFieldInCDB), ptr: 1},
		{name: "read element status with a reserved bit", cdb: resCDB(0, 0, 1, 0x04, 0xFFFF),
			want: illegal(sense.InvalidFieldInCDB), ptr: 6},

		{name: "load slot 1 into drive 0", cdb: moveCDB(0, 1, 6), ptr: -1,
			check: func(t *testing.T, r Response, f *fakeLibrary) {
				if r.Moved == nil || *r.Moved != (Move{library.AtSlot(1), library.AtDrive(0)}) || len(f.moves) != 1 {
					t.Errorf("moved %v, moves %v", r.Moved, f.moves)
				}
				if l, _ := f.state.Where("A00001L9"); l != library.AtDrive(0) {
					t.Errorf("A00001L9 in %v", l)
				}
			}},
		{name: "unload drive 1 to its home", cdb: moveCDB(0, 7, 3), ptr: -1,
			check: func(t *testing.T, r Response, f *fakeLibrary) {
				if l, _ := f.state.Where("C00001L9"); l != library.AtSlot(3) {
					t.Errorf("C00001L9 in %v", l)
				}
			}},
		{name: "export slot 2 needs a free mail slot", cdb: moveCDB(0, 2, 5), want: illegal(sense.MediumDestinationFull), ptr: -1},
		{name: "import from the mail slot", cdb: moveCDB(0, 5, 4), ptr: -1},
		{name: "move onto itself", cdb: moveCDB(0, 1, 1), ptr: -1,
			check: func(t *testing.T, r Response, f *fakeLibrary) {
				if r.Moved != nil || len(f.moves) != 0 {
					t.Errorf("a move onto itself went to the cluster")
				}
			}},
		{name: "empty source", cdb: moveCDB(0, 4, 6), want: illegal(sense.MediumSourceEmpty), ptr: -1},
		{name: "empty drive", cdb: moveCDB(0, 6, 4), want: illegal(sense.MediumSourceEmpty), ptr: -1},
		{name: "from the transport", cdb: moveCDB(0, 0, 4), want: illegal(sense.MediumSourceEmpty), ptr: -1},
		{name: "full destination", cdb: moveCDB(0, 1, 2), want: illegal(sense.MediumDestinationFull), ptr: -1},
		{name: "into a loaded cartridge's home", cdb: moveCDB(0, 1, 3), want: illegal(sense.MediumDestinationFull), ptr: -1},
		{name: "into a full drive", cdb: moveCDB(0, 1, 7), want: illegal(sense.MediumDestinationFull), ptr: -1},
		{name: "to the transport", cdb: moveCDB(0, 1, 0), want: illegal(sense.InvalidFieldInCDB), ptr: 6},
		{name: "no such source", cdb: moveCDB(0, 99, 4), want: illegal(sense.InvalidElementAddress), ptr: 4},
		{name: "no such destination", cdb: moveCDB(0, 1, 8), want: illegal(sense.InvalidElementAddress), ptr: 6},
		{name: "no such transport", cdb: moveCDB(1, 1, 4), want: illegal(sense.InvalidElementAddress), ptr: 2},
		{name: "invert", cdb: append(moveCDB(0, 1, 4)[:10], 1, 0), want: illegal(sense.InvalidFieldInCDB), ptr: 10},
		{name: "unload a drive a copy job holds", setup: func(f *fakeLibrary) { f.holders[1] = "job 7f3a (copy)" },
			cdb: moveCDB(0, 7, 3), want: illegal(sense.MediumRemovalPreventedByDTE), ptr: -1},
		{name: "load into a drive a session holds", setup: func(f *fakeLibrary) { f.holders[0] = "ndmp session from 10.0.0.5" },
			cdb: moveCDB(0, 1, 6), want: illegal(sense.MediumRemovalPreventedByDTE), ptr: -1},
		{name: "move a cartridge a job is waiting for", setup: func(f *fakeLibrary) { f.busy["B00001L9"] = "job 7f3a" },
			cdb: moveCDB(0, 2, 4), want: illegal(sense.MediumRemovalPrevented), ptr: -1},
		{name: "load a cartridge a job is waiting for", setup: func(f *fakeLibrary) { f.busy["B00001L9"] = "job 7f3a" },
			cdb: moveCDB(0, 2, 6), want: illegal(sense.MediumRemovalPreventedByDTE), ptr: -1},
		{name: "the cluster refuses: held", setup: func(f *fakeLibrary) { f.moveErr = fmt.Errorf("job 7f3a: %w", ErrHeld) },
			cdb: moveCDB(0, 7, 3), want: illegal(sense.MediumRemovalPreventedByDTE), ptr: -1},
		{name: "the cluster refuses: occupied", setup: func(f *fakeLibrary) {
			f.moveErr = &library.Error{Err: library.ErrOccupied, Msg: "slot 4 already holds E00001L9"}
		}, cdb: moveCDB(0, 1, 4), want: illegal(sense.MediumDestinationFull), ptr: -1},
		{name: "the cluster refuses: empty", setup: func(f *fakeLibrary) {
			f.moveErr = &library.Error{Err: library.ErrEmpty, Msg: "drive 1 is empty"}
		}, cdb: moveCDB(0, 7, 3), want: illegal(sense.MediumSourceEmpty), ptr: -1},
		{name: "the cluster cannot commit", setup: func(f *fakeLibrary) { f.moveErr = errNoQuorum },
			cdb: moveCDB(0, 1, 4), want: sense.New(sense.NotReady, sense.NotReadyCauseNotReportable), ptr: -1},

		{name: "initialize element status", cdb: []byte{opInitElementStatus, 0, 0, 0, 0, 0}, ptr: -1},
		{name: "initialize element status with range", cdb: []byte{opInitElementRange, 1, 0, 1, 0, 0, 0, 4, 0, 0}, ptr: -1},
		{name: "initialize element status with a bad range", cdb: []byte{opInitElementRange, 1, 0, 9, 0, 0, 0, 1, 0, 0},
			want: illegal(sense.InvalidElementAddress), ptr: 2},
		{name: "initialize element status with a long range", cdb: []byte{opInitElementRange, 1, 0, 7, 0, 0, 0, 2, 0, 0},
			want: illegal(sense.InvalidFieldInCDB), ptr: 6},
		{name: "prevent", cdb: []byte{opPreventAllow, 0, 0, 0, 1, 0}, ptr: -1},
		{name: "prevent obsolete value", cdb: []byte{opPreventAllow, 0, 0, 0, 2, 0}, want: illegal(sense.InvalidFieldInCDB), ptr: 4},
		{name: "report luns", cdb: []byte{opReportLUNs, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}, ptr: -1,
			check: func(t *testing.T, r Response, _ *fakeLibrary) {
				if !bytes.Equal(r.Data, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
					t.Errorf("% x", r.Data)
				}
			}},
		{name: "report luns select 3", cdb: []byte{opReportLUNs, 0, 3, 0, 0, 0, 0, 0, 0, 16, 0, 0},
			want: illegal(sense.InvalidFieldInCDB), ptr: 2},
		{name: "mode select is not supported", cdb: []byte{0x15, 0x10, 0, 0, 24, 0}, want: illegal(sense.InvalidCommandOperationCode), ptr: -1},
		{name: "exchange medium is not supported", cdb: make12(0xA6), want: illegal(sense.InvalidCommandOperationCode), ptr: -1},
		{name: "short cdb", cdb: []byte{opMoveMedium, 0, 0, 0}, want: illegal(sense.InvalidFieldInCDB), ptr: 4},
		{name: "empty cdb", cdb: []byte{}, want: illegal(sense.InvalidFieldInCDB), ptr: 0},
		{name: "linked command", cdb: []byte{0, 0, 0, 0, 0, 1}, want: illegal(sense.InvalidFieldInCDB), ptr: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			d := New(Config{Name: "lib1"}, f)
			maxIn := tc.maxIn
			if maxIn == 0 {
				maxIn = 1 << 16
			}
			r := d.Execute(context.Background(), Command{CDB: tc.cdb, MaxIn: maxIn})
			checkResponse(t, r, tc.want, tc.ptr)
			if tc.golden != "" {
				checkGolden(t, tc.golden, tc.name, r.Data)
			}
			if tc.check != nil && !t.Failed() {
				tc.check(t, r, f)
			}
			if err := f.state.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func make12(op byte) []byte { c := make([]byte, 12); c[0] = op; return c }

// checkResponse checks the status and the sense data: key, ASC/ASCQ and
// the CDB field pointer, decoded from the bytes a DMA receives.
func checkResponse(t *testing.T, r Response, want *sense.Sense, ptr int) {
	t.Helper()
	if want == nil {
		if r.Status != StatusGood || r.Sense != nil || r.Err != nil {
			t.Fatalf("status %#x, sense %v, want GOOD", r.Status, r.Err)
		}
		return
	}
	if r.Status != StatusCheckCondition {
		t.Fatalf("status %#x, want CHECK CONDITION %v", r.Status, want)
	}
	got, err := sense.Parse(r.Sense)
	if err != nil {
		t.Fatalf("sense % x: %v", r.Sense, err)
	}
	if r.Sense[0] != 0x70 || len(r.Sense) != sense.FixedLength {
		t.Errorf("sense is not 18 bytes of fixed format: % x", r.Sense)
	}
	if got.Key != want.Key || got.Code() != want.Code() {
		t.Fatalf("sense %v, want %v", &got, want)
	}
	switch {
	case ptr < 0 && got.FieldPointer != nil:
		t.Errorf("field pointer %+v, want none", got.FieldPointer)
	case ptr >= 0 && (got.FieldPointer == nil || !got.FieldPointer.CDB || int(got.FieldPointer.Byte) != ptr):
		t.Errorf("field pointer %+v, want CDB byte %d", got.FieldPointer, ptr)
	}
}

// element is one descriptor as a DMA decodes it, following the layout
// chg-ndmp's _parse_read_element_status and ndmjob's
// smc_parse_element_status_data read.
type element struct {
	typ          byte
	addr         uint16
	full, access bool
	svalid       bool
	src          uint16
	voltag       string
	ident        string
}

func parseStatus(t *testing.T, b []byte) []element {
	t.Helper()
	if len(b) < 8 {
		t.Fatalf("short element status data: % x", b)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	count := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
	if count != len(b)-8 {
		t.Fatalf("byte count %d, %d bytes follow the header", count, len(b)-8)
	}
	var out []element
	for p := b[8:]; len(p) > 0; {
		if len(p) < 8 {
			t.Fatalf("short page header % x", p)
		}
		typ, pv := p[0], p[1]&0x80 != 0
		dlen := int(binary.BigEndian.Uint16(p[2:4]))
		plen := int(p[5])<<16 | int(p[6])<<8 | int(p[7])
		if plen%dlen != 0 || plen > len(p)-8 {
			t.Fatalf("page of %d bytes, descriptors of %d", plen, dlen)
		}
		for q := p[8 : 8+plen]; len(q) > 0; q = q[dlen:] {
			e := element{typ: typ, addr: binary.BigEndian.Uint16(q[0:2]), full: q[2]&1 != 0, access: q[2]&0x08 != 0,
				svalid: q[9]&0x80 != 0, src: binary.BigEndian.Uint16(q[10:12])}
			r := q[12:dlen]
			if pv {
				e.voltag = strings.TrimRight(string(r[:32]), " \x00")
				r = r[36:]
			}
			if l := int(r[3]); l > 0 {
				e.ident = strings.TrimRight(string(r[4:4+l]), " ")
			}
			out = append(out, e)
		}
		p = p[8+plen:]
	}
	if len(out) != n {
		t.Fatalf("%d descriptors, header says %d", len(out), n)
	}
	return out
}

// TestElementStatusContent reads the inventory as a DMA does and checks it
// against the library state, then again after moves.
func TestElementStatusContent(t *testing.T) {
	f := newFixture(t)
	f.holders[1] = "job 7f3a (copy)"
	f.busy["B00001L9"] = "job 9c2e is waiting for it"
	d := New(Config{Name: "lib1"}, f)
	r := run(t, d, resCDB(0x10, 0, 0xFFFF, 0x03, 0xFFFF)...)
	checkResponse(t, r, nil, -1)
	got := parseStatus(t, r.Data)
	want := []element{
		{typ: TypeTransport, addr: 0},
		{typ: TypeStorage, addr: 1, full: true, access: true, voltag: "A00001L9"},
		{typ: TypeStorage, addr: 2, full: true, access: false, voltag: "B00001L9"},
		{typ: TypeStorage, addr: 3, access: true},
		{typ: TypeStorage, addr: 4, access: true},
		{typ: TypeIE, addr: 5, full: true, access: true, voltag: "CLN001L1"},
		{typ: TypeDrive, addr: 6, access: true, ident: "lib1/0"},
		{typ: TypeDrive, addr: 7, full: true, access: false, svalid: true, src: 3, voltag: "C00001L9", ident: "lib1/1"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("inventory\n%+v\nwant\n%+v", got, want)
	}

	delete(f.holders, 1)
	for _, mv := range [][2]uint16{{7, 3}, {1, 7}, {5, 4}} {
		if r := run(t, d, moveCDB(0, mv[0], mv[1])...); r.Status != StatusGood {
			t.Fatalf("move %v: %v", mv, r.Err)
		}
	}
	got = parseStatus(t, run(t, d, resCDB(0x10, 0, 0xFFFF, 0, 0xFFFF)...).Data)
	byAddr := map[uint16]element{}
	for _, e := range got {
		byAddr[e.addr] = e
	}
	if e := byAddr[7]; !e.full || e.voltag != "A00001L9" || !e.svalid || e.src != 1 {
		t.Errorf("drive 1 after loading slot 1: %+v", e)
	}
	if e := byAddr[3]; e.voltag != "C00001L9" {
		t.Errorf("slot 3: %+v", e)
	}
	if e := byAddr[4]; e.voltag != "CLN001L1" || byAddr[5].full {
		t.Errorf("slot 4 %+v, mail slot %+v", e, byAddr[5])
	}
}

// TestRequestSense: the sense of a failed command once, then NO SENSE;
// descriptor format on request.
func TestRequestSense(t *testing.T) {
	d := New(Config{Name: "lib1"}, newFixture(t))
	if r := run(t, d, moveCDB(0, 4, 6)...); r.Status != StatusCheckCondition {
		t.Fatal("moving from an empty slot succeeded")
	}
	r := run(t, d, opRequestSense, 0, 0, 0, 252, 0)
	checkResponse(t, r, nil, -1)
	if s, _ := sense.Parse(r.Data); s.Key != sense.IllegalRequest || s.Code() != sense.MediumSourceEmpty {
		t.Errorf("REQUEST SENSE after the failure: %v", &s)
	}
	r = run(t, d, opRequestSense, 0, 0, 0, 252, 0)
	if s, _ := sense.Parse(r.Data); s.Key != sense.NoSense || s.Code() != sense.NoAdditionalSense {
		t.Errorf("second REQUEST SENSE: %v", &s)
	}
	run(t, d, moveCDB(0, 1, 2)...)
	run(t, d, 0, 0, 0, 0, 0, 0) // a good command clears it
	if s, _ := sense.Parse(run(t, d, opRequestSense, 0, 0, 0, 252, 0).Data); s.Key != sense.NoSense {
		t.Errorf("REQUEST SENSE after a good command: %v", &s)
	}
	run(t, d, moveCDB(0, 1, 2)...)
	r = run(t, d, opRequestSense, 1, 0, 0, 252, 0)
	if r.Data[0] != 0x72 {
		t.Fatalf("DESC: % x", r.Data)
	}
	if s, _ := sense.Parse(r.Data); s.Code() != sense.MediumDestinationFull {
		t.Errorf("descriptor sense %v", &s)
	}
}

func TestPrevent(t *testing.T) {
	d := New(Config{Name: "lib1"}, newFixture(t))
	for _, tc := range []struct {
		v    byte
		want bool
	}{{1, true}, {0, false}, {1, true}} {
		run(t, d, opPreventAllow, 0, 0, 0, tc.v, 0)
		if d.Prevented() != tc.want {
			t.Errorf("after PREVENT=%d: %v", tc.v, d.Prevented())
		}
	}
}

// TestNoLibrary: every command that needs the library is NOT READY when
// the cluster cannot read it; INQUIRY still answers.
func TestNoLibrary(t *testing.T) {
	f := newFixture(t)
	f.snapErr = errNoQuorum
	d := New(Config{Name: "lib1"}, f)
	for _, cdb := range [][]byte{
		resCDB(0x10, 0, 80, 0, 8192), moveCDB(0, 1, 6), {opModeSense6, 8, 0x1D, 0, 255, 0}, {opInitElementStatus, 0, 0, 0, 0, 0},
	} {
		r := run(t, d, cdb...)
		checkResponse(t, r, sense.New(sense.NotReady, sense.NotReadyCauseNotReportable), -1)
	}
	checkResponse(t, run(t, d, inquiryCDB(false, 0, 96)...), nil, -1)
}

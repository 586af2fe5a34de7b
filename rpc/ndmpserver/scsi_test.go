package ndmpserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/library"
)

// The fake cluster's library "lib" has 4 slots, 1 mail slot and 2 drives:
// transport @0, slots @1-4, mail slot @5, drives @6-7.
const (
	addrSlot1  = 1
	addrSlot2  = 2
	addrSlot4  = 4
	addrMail   = 5
	addrDrive0 = 6
)

func openRobot(t *testing.T, c *ndmp.Client, lib string) {
	t.Helper()
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_OPEN, &ndmp.Ndmp4_scsi_open_request{Device: lib}), ndmp.NDMP4_NO_ERR)
}

// cdb runs one CDB with data-in of up to datainLen bytes.
func cdb(t *testing.T, c *ndmp.Client, datainLen uint32, b ...byte) *ndmp.Ndmp4_execute_cdb_reply {
	t.Helper()
	req := &ndmp.Ndmp4_execute_cdb_request{Timeout: 300000, Cdb: b}
	if datainLen > 0 {
		req.Flags, req.Datain_len = ndmp.NDMP4_SCSI_DATA_IN, datainLen
	}
	m := call(t, c, ndmp.NDMP4_SCSI_EXECUTE_CDB, req)
	wantCode(t, m, ndmp.NDMP4_NO_ERR)
	return m.Body.(*ndmp.Ndmp4_execute_cdb_reply)
}

func wantGood(t *testing.T, r *ndmp.Ndmp4_execute_cdb_reply) {
	t.Helper()
	if r.Status != 0 || len(r.Ext_sense) != 0 {
		s, _ := sense.Parse(r.Ext_sense)
		t.Fatalf("status %#x, sense %v", r.Status, &s)
	}
}

func wantSense(t *testing.T, r *ndmp.Ndmp4_execute_cdb_reply, key sense.Key, code sense.Code) {
	t.Helper()
	if r.Status != 2 {
		t.Fatalf("status %#x, want CHECK CONDITION", r.Status)
	}
	// ndmjob reads the key at byte 2 of fixed-format sense data.
	if r.Ext_sense[0] != 0x70 || sense.Key(r.Ext_sense[2]&0x0F) != key || sense.MakeCode(r.Ext_sense[12], r.Ext_sense[13]) != code {
		t.Fatalf("sense % x, want %v %v", r.Ext_sense, key, code)
	}
}

func moveCDB(from, to uint16) []byte {
	return []byte{0xA5, 0, 0, 0, byte(from >> 8), byte(from), byte(to >> 8), byte(to), 0, 0, 0, 0}
}

// resElement is one element of READ ELEMENT STATUS as ndmjob's
// smc_parse_element_status_data decodes it.
type resElement struct {
	typ     byte
	addr    uint16
	full    bool
	access  bool
	src     int // -1 unless SVALID
	barcode string
}

func readElements(t *testing.T, c *ndmp.Client) map[uint16]resElement {
	t.Helper()
	// As ndmjob asks: VOLTAG, all types, 80 elements from 0, 8 KiB.
	r := cdb(t, c, 8192, 0xB8, 0x10, 0, 0, 0, 80, 0, 0, 0x20, 0, 0, 0)
	wantGood(t, r)
	d := r.Datain
	n := int(binary.BigEndian.Uint16(d[2:4]))
	out := map[uint16]resElement{}
	for p := d[8:]; len(p) >= 8; {
		dlen := int(binary.BigEndian.Uint16(p[2:4]))
		plen := int(p[5])<<16 | int(p[6])<<8 | int(p[7])
		for q := p[8 : 8+plen]; len(q) >= dlen; q = q[dlen:] {
			e := resElement{typ: p[0], addr: binary.BigEndian.Uint16(q), full: q[2]&1 != 0, access: q[2]&8 != 0, src: -1}
			if q[9]&0x80 != 0 {
				e.src = int(binary.BigEndian.Uint16(q[10:12]))
			}
			if p[1]&0x80 != 0 {
				e.barcode = strings.TrimRight(string(q[12:44]), " \x00")
			}
			out[e.addr] = e
		}
		p = p[8+plen:]
	}
	if len(out) != n {
		t.Fatalf("%d elements parsed, header says %d", len(out), n)
	}
	return out
}

func TestSCSIOpenCloseState(t *testing.T) {
	addr, _ := startServer(t, Config{})
	c := dial(t, addr, true)
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_EXECUTE_CDB, &ndmp.Ndmp4_execute_cdb_request{Cdb: []byte{0, 0, 0, 0, 0, 0}}),
		ndmp.NDMP4_DEV_NOT_OPEN_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_CLOSE, nil), ndmp.NDMP4_DEV_NOT_OPEN_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_RESET_DEVICE, nil), ndmp.NDMP4_DEV_NOT_OPEN_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_GET_STATE, nil), ndmp.NDMP4_DEV_NOT_OPEN_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_OPEN, &ndmp.Ndmp4_scsi_open_request{Device: "nolib"}), ndmp.NDMP4_NO_DEVICE_ERR)
	openRobot(t, c, "lib")
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_OPEN, &ndmp.Ndmp4_scsi_open_request{Device: "lib"}), ndmp.NDMP4_DEVICE_OPENED_ERR)
	m := call(t, c, ndmp.NDMP4_SCSI_GET_STATE, nil)
	wantCode(t, m, ndmp.NDMP4_NO_ERR)
	if st := m.Body.(*ndmp.Ndmp4_scsi_get_state_reply); st.Target_controller != 0 || st.Target_id != 0 || st.Target_lun != 0 {
		t.Errorf("state %+v", st)
	}
	for _, bad := range []*ndmp.Ndmp4_execute_cdb_request{
		{Flags: 3, Cdb: []byte{0, 0, 0, 0, 0, 0}},
		{Flags: 4, Cdb: []byte{0, 0, 0, 0, 0, 0}},
		{},
	} {
		wantCode(t, call(t, c, ndmp.NDMP4_SCSI_EXECUTE_CDB, bad), ndmp.NDMP4_ILLEGAL_ARGS_ERR)
	}
	// A failure, then RESET_DEVICE forgets its sense.
	wantSense(t, cdb(t, c, 0, 0xA6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), sense.IllegalRequest, sense.InvalidCommandOperationCode)
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_RESET_DEVICE, nil), ndmp.NDMP4_NO_ERR)
	r := cdb(t, c, 18, 0x03, 0, 0, 0, 18, 0)
	wantGood(t, r)
	if r.Datain[2] != 0 || r.Datain[12] != 0 {
		t.Errorf("REQUEST SENSE after reset: % x", r.Datain)
	}
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_CLOSE, nil), ndmp.NDMP4_NO_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_SCSI_CLOSE, nil), ndmp.NDMP4_DEV_NOT_OPEN_ERR)
	openRobot(t, c, "lib") // reopen after close
}

// TestSCSIAsNdmjob sends what ndmjob's robot code sends for -o load= and
// -o unload, and checks what it parses.
func TestSCSIAsNdmjob(t *testing.T) {
	fc := newFakeCluster(t, "A00001L9", "A00002L9")
	addr, _ := startServer(t, Config{Cluster: fc})
	c := dial(t, addr, true)
	openRobot(t, c, "lib")

	// smc_inquire: 128 bytes, byte 0 must be 08h.
	r := cdb(t, c, 128, 0x12, 0, 0, 0, 128, 0)
	wantGood(t, r)
	if r.Datain[0] != 0x08 || !bytes.HasPrefix(r.Datain[8:], []byte("FERRY   VCHANGER")) {
		t.Fatalf("INQUIRY % x", r.Datain[:36])
	}
	// smc_get_elem_aa: MODE SENSE(6), DBD, page 1Dh, 255 bytes.
	r = cdb(t, c, 255, 0x1A, 0x08, 0x1D, 0, 255, 0)
	wantGood(t, r)
	if r.Datain[0] < 18 || r.Datain[4] != 0x1D {
		t.Fatalf("MODE SENSE % x", r.Datain)
	}
	if dte := binary.BigEndian.Uint16(r.Datain[4+14:]); dte != addrDrive0 {
		t.Fatalf("first drive @%d", dte)
	}
	els := readElements(t, c)
	if e := els[addrSlot1]; !e.full || e.barcode != "A00001L9" || els[addrDrive0].full {
		t.Fatalf("before the load: slot 1 %+v, drive 0 %+v", e, els[addrDrive0])
	}

	// -o load=1: slot @1 to the first drive.
	wantGood(t, cdb(t, c, 0, moveCDB(addrSlot1, addrDrive0)...))
	if b := cartridgeAt(fc, library.AtDrive(0)); b != "A00001L9" {
		t.Fatalf("the cluster has %q in drive 0", b)
	}
	els = readElements(t, c)
	if e := els[addrDrive0]; !e.full || e.barcode != "A00001L9" || e.src != addrSlot1 || !e.access {
		t.Fatalf("drive 0 after the load: %+v", e)
	}
	// A second load into the full drive, and from the empty slot.
	wantSense(t, cdb(t, c, 0, moveCDB(addrSlot2, addrDrive0)...), sense.IllegalRequest, sense.MediumDestinationFull)
	wantSense(t, cdb(t, c, 0, moveCDB(addrSlot1, addrDrive0+1)...), sense.IllegalRequest, sense.MediumSourceEmpty)
	wantSense(t, cdb(t, c, 0, moveCDB(addrSlot1, 99)...), sense.IllegalRequest, sense.InvalidElementAddress)

	// -o unload: back to the SValid source.
	wantGood(t, cdb(t, c, 0, moveCDB(addrDrive0, uint16(els[addrDrive0].src))...))
	// -o export= and -o import= go through the mail slot.
	wantGood(t, cdb(t, c, 0, moveCDB(addrSlot2, addrMail)...))
	wantGood(t, cdb(t, c, 0, moveCDB(addrMail, addrSlot4)...))
	els = readElements(t, c)
	if els[addrSlot2].full || els[addrMail].full || els[addrSlot4].barcode != "A00002L9" || els[addrSlot1].barcode != "A00001L9" {
		t.Fatalf("after unload, export, import: %+v", els)
	}
	// INITIALIZE ELEMENT STATUS (-o init-elem-status).
	wantGood(t, cdb(t, c, 0, 0x07, 0, 0, 0, 0, 0))
}

// TestSCSIAsChgNdmp sends what Amanda's chg-ndmp sends.
func TestSCSIAsChgNdmp(t *testing.T) {
	addr, _ := startServer(t, Config{})
	c := dial(t, addr, true)
	openRobot(t, c, "lib")
	// TEST UNIT READY with flags 0, timeout 1 s.
	m := call(t, c, ndmp.NDMP4_SCSI_EXECUTE_CDB, &ndmp.Ndmp4_execute_cdb_request{Timeout: 1000, Cdb: []byte{0, 0, 0, 0, 0, 0}})
	wantCode(t, m, ndmp.NDMP4_NO_ERR)
	wantGood(t, m.Body.(*ndmp.Ndmp4_execute_cdb_reply))
	r := cdb(t, c, 96, 0x12, 0, 0, 0, 96, 0)
	wantGood(t, r)
	if len(r.Datain) != 96 || r.Datain[0] != 8 {
		t.Fatalf("INQUIRY %d bytes, type %d", len(r.Datain), r.Datain[0])
	}
	// READ ELEMENT STATUS with 8 bytes to learn the size, then the size.
	res := func(n uint32) []byte {
		return []byte{0xB8, 0x10, 0, 0, 0xFF, 0xFF, 0x02, byte(n >> 16), byte(n >> 8), byte(n), 0, 0}
	}
	r = cdb(t, c, 8, res(8)...)
	wantGood(t, r)
	size := uint32(r.Datain[5])<<16 | uint32(r.Datain[6])<<8 | uint32(r.Datain[7]) + 8
	if len(r.Datain) != 8 || size != 8+4*8+8*52 {
		t.Fatalf("%d bytes, report of %d", len(r.Datain), size)
	}
	r = cdb(t, c, size, res(size)...)
	wantGood(t, r)
	if uint32(len(r.Datain)) != size {
		t.Fatalf("%d bytes, want %d", len(r.Datain), size)
	}
	// Data-in is cut to datain_len.
	if r := cdb(t, c, 10, 0x12, 0, 0, 0, 96, 0); len(r.Datain) != 10 {
		t.Fatalf("INQUIRY into 10 bytes returned %d", len(r.Datain))
	}
}

// TestSCSIHeldCartridge: a cartridge whose drive a copy job (or another
// session) holds cannot be moved by a DMA: ILLEGAL REQUEST, MEDIUM REMOVAL
// PREVENTED BY DATA TRANSFER ELEMENT, ACCESS clear, nothing moved.
func TestSCSIHeldCartridge(t *testing.T) {
	fc := newFakeCluster(t, "A00001L9", "A00002L9")
	addr, _ := startServer(t, Config{Cluster: fc})
	c := dial(t, addr, true)
	openRobot(t, c, "lib")
	wantGood(t, cdb(t, c, 0, moveCDB(addrSlot1, addrDrive0)...))
	fc.mu.Lock()
	fc.held[0] = "copy job 7f3a"
	fc.mu.Unlock()

	els := readElements(t, c)
	if e := els[addrDrive0]; e.access || !e.full {
		t.Errorf("held drive: %+v", e)
	}
	wantSense(t, cdb(t, c, 0, moveCDB(addrDrive0, addrSlot1)...), sense.IllegalRequest, sense.MediumRemovalPreventedByDTE)
	if b := cartridgeAt(fc, library.AtDrive(0)); b != "A00001L9" {
		t.Fatalf("the held cartridge moved: drive 0 has %q", b)
	}
	// REQUEST SENSE repeats it for a DMA that ignores ext_sense.
	r := cdb(t, c, 252, 0x03, 0, 0, 0, 252, 0)
	wantGood(t, r)
	if sense.MakeCode(r.Datain[12], r.Datain[13]) != sense.MediumRemovalPreventedByDTE {
		t.Errorf("REQUEST SENSE % x", r.Datain)
	}
	// The cluster's own refusal (the hold appeared after the snapshot)
	// reads the same.
	fc.mu.Lock()
	delete(fc.held, 0)
	fc.mu.Unlock()
	held := &racingHold{fakeCluster: fc}
	addr2, _ := startServer(t, Config{Cluster: held})
	c2 := dial(t, addr2, true)
	openRobot(t, c2, "lib")
	wantSense(t, cdb(t, c2, 0, moveCDB(addrDrive0, addrSlot1)...), sense.IllegalRequest, sense.MediumRemovalPreventedByDTE)
	wantGood(t, cdb(t, c, 0, moveCDB(addrDrive0, addrSlot1)...))
}

// racingHold is a cluster whose hold on drive 0 lands between a
// snapshot and the move.
type racingHold struct{ *fakeCluster }

func (r *racingHold) Move(ctx context.Context, lib string, from, to library.Location, dma string) error {
	if from == library.AtDrive(0) {
		return fmt.Errorf("A00001L9 is in use by copy job 7f3a: %w", ErrHeld)
	}
	return r.fakeCluster.Move(ctx, lib, from, to, dma)
}

// TestSCSISameInventoryOnEveryNode: two nodes' servers over one cluster
// state; a move through one is what the other's robot reports.
func TestSCSISameInventoryOnEveryNode(t *testing.T) {
	fc := newFakeCluster(t, "A00001L9", "A00002L9")
	addr1, _ := startServer(t, Config{Cluster: fc})
	addr2, _ := startServer(t, Config{Cluster: fc})
	c1, c2 := dial(t, addr1, true), dial(t, addr2, true)
	openRobot(t, c1, "lib")
	openRobot(t, c2, "lib")
	wantGood(t, cdb(t, c1, 0, moveCDB(addrSlot2, addrDrive0+1)...))
	e := readElements(t, c2)[addrDrive0+1]
	if !e.full || e.barcode != "A00002L9" || e.src != addrSlot2 {
		t.Fatalf("the other node's robot shows drive 1 as %+v", e)
	}
	// And the other node's robot can move it back.
	wantGood(t, cdb(t, c2, 0, moveCDB(addrDrive0+1, addrSlot2)...))
	if b := cartridgeAt(fc, library.AtSlot(2)); b != "A00002L9" {
		t.Fatalf("slot 2 has %q", b)
	}
}

// cartridgeAt is what the cluster has at l.
func cartridgeAt(fc *fakeCluster, l library.Location) string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	b, _ := fc.lib.At(l)
	return b
}

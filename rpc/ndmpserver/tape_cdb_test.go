package ndmpserver

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/scsi/sense"
)

// cdb sends one TAPE_EXECUTE_CDB and returns its reply.
func (d *dma) cdb(cdb, dataOut []byte, allocLen uint32) *ndmp.Ndmp4_execute_cdb_reply {
	d.t.Helper()
	b := d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_TAPE_EXECUTE_CDB, &ndmp.Ndmp4_execute_cdb_request{Cdb: cdb, Dataout: dataOut, Datain_len: allocLen})
	return b.(*ndmp.Ndmp4_execute_cdb_reply)
}

// TestTapeExecuteCDB runs the SSC commands a DMA sends, each with the
// status, data and sense a drive answers.
func TestTapeExecuteCDB(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))
	d.must(ndmp.NDMP4_DEV_NOT_OPEN_ERR, ndmp.NDMP4_TAPE_EXECUTE_CDB, &ndmp.Ndmp4_execute_cdb_request{Cdb: []byte{0, 0, 0, 0, 0, 0}})
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	for i := range 3 {
		d.write(ndmp.NDMP4_NO_ERR, fill(1000, i, 0))
	}
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
	d.write(ndmp.NDMP4_NO_ERR, fill(1000, 0, 1))
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)

	readPos := []byte{0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	checkSense := func(name string, r *ndmp.Ndmp4_execute_cdb_reply, key sense.Key, code sense.Code) sense.Sense {
		t.Helper()
		if r.Status != statusCheckCondition {
			t.Fatalf("%s: status %#x, want CHECK CONDITION", name, r.Status)
		}
		sn, err := sense.Parse(r.Ext_sense)
		if err != nil || sn.Key != key || sn.Code() != code {
			t.Fatalf("%s: sense %v (%v), want %v %v", name, sn, err, key, code)
		}
		return sn
	}
	good := func(name string, r *ndmp.Ndmp4_execute_cdb_reply) []byte {
		t.Helper()
		if r.Status != statusGood || r.Error != ndmp.NDMP4_NO_ERR {
			t.Fatalf("%s: status %#x error %v sense % x", name, r.Status, r.Error, r.Ext_sense)
		}
		return r.Datain
	}
	position := func() uint32 {
		t.Helper()
		return binary.BigEndian.Uint32(good("READ POSITION", d.cdb(readPos, nil, 20))[4:8])
	}

	good("TEST UNIT READY", d.cdb([]byte{0, 0, 0, 0, 0, 0}, nil, 0))
	inq := good("INQUIRY", d.cdb([]byte{0x12, 0, 0, 0, 96, 0}, nil, 96))
	if inq[0] != 0x01 || !bytes.Equal(inq[8:13], []byte("FERRY")) {
		t.Fatalf("INQUIRY % x", inq)
	}
	if sn := good("INQUIRY VPD 80h", d.cdb([]byte{0x12, 1, 0x80, 0, 96, 0}, nil, 96)); string(sn[4:]) != "lib/0" {
		t.Fatalf("unit serial number %q", sn[4:])
	}
	if short := good("INQUIRY cut to 5 bytes", d.cdb([]byte{0x12, 0, 0, 0, 5, 0}, nil, 5)); len(short) != 5 {
		t.Fatalf("datain of %d bytes for a datain_len of 5", len(short))
	}
	if rp := good("READ POSITION", d.cdb(readPos, nil, 20)); rp[0]&0x80 == 0 {
		t.Fatalf("READ POSITION at BOT: flags %#x", rp[0])
	}
	long := good("READ POSITION long", d.cdb([]byte{0x34, 0x06, 0, 0, 0, 0, 0, 0, 0, 0}, nil, 32))
	if len(long) != 32 || binary.BigEndian.Uint64(long[8:16]) != 0 {
		t.Fatalf("READ POSITION long % x", long)
	}
	// SPACE 5 blocks crosses the filemark the SSC way: stopped after it,
	// residue 2, FILEMARK set.
	sn := checkSense("SPACE 5 blocks", d.cdb([]byte{0x11, 0, 0, 0, 5, 0}, nil, 0), sense.NoSense, sense.FilemarkDetected)
	if !sn.Filemark || sn.Information != 2 {
		t.Fatalf("SPACE sense %+v", sn)
	}
	if p := position(); p != 4 {
		t.Fatalf("position %d after the filemark, want 4", p)
	}
	good("LOCATE 2", d.cdb([]byte{0x2B, 0, 0, 0, 0, 0, 2, 0, 0, 0}, nil, 0))
	if p := position(); p != 2 {
		t.Fatalf("position %d after LOCATE 2", p)
	}
	got := good("READ(6)", d.cdb([]byte{0x08, 0x02, 0, 0x10, 0, 0}, nil, 4096))
	if !bytes.Equal(got, fill(1000, 2, 0)) {
		t.Fatalf("READ(6) gave %d bytes", len(got))
	}
	checkSense("READ(6) at the filemark", d.cdb([]byte{0x08, 0x02, 0, 0x10, 0, 0}, nil, 4096), sense.NoSense, sense.FilemarkDetected)
	// REQUEST SENSE reports the last failure.
	if rs, _ := sense.Parse(good("REQUEST SENSE", d.cdb([]byte{0x03, 0, 0, 0, 18, 0}, nil, 18))); !rs.Filemark {
		t.Fatalf("REQUEST SENSE %+v", rs)
	}
	good("SPACE to end of data", d.cdb([]byte{0x11, 3, 0, 0, 0, 0}, nil, 0))
	checkSense("READ(6) at end of data", d.cdb([]byte{0x08, 0x02, 0, 0x10, 0, 0}, nil, 4096), sense.BlankCheck, sense.EndOfDataDetected)
	good("WRITE(6)", d.cdb([]byte{0x0A, 0, 0, 0, 10, 0}, []byte("0123456789"), 0))
	good("WRITE FILEMARKS 2", d.cdb([]byte{0x10, 0, 0, 0, 2, 0}, nil, 0))
	if p := position(); p != 8 {
		t.Fatalf("position %d after a record and 2 filemarks at 5", p)
	}
	good("REWIND", d.cdb([]byte{0x01, 0, 0, 0, 0, 0}, nil, 0))
	checkSense("SPACE -1 block at BOT", d.cdb([]byte{0x11, 0, 0xFF, 0xFF, 0xFF, 0}, nil, 0), sense.NoSense, sense.BeginningOfPartitionDetected)

	ms := good("MODE SENSE(6)", d.cdb([]byte{0x1A, 0, 0x3F, 0, 255, 0}, nil, 255))
	if int(ms[0]) != len(ms)-1 || ms[2]&0x80 != 0 || ms[3] != 8 {
		t.Fatalf("MODE SENSE(6) % x", ms)
	}
	// MODE SELECT: fixed blocks of 512 bytes, seen by MODE SENSE and
	// TAPE_GET_STATE.
	sel := []byte{0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0x02, 0x00}
	good("MODE SELECT(6)", d.cdb([]byte{0x15, 0x10, 0, 0, byte(len(sel)), 0}, sel, 0))
	if bs := d.state().Block_size; bs != 512 {
		t.Fatalf("block size %d after MODE SELECT", bs)
	}
	ms = good("MODE SENSE(10)", d.cdb([]byte{0x5A, 0, 0x00, 0, 0, 0, 0, 0, 255, 0}, nil, 255))
	if len(ms) != 16 || ms[15] != 0 || ms[14] != 2 {
		t.Fatalf("MODE SENSE(10) % x", ms)
	}
	sel[10] = 0
	good("MODE SELECT(6) variable", d.cdb([]byte{0x15, 0x10, 0, 0, byte(len(sel)), 0}, sel, 0))

	logs := good("LOG SENSE supported pages", d.cdb([]byte{0x4D, 0, 0x40, 0, 0, 0, 0, 0x01, 0, 0}, nil, 256))
	if !bytes.Equal(logs, []byte{0, 0, 0, 2, 0x00, 0x2E}) {
		t.Fatalf("LOG SENSE page 00h % x", logs)
	}
	ta := good("LOG SENSE TapeAlert", d.cdb([]byte{0x4D, 0, 0x6E, 0, 0, 0, 0, 0x01, 0x40, 0}, nil, 512))
	if ta[0] != 0x2E || binary.BigEndian.Uint16(ta[2:4]) != 64*5 {
		t.Fatalf("TapeAlert page % x", ta[:8])
	}
	checkSense("unknown opcode", d.cdb([]byte{0xE0, 0, 0, 0, 0, 0}, nil, 0), sense.IllegalRequest, sense.InvalidCommandOperationCode)
	checkSense("LOG SENSE unknown page", d.cdb([]byte{0x4D, 0, 0x7F, 0, 0, 0, 0, 0x01, 0, 0}, nil, 256), sense.IllegalRequest, sense.InvalidFieldInCDB)
	d.closeTape()

	// Read-only: writes are DATA PROTECT.
	d.open(ndmp.NDMP4_TAPE_READ_MODE)
	checkSense("WRITE FILEMARKS read-only", d.cdb([]byte{0x10, 0, 0, 0, 1, 0}, nil, 0), sense.DataProtect, sense.WriteProtected)
	if ms := good("MODE SENSE(6) read-only", d.cdb([]byte{0x1A, 0x08, 0, 0, 255, 0}, nil, 255)); ms[2]&0x80 == 0 {
		t.Fatalf("WP not set: % x", ms)
	}
}

package ndmpserver

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/ferry-san/ferry/mover"
	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/tape"
)

// TAPE_EXECUTE_CDB: the SSC commands a DMA sends to a drive for its
// position, its logs and its identity, answered over the cluster drive with
// SCSI stream semantics (not NDMP's: a SPACE here crosses filemarks as a
// drive does). A command that fails is a CHECK CONDITION with fixed-format
// sense in ext_sense, and NDMP4_NO_ERR: the NDMP call itself worked.

// SSC and SPC operation codes answered.
const (
	opTestUnitReady   = 0x00
	opRewind          = 0x01
	opRequestSense    = 0x03
	opReadBlockLimits = 0x05
	opRead6           = 0x08
	opWrite6          = 0x0A
	opWriteFilemarks6 = 0x10
	opSpace6          = 0x11
	opInquiry         = 0x12
	opModeSelect6     = 0x15
	opModeSense6      = 0x1A
	opLoadUnload      = 0x1B
	opPreventAllow    = 0x1E
	opLocate10        = 0x2B
	opReadPosition    = 0x34
	opLogSense        = 0x4D
	opModeSense10     = 0x5A
	opLocate16        = 0x92
)

// SCSI status bytes.
const (
	statusGood           = 0x00
	statusCheckCondition = 0x02
)

// cdbResult is one command's outcome.
type cdbResult struct {
	data    []byte
	sense   *sense.Sense
	dataOut uint32 // bytes of dataout consumed
}

func tapeExecuteCDB(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_execute_cdb_request)
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.ready(s, false); e != ndmp.NDMP4_NO_ERR {
		return &ndmp.Ndmp4_execute_cdb_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	if len(r.Cdb) == 0 {
		e := ndmp.NDMP4_ILLEGAL_ARGS_ERR
		return &ndmp.Ndmp4_execute_cdb_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	res := t.executeCDB(s, r.Cdb, r.Dataout, r.Datain_len)
	reply := &ndmp.Ndmp4_execute_cdb_reply{Status: statusGood, Dataout_len: res.dataOut}
	if uint32(len(res.data)) > r.Datain_len {
		res.data = res.data[:r.Datain_len]
	}
	reply.Datain = res.data
	if res.sense != nil {
		reply.Status = statusCheckCondition
		reply.Ext_sense = res.sense.Fixed()
		t.lastSense = res.sense
	} else {
		t.lastSense = nil
	}
	return reply, ndmp.NDMP4_NO_ERR
}

// senseOf is the sense a drive reports for an error of a read or a
// motion.
func senseOf(err error) *sense.Sense { return mover.SenseFor(err, false) }

// executeCDB runs one command on the open drive. t.mu is held.
func (t *tapeState) executeCDB(s *session, cdb, dataOut []byte, allocLen uint32) cdbResult {
	d := t.drive
	bad := func(byteOff uint16) cdbResult { return cdbResult{sense: sense.InvalidCDB(byteOff, -1)} }
	need := func(n int) bool { return len(cdb) >= n }
	// Anything but a query invalidates what the TAPE service tracks.
	moved := func() { t.blockno, t.atFilemark, t.earlyWarned = -1, false, false }
	writable := func() *sense.Sense {
		if t.mode == ndmp.NDMP4_TAPE_READ_MODE || d.WriteProtected() {
			return sense.New(sense.DataProtect, sense.WriteProtected)
		}
		return nil
	}
	switch cdb[0] {
	case opTestUnitReady, opPreventAllow:
		return cdbResult{}
	case opRequestSense:
		sn := t.lastSense
		if sn == nil {
			sn = sense.New(sense.NoSense, sense.NoAdditionalSense)
		}
		return cdbResult{data: sn.Fixed()}
	case opRewind, opLoadUnload:
		moved()
		if err := d.Rewind(); err != nil {
			return cdbResult{sense: senseOf(err)}
		}
		return cdbResult{}
	case opReadBlockLimits:
		b := make([]byte, 6)
		binary.BigEndian.PutUint32(b[0:4], tape.MaxRecordSize) // byte 0 is granularity (0)
		binary.BigEndian.PutUint16(b[4:6], 1)
		return cdbResult{data: b}
	case opInquiry:
		if !need(6) {
			return bad(0)
		}
		return t.inquiry(s, cdb)
	case opModeSense6, opModeSense10:
		return t.modeSense(cdb)
	case opModeSelect6:
		return t.modeSelect(cdb, dataOut)
	case opLogSense:
		if !need(10) {
			return bad(0)
		}
		return logSense(cdb)
	case opReadPosition:
		if !need(10) {
			return bad(0)
		}
		pos, err := d.ReadPosition()
		if err != nil {
			return cdbResult{sense: senseOf(err)}
		}
		return readPosition(cdb[1]&0x1F, pos)
	case opLocate10, opLocate16:
		moved()
		var obj uint64
		if cdb[0] == opLocate10 {
			if !need(10) {
				return bad(0)
			}
			obj = uint64(binary.BigEndian.Uint32(cdb[3:7]))
		} else {
			if !need(16) {
				return bad(0)
			}
			obj = binary.BigEndian.Uint64(cdb[4:12])
		}
		if err := d.Locate(obj); err != nil {
			return cdbResult{sense: senseOf(err)}
		}
		return cdbResult{}
	case opSpace6:
		if !need(6) {
			return bad(0)
		}
		moved()
		count := int64(int32(uint32(cdb[2])<<24|uint32(cdb[3])<<16|uint32(cdb[4])<<8) >> 8)
		var u tape.SpaceUnit
		switch cdb[1] & 0x0F {
		case 0:
			u = tape.SpaceRecords
		case 1:
			u = tape.SpaceFilemarks
		case 3:
			u = tape.SpaceEndOfData
		default:
			return cdbResult{sense: sense.InvalidCDB(1, 3)}
		}
		if err := d.Space(u, count); err != nil {
			return cdbResult{sense: senseOf(err)}
		}
		return cdbResult{}
	case opWriteFilemarks6:
		if !need(6) {
			return bad(0)
		}
		n := int(cdb[2])<<16 | int(cdb[3])<<8 | int(cdb[4])
		if n > 0 {
			if sn := writable(); sn != nil {
				return cdbResult{sense: sn}
			}
		}
		moved()
		if _, err := d.WriteFilemarks(n); err != nil {
			return cdbResult{sense: mover.SenseFor(err, true)}
		}
		return cdbResult{}
	case opRead6:
		if !need(6) {
			return bad(0)
		}
		if cdb[1]&0x01 != 0 { // FIXED: one block of the block size per count
			return cdbResult{sense: sense.InvalidCDB(1, 0)}
		}
		n := int(cdb[2])<<16 | int(cdb[3])<<8 | int(cdb[4])
		if n == 0 {
			return cdbResult{}
		}
		moved()
		buf := make([]byte, n)
		got, err := d.ReadRecord(buf)
		var il *tape.IncorrectLengthError
		if errors.As(err, &il) && cdb[1]&0x02 != 0 && il.RecordLength < n {
			err = nil // SILI: a short record is not an error
		}
		if err != nil {
			return cdbResult{data: buf[:got], sense: senseOf(err)}
		}
		return cdbResult{data: buf[:got]}
	case opWrite6:
		if !need(6) {
			return bad(0)
		}
		if cdb[1]&0x01 != 0 {
			return cdbResult{sense: sense.InvalidCDB(1, 0)}
		}
		n := int(cdb[2])<<16 | int(cdb[3])<<8 | int(cdb[4])
		if n == 0 {
			return cdbResult{}
		}
		if n > len(dataOut) {
			return cdbResult{sense: sense.New(sense.IllegalRequest, sense.ParameterListLengthError)}
		}
		if sn := writable(); sn != nil {
			return cdbResult{sense: sn}
		}
		moved()
		ew, err := d.WriteRecord(dataOut[:n])
		if err != nil {
			return cdbResult{sense: mover.SenseFor(err, true)}
		}
		if ew {
			return cdbResult{dataOut: uint32(n), sense: sense.EarlyWarning()}
		}
		return cdbResult{dataOut: uint32(n)}
	}
	return cdbResult{sense: sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode)}
}

// inquiry answers INQUIRY: the standard data of a sequential-access device,
// and the VPD pages a DMA reads for a drive's identity.
func (t *tapeState) inquiry(s *session, cdb []byte) cdbResult {
	const devType = 0x01 // sequential-access
	serial := []byte(t.device)
	if cdb[1]&0x01 == 0 {
		if cdb[2] != 0 {
			return cdbResult{sense: sense.InvalidCDB(2, -1)}
		}
		b := make([]byte, 36)
		b[0] = devType
		b[1] = 0x80 // removable medium
		b[2] = 0x06 // SPC-4
		b[3] = 0x02 // response data format 2
		b[4] = byte(len(b) - 5)
		copy(b[8:16], pad("FERRY", 8))
		copy(b[16:32], pad("VIRTUAL TAPE", 16))
		copy(b[32:36], pad("0001", 4))
		return cdbResult{data: b}
	}
	page := func(code byte, body []byte) cdbResult {
		b := append([]byte{devType, code, byte(len(body) >> 8), byte(len(body))}, body...)
		return cdbResult{data: b}
	}
	switch cdb[2] {
	case 0x00:
		return page(0x00, []byte{0x00, 0x80, 0x83})
	case 0x80:
		return page(0x80, serial)
	case 0x83:
		// One T10 vendor ID designator: vendor, then the drive's name.
		id := append(pad("FERRY", 8), serial...)
		desc := append([]byte{0x02, 0x01, 0x00, byte(len(id))}, id...)
		return page(0x83, desc)
	}
	return cdbResult{sense: sense.InvalidCDB(2, -1)}
}

// pad left-justifies s in n bytes of spaces, as INQUIRY's ASCII fields are.
func pad(s string, n int) []byte {
	b := []byte(s)
	for len(b) < n {
		b = append(b, ' ')
	}
	return b[:n]
}

// modeSense answers MODE SENSE (6) and (10) with the header (WP set for a
// protected or read-only tape, buffered mode), one block descriptor with
// the block size, and the pages asked for of those a drive has: device
// configuration (10h) and data compression (0Fh), compression off.
func (t *tapeState) modeSense(cdb []byte) cdbResult {
	six := cdb[0] == opModeSense6
	if (six && len(cdb) < 6) || (!six && len(cdb) < 10) {
		return cdbResult{sense: sense.InvalidCDB(0, -1)}
	}
	pc, code := cdb[2]>>6, cdb[2]&0x3F
	if pc == 3 {
		return cdbResult{sense: sense.New(sense.IllegalRequest, sense.MakeCode(0x39, 0))} // SAVING PARAMETERS NOT SUPPORTED
	}
	var pages []byte
	compression := []byte{0x0F, 0x0E, 0x40, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // DCC set, DDE set, DCE off
	devConfig := make([]byte, 16)
	devConfig[0], devConfig[1] = 0x10, 0x0E
	switch code {
	case 0x0F:
		pages = compression
	case 0x10:
		pages = devConfig
	case 0x3F:
		pages = append(append([]byte{}, compression...), devConfig...)
	case 0x00:
	default:
		return cdbResult{sense: sense.InvalidCDB(2, 5)}
	}
	dbd := cdb[1]&0x08 != 0
	var bd []byte
	if !dbd {
		bd = make([]byte, 8)
		bs := t.drive.BlockSize()
		bd[5], bd[6], bd[7] = byte(bs>>16), byte(bs>>8), byte(bs)
	}
	devSpecific := byte(0x10) // buffered mode 1
	if t.mode == ndmp.NDMP4_TAPE_READ_MODE || t.drive.WriteProtected() {
		devSpecific |= 0x80
	}
	var b []byte
	if six {
		b = []byte{0, 0, devSpecific, byte(len(bd))}
		b = append(append(b, bd...), pages...)
		b[0] = byte(len(b) - 1)
	} else {
		b = []byte{0, 0, 0, devSpecific, 0, 0, 0, byte(len(bd))}
		b = append(append(b, bd...), pages...)
		binary.BigEndian.PutUint16(b[0:2], uint16(len(b)-2))
	}
	return cdbResult{data: b}
}

// modeSelect takes the block size from MODE SELECT (6)'s block descriptor:
// 0 is variable mode. Pages are accepted and ignored (nothing in them
// changes what a virtual drive does).
func (t *tapeState) modeSelect(cdb, dataOut []byte) cdbResult {
	if len(cdb) < 6 {
		return cdbResult{sense: sense.InvalidCDB(0, -1)}
	}
	n := int(cdb[4])
	if n > len(dataOut) {
		return cdbResult{sense: sense.New(sense.IllegalRequest, sense.ParameterListLengthError)}
	}
	p := dataOut[:n]
	if len(p) < 4 {
		return cdbResult{dataOut: uint32(n)}
	}
	if bdl := int(p[3]); bdl >= 8 && len(p) >= 12 {
		bs := uint32(p[9])<<16 | uint32(p[10])<<8 | uint32(p[11])
		if err := t.drive.SetBlockSize(bs); err != nil {
			return cdbResult{sense: sense.InvalidParameter(9, -1)}
		}
		t.blockno = -1
	}
	return cdbResult{dataOut: uint32(n)}
}

// logSense answers LOG SENSE for the supported pages page (00h) and the
// TapeAlert page (2Eh): no flag set, as a virtual drive never needs
// cleaning nor has a worn medium.
func logSense(cdb []byte) cdbResult {
	page := cdb[2] & 0x3F
	var params []byte
	switch page {
	case 0x00:
		params = []byte{0x00, 0x2E}
	case 0x2E:
		for i := 1; i <= 64; i++ {
			params = append(params, byte(i>>8), byte(i), 0x03, 0x01, 0x00)
		}
	default:
		return cdbResult{sense: sense.InvalidCDB(2, 5)}
	}
	b := []byte{page, 0, byte(len(params) >> 8), byte(len(params))}
	return cdbResult{data: append(b, params...)}
}

// readPosition answers READ POSITION in its short form (service action
// 00h or 01h) and long form (06h).
func readPosition(sa byte, pos tape.Position) cdbResult {
	switch sa {
	case 0x00, 0x01:
		b := make([]byte, 20)
		if pos.BOP {
			b[0] |= 0x80
		}
		if pos.EarlyWarning {
			b[0] |= 0x40
		}
		obj := uint32(min(pos.ObjectID, 0xFFFFFFFF))
		if pos.ObjectID > 0xFFFFFFFF {
			b[0] |= 0x04 | 0x02 // BPU, PERR: the position does not fit
		}
		binary.BigEndian.PutUint32(b[4:8], obj)
		binary.BigEndian.PutUint32(b[8:12], obj)
		return cdbResult{data: b}
	case 0x06:
		b := make([]byte, 32)
		if pos.BOP {
			b[0] |= 0x80
		}
		if pos.EarlyWarning {
			b[0] |= 0x40
		}
		binary.BigEndian.PutUint64(b[8:16], pos.ObjectID)
		binary.BigEndian.PutUint64(b[16:24], pos.File)
		return cdbResult{data: b}
	}
	return cdbResult{sense: sense.InvalidCDB(1, 4)}
}

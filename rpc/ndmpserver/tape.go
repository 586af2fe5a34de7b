package ndmpserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/tape"
)

// The TAPE service: a DMA opens one cluster drive per session and moves
// records, filemarks and the position through it, or hands it to the mover.
//
// NDMP v4 differs from SCSI stream semantics at filemarks, and Amanda's
// ndmjob test-tape checks every difference:
//   - a TAPE_READ that meets a filemark answers EOF_ERR and leaves the tape
//     on the filemark's BOT side (file_num unchanged, blockno unknown); an
//     MTIO FSF 1 then crosses it;
//   - a read at end of data answers EOM_ERR;
//   - FSR and BSR stop at a filemark without crossing it, resid_count being
//     the records not spaced; FSF, BSF stop at BOT or end of data likewise;
//   - a read or write of zero bytes is a no-op (NO_ERR).
//
// A storage/tape Drive crosses filemarks the SSC way, so each of those cases
// puts the position back over the mark it crossed.

// maxTapeRecord is the largest record a TAPE_READ or TAPE_WRITE moves: the
// largest a cartridge holds, within what one NDMP message carries.
const maxTapeRecord = min(tape.MaxRecordSize, ndmp.MaxRecord-4096)

// blocknoUnknown is the u_long NDMP uses for "not known".
const blocknoUnknown = 0xFFFFFFFF

// tapeState is a session's TAPE service: the drive it holds, if any.
type tapeState struct {
	// mu is the drive's lock: tape handlers hold it for a whole operation,
	// the mover for each record, so the two never interleave on a drive.
	mu     sync.Mutex
	drive  Drive // nil when no drive is open
	device string
	mode   ndmp.Ndmp4_tape_open_mode
	// atFilemark: the last TAPE_READ stopped on the BOT side of a filemark.
	atFilemark bool
	// blockno is the number of records between the last filemark (or BOT)
	// and the position, or -1 when unknown; probed when asked for.
	blockno int64
	// earlyWarned: a write in the early-warning zone was answered EOM_ERR
	// already; later writes succeed until the medium is full, as a drive
	// reports early warning once.
	earlyWarned bool
	softErrors  uint32
	// lastSense is the sense of the last EXECUTE_CDB that failed, for a
	// REQUEST SENSE after it.
	lastSense *sense.Sense
}

// tapeState returns the session's TAPE service, created on first use.
func (s *session) tapeState() *tapeState {
	if s.tape == nil {
		s.tape = &tapeState{blockno: -1}
		s.onClose(s.closeTape)
	}
	return s.tape
}

// closeTape runs when the session ends: the mover stops first (it may be
// writing), then the drive goes back to the cluster.
func (s *session) closeTape() {
	if s.mover != nil {
		s.mover.shutdown()
	}
	t := s.tape
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drive == nil {
		return
	}
	// The session's own context is over; the release must still reach
	// the cluster.
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := t.drive.Release(ctx); err != nil {
		s.log.Warn("ndmp: releasing the drive at the end of the session", "device", t.device, "err", err)
	}
	t.drive = nil
}

func registerTape(h handlers) {
	h.add(ndmp.NDMP4_TAPE_OPEN, tapeOpen)
	h.add(ndmp.NDMP4_TAPE_CLOSE, tapeClose)
	h.add(ndmp.NDMP4_TAPE_GET_STATE, tapeGetState)
	h.add(ndmp.NDMP4_TAPE_MTIO, tapeMTIO)
	h.add(ndmp.NDMP4_TAPE_WRITE, tapeWrite)
	h.add(ndmp.NDMP4_TAPE_READ, tapeRead)
	h.add(ndmp.NDMP4_TAPE_EXECUTE_CDB, tapeExecuteCDB)
}

// parseDriveName splits an NDMP tape device name, LIBRARY/DRIVE (the
// inverse of DriveName).
func parseDriveName(name string) (lib string, drive int, ok bool) {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return name[:i], n, true
}

func tapeOpen(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_tape_open_request)
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_tape_open_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	switch r.Mode {
	case ndmp.NDMP4_TAPE_READ_MODE, ndmp.NDMP4_TAPE_RDWR_MODE, ndmp.NDMP4_TAPE_RAW_MODE:
	default:
		return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
	}
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drive != nil {
		return fail(ndmp.NDMP4_DEVICE_OPENED_ERR)
	}
	lib, idx, ok := parseDriveName(r.Device)
	if !ok {
		return fail(ndmp.NDMP4_NO_DEVICE_ERR)
	}
	rw := r.Mode != ndmp.NDMP4_TAPE_READ_MODE
	d, err := s.srv.cfg.Cluster.OpenDrive(ctx, DriveRequest{Library: lib, Drive: idx, DMA: s.dma, ReadWrite: rw})
	if err != nil {
		e := clusterErrorCode(err)
		s.log.Info("ndmp: tape open refused", "device", r.Device, "mode", r.Mode, "err", err, "ndmp_error", e)
		return fail(e)
	}
	t.reset(d, r.Device, r.Mode)
	s.log.Info("ndmp: tape opened", "device", r.Device, "mode", r.Mode, "barcode", d.Barcode())
	return &ndmp.Ndmp4_tape_open_reply{}, ndmp.NDMP4_NO_ERR
}

// reset starts the service over with drive d open (or none). t.mu is held
// (and so is not overwritten).
func (t *tapeState) reset(d Drive, device string, mode ndmp.Ndmp4_tape_open_mode) {
	t.drive, t.device, t.mode = d, device, mode
	t.atFilemark, t.blockno, t.earlyWarned, t.softErrors, t.lastSense = false, -1, false, 0, nil
}

// ready checks that an operation may use the drive: it is open, the mover
// does not hold it, and it was opened for writing if the operation writes.
// t.mu is held.
func (t *tapeState) ready(s *session, write bool) ndmp.Ndmp4_error {
	switch {
	case t.drive == nil:
		return ndmp.NDMP4_DEV_NOT_OPEN_ERR
	case s.mover != nil && s.mover.active():
		return ndmp.NDMP4_ILLEGAL_STATE_ERR
	case write && t.mode == ndmp.NDMP4_TAPE_READ_MODE:
		return ndmp.NDMP4_PERMISSION_ERR
	}
	return ndmp.NDMP4_NO_ERR
}

func tapeClose(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.ready(s, false); e != ndmp.NDMP4_NO_ERR {
		return &ndmp.Ndmp4_tape_close_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	err := t.drive.Release(ctx)
	dev := t.device
	t.reset(nil, "", 0)
	if err != nil {
		// The hold is over either way; what did not reach the medium
		// or the catalog is an I/O error for the DMA.
		s.log.Warn("ndmp: tape close", "device", dev, "err", err)
		return &ndmp.Ndmp4_tape_close_reply{Error: ndmp.NDMP4_IO_ERR}, ndmp.NDMP4_NO_ERR
	}
	s.log.Info("ndmp: tape closed", "device", dev)
	return &ndmp.Ndmp4_tape_close_reply{}, ndmp.NDMP4_NO_ERR
}

func tapeGetState(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	const allUnsupported = ndmp.NDMP4_TAPE_STATE_FILE_NUM_UNS | ndmp.NDMP4_TAPE_STATE_SOFT_ERRORS_UNS |
		ndmp.NDMP4_TAPE_STATE_BLOCK_SIZE_UNS | ndmp.NDMP4_TAPE_STATE_BLOCKNO_UNS |
		ndmp.NDMP4_TAPE_STATE_TOTAL_SPACE_UNS | ndmp.NDMP4_TAPE_STATE_SPACE_REMAIN_UNS
	if t.drive == nil {
		e := ndmp.NDMP4_DEV_NOT_OPEN_ERR
		return &ndmp.Ndmp4_tape_get_state_reply{Error: e, Unsupported: allUnsupported,
			File_num: blocknoUnknown, Blockno: blocknoUnknown}, ndmp.NDMP4_NO_ERR
	}
	reply, err := t.state(s)
	if err != nil {
		s.log.Warn("ndmp: tape get_state", "device", t.device, "err", err)
		e := tapeError(err)
		return &ndmp.Ndmp4_tape_get_state_reply{Error: e, Unsupported: allUnsupported}, ndmp.NDMP4_NO_ERR
	}
	return reply, ndmp.NDMP4_NO_ERR
}

// state builds a TAPE_GET_STATE reply. t.mu is held, the drive open.
func (t *tapeState) state(s *session) (*ndmp.Ndmp4_tape_get_state_reply, error) {
	d := t.drive
	r := &ndmp.Ndmp4_tape_get_state_reply{Block_size: d.BlockSize(), Soft_errors: t.softErrors}
	// The drive keeps its position when closed: this device never
	// rewinds on its own.
	r.Flags = ndmp.NDMP4_TAPE_STATE_NOREWIND
	if d.WriteProtected() {
		r.Flags |= ndmp.NDMP4_TAPE_STATE_WR_PROT
	}
	busy := s.mover != nil && s.mover.active()
	if busy {
		// The mover moves the tape meanwhile: where it is now is stale
		// by the time the DMA reads it.
		r.Unsupported |= ndmp.NDMP4_TAPE_STATE_FILE_NUM_UNS | ndmp.NDMP4_TAPE_STATE_BLOCKNO_UNS
		r.File_num, r.Blockno = blocknoUnknown, blocknoUnknown
	} else {
		pos, err := d.ReadPosition()
		if err != nil {
			return nil, err
		}
		r.File_num = uint32(min(pos.File, blocknoUnknown))
		if t.atFilemark {
			r.Unsupported |= ndmp.NDMP4_TAPE_STATE_BLOCKNO_UNS
			r.Blockno = blocknoUnknown
		} else {
			n, err := t.recordsInFile(pos)
			if err != nil {
				return nil, err
			}
			r.Blockno = uint32(min(n, blocknoUnknown))
		}
	}
	if c := d.Capacity(); c > 0 {
		r.Total_space = uint64(c)
		r.Space_remain = uint64(max(c-d.Used(), 0))
	} else {
		r.Unsupported |= ndmp.NDMP4_TAPE_STATE_TOTAL_SPACE_UNS | ndmp.NDMP4_TAPE_STATE_SPACE_REMAIN_UNS
	}
	return r, nil
}

// recordsInFile is blockno: the records between the last filemark before
// pos (or BOT) and pos. When the operations since the drive was opened do
// not tell, it is measured by spacing back over the filemark and locating
// back to pos: index lookups on a cartridge. t.mu is held.
func (t *tapeState) recordsInFile(pos tape.Position) (int64, error) {
	if t.blockno >= 0 {
		return t.blockno, nil
	}
	d := t.drive
	err := d.Space(tape.SpaceFilemarks, -1)
	var start uint64
	switch {
	case err == nil:
		p, err := d.ReadPosition()
		if err != nil {
			return 0, err
		}
		start = p.ObjectID + 1 // the position is before the mark
	case errors.Is(err, tape.ErrBeginningOfMedium):
		start = 0
	default:
		return 0, err
	}
	if err := d.Locate(pos.ObjectID); err != nil {
		return 0, err
	}
	t.blockno = int64(pos.ObjectID - start)
	return t.blockno, nil
}

// tapeError maps a drive's error to the NDMP error a DMA understands.
func tapeError(err error) ndmp.Ndmp4_error {
	switch {
	case err == nil:
		return ndmp.NDMP4_NO_ERR
	case errors.Is(err, tape.ErrFilemark):
		return ndmp.NDMP4_EOF_ERR
	case errors.Is(err, tape.ErrEndOfData), errors.Is(err, tape.ErrEndOfMedium):
		return ndmp.NDMP4_EOM_ERR
	case errors.Is(err, tape.ErrWriteProtected):
		return ndmp.NDMP4_WRITE_PROTECT_ERR
	case errors.Is(err, tape.ErrNotLoaded):
		return ndmp.NDMP4_NO_TAPE_LOADED_ERR
	case errors.Is(err, tape.ErrInvalidLength), errors.Is(err, tape.ErrInvalidArgument):
		return ndmp.NDMP4_ILLEGAL_ARGS_ERR
	}
	return ndmp.NDMP4_IO_ERR
}

func tapeMTIO(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_tape_mtio_request)
	reply := func(e ndmp.Ndmp4_error, resid uint32) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_tape_mtio_reply{Error: e, Resid_count: resid}, ndmp.NDMP4_NO_ERR
	}
	switch r.Tape_op {
	case ndmp.NDMP4_MTIO_FSF, ndmp.NDMP4_MTIO_BSF, ndmp.NDMP4_MTIO_FSR, ndmp.NDMP4_MTIO_BSR,
		ndmp.NDMP4_MTIO_REW, ndmp.NDMP4_MTIO_EOF, ndmp.NDMP4_MTIO_OFF, ndmp.NDMP4_MTIO_TUR:
	default:
		return reply(ndmp.NDMP4_ILLEGAL_ARGS_ERR, r.Count)
	}
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.ready(s, r.Tape_op == ndmp.NDMP4_MTIO_EOF); e != ndmp.NDMP4_NO_ERR {
		return reply(e, r.Count)
	}
	resid, err := t.mtio(r.Tape_op, r.Count)
	if err != nil {
		s.log.Info("ndmp: tape mtio", "device", t.device, "op", r.Tape_op, "count", r.Count, "err", err)
	}
	return reply(tapeError(err), resid)
}

// mtio runs one MTIO operation and returns its resid_count. Running into
// BOT, end of data or (for record spacing) a filemark is not an error: the
// resid_count tells how far the tape went. t.mu is held.
func (t *tapeState) mtio(op ndmp.Ndmp4_tape_mtio_op, count uint32) (uint32, error) {
	d := t.drive
	t.atFilemark = false
	t.earlyWarned = false
	n := int64(count)
	// residue is the count not done when the drive stopped early, or an
	// error that is one.
	residue := func(err error) (uint32, error) {
		var re *tape.ResidueError
		if errors.As(err, &re) {
			switch {
			case errors.Is(err, tape.ErrFilemark), errors.Is(err, tape.ErrEndOfData),
				errors.Is(err, tape.ErrBeginningOfMedium):
				return uint32(re.Residue), nil
			}
		}
		if err != nil {
			t.blockno = -1
			return count, err
		}
		return 0, nil
	}
	switch op {
	case ndmp.NDMP4_MTIO_FSF:
		if n == 0 {
			return 0, nil
		}
		err := d.Space(tape.SpaceFilemarks, n)
		t.blockno = -1
		if err == nil {
			t.blockno = 0 // after a filemark
		}
		return residue(err)
	case ndmp.NDMP4_MTIO_BSF:
		if n == 0 {
			return 0, nil
		}
		t.blockno = -1
		return residue(d.Space(tape.SpaceFilemarks, -n))
	case ndmp.NDMP4_MTIO_FSR:
		if n == 0 {
			return 0, nil
		}
		err := d.Space(tape.SpaceRecords, n)
		if errors.Is(err, tape.ErrFilemark) {
			// The drive crossed the mark; NDMP stops on its BOT side.
			if err := d.Space(tape.SpaceFilemarks, -1); err != nil {
				t.blockno = -1
				return count, err
			}
		}
		if t.blockno >= 0 {
			spaced := n
			var re *tape.ResidueError
			if errors.As(err, &re) {
				spaced -= re.Residue
			}
			t.blockno += spaced
		}
		return residue(err)
	case ndmp.NDMP4_MTIO_BSR:
		if n == 0 {
			return 0, nil
		}
		err := d.Space(tape.SpaceRecords, -n)
		switch {
		case errors.Is(err, tape.ErrFilemark):
			// Crossed backwards; NDMP stops on the mark's EOT side.
			if err := d.Space(tape.SpaceFilemarks, 1); err != nil {
				t.blockno = -1
				return count, err
			}
			t.blockno = 0
		case errors.Is(err, tape.ErrBeginningOfMedium):
			t.blockno = 0
		case err == nil && t.blockno >= 0:
			t.blockno = max(t.blockno-n, -1)
		default:
			t.blockno = -1
		}
		return residue(err)
	case ndmp.NDMP4_MTIO_REW, ndmp.NDMP4_MTIO_OFF:
		// OFF would eject: the cartridge stays in the drive for the
		// library (a DMA unloads it with MOVE MEDIUM), rewound as a
		// drive leaves it.
		t.blockno = 0
		if err := d.Rewind(); err != nil {
			t.blockno = -1
			return count, err
		}
		if op == ndmp.NDMP4_MTIO_OFF {
			if err := d.Flush(); err != nil {
				return count, err
			}
		}
		return 0, nil
	case ndmp.NDMP4_MTIO_EOF:
		// Filemarks never report early warning: a DMA closing a file in
		// the zone must be able to.
		if _, err := d.WriteFilemarks(int(count)); err != nil {
			return count, err
		}
		if count > 0 {
			t.blockno = 0
		}
		return 0, nil
	case ndmp.NDMP4_MTIO_TUR:
		_, err := d.ReadPosition()
		if err != nil {
			return count, err
		}
		return 0, nil
	}
	return count, fmt.Errorf("%w: mtio op %v", tape.ErrInvalidArgument, op)
}

func tapeWrite(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_tape_write_request)
	reply := func(e ndmp.Ndmp4_error, n int) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_tape_write_reply{Error: e, Count: uint32(n)}, ndmp.NDMP4_NO_ERR
	}
	n := len(r.Data_out)
	switch {
	case n == 0:
		// NDMP v4: a zero-length write is a no-op.
		return reply(ndmp.NDMP4_NO_ERR, 0)
	case n > maxTapeRecord:
		return reply(ndmp.NDMP4_ILLEGAL_ARGS_ERR, 0)
	}
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.ready(s, true); e != ndmp.NDMP4_NO_ERR {
		return reply(e, 0)
	}
	t.atFilemark = false
	ew, err := writeRecord(t.drive, r.Data_out)
	switch {
	case errors.Is(err, tape.ErrEndOfMedium):
		// Nothing was written: the record does not fit.
		t.earlyWarned = true
		return reply(ndmp.NDMP4_EOM_ERR, 0)
	case err != nil:
		t.blockno = -1
		s.log.Warn("ndmp: tape write", "device", t.device, "bytes", n, "err", err)
		return reply(tapeError(err), 0)
	}
	s.countTape(true, n)
	if t.blockno >= 0 {
		t.blockno += int64(records(t.drive, n))
	}
	if ew && !t.earlyWarned {
		// The record is on the tape, inside the early-warning zone: the
		// DMA is told once, and may go on writing until the end.
		t.earlyWarned = true
		return reply(ndmp.NDMP4_EOM_ERR, n)
	}
	return reply(ndmp.NDMP4_NO_ERR, n)
}

// records is how many tape records a write of n bytes makes.
func records(d tape.Drive, n int) int {
	if bs := int(d.BlockSize()); bs > 0 {
		return n / bs
	}
	return 1
}

// writeRecord writes p as one record, or in fixed-block mode as
// len(p)/BlockSize blocks (p must be a whole number of them).
func writeRecord(d tape.Drive, p []byte) (earlyWarning bool, err error) {
	bs := int(d.BlockSize())
	if bs == 0 || bs == len(p) {
		return d.WriteRecord(p)
	}
	if len(p)%bs != 0 {
		return false, fmt.Errorf("%w: %d bytes are not a whole number of %d-byte blocks", tape.ErrInvalidLength, len(p), bs)
	}
	for i := 0; i < len(p); i += bs {
		ew, err := d.WriteRecord(p[i : i+bs])
		earlyWarning = earlyWarning || ew
		if err != nil {
			return earlyWarning, err
		}
	}
	return earlyWarning, nil
}

func tapeRead(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_tape_read_request)
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_tape_read_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	switch {
	case r.Count == 0:
		// NDMP v4: a zero-length read is a no-op.
		return fail(ndmp.NDMP4_NO_ERR)
	case r.Count > maxTapeRecord:
		return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
	}
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.ready(s, false); e != ndmp.NDMP4_NO_ERR {
		return fail(e)
	}
	if t.atFilemark {
		// Still on the BOT side of the mark the last read met.
		return fail(ndmp.NDMP4_EOF_ERR)
	}
	buf := make([]byte, r.Count)
	n, err := t.drive.ReadRecord(buf)
	switch {
	case err == nil, errors.Is(err, tape.ErrIncorrectLength):
		// A record longer than asked for is cut to the count, its tail
		// skipped, as a variable-mode read does with SILI.
		if t.blockno >= 0 {
			t.blockno++
		}
		s.countTape(false, n)
		return &ndmp.Ndmp4_tape_read_reply{Data_in: buf[:n]}, ndmp.NDMP4_NO_ERR
	case errors.Is(err, tape.ErrFilemark):
		// Back over the mark: NDMP v4 leaves the tape on its BOT side.
		if err := t.drive.Space(tape.SpaceFilemarks, -1); err != nil {
			t.blockno = -1
			s.log.Warn("ndmp: tape read: back over a filemark", "device", t.device, "err", err)
			return fail(ndmp.NDMP4_IO_ERR)
		}
		t.atFilemark = true
		return fail(ndmp.NDMP4_EOF_ERR)
	case errors.Is(err, tape.ErrEndOfData):
		return fail(ndmp.NDMP4_EOM_ERR)
	case errors.Is(err, tape.ErrMediumError):
		t.softErrors++
		if t.blockno >= 0 {
			t.blockno++
		}
		return &ndmp.Ndmp4_tape_read_reply{Error: ndmp.NDMP4_IO_ERR, Data_in: buf[:n]}, ndmp.NDMP4_NO_ERR
	}
	t.blockno = -1
	s.log.Warn("ndmp: tape read", "device", t.device, "err", err)
	return fail(tapeError(err))
}

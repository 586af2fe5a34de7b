package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// chunkBytes bounds the buffer of the commands that walk a range of any
// length (WRITE SAME, VERIFY without a data-out buffer): they read or
// write this much at a time and check for cancellation in between.
const chunkBytes = 1 << 20

// blockRange decodes the LOGICAL BLOCK ADDRESS and the transfer (or
// number of blocks) field of a 6-, 10-, 12- or 16-byte block command, and
// the CDB offset of the latter for field pointers. A 6-byte CDB (READ(6),
// WRITE(6)) has a 21-bit LBA and a TRANSFER LENGTH of zero means 256
// blocks (SBC-3 5.13, 5.36).
func blockRange(cdb []byte) (lba, count uint64, countAt uint16) {
	switch len(cdb) {
	case 6:
		lba = uint64(cdb[1]&0x1F)<<16 | uint64(binary.BigEndian.Uint16(cdb[2:4]))
		if count = uint64(cdb[4]); count == 0 {
			count = 256
		}
		return lba, count, 4
	case 10:
		return uint64(binary.BigEndian.Uint32(cdb[2:6])), uint64(binary.BigEndian.Uint16(cdb[7:9])), 7
	case 12:
		return uint64(binary.BigEndian.Uint32(cdb[2:6])), uint64(binary.BigEndian.Uint32(cdb[6:10])), 6
	}
	return binary.BigEndian.Uint64(cdb[2:10]), uint64(binary.BigEndian.Uint32(cdb[10:14])), 10
}

// toEnd is the number of blocks of a command whose count of zero means
// "from lba to the last block of the LUN" (PRE-FETCH, SYNCHRONIZE CACHE,
// WRITE SAME with WSNZ clear); any other count, or an lba past the end
// (which checkRange then refuses), is left as it is.
func toEnd(l LUN, lba, count uint64) uint64 {
	if count == 0 && lba < l.Blocks() {
		return l.Blocks() - lba
	}
	return count
}

// checkRange refuses a range that is not wholly on the LUN, including an
// empty one that starts past its last block: LOGICAL BLOCK ADDRESS OUT OF
// RANGE, with the LBA in INFORMATION.
func checkRange(l LUN, lba, count uint64) error {
	if n := l.Blocks(); lba >= n || count > n-lba {
		return sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(lba)
	}
	return nil
}

// writeProtected refuses writes to a read-only LUN.
func writeProtected(l LUN) error {
	if l.ReadOnly() {
		return sense.New(sense.DataProtect, sense.WriteProtected)
	}
	return nil
}

// writeAt writes data at byte offset off of the LUN under a shared range
// lock, so that it never lands between the compare and the write of a
// COMPARE AND WRITE through any node; ctx ending while it waits for the
// lock aborts it.
func (r *request) writeAt(ctx context.Context, data []byte, off uint64) error {
	unlock, err := r.lockRange(ctx, off, uint64(len(data)), false)
	if err != nil {
		return err
	}
	defer unlock()
	return r.commitAt(data, off)
}

// commitAt writes data at byte offset off of the LUN unless task
// management has aborted the task (task.ErrAborted): every write to the
// medium goes through here, with the range locked.
func (r *request) commitAt(data []byte, off uint64) error {
	return r.task.Commit(func() error {
		_, err := r.lun.WriteAt(data, int64(off))
		return err
	})
}

// ioFailure turns a failed read, write or flush of the block at lba into
// MEDIUM ERROR with code and the LBA in INFORMATION, after logging the
// cause; a cancelled or aborted command is TASK ABORTED instead.
func (s *Server) ioFailure(err error, code sense.Code, r *request, lba uint64) task.Result {
	return task.ErrorResult(s.ioError(err, code, r, lba))
}

// ioError is ioFailure as an error, for a task.Stream: the MEDIUM ERROR
// sense data, or err itself when it is an abort.
func (s *Server) ioError(err error, code sense.Code, r *request, lba uint64) error {
	if task.Aborted(err) {
		return err
	}
	s.cfg.Logger.Warn("scsi block I/O failed", "lun", r.task.LUN, "lba", lba, "op", r.cdb[0], "err", err)
	return sense.New(sense.MediumError, code).WithInformation(lba)
}

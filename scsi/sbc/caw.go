package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// The read-modify-write commands. WRITE ATOMIC(16) (9Ch) is not offered,
// and VPD B0h's atomic fields stay zero: SBC-4 has an atomic write leave
// either all of its blocks or none of them changed even when the device
// fails in the middle (power loss, a node killed), which a range lock
// cannot give; it only orders commands. A write to an image file or a
// block device may be torn by a crash, and Linux's RWF_ATOMIC needs
// O_DIRECT and hardware or file system support that a LUN's backing store
// cannot be assumed to have.
const (
	opCompareAndWrite = 0x89
	opOrWrite16       = 0x8B
)

// cawBlocksAt is the CDB offset of COMPARE AND WRITE's NUMBER OF LOGICAL
// BLOCKS, a single byte.
const cawBlocksAt = 13

// maxCompareBlocks is the MAXIMUM COMPARE AND WRITE LENGTH of l (VPD B0h):
// the most the one-byte NUMBER OF LOGICAL BLOCKS can say, as long as the
// data-out of twice that fits in one transfer.
func (s *Server) maxCompareBlocks(l LUN) uint32 {
	return min(0xFF, s.maxTransferBlocks(l)/2)
}

// compareAndWrite is COMPARE AND WRITE (SBC-3 5.3). The data-out buffer
// holds NUMBER OF LOGICAL BLOCKS blocks to compare with the medium, then
// as many to write there if they all match. Under an exclusive lock of the
// range, which every other write to the LUN through any node respects, it
// reads the blocks, compares, and writes: no other write can land between
// the compare and the write. A difference is MISCOMPARE, MISCOMPARE DURING
// VERIFY OPERATION with the offset of the first differing byte in
// INFORMATION, and the medium is left as it was. A data-out buffer of any
// other size than twice the blocks (the initiator's expected transfer
// length disagrees with the CDB) is INVALID FIELD IN CDB pointing at
// NUMBER OF LOGICAL BLOCKS: comparing or writing part of what the
// initiator meant would be worse than refusing.
func (s *Server) compareAndWrite(ctx context.Context, r *request) task.Result {
	if err := writeProtected(r.lun); err != nil {
		return s.reply(nil, err)
	}
	lba := binary.BigEndian.Uint64(r.cdb[2:10])
	count := uint64(r.cdb[cawBlocksAt])
	if err := checkRange(r.lun, lba, count); err != nil {
		return s.reply(nil, err)
	}
	if count > uint64(s.maxCompareBlocks(r.lun)) {
		return s.reply(nil, sense.InvalidCDB(cawBlocksAt, 7))
	}
	bs := uint64(r.lun.BlockSize())
	n := count * bs
	if uint64(len(r.task.DataOut)) != 2*n {
		return s.reply(nil, sense.InvalidCDB(cawBlocksAt, 7))
	}
	if count == 0 {
		return s.reply(nil, nil)
	}
	verify, data := r.task.DataOut[:n], r.task.DataOut[n:]
	return s.readModifyWrite(ctx, r, lba, n, func(got []byte) error {
		if off, ok := compare(got, verify, 0); !ok {
			return sense.New(sense.Miscompare, sense.MiscompareDuringVerify).WithInformation(off)
		}
		copy(got, data)
		return nil
	})
}

// orWrite is ORWRITE(16) (SBC-3 5.10): the data-out buffer ORed into the
// blocks of the range, the read, the OR and the write as one uninterrupted
// series under an exclusive lock of the range. When the initiator sent
// less data than the range holds, only that much is ORed, as a WRITE
// writes only what it was sent.
func (s *Server) orWrite(ctx context.Context, r *request) task.Result {
	if err := writeProtected(r.lun); err != nil {
		return s.reply(nil, err)
	}
	lba, count, err := s.checkTransfer(r)
	if err != nil {
		return s.reply(nil, err)
	}
	data := truncate(r.task.DataOut, uint32(count*uint64(r.lun.BlockSize())))
	if len(data) == 0 {
		return s.reply(nil, nil)
	}
	return s.readModifyWrite(ctx, r, lba, uint64(len(data)), func(got []byte) error {
		for i, b := range data {
			got[i] |= b
		}
		return nil
	})
}

// readModifyWrite locks n bytes of the LUN from block lba exclusively,
// reads them, lets modify change them in place (or refuse with an error,
// such as MISCOMPARE, leaving the medium alone), and writes them back
// through the task's gate, durably when the CDB sets FUA (the flush once
// the range is unlocked: the writes that wait for it need not wait for
// the flush too).
func (s *Server) readModifyWrite(ctx context.Context, r *request, lba, n uint64, modify func([]byte) error) task.Result {
	if res, ok := s.modifyLocked(ctx, r, lba, n, modify); !ok {
		return res
	}
	if r.cdb[1]&fuaBit != 0 {
		if err := r.lun.Flush(); err != nil {
			return s.ioFailure(err, sense.WriteError, r, lba)
		}
	}
	return s.reply(nil, nil)
}

// modifyLocked is readModifyWrite's part under the lock; ok false with
// the failure's result.
func (s *Server) modifyLocked(ctx context.Context, r *request, lba, n uint64, modify func([]byte) error) (task.Result, bool) {
	off := lba * uint64(r.lun.BlockSize())
	unlock, err := r.lockRange(ctx, off, n, true)
	if err != nil {
		return s.ioFailure(err, sense.WriteError, r, lba), false
	}
	defer unlock()
	buf := make([]byte, n)
	if _, err := r.lun.ReadAt(buf, int64(off)); err != nil {
		return s.ioFailure(err, sense.UnrecoveredReadError, r, lba), false
	}
	if err := modify(buf); err != nil {
		return s.reply(nil, err), false
	}
	if err := r.commitAt(buf, off); err != nil {
		return s.ioFailure(err, sense.WriteError, r, lba), false
	}
	return task.Result{}, true
}

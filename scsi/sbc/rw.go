package sbc

import (
	"context"
	"fmt"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// CDB byte 1 bits of the READ and WRITE family. DPO (bit 4) is accepted
// and ignored: the server keeps no cache to spare.
const (
	fuaBit          = 0x08 // READ, WRITE: force unit access
	writeVerifyByte = 0x02 // WRITE AND VERIFY BYTCHK: compare after writing
)

// checkTransfer checks a READ or WRITE range: on the LUN, and no longer
// than the MAXIMUM TRANSFER LENGTH (INVALID FIELD IN CDB pointing at the
// TRANSFER LENGTH).
func (s *Server) checkTransfer(r *request) (lba, count uint64, err error) {
	lba, count, countAt := blockRange(r.cdb)
	if err := checkRange(r.lun, lba, count); err != nil {
		return 0, 0, err
	}
	if count > uint64(s.maxTransferBlocks(r.lun)) {
		return 0, 0, sense.InvalidCDB(countAt, 7)
	}
	return lba, count, nil
}

// read is READ(10), READ(12) and READ(16). The data is always the whole
// range; the transport cuts it to the expected transfer length and reports
// the residual. A transport that streams data-in gets the range as a
// task.Stream, read as it sends it; any other gets it in one buffer.
func (s *Server) read(ctx context.Context, r *request) task.Result {
	lba, count, err := s.checkTransfer(r)
	if err != nil {
		return s.reply(nil, err)
	}
	src := &blockStream{s: s, r: r, lba: lba, n: count * uint64(r.lun.BlockSize())}
	if r.task.StreamDataIn {
		return task.Result{Status: task.Good, Stream: src}
	}
	buf := make([]byte, src.n)
	return s.reply(buf, src.ReadAt(ctx, buf, 0))
}

// blockStream is the data-in of a READ: n bytes from block lba on.
type blockStream struct {
	s   *Server
	r   *request
	lba uint64
	n   uint64
}

func (b *blockStream) Len() uint64 { return b.n }

// ReadAt reads a piece of the range; a failure is MEDIUM ERROR, UNRECOVERED
// READ ERROR naming the piece's first block.
func (b *blockStream) ReadAt(ctx context.Context, p []byte, off uint64) error {
	if off > b.n || uint64(len(p)) > b.n-off {
		return fmt.Errorf("sbc: read of %d bytes at %d past a data-in of %d", len(p), off, b.n)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bs := uint64(b.r.lun.BlockSize())
	start := b.lba*bs + off
	if _, err := b.r.lun.ReadAt(p, int64(start)); err != nil {
		return b.s.ioError(err, sense.UnrecoveredReadError, b.r, start/bs)
	}
	return nil
}

// write is WRITE(10), WRITE(12) and WRITE(16), with FUA making the data
// durable before GOOD, and WRITE AND VERIFY(10), (12) and (16), which
// always make it durable and, with BYTCHK, read it back and compare. When
// the initiator sent less data than the range holds (its expected
// transfer length was shorter), only that much is written, as FCP-4 and
// iSCSI prescribe for an overflow; extra data is ignored.
func (s *Server) write(ctx context.Context, r *request) task.Result {
	if err := writeProtected(r.lun); err != nil {
		return s.reply(nil, err)
	}
	lba, count, err := s.checkTransfer(r)
	if err != nil {
		return s.reply(nil, err)
	}
	bs := uint64(r.lun.BlockSize())
	data := truncate(r.task.DataOut, uint32(count*bs))
	if err := r.writeAt(ctx, data, lba*bs); err != nil {
		return s.ioFailure(err, sense.WriteError, r, lba)
	}
	verify := isWriteAndVerify(r.cdb[0])
	if verify || r.cdb[1]&fuaBit != 0 {
		if err := r.lun.Flush(); err != nil {
			return s.ioFailure(err, sense.WriteError, r, lba)
		}
	}
	if verify && r.cdb[1]&writeVerifyByte != 0 {
		got := make([]byte, len(data))
		if _, err := r.lun.ReadAt(got, int64(lba*bs)); err != nil {
			return s.ioFailure(err, sense.UnrecoveredReadError, r, lba)
		}
		if off, ok := compare(got, data, 0); !ok {
			return task.Fail(sense.New(sense.Miscompare, sense.MiscompareDuringVerify).WithInformation(off))
		}
	}
	return s.reply(nil, nil)
}

func isWriteAndVerify(op byte) bool {
	return op == opWriteVerify10 || op == opWriteVerify12 || op == opWriteVerify16
}

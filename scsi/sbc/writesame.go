package sbc

import (
	"context"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// WRITE SAME CDB byte 1 bits. ANCHOR and the protection fields are outside
// the usage data, so the dispatcher refuses them.
const (
	unmapBit = 0x08
	ndobBit  = 0x01 // WRITE SAME(16) only: no data-out buffer, write zeroes
)

// writeSame is WRITE SAME(10) and WRITE SAME(16): one block of data
// repeated over the range, which with NUMBER OF LOGICAL BLOCKS zero runs
// to the end of the LUN (WSNZ is clear); with NDOB there is no data-out
// buffer and the block is zeroes. UNMAP is offered on thin LUNs only (a
// fully provisioned one refuses the bit, LBPWS being zero); there the range
// is deallocated whatever the block holds, as SBC-4 says a thin LUN's
// device server should (the initiator asked for unmapping, not for that
// data), and reads back as zeroes (LBPRZ): libiscsi's WriteSame10
// UnmapUntilEnd sends a block of FFh with UNMAP and checks for zeroes.
func (s *Server) writeSame(ctx context.Context, r *request) task.Result {
	if err := writeProtected(r.lun); err != nil {
		return s.reply(nil, err)
	}
	unmap := r.cdb[1]&unmapBit != 0
	p := provisioner(r.lun)
	if unmap && p == nil {
		return s.reply(nil, sense.InvalidCDB(1, 3))
	}
	lba, count, countAt := blockRange(r.cdb)
	count = toEnd(r.lun, lba, count)
	if err := checkRange(r.lun, lba, count); err != nil {
		return s.reply(nil, err)
	}
	if max := s.cfg.MaxWriteSameBlocks; max > 0 && count > max {
		return s.reply(nil, sense.InvalidCDB(countAt, 7))
	}
	bs := int(r.lun.BlockSize())
	block := make([]byte, bs)
	if r.cdb[1]&ndobBit == 0 {
		// The data-out buffer is one block, even when UNMAP discards it.
		if len(r.task.DataOut) != bs {
			return s.reply(nil, sense.New(sense.IllegalRequest, sense.ParameterListLengthError))
		}
		copy(block, r.task.DataOut)
	}
	if unmap {
		if err := r.unmapAt(ctx, p, lba, count); err != nil {
			return s.ioFailure(err, sense.WriteError, r, lba)
		}
		return s.reply(nil, nil)
	}
	return s.fill(ctx, r, lba, count, block)
}

// fill writes block to every block of the range, a chunk at a time.
func (s *Server) fill(ctx context.Context, r *request, lba, count uint64, block []byte) task.Result {
	bs := uint64(len(block))
	perChunk := max(chunkBytes/bs, 1)
	chunk := make([]byte, 0, min(perChunk, count)*bs)
	for range min(perChunk, count) {
		chunk = append(chunk, block...)
	}
	for done := uint64(0); done < count; {
		if err := ctx.Err(); err != nil {
			return s.ioFailure(err, sense.WriteError, r, lba+done)
		}
		n := min(perChunk, count-done)
		if err := r.writeAt(ctx, chunk[:n*bs], (lba+done)*bs); err != nil {
			return s.ioFailure(err, sense.WriteError, r, lba+done)
		}
		done += n
	}
	return s.reply(nil, nil)
}

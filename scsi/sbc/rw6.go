package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/task"
)

// READ(6) and WRITE(6) (SBC-3 5.13, 5.36): the oldest block commands,
// with a 21-bit LBA and at most 256 blocks, and no DPO, FUA or
// protection fields.
const (
	opRead6  = 0x08
	opWrite6 = 0x0A
)

// read6 is READ(6) and write6 WRITE(6). Each checks its range against the
// 6-byte CDB, so that a field pointer names the 6-byte CDB's TRANSFER
// LENGTH, then runs as the READ(10) or WRITE(10) of the same blocks: one
// read path and one write path serve every size of CDB.
func (s *Server) read6(ctx context.Context, r *request) task.Result {
	return s.as10(ctx, r, opRead10, s.read)
}

func (s *Server) write6(ctx context.Context, r *request) task.Result {
	return s.as10(ctx, r, opWrite10, s.write)
}

func (s *Server) as10(ctx context.Context, r *request, op10 byte, run func(context.Context, *request) task.Result) task.Result {
	if op10 == opWrite10 {
		if err := writeProtected(r.lun); err != nil {
			return s.reply(nil, err)
		}
	}
	lba, count, err := s.checkTransfer(r)
	if err != nil {
		return s.reply(nil, err)
	}
	cdb := make([]byte, 10)
	cdb[0] = op10
	binary.BigEndian.PutUint32(cdb[2:6], uint32(lba))
	binary.BigEndian.PutUint16(cdb[7:9], uint16(count))
	r10 := *r
	r10.cdb = cdb
	return run(ctx, &r10)
}

package sbc

import (
	"context"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// synchronizeCache is SYNCHRONIZE CACHE(10) and (16). The range must be on
// the LUN (zero blocks: to its end), but the whole LUN is made durable,
// which covers it; IMMED is accepted and the flush still finishes before
// GOOD.
func (s *Server) synchronizeCache(_ context.Context, r *request) task.Result {
	lba, count, _ := blockRange(r.cdb)
	count = toEnd(r.lun, lba, count)
	if err := checkRange(r.lun, lba, count); err != nil {
		return s.reply(nil, err)
	}
	if err := r.lun.Flush(); err != nil {
		return s.ioFailure(err, sense.WriteError, r, lba)
	}
	return s.reply(nil, nil)
}

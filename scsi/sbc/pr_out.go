package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/task"
)

// PERSISTENT RESERVE OUT (SPC-4 6.17); scsi/pr knows its service
// actions (pr.OutServiceActions).
const opPersistentReserveOut = pr.OpPersistentReserveOut

// prOutParamLength is PERSISTENT RESERVE OUT's PARAMETER LIST LENGTH.
func prOutParamLength(cdb []byte) uint32 { return binary.BigEndian.Uint32(cdb[5:9]) }

// persistentReserveOut is PERSISTENT RESERVE OUT: the Reservations decide
// it with its parameter list.
func (s *Server) persistentReserveOut(ctx context.Context, r *request) task.Result {
	return s.applyReservation(ctx, r, r.task.DataOut)
}

// applyReservation has the Reservations decide a reservation command and
// carries out its effect on this node: unit attentions for the nexuses
// it affects, aborts of the tasks of those it preempted. The decision is
// made through the task's gate, so that a command aborted before it is
// never applied and an abort answered after it waits for it.
func (s *Server) applyReservation(ctx context.Context, r *request, params []byte) task.Result {
	id := r.lun.Identity()
	var e pr.Effect
	err := r.task.Commit(func() error {
		var err error
		e, err = s.reservations.Apply(ctx, id, s.nexus(r.task), r.cdb, params)
		return err
	})
	if err != nil {
		return s.reply(nil, err)
	}
	s.Deliver(id, e)
	return s.reply(nil, nil)
}

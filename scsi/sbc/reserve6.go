package sbc

import (
	"context"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/task"
)

// RESERVE(6) and RELEASE(6) (SPC-2 7.21 and 7.17).
const (
	opReserve6 = pr.OpReserve6
	opRelease6 = pr.OpRelease6
)

// reserve6 is RESERVE(6) and RELEASE(6): SPC-2 reservations of the whole
// LUN, decided by the Reservations like persistent ones.
func (s *Server) reserve6(ctx context.Context, r *request) task.Result {
	return s.applyReservation(ctx, r, nil)
}

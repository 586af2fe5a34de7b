package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/task"
)

// PERSISTENT RESERVE IN (SPC-4 6.16) and its service actions.
const (
	opPersistentReserveIn = pr.OpPersistentReserveIn
	saReadKeys            = 0x00
	saReadReservation     = 0x01
	saReportCapabilities  = 0x02
	saReadFullStatus      = 0x03
)

// persistentReserveIn is PERSISTENT RESERVE IN, answered from the LUN's
// reservations as this node has applied them, cut to the ALLOCATION
// LENGTH.
func (s *Server) persistentReserveIn(_ context.Context, r *request) task.Result {
	data, err := pr.Read(s.reservations.State(r.lun.Identity()), s.nexus(r.task), r.cdb)
	return s.reply(truncate(data, uint32(binary.BigEndian.Uint16(r.cdb[7:9]))), err)
}

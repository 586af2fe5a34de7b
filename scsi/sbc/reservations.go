package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/task"
)

// PERSISTENT RESERVE IN (SPC-4 6.15) and its service actions.
const (
	opPersistentReserveIn = 0x5E
	saReadKeys            = 0x00
	saReadReservation     = 0x01
	saReportCapabilities  = 0x02
	saReadFullStatus      = 0x03
	prInDataLen           = 8
)

// persistentReserveIn is PERSISTENT RESERVE IN. PERSISTENT RESERVE OUT is
// not supported, so no initiator can register a key or reserve a LUN:
// READ KEYS, READ RESERVATION and READ FULL STATUS answer generation 0
// and an empty list, and REPORT CAPABILITIES claims no capability and no
// reservation type. Saying so, rather than refusing the command, lets
// tools that clear stale registrations before they run (libiscsi's test
// tool does) see that there is nothing to clear.
func (s *Server) persistentReserveIn(_ context.Context, r *request) task.Result {
	b := make([]byte, prInDataLen)
	if r.cdb[1]&serviceActionMask == saReportCapabilities {
		binary.BigEndian.PutUint16(b[0:2], prInDataLen) // LENGTH
	}
	return s.reply(truncate(b, uint32(binary.BigEndian.Uint16(r.cdb[7:9]))), nil)
}

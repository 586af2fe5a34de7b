package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/task"
)

// PERSISTENT RESERVE IN (SPC-4 6.15) service actions the server answers.
const (
	opPersistentReserveIn = 0x5E
	saReadKeys            = 0x00
	saReadReservation     = 0x01
	prInHeaderLen         = 8
)

// persistentReserveIn is PERSISTENT RESERVE IN with READ KEYS or READ
// RESERVATION. PERSISTENT RESERVE OUT is not supported, so no initiator
// can register a key or reserve a LUN: the answer is always generation 0
// and an empty list. Saying so, rather than refusing the command, lets
// tools that clear stale registrations before they run (libiscsi's test
// tool does) see that there is nothing to clear.
func (s *Server) persistentReserveIn(_ context.Context, r *request) task.Result {
	b := make([]byte, prInHeaderLen)
	return s.reply(truncate(b, uint32(binary.BigEndian.Uint16(r.cdb[7:9]))), nil)
}

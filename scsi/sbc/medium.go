package sbc

import (
	"context"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// The commands of a unit's power and medium (SBC-3 5.12, 5.25), which a
// LUN of Ferry answers as the fixed, always spinning disk it presents:
// standard INQUIRY reports RMB zero, since a SAN disk's medium cannot be
// taken out of it.
const (
	opStartStopUnit       = 0x1B
	opPreventAllowRemoval = 0x1E

	startBit           = 0x01 // START STOP UNIT byte 4
	powerConditionMask = 0xF0 // START STOP UNIT byte 4
	pcStartValid       = 0x0  // process START and LOEJ
	pcActive           = 0x1
	pcLUControl        = 0x7 // power conditions are the logical unit's to manage
)

// startStopUnit is START STOP UNIT. The LUN is always in the active power
// condition: a START, LOEJ with START (load the medium, which is there
// already), ACTIVE and LU_CONTROL leave it so and are GOOD, IMMED or not.
// A stop (START zero, with or without LOEJ) is refused with INVALID FIELD
// IN CDB at the START bit: the stopped state would take the LUN away from
// every initiator of the SAN, through every node, at the word of one of
// them. Idle, standby and the FORCE_*_0 power conditions are refused as
// well (at POWER CONDITION): there is no power condition mode page, so
// their timers and states do not exist. The usage data keeps the POWER
// CONDITION MODIFIER zero, as ACTIVE and LU_CONTROL require, and accepts
// NO_FLUSH (there is nothing to flush when nothing stops).
func (s *Server) startStopUnit(_ context.Context, r *request) task.Result {
	switch pc := (r.cdb[4] & powerConditionMask) >> 4; {
	case pc == pcStartValid && r.cdb[4]&startBit == 0:
		return s.reply(nil, sense.InvalidCDB(4, 0))
	case pc == pcStartValid, pc == pcActive, pc == pcLUControl:
		return s.reply(nil, nil)
	}
	return s.reply(nil, sense.InvalidCDB(4, 7))
}

// preventAllowMediumRemoval is PREVENT ALLOW MEDIUM REMOVAL. The medium
// of a LUN that is not removable cannot be removed either way, so both
// PREVENT values SBC-3 defines (00b allow, 01b prevent) are GOOD and
// change nothing; the obsolete 1xb values are outside the usage data. As
// no state is kept, the reset and I_T nexus loss rules that clear a
// prevention have nothing to clear.
func (s *Server) preventAllowMediumRemoval(context.Context, *request) task.Result {
	return s.reply(nil, nil)
}

package sbc

import (
	"context"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// descBit is REQUEST SENSE CDB byte 1 bit 0: descriptor-format sense data.
const descBit = 0x01

// testUnitReady is TEST UNIT READY: a LUN the server has is always ready.
func (s *Server) testUnitReady(context.Context, *request) task.Result {
	return s.reply(nil, nil)
}

// requestSense is REQUEST SENSE. Every CHECK CONDITION carries its sense
// data (autosense), so only a unit attention can be pending, which it
// reports and clears; otherwise the answer is NO SENSE, or for a LUN the
// server does not have, LOGICAL UNIT NOT SUPPORTED with GOOD status
// (SPC-4 6.39), in fixed or descriptor format as DESC asks.
func (s *Server) requestSense(_ context.Context, r *request) task.Result {
	sn := sense.New(sense.NoSense, sense.NoAdditionalSense)
	if r.lun == nil {
		sn = sense.New(sense.IllegalRequest, sense.LUNotSupported)
	} else if code, ok := s.attn.arrive(r.lun.Identity(), r.task.Initiator, true); ok {
		sn = sense.New(sense.UnitAttention, code)
	}
	data := sn.Fixed()
	if r.cdb[1]&descBit != 0 {
		data = sn.Descriptor()
	}
	return s.reply(truncate(data, uint32(r.cdb[4])), nil)
}

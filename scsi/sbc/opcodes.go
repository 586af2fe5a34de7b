package sbc

import (
	"context"
	"encoding/binary"
	"github.com/ferry-san/ferry/scsi/pr"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// Operation codes the server implements.
const (
	opTestUnitReady      = 0x00
	opRequestSense       = 0x03
	opInquiry            = 0x12
	opModeSense6         = 0x1A
	opReadCapacity10     = 0x25
	opRead10             = 0x28
	opWrite10            = 0x2A
	opWriteVerify10      = 0x2E
	opVerify10           = 0x2F
	opSyncCache10        = 0x35
	opWriteSame10        = 0x41
	opModeSense10        = 0x5A
	opExtendedCopy       = 0x83
	opReceiveCopyResults = 0x84
	opRead16             = 0x88
	opWrite16            = 0x8A
	opWriteVerify16      = 0x8E
	opVerify16           = 0x8F
	opSyncCache16        = 0x91
	opWriteSame16        = 0x93
	opServiceActionIn16  = 0x9E
	opReportLUNs         = 0xA0
	opMaintenanceIn      = 0xA3
	opRead12             = 0xA8
	opWrite12            = 0xAA
	opWriteVerify12      = 0xAE
	opVerify12           = 0xAF
)

// Service actions.
const (
	saReadCapacity16          = 0x10
	saReportSupportedOpcodes  = 0x0C
	saExtendedCopyLID1        = 0x00
	saCopyStatus              = 0x00
	saOperatingParameters     = 0x03
	saFailedSegmentDetails    = 0x04
	serviceActionMask         = 0x1F
	reportingOptionsMask      = 0x07
	rctdBit                   = 0x80
	timeoutsDescriptorLen     = 12
	supportNotSupported       = 0x01
	supportStandardConforming = 0x03
)

// command is one entry of the command table.
type command struct {
	op byte
	// hasSA: the operation code has service actions (SERVACTV), and sa is
	// this entry's, in CDB byte 1 bits 4-0.
	hasSA bool
	sa    byte
	// usage is the CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES:
	// its length is the CDB's, byte 0 the operation code, and every other
	// byte has a bit set for each CDB bit the server accepts as one (the
	// service action bits hold the service action). A CDB bit outside it
	// is INVALID FIELD IN CDB.
	usage []byte
	// anyLUN: the command runs for a LUN the server does not have.
	anyLUN bool
	run    func(ctx context.Context, r *request) task.Result
}

// commandTable lists the commands in the order REPORT SUPPORTED OPERATION
// CODES reports them: by operation code, then service action.
func (s *Server) commandTable() []command {
	cmds := []command{
		{op: opTestUnitReady, usage: []byte{0x00, 0, 0, 0, 0, 0}, run: s.testUnitReady},
		{op: opRequestSense, usage: []byte{0x03, 0x01, 0, 0, 0xFF, 0}, anyLUN: true, run: s.requestSense},
		{op: opRead6, usage: []byte{0x08, 0x1F, 0xFF, 0xFF, 0xFF, 0}, run: s.read6},
		{op: opWrite6, usage: []byte{0x0A, 0x1F, 0xFF, 0xFF, 0xFF, 0}, run: s.write6},
		{op: opInquiry, usage: []byte{0x12, 0x01, 0xFF, 0xFF, 0xFF, 0}, anyLUN: true, run: s.inquiry},
		{op: opReserve6, usage: []byte{0x16, 0, 0xFF, 0xFF, 0xFF, 0}, run: s.reserve6},
		{op: opRelease6, usage: []byte{0x17, 0, 0xFF, 0, 0, 0}, run: s.reserve6},
		{op: opModeSense6, usage: []byte{0x1A, 0x08, 0xFF, 0xFF, 0xFF, 0}, run: s.modeSense},
		{op: opStartStopUnit, usage: []byte{0x1B, 0x01, 0, 0, 0xF7, 0}, run: s.startStopUnit},
		{op: opPreventAllowRemoval, usage: []byte{0x1E, 0, 0, 0, 0x01, 0}, run: s.preventAllowMediumRemoval},
		{op: opReadCapacity10, usage: []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, run: s.readCapacity10},
		{op: opRead10, usage: []byte{0x28, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0}, run: s.read},
		{op: opWrite10, usage: []byte{0x2A, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0}, run: s.write},
		{op: opWriteVerify10, usage: []byte{0x2E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0}, run: s.write},
		{op: opVerify10, usage: []byte{0x2F, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0}, run: s.verify},
		{op: opPrefetch10, usage: []byte{0x34, immedBit, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0}, run: s.prefetch},
		{op: opSyncCache10, usage: []byte{0x35, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0}, run: s.synchronizeCache},
		{op: opReadDefectData10, usage: []byte{0x37, 0, reqLists | listFormatMask, 0, 0, 0, 0, 0xFF, 0xFF, 0}, run: s.readDefectData},
		{op: opWriteSame10, usage: []byte{0x41, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0}, run: s.writeSame},
		{op: opUnmap, usage: []byte{opUnmap, 0, 0, 0, 0, 0, 0x1F, 0xFF, 0xFF, 0}, run: s.unmap},
		{op: opModeSense10, usage: []byte{0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0}, run: s.modeSense},
		{op: opPersistentReserveIn, hasSA: true, sa: saReadKeys,
			usage: []byte{0x5E, saReadKeys, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0}, run: s.persistentReserveIn},
		{op: opPersistentReserveIn, hasSA: true, sa: saReadReservation,
			usage: []byte{0x5E, saReadReservation, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0}, run: s.persistentReserveIn},
		{op: opPersistentReserveIn, hasSA: true, sa: saReportCapabilities,
			usage: []byte{0x5E, saReportCapabilities, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0}, run: s.persistentReserveIn},
		{op: opPersistentReserveIn, hasSA: true, sa: saReadFullStatus,
			usage: []byte{0x5E, saReadFullStatus, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0}, run: s.persistentReserveIn},
	}
	// PERSISTENT RESERVE OUT: SCOPE and TYPE in byte 2, PARAMETER LIST
	// LENGTH in bytes 5-8.
	for _, sa := range pr.OutServiceActions() {
		cmds = append(cmds, command{op: opPersistentReserveOut, hasSA: true, sa: sa,
			usage: []byte{0x5F, sa, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0}, run: s.persistentReserveOut})
	}
	if s.copier != nil {
		cmds = append(cmds,
			command{op: opExtendedCopy, hasSA: true, sa: saExtendedCopyLID1,
				usage: []byte{0x83, saExtendedCopyLID1, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.extendedCopy},
			command{op: opReceiveCopyResults, hasSA: true, sa: saCopyStatus,
				usage: []byte{0x84, saCopyStatus, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.receiveCopyResults},
			command{op: opReceiveCopyResults, hasSA: true, sa: saOperatingParameters,
				usage: []byte{0x84, saOperatingParameters, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.receiveCopyResults},
			command{op: opReceiveCopyResults, hasSA: true, sa: saFailedSegmentDetails,
				usage: []byte{0x84, saFailedSegmentDetails, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.receiveCopyResults},
		)
	}
	return append(cmds,
		command{op: opRead16, usage: []byte{0x88, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.read},
		command{op: opCompareAndWrite, usage: []byte{0x89, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0x1F, 0}, run: s.compareAndWrite},
		command{op: opWrite16, usage: []byte{0x8A, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.write},
		command{op: opOrWrite16, usage: []byte{0x8B, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.orWrite},
		command{op: opWriteVerify16, usage: []byte{0x8E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.write},
		command{op: opVerify16, usage: []byte{0x8F, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.verify},
		command{op: opPrefetch16, usage: []byte{0x90, immedBit, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.prefetch},
		command{op: opSyncCache16, usage: []byte{0x91, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.synchronizeCache},
		command{op: opWriteSame16, usage: []byte{0x93, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.writeSame},
		command{op: opServiceActionIn16, hasSA: true, sa: saReadCapacity16,
			usage: []byte{0x9E, saReadCapacity16, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.readCapacity16},
		command{op: opServiceActionIn16, hasSA: true, sa: saGetLBAStatus,
			usage: []byte{0x9E, saGetLBAStatus, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.getLBAStatus},
		command{op: opReportLUNs, usage: []byte{0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, anyLUN: true, run: s.reportLUNs},
		command{op: opMaintenanceIn, hasSA: true, sa: saReportSupportedOpcodes,
			usage: []byte{0xA3, saReportSupportedOpcodes, rctdBit | reportingOptionsMask, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.reportSupportedOpcodes},
		command{op: opRead12, usage: []byte{0xA8, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.read},
		command{op: opWrite12, usage: []byte{0xAA, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.write},
		command{op: opWriteVerify12, usage: []byte{0xAE, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.write},
		command{op: opVerify12, usage: []byte{0xAF, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0}, run: s.verify},
		command{op: opReadDefectData12, usage: []byte{0xB7, reqLists | listFormatMask, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, run: s.readDefectData},
	)
}

// lookup finds the command a CDB names: an unknown operation code is
// INVALID COMMAND OPERATION CODE, an unknown service action of a known one
// INVALID FIELD IN CDB, and a CDB shorter than its command INVALID FIELD
// IN CDB.
func (s *Server) lookup(cdb []byte) (*command, error) {
	if len(cdb) == 0 {
		return nil, sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode)
	}
	known := false
	for i := range s.commands {
		c := &s.commands[i]
		if c.op != cdb[0] {
			continue
		}
		known = true
		if c.hasSA && (len(cdb) < 2 || cdb[1]&serviceActionMask != c.sa) {
			continue
		}
		if len(cdb) < len(c.usage) {
			return nil, sense.New(sense.IllegalRequest, sense.InvalidFieldInCDB)
		}
		return c, nil
	}
	if known {
		return nil, sense.InvalidCDB(1, 4)
	}
	s2 := sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode)
	s2.FieldPointer = &sense.FieldPointer{CDB: true}
	return nil, s2
}

// reportSupportedOpcodes is REPORT SUPPORTED OPERATION CODES (SPC-4
// 6.35): every command of the table, or one of them with its CDB usage
// data, with timeouts descriptors (all zero: no timeouts are claimed) when
// RCTD is set.
func (s *Server) reportSupportedOpcodes(_ context.Context, r *request) task.Result {
	rctd := r.cdb[2]&rctdBit != 0
	op, sa := r.cdb[3], binary.BigEndian.Uint16(r.cdb[4:6])
	alloc := binary.BigEndian.Uint32(r.cdb[6:10])
	var data []byte
	switch opts := r.cdb[2] & reportingOptionsMask; opts {
	case 0:
		data = s.allCommands(rctd)
	case 1, 2, 3:
		c, err := s.oneCommand(opts, op, sa)
		if err != nil {
			return s.reply(nil, err)
		}
		data = oneCommandData(c, rctd)
	default:
		return s.reply(nil, sense.InvalidCDB(2, 2))
	}
	return s.reply(truncate(data, alloc), nil)
}

// allCommands is the all_commands parameter data.
func (s *Server) allCommands(rctd bool) []byte {
	descLen := 8
	if rctd {
		descLen += timeoutsDescriptorLen
	}
	b := make([]byte, 4, 4+len(s.commands)*descLen)
	for _, c := range s.commands {
		d := make([]byte, descLen)
		d[0] = c.op
		if c.hasSA {
			d[3] = c.sa
			d[5] |= 0x01 // SERVACTV
		}
		if rctd {
			d[5] |= 0x02 // CTDP
			d[9] = timeoutsDescriptorLen - 2
		}
		binary.BigEndian.PutUint16(d[6:8], uint16(len(c.usage)))
		b = append(b, d...)
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	return b
}

// oneCommand finds the command reporting options 1-3 ask for; nil when
// the server does not support it. Option 1 for an operation code with
// service actions, or 2 for one without, is INVALID FIELD IN CDB.
func (s *Server) oneCommand(opts byte, op byte, sa uint16) (*command, error) {
	for i := range s.commands {
		c := &s.commands[i]
		if c.op != op {
			continue
		}
		switch {
		case opts == 1 && c.hasSA, opts == 2 && !c.hasSA:
			return nil, sense.InvalidCDB(2, 2)
		case !c.hasSA:
			return c, nil
		case uint16(c.sa) == sa:
			return c, nil
		}
	}
	return nil, nil
}

// oneCommandData is the one_command parameter data for c (SUPPORT 001b
// when c is nil).
func oneCommandData(c *command, rctd bool) []byte {
	if c == nil {
		return []byte{0, supportNotSupported, 0, 0}
	}
	b := make([]byte, 4, 4+len(c.usage)+timeoutsDescriptorLen)
	b[1] = supportStandardConforming
	binary.BigEndian.PutUint16(b[2:4], uint16(len(c.usage)))
	b = append(b, c.usage...)
	if rctd {
		b[1] |= 0x80 // CTDP
		t := make([]byte, timeoutsDescriptorLen)
		t[1] = timeoutsDescriptorLen - 2
		b = append(b, t...)
	}
	return b
}

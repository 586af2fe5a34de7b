package pr

import "encoding/binary"

// access is how a command meets a reservation held by another I_T nexus.
type access uint8

const (
	// allowed: never refused (INQUIRY, REPORT LUNS, TEST UNIT READY...).
	allowed access = iota
	// reads: allowed through a Write Exclusive reservation, refused by an
	// Exclusive Access one, unless the nexus is a registrant of a
	// Registrants Only or All Registrants reservation.
	reads
	// writes: refused by every reservation unless the nexus is a
	// registrant of a Registrants Only or All Registrants reservation.
	writes
)

// Conflicts reports whether the reservations of s refuse the command cdb
// from I_T nexus n with RESERVATION CONFLICT before it runs: SPC-4 table
// 62 and SBC-3 table 13 for persistent reservations, SPC-2 5.5.1 for a
// RESERVE(6) reservation. PERSISTENT RESERVE OUT, RESERVE(6) and
// RELEASE(6) are never refused here: Apply decides them, conflicts
// included. An opcode the tables do not name counts as a write.
func Conflicts(s State, n Nexus, cdb []byte) bool {
	if len(cdb) == 0 {
		return false
	}
	switch cdb[0] {
	case OpPersistentReserveOut, OpReserve6, OpRelease6:
		return false
	}
	if s.Legacy != nil {
		if cdb[0] == OpPersistentReserveIn {
			return true // even from the holder (SPC-2 5.5.1)
		}
		if *s.Legacy != n && !legacyAllowed(cdb) {
			return true
		}
	}
	if !s.Reserved || s.IsHolder(n) {
		return false
	}
	if s.Type.registrantsOnly() && s.Registered(n) {
		return false // a registrant may send anything
	}
	switch classify(cdb) {
	case allowed:
		return false
	case reads:
		return !s.Type.writeExclusive()
	default:
		return true
	}
}

// Writes reports whether the conflict tables count cdb as a write: a
// command that may change the medium or the logical unit's settings (an
// opcode they do not name counts as one). The reservation commands are
// not writes.
func Writes(cdb []byte) bool { return len(cdb) > 0 && classify(cdb) == writes }

// legacyAllowed reports the commands a RESERVE(6) reservation lets other
// I_T nexuses send (SPC-2 5.5.1 and 7.21): INQUIRY, REPORT LUNS, REQUEST
// SENSE, PREVENT ALLOW MEDIUM REMOVAL with PREVENT 0, and RELEASE (which
// releases nothing).
func legacyAllowed(cdb []byte) bool {
	switch cdb[0] {
	case opInquiry, opReportLUNs, opRequestSense, OpRelease6:
		return true
	case opPreventAllow:
		return len(cdb) > 4 && cdb[4]&0x03 == 0
	}
	return false
}

// Operation codes the conflict tables name.
const (
	opTestUnitReady      = 0x00
	opRequestSense       = 0x03
	opRead6              = 0x08
	opInquiry            = 0x12
	opModeSense6         = 0x1A
	opStartStopUnit      = 0x1B
	opReceiveDiagnostic  = 0x1C
	opPreventAllow       = 0x1E
	opReadCapacity10     = 0x25
	opRead10             = 0x28
	opVerify10           = 0x2F
	opPreFetch10         = 0x34
	opReadDefectData10   = 0x37
	opReadBuffer         = 0x3C
	opReadLong10         = 0x3E
	opLogSense           = 0x4D
	opModeSense10        = 0x5A
	opVariableLength     = 0x7F
	opAccessControlIn    = 0x86
	opAccessControlOut   = 0x87
	opRead16             = 0x88
	opReadAttribute      = 0x8C
	opVerify16           = 0x8F
	opPreFetch16         = 0x90
	opServiceActionIn16  = 0x9E
	opReportLUNs         = 0xA0
	opSecurityProtocolIn = 0xA2
	opMaintenanceIn      = 0xA3
	opRead12             = 0xA8
	opServiceActionIn12  = 0xAB
	opVerify12           = 0xAF
	opReadDefectData12   = 0xB7
)

// Service actions the conflict tables name.
const (
	saReadCapacity16         = 0x10 // SERVICE ACTION IN(16)
	saReportTargetPortGroups = 0x0A // MAINTENANCE IN
	saReportAliases          = 0x0B
	saReportPriority         = 0x0E
	saReportTimestamp        = 0x0F
	saReportIdentifyingInfo  = 0x05
	saReadMediaSerialNumber  = 0x01 // SERVICE ACTION IN(12)
	saRead32                 = 0x0009
	saVerify32               = 0x000A
)

// classify places a command in the conflict tables.
func classify(cdb []byte) access {
	sa := func() byte {
		if len(cdb) < 2 {
			return 0xFF
		}
		return cdb[1] & serviceActionMask
	}
	switch cdb[0] {
	case OpPersistentReserveOut, OpReserve6, OpRelease6:
		return allowed // Apply decides them, and they change no data
	case opInquiry, opReportLUNs, opRequestSense, opLogSense, opTestUnitReady,
		OpPersistentReserveIn, opReadCapacity10, opAccessControlIn, opAccessControlOut:
		return allowed
	case opServiceActionIn16:
		if sa() == saReadCapacity16 {
			return allowed
		}
		return reads // GET LBA STATUS, READ LONG(16), REPORT REFERRALS
	case opMaintenanceIn:
		switch sa() {
		case saReportTargetPortGroups, saReportAliases, saReportPriority, saReportTimestamp, saReportIdentifyingInfo:
			return allowed
		}
		return reads // REPORT SUPPORTED OPERATION CODES and TMFs, MANAGEMENT PROTOCOL IN
	case opServiceActionIn12:
		if sa() == saReadMediaSerialNumber {
			return allowed
		}
		return reads
	case opPreventAllow:
		if len(cdb) > 4 && cdb[4]&0x03 == 0 {
			return allowed
		}
		return writes
	case opStartStopUnit:
		// START 1 with POWER CONDITION 0h starts the unit, which
		// changes no data; stopping it or changing its power condition
		// counts as a write.
		if len(cdb) > 4 && cdb[4]&0x01 != 0 && cdb[4]&0xF0 == 0 {
			return allowed
		}
		return writes
	case opRead6, opRead10, opRead12, opRead16, opVerify10, opVerify12, opVerify16,
		opPreFetch10, opPreFetch16, opModeSense6, opModeSense10, opReadBuffer,
		opReceiveDiagnostic, opReadDefectData10, opReadDefectData12, opReadAttribute,
		opSecurityProtocolIn, opReadLong10:
		return reads
	case opVariableLength:
		if len(cdb) >= 10 {
			switch binary.BigEndian.Uint16(cdb[8:10]) {
			case saRead32, saVerify32:
				return reads
			}
		}
		return writes
	}
	return writes
}

package pr

import (
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
)

// PERSISTENT RESERVE IN service actions (SPC-4 table 212).
const (
	saReadKeys           = 0x00
	saReadReservation    = 0x01
	saReportCapabilities = 0x02
	saReadFullStatus     = 0x03
	prInCDBLen           = 10
)

// REPORT CAPABILITIES bits (SPC-4 6.16.4).
const (
	capATPC  = 0x04 // byte 2: ALL_TG_PT capable
	capPTPLC = 0x01 // byte 2: persist through power loss capable
	capTMV   = 0x80 // byte 3: the type mask is valid
	// capAllowCommands is ALLOW COMMANDS 001b (byte 3 bits 6-4): TEST
	// UNIT READY is allowed through Write Exclusive and Exclusive Access
	// reservations.
	capAllowCommands = 0x10
	capPTPLA         = 0x01 // byte 3: persist through power loss activated
	// typeMask is the PERSISTENT RESERVATION TYPE MASK with every type:
	// WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC and WR_EX in byte 4, EX_AC_AR in
	// byte 5.
	typeMask = 0x80<<8 | 0x40<<8 | 0x20<<8 | 0x08<<8 | 0x02<<8 | 0x01
	// maxInitiator bounds the initiator port name a TransportID carries
	// (its ADDITIONAL LENGTH is 16 bits); RFC 7143 names are far shorter.
	maxInitiator = 0xFFF0
)

// Read answers PERSISTENT RESERVE IN from I_T nexus n: READ KEYS, READ
// RESERVATION, REPORT CAPABILITIES or READ FULL STATUS. It returns the
// whole parameter data, with ADDITIONAL LENGTH counting all of it; the
// caller cuts it to the CDB's ALLOCATION LENGTH. While a RESERVE(6)
// reservation is held, PERSISTENT RESERVE IN conflicts (SPC-2 5.5.1).
func Read(s State, n Nexus, cdb []byte) ([]byte, error) {
	if len(cdb) < prInCDBLen || cdb[0] != OpPersistentReserveIn {
		return nil, sense.InvalidCDB(0, -1)
	}
	sa := cdb[1] & serviceActionMask
	if sa > saReadFullStatus {
		return nil, sense.InvalidCDB(1, 4)
	}
	if s.Legacy != nil {
		return nil, conflict("the logical unit is reserved by RESERVE(6)")
	}
	switch sa {
	case saReadKeys:
		return readKeys(s), nil
	case saReadReservation:
		return readReservation(s), nil
	case saReportCapabilities:
		return reportCapabilities(s), nil
	default:
		return readFullStatus(s), nil
	}
}

// header is PRGENERATION and ADDITIONAL LENGTH.
func header(s State, additional int) []byte {
	b := make([]byte, 8, 8+additional)
	binary.BigEndian.PutUint32(b[0:4], s.Generation)
	binary.BigEndian.PutUint32(b[4:8], uint32(additional))
	return b
}

// readKeys lists every registered key (SPC-4 6.16.2). A registration made
// with ALL_TG_PT is one key, listed once.
func readKeys(s State) []byte {
	b := header(s, 8*len(s.Registrations))
	for _, r := range s.Registrations {
		b = binary.BigEndian.AppendUint64(b, r.Key)
	}
	return b
}

// readReservation describes the reservation, if any (SPC-4 6.16.3).
func readReservation(s State) []byte {
	if !s.Reserved {
		return header(s, 0)
	}
	b := header(s, 16)
	b = binary.BigEndian.AppendUint64(b, s.holderKey())
	b = append(b, 0, 0, 0, 0, 0, scopeLU<<4|byte(s.Type), 0, 0)
	return b
}

// reportCapabilities says what the device server supports (SPC-4
// 6.16.4): ALL_TG_PT, APTPL (the State is kept in the cluster's Raft log,
// which outlives any node's power), every type; not SPEC_I_PT, nor
// Compatible Reservation Handling.
func reportCapabilities(s State) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:2], 8)
	b[2] = capATPC | capPTPLC
	b[3] = capTMV | capAllowCommands
	if s.APTPL {
		b[3] |= capPTPLA
	}
	binary.BigEndian.PutUint16(b[4:6], typeMask)
	return b
}

// readFullStatus describes every registration (SPC-4 6.16.5), with the
// initiator port as an iSCSI TransportID of format 01b.
func readFullStatus(s State) []byte {
	var descs []byte
	for _, r := range s.Registrations {
		d := make([]byte, 24)
		binary.BigEndian.PutUint64(d[0:8], r.Key)
		if r.AllTargetPorts {
			d[12] |= 0x02
		} else {
			binary.BigEndian.PutUint16(d[18:20], r.Nexus.TargetPort)
		}
		if s.IsHolder(r.Nexus) {
			d[12] |= 0x01
			d[13] = scopeLU<<4 | byte(s.Type)
		}
		tid := TransportID(r.Nexus.Initiator)
		binary.BigEndian.PutUint32(d[20:24], uint32(len(tid)))
		descs = append(append(descs, d...), tid...)
	}
	return append(header(s, len(descs)), descs...)
}

// TransportID is the iSCSI TransportID of an initiator port (SPC-4
// 7.6.4.6, format 01b): the iSCSI name, ",i,0x" and the ISID, as initiator
// is spelled, NUL-terminated and padded to a multiple of 4 bytes, at least
// 20.
func TransportID(initiator string) []byte {
	if len(initiator) > maxInitiator {
		initiator = initiator[:maxInitiator]
	}
	n := (len(initiator) + 1 + 3) &^ 3
	n = max(n, 20)
	b := make([]byte, 4+n)
	b[0] = 0x40 | 0x05 // FORMAT CODE 01b, PROTOCOL IDENTIFIER iSCSI
	binary.BigEndian.PutUint16(b[2:4], uint16(n))
	copy(b[4:], initiator)
	return b
}

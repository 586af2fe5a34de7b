package pr

import "github.com/ferry-san/ferry/scsi/sense"

// reserve6CDBLen is the length of RESERVE(6) and RELEASE(6).
const reserve6CDBLen = 6

// reserve6 is RESERVE(6) (SPC-2 7.21): n reserves the whole logical unit.
// Byte 1 bits 4-0 (3RDPTY, THIRD PARTY DEVICE ID, EXTENT) asked for
// third-party and extent reservations, which SPC-2 made obsolete: they
// must be zero. The device server reports no Compatible Reservation
// Handling (CRH 0), so while anyone is registered every RESERVE and
// RELEASE conflicts (SPC-4 5.13.3).
func reserve6(s State, n Nexus, cdb []byte) (State, error) {
	if err := check6(cdb); err != nil {
		return s, err
	}
	if len(s.Registrations) > 0 || s.Reserved {
		return s, conflict("the logical unit has persistent reservations")
	}
	if s.Legacy != nil {
		if *s.Legacy != n {
			return s, conflict("the logical unit is reserved by another I_T nexus")
		}
		return s, nil
	}
	next := s.clone()
	holder := n
	next.Legacy = &holder
	return next, nil
}

// release6 is RELEASE(6) (SPC-2 7.17): the holder releases its
// reservation; anyone else, or a release of no reservation, succeeds and
// changes nothing.
func release6(s State, n Nexus, cdb []byte) (State, error) {
	if err := check6(cdb); err != nil {
		return s, err
	}
	if len(s.Registrations) > 0 || s.Reserved {
		return s, conflict("the logical unit has persistent reservations")
	}
	if s.Legacy == nil || *s.Legacy != n {
		return s, nil
	}
	next := s.clone()
	next.Legacy = nil
	return next, nil
}

// check6 checks the CDB of RESERVE(6) or RELEASE(6).
func check6(cdb []byte) error {
	if len(cdb) < reserve6CDBLen {
		return sense.InvalidCDB(uint16(len(cdb)), -1)
	}
	switch b := cdb[1]; {
	case b&0x10 != 0: // 3RDPTY
		return sense.InvalidCDB(1, 4)
	case b&0x0E != 0: // THIRD PARTY DEVICE ID
		return sense.InvalidCDB(1, 3)
	case b&0x01 != 0: // EXTENT
		return sense.InvalidCDB(1, 0)
	}
	return nil
}

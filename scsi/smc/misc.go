package smc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
)

// testUnitReady is TEST UNIT READY (00h): GOOD when the cluster can read
// the library now, NOT READY otherwise. Amanda's chg-ndmp sends it before
// anything else.
func (d *Device) testUnitReady(ctx context.Context, _ Command) ([]byte, *Move, *sense.Sense) {
	if _, err := d.snapshot(ctx); err != nil {
		return nil, nil, err
	}
	return nil, nil, nil
}

// requestSense is REQUEST SENSE (03h): the sense of the previous command
// if it ended in CHECK CONDITION (for clients that ignore NDMP's
// ext_sense), else NO SENSE; fixed format, or descriptor format with DESC.
// The changer raises no unit attentions: the state it reports is the
// cluster's, read afresh for every command, so there is no stale state to
// warn a client about.
func (d *Device) requestSense(_ context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	if c.CDB[1]&^0x01 != 0 {
		return nil, nil, sense.InvalidCDB(1, bitOf(c.CDB[1]&^0x01))
	}
	s := d.last
	d.last = nil
	if s == nil {
		s = sense.New(sense.NoSense, sense.NoAdditionalSense)
	}
	data := s.Fixed()
	if c.CDB[1]&0x01 != 0 {
		data = s.Descriptor()
	}
	return truncate(data, int(c.CDB[4])), nil, nil
}

// initElementStatus is INITIALIZE ELEMENT STATUS (07h) and INITIALIZE
// ELEMENT STATUS WITH RANGE (37h). The inventory is the cluster's state,
// always known, so there is nothing to scan: the command checks that the
// library is readable and that a range names real elements.
func (d *Device) initElementStatus(ctx context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	snap, err := d.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	if c.CDB[0] == opInitElementRange && c.CDB[1]&0x01 != 0 {
		m := MapOf(snap.State)
		start := binary.BigEndian.Uint16(c.CDB[2:4])
		n := int(binary.BigEndian.Uint16(c.CDB[6:8]))
		if _, ok := m.Lookup(start); !ok {
			return nil, nil, invalidAddress(2)
		}
		if int(start)+n > m.Count() {
			return nil, nil, sense.InvalidCDB(6, -1)
		}
	}
	return nil, nil, nil
}

// preventAllow is PREVENT ALLOW MEDIUM REMOVAL (1Eh). The client's PREVENT
// choice is kept for the session; it does not lock the cluster's
// import/export slots against an administrator's `ferry library` commands.
func (d *Device) preventAllow(_ context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	switch c.CDB[4] & 0x03 {
	case 0x00:
		d.prevent = false
	case 0x01:
		d.prevent = true
	default: // 10b and 11b are obsolete
		return nil, nil, sense.InvalidCDB(4, 1)
	}
	return nil, nil, nil
}

// Prevented reports whether the client last asked to prevent medium
// removal.
func (d *Device) Prevented() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.prevent
}

// reportLUNs is REPORT LUNS (A0h): the changer is LUN 0, alone.
func (d *Device) reportLUNs(_ context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	if sel := c.CDB[2]; sel > 0x02 {
		return nil, nil, sense.InvalidCDB(2, -1)
	}
	data := make([]byte, 16)
	binary.BigEndian.PutUint32(data[0:4], 8)
	return truncate(data, int(binary.BigEndian.Uint32(c.CDB[6:10]))), nil, nil
}

// invalidAddress is ILLEGAL REQUEST, INVALID ELEMENT ADDRESS pointing at
// the CDB field that holds it.
func invalidAddress(field uint16) *sense.Sense {
	s := sense.InvalidCDB(field, -1)
	s.ASC, s.ASCQ = sense.InvalidElementAddress.ASC(), sense.InvalidElementAddress.ASCQ()
	return s
}

// Reset forgets what the client told the device server: its PREVENT
// choice and the pending sense (NDMP's SCSI_RESET_DEVICE).
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prevent, d.last = false, nil
}

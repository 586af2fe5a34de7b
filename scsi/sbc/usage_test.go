package sbc

import "testing"

// TestUnadvertisedBitsRefused is the other half of
// TestAdvertisedMatchesAccepted: for every command of the table, a CDB
// that sets one bit its CDB usage data (REPORT SUPPORTED OPERATION CODES,
// one command) leaves clear is INVALID FIELD IN CDB pointing at that bit
// (at bit 7 for the 3-bit field of byte 1), so that an initiator can
// trust the usage data both ways.
func TestUnadvertisedBitsRefused(t *testing.T) {
	f := newFixture(t)
	for _, c := range f.srv.commands {
		for i := 1; i < len(c.usage); i++ {
			for bit := range 8 {
				if c.usage[i]&(1<<bit) != 0 || (c.hasSA && i == 1 && bit < 5) {
					continue
				}
				cdb := make([]byte, len(c.usage))
				cdb[0], cdb[1] = c.op, c.sa
				cdb[i] |= 1 << bit
				w := invalidAt(uint16(i), uint8(bit))
				if i == 1 && bit >= 5 {
					w = invalidAt(1, 7)
				}
				res := f.run(cdb, nil)
				if res.Sense == nil || res.Sense.FieldPointer == nil || *res.Sense.FieldPointer != *w.fp {
					t.Errorf("%#02x/%#02x with byte %d bit %d set: status %#x, sense %v; want INVALID FIELD IN CDB at that bit",
						c.op, c.sa, i, bit, res.Status, res.Sense)
				}
			}
		}
	}
}

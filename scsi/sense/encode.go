package sense

import (
	"encoding/binary"
	"math"
)

// Response codes (SPC-4 table 26).
const (
	fixedCurrent      = 0x70
	fixedDeferred     = 0x71
	descriptorCurrent = 0x72
	descriptorDeferr  = 0x73
)

// Descriptor types of descriptor-format sense data (SPC-4 table 29).
const (
	descInformation      = 0x00
	descCommandSpecific  = 0x01
	descSenseKeySpecific = 0x02
	descStreamCommands   = 0x04
	descBlockCommands    = 0x05
)

// FixedLength is the size of fixed-format sense data as Fixed builds it.
const FixedLength = 18

// Fixed encodes s in fixed format (response code 70h, or 71h if deferred):
// 18 bytes, ADDITIONAL SENSE LENGTH 10. INFORMATION and COMMAND-SPECIFIC
// INFORMATION values wider than 32 bits do not fit this format: VALID is
// cleared (SPC-4 4.5.3) and the command-specific field left zero.
func (s Sense) Fixed() []byte {
	b := make([]byte, FixedLength)
	b[0] = fixedCurrent
	if s.Deferred {
		b[0] = fixedDeferred
	}
	if s.InfoValid && s.Information <= math.MaxUint32 {
		b[0] |= 0x80
		binary.BigEndian.PutUint32(b[3:7], uint32(s.Information))
	}
	b[2] = byte(s.Key) & 0x0F
	if s.Filemark {
		b[2] |= 0x80
	}
	if s.EOM {
		b[2] |= 0x40
	}
	if s.ILI {
		b[2] |= 0x20
	}
	b[7] = FixedLength - 8
	if s.CommandInfo <= math.MaxUint32 {
		binary.BigEndian.PutUint32(b[8:12], uint32(s.CommandInfo))
	}
	b[12], b[13] = s.ASC, s.ASCQ
	if sks, ok := s.senseKeySpecific(); ok {
		copy(b[15:18], sks[:])
	}
	return b
}

// Descriptor encodes s in descriptor format (response code 72h, or 73h if
// deferred) with an information descriptor if InfoValid, a command-specific
// descriptor if CommandInfo is non-zero, a sense-key specific descriptor for
// a field pointer and a stream commands descriptor for FILEMARK, EOM or ILI.
func (s Sense) Descriptor() []byte {
	b := make([]byte, 8, 8+12+12+8+4)
	b[0] = descriptorCurrent
	if s.Deferred {
		b[0] = descriptorDeferr
	}
	b[1] = byte(s.Key) & 0x0F
	b[2], b[3] = s.ASC, s.ASCQ
	if s.InfoValid {
		d := make([]byte, 12)
		d[0], d[1], d[2] = descInformation, 0x0A, 0x80
		binary.BigEndian.PutUint64(d[4:], s.Information)
		b = append(b, d...)
	}
	if s.CommandInfo != 0 {
		d := make([]byte, 12)
		d[0], d[1] = descCommandSpecific, 0x0A
		binary.BigEndian.PutUint64(d[4:], s.CommandInfo)
		b = append(b, d...)
	}
	if sks, ok := s.senseKeySpecific(); ok {
		b = append(b, descSenseKeySpecific, 0x06, 0, 0, sks[0], sks[1], sks[2], 0)
	}
	if s.Filemark || s.EOM || s.ILI {
		var flags byte
		if s.Filemark {
			flags |= 0x80
		}
		if s.EOM {
			flags |= 0x40
		}
		if s.ILI {
			flags |= 0x20
		}
		b = append(b, descStreamCommands, 0x02, 0, flags)
	}
	b[7] = byte(len(b) - 8)
	return b
}

// senseKeySpecific returns the three sense-key specific bytes with SKSV set
// when s carries a field pointer its sense key can express.
func (s Sense) senseKeySpecific() ([3]byte, bool) {
	var sks [3]byte
	fp := s.FieldPointer
	if fp == nil || !s.hasFieldPointer() {
		return sks, false
	}
	sks[0] = 0x80
	switch s.Key {
	case IllegalRequest:
		if fp.CDB {
			sks[0] |= 0x40
		}
	case CopyAborted:
		if fp.Segment {
			sks[0] |= 0x20
		}
	}
	if fp.BitValid {
		sks[0] |= 0x08 | fp.Bit&0x07
	}
	binary.BigEndian.PutUint16(sks[1:], fp.Byte)
	return sks, true
}

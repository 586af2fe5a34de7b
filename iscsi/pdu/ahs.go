package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// AHS types (RFC 7143 11.2.2.1).
const (
	AHSExtendedCDB    byte = 1
	AHSBidiReadLength byte = 2
)

// ErrMalformed marks a PDU whose bytes contradict its own layout.
var ErrMalformed = errors.New("iscsi: malformed PDU")

// AHSegment is one additional header segment.
type AHSegment struct {
	Type byte
	// Data holds the type-specific byte and what follows it, unpadded.
	Data []byte
}

// ParseAHS splits the AHS area of a PDU into its segments.
func ParseAHS(b []byte) ([]AHSegment, error) {
	var out []AHSegment
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: AHS truncated at %d bytes", ErrMalformed, len(b))
		}
		n := int(binary.BigEndian.Uint16(b))
		// The length counts from the type-specific byte on.
		total := pad4(3 + n)
		if n == 0 || total > len(b) {
			return nil, fmt.Errorf("%w: AHS length %d in %d bytes", ErrMalformed, n, len(b))
		}
		out = append(out, AHSegment{Type: b[2], Data: b[3 : 3+n]})
		b = b[total:]
	}
	return out, nil
}

// AppendAHS appends the wire form of s, padded, to b.
func AppendAHS(b []byte, s AHSegment) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.Data)))
	b = append(b, s.Type)
	b = append(b, s.Data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// EncodeSCSICommand builds a SCSI Command PDU, moving CDB bytes beyond the
// sixteenth into an Extended CDB AHS.
func EncodeSCSICommand(m *SCSICommand, data []byte) *PDU {
	p := Build(m, data)
	if len(m.CDB) > 16 {
		// The reserved byte before the extra CDB bytes is the AHS's
		// type-specific byte.
		ext := append([]byte{0}, m.CDB[16:]...)
		p.AHS = AppendAHS(nil, AHSegment{Type: AHSExtendedCDB, Data: ext})
		p.Header.setLengths(len(p.AHS), len(data))
	}
	return p
}

// ParseSCSICommand decodes a SCSI Command PDU, joining an Extended CDB AHS
// to the CDB and returning the bidirectional read length when one is given.
func ParseSCSICommand(p *PDU) (SCSICommand, uint32, error) {
	var m SCSICommand
	if p.Header.Opcode() != OpSCSICommand {
		return m, 0, fmt.Errorf("%w: %v is not a SCSI Command", ErrMalformed, p.Header.Opcode())
	}
	m.Unmarshal(&p.Header)
	segs, err := ParseAHS(p.AHS)
	if err != nil {
		return m, 0, err
	}
	var bidi uint32
	for _, s := range segs {
		switch s.Type {
		case AHSExtendedCDB:
			m.CDB = append(m.CDB, s.Data[1:]...)
		case AHSBidiReadLength:
			if len(s.Data) != 5 {
				return m, 0, fmt.Errorf("%w: bidirectional read length AHS of %d bytes", ErrMalformed, len(s.Data))
			}
			bidi = binary.BigEndian.Uint32(s.Data[1:])
		}
	}
	return m, bidi, nil
}

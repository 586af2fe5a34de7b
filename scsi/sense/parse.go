package sense

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every Parse error.
var ErrMalformed = errors.New("malformed sense data")

// Parse decodes fixed-format (70h/71h) or descriptor-format (72h/73h) sense
// data. Bytes beyond ADDITIONAL SENSE LENGTH are ignored, and a fixed-format
// buffer cut short (as a small allocation length does) yields the fields it
// still holds. Descriptors this package does not model are skipped, and so
// are sense-key specific bytes of keys other than ILLEGAL REQUEST and COPY
// ABORTED.
func Parse(b []byte) (Sense, error) {
	if len(b) == 0 {
		return Sense{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	switch code := b[0] & 0x7F; code {
	case fixedCurrent, fixedDeferred:
		return parseFixed(b)
	case descriptorCurrent, descriptorDeferr:
		return parseDescriptor(b)
	default:
		return Sense{}, fmt.Errorf("%w: response code %02Xh", ErrMalformed, code)
	}
}

func parseFixed(b []byte) (Sense, error) {
	if len(b) < 8 {
		return Sense{}, fmt.Errorf("%w: fixed format needs 8 bytes, have %d", ErrMalformed, len(b))
	}
	if end := 8 + int(b[7]); len(b) > end {
		b = b[:end]
	}
	s := Sense{
		Deferred: b[0]&0x7F == fixedDeferred,
		Key:      Key(b[2] & 0x0F),
		Filemark: b[2]&0x80 != 0,
		EOM:      b[2]&0x40 != 0,
		ILI:      b[2]&0x20 != 0,
	}
	if b[0]&0x80 != 0 {
		s.InfoValid = true
		s.Information = uint64(binary.BigEndian.Uint32(b[3:7]))
	}
	if len(b) >= 12 {
		s.CommandInfo = uint64(binary.BigEndian.Uint32(b[8:12]))
	}
	if len(b) >= 14 {
		s.ASC, s.ASCQ = b[12], b[13]
	}
	if len(b) >= 18 {
		s.setSenseKeySpecific(b[15:18])
	}
	return s, nil
}

func parseDescriptor(b []byte) (Sense, error) {
	if len(b) < 8 {
		return Sense{}, fmt.Errorf("%w: descriptor format needs 8 bytes, have %d", ErrMalformed, len(b))
	}
	s := Sense{
		Deferred: b[0]&0x7F == descriptorDeferr,
		Key:      Key(b[1] & 0x0F),
		ASC:      b[2],
		ASCQ:     b[3],
	}
	rest := b[8:]
	if n := int(b[7]); len(rest) > n {
		rest = rest[:n]
	}
	for off := 8; len(rest) > 0; {
		if len(rest) < 2 || len(rest) < 2+int(rest[1]) {
			return Sense{}, fmt.Errorf("%w: descriptor at byte %d runs past the sense data", ErrMalformed, off)
		}
		d := rest[:2+int(rest[1])]
		switch {
		case d[0] == descInformation && len(d) == 12:
			if d[2]&0x80 != 0 {
				s.InfoValid = true
				s.Information = binary.BigEndian.Uint64(d[4:12])
			}
		case d[0] == descCommandSpecific && len(d) == 12:
			s.CommandInfo = binary.BigEndian.Uint64(d[4:12])
		case d[0] == descSenseKeySpecific && len(d) == 8:
			s.setSenseKeySpecific(d[4:7])
		case d[0] == descStreamCommands && len(d) == 4:
			s.Filemark = d[3]&0x80 != 0
			s.EOM = d[3]&0x40 != 0
			s.ILI = s.ILI || d[3]&0x20 != 0
		case d[0] == descBlockCommands && len(d) == 4:
			s.ILI = s.ILI || d[3]&0x20 != 0
		}
		off += len(d)
		rest = rest[len(d):]
	}
	return s, nil
}

// setSenseKeySpecific decodes a field or segment pointer when SKSV is set
// and the sense key defines one.
func (s *Sense) setSenseKeySpecific(sks []byte) {
	if sks[0]&0x80 == 0 || !s.hasFieldPointer() {
		return
	}
	fp := &FieldPointer{
		BitValid: sks[0]&0x08 != 0,
		Byte:     binary.BigEndian.Uint16(sks[1:3]),
	}
	if fp.BitValid {
		fp.Bit = sks[0] & 0x07
	}
	switch s.Key {
	case IllegalRequest:
		fp.CDB = sks[0]&0x40 != 0
	case CopyAborted:
		fp.Segment = sks[0]&0x20 != 0
	}
	s.FieldPointer = fp
}

package sense

import (
	"fmt"
	"strings"
)

// Sense is one CHECK CONDITION's sense data, independent of its wire format.
type Sense struct {
	Key       Key
	ASC, ASCQ byte
	// Deferred marks an error of an earlier command (response code 71h/73h
	// instead of 70h/72h).
	Deferred bool
	// Filemark, EOM and ILI are the stream-command flags: fixed format byte 2
	// bits 7, 6 and 5; descriptor format stream commands descriptor (04h).
	Filemark, EOM, ILI bool
	// Information is meaningful only when InfoValid is set (fixed format VALID
	// bit, descriptor format information descriptor 00h). For tape commands it
	// is the residue; for block commands the LBA of the failing block. The
	// fixed format holds 32 bits: Fixed clears VALID for larger values.
	InfoValid   bool
	Information uint64
	// CommandInfo is the COMMAND-SPECIFIC INFORMATION field (fixed format
	// bytes 8-11, descriptor 01h). Zero means absent.
	CommandInfo uint64
	// FieldPointer is the sense-key specific field (SKSV set) for ILLEGAL
	// REQUEST (field pointer) and COPY ABORTED (segment pointer). It is not
	// encoded for other sense keys, whose sense-key specific formats
	// (progress, retry count) this package does not model.
	FieldPointer *FieldPointer
}

// FieldPointer locates the byte, and optionally the bit, that caused the
// error (SPC-4 4.5.2.4.2 and 4.5.2.4.5).
type FieldPointer struct {
	// CDB is the C/D bit: set when Byte indexes the CDB, clear when it
	// indexes the parameter list. Used with ILLEGAL REQUEST only.
	CDB bool
	// Segment is the SD bit: set when Byte counts from the start of the
	// segment descriptor that failed, clear when it counts from the start
	// of the parameter list. Used with COPY ABORTED only.
	Segment bool
	// BitValid is the BPV bit: Bit names the leftmost bit of the field.
	BitValid bool
	Bit      uint8
	Byte     uint16
}

// New returns sense data with the given key and additional sense code.
func New(key Key, code Code) *Sense {
	return &Sense{Key: key, ASC: code.ASC(), ASCQ: code.ASCQ()}
}

// InvalidCDB is ILLEGAL REQUEST, INVALID FIELD IN CDB pointing at byteOff of
// the CDB and, if bit is 0-7, that bit.
func InvalidCDB(byteOff uint16, bit int) *Sense {
	s := New(IllegalRequest, InvalidFieldInCDB)
	s.FieldPointer = pointer(byteOff, bit)
	s.FieldPointer.CDB = true
	return s
}

// InvalidParameter is ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST
// pointing at byteOff of the parameter list and, if bit is 0-7, that bit.
func InvalidParameter(byteOff uint16, bit int) *Sense {
	s := New(IllegalRequest, InvalidFieldInParameterList)
	s.FieldPointer = pointer(byteOff, bit)
	return s
}

// pointer builds a field pointer; a bit outside 0-7 means the whole byte.
func pointer(byteOff uint16, bit int) *FieldPointer {
	fp := &FieldPointer{Byte: byteOff}
	if bit >= 0 && bit <= 7 {
		fp.BitValid, fp.Bit = true, uint8(bit)
	}
	return fp
}

// Code returns ASC and ASCQ as one value.
func (s *Sense) Code() Code { return MakeCode(s.ASC, s.ASCQ) }

// WithInformation sets the INFORMATION field and returns s.
func (s *Sense) WithInformation(v uint64) *Sense {
	s.InfoValid, s.Information = true, v
	return s
}

// Error describes the sense data, for example
// "ILLEGAL REQUEST: INVALID FIELD IN PARAMETER LIST (26/00), field pointer byte 3 bit 7".
func (s *Sense) Error() string {
	var b strings.Builder
	b.WriteString(s.Key.String())
	b.WriteString(": ")
	b.WriteString(s.Code().String())
	if s.Deferred {
		b.WriteString(", deferred")
	}
	if s.Filemark {
		b.WriteString(", FILEMARK")
	}
	if s.EOM {
		b.WriteString(", EOM")
	}
	if s.ILI {
		b.WriteString(", ILI")
	}
	if s.InfoValid {
		fmt.Fprintf(&b, ", information %d", s.Information)
	}
	if s.CommandInfo != 0 {
		fmt.Fprintf(&b, ", command-specific information %#x", s.CommandInfo)
	}
	if fp := s.FieldPointer; fp != nil && s.hasFieldPointer() {
		b.WriteString(", field pointer ")
		switch {
		case fp.CDB && s.Key == IllegalRequest:
			b.WriteString("CDB ")
		case fp.Segment && s.Key == CopyAborted:
			b.WriteString("segment descriptor ")
		}
		fmt.Fprintf(&b, "byte %d", fp.Byte)
		if fp.BitValid {
			fmt.Fprintf(&b, " bit %d", fp.Bit)
		}
	}
	return b.String()
}

// Is reports whether target is a *Sense with the same sense key, ASC and
// ASCQ, so errors.Is(err, sense.New(sense.DataProtect, sense.WriteProtected))
// matches regardless of field pointers and information.
func (s *Sense) Is(target error) bool {
	t, ok := target.(*Sense)
	return ok && t.Key == s.Key && t.ASC == s.ASC && t.ASCQ == s.ASCQ
}

// hasFieldPointer reports whether the sense key carries a field or segment
// pointer in its sense-key specific bytes.
func (s *Sense) hasFieldPointer() bool {
	return s.Key == IllegalRequest || s.Key == CopyAborted
}

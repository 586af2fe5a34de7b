package xcopy

import (
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Operation codes.
const (
	OpExtendedCopy       = 0x83
	OpReceiveCopyResults = 0x84
)

// CDBLen is the length of both commands' CDBs.
const CDBLen = 16

// ResultsAction is a RECEIVE COPY RESULTS service action (CDB byte 1 bits
// 4-0) of the LID1 family.
type ResultsAction uint8

// Service actions this package encodes; RECEIVE DATA (01h) is not
// supported because no held-data segment type is.
const (
	ActionCopyStatus           ResultsAction = 0x00
	ActionOperatingParameters  ResultsAction = 0x03
	ActionFailedSegmentDetails ResultsAction = 0x04
)

// ExtendedCopyCDB is the EXTENDED COPY (LID1) CDB: opcode 83h, service
// action 00h (byte 1 bits 4-0), PARAMETER LIST LENGTH (bytes 10-13),
// CONTROL (byte 15).
type ExtendedCopyCDB struct {
	ParameterListLength uint32
	Control             byte
}

// Encode returns the 16-byte CDB.
func (c ExtendedCopyCDB) Encode() []byte {
	b := make([]byte, CDBLen)
	b[0] = OpExtendedCopy
	binary.BigEndian.PutUint32(b[10:14], c.ParameterListLength)
	b[15] = c.Control
	return b
}

// DecodeExtendedCopyCDB parses an EXTENDED COPY CDB. Errors are ILLEGAL
// REQUEST sense data with a CDB field pointer; EXTENDED COPY (LID4),
// service action 01h, is refused as INVALID FIELD IN CDB.
func DecodeExtendedCopyCDB(b []byte) (ExtendedCopyCDB, error) {
	if err := checkCDB(b, OpExtendedCopy); err != nil {
		return ExtendedCopyCDB{}, err
	}
	if sa := b[1] & 0x1F; sa != 0 {
		return ExtendedCopyCDB{}, sense.InvalidCDB(1, 4)
	}
	if err := reservedCDB(b, 2, 10); err != nil {
		return ExtendedCopyCDB{}, err
	}
	return ExtendedCopyCDB{
		ParameterListLength: binary.BigEndian.Uint32(b[10:14]),
		Control:             b[15],
	}, nil
}

// ReceiveCopyResultsCDB is the RECEIVE COPY RESULTS CDB for the LID1
// service actions: opcode 84h, SERVICE ACTION (byte 1 bits 4-0), LIST
// IDENTIFIER (byte 2), ALLOCATION LENGTH (bytes 10-13), CONTROL (byte 15).
type ReceiveCopyResultsCDB struct {
	Action           ResultsAction
	ListID           byte
	AllocationLength uint32
	Control          byte
}

// Encode returns the 16-byte CDB.
func (c ReceiveCopyResultsCDB) Encode() []byte {
	b := make([]byte, CDBLen)
	b[0] = OpReceiveCopyResults
	b[1] = byte(c.Action) & 0x1F
	b[2] = c.ListID
	binary.BigEndian.PutUint32(b[10:14], c.AllocationLength)
	b[15] = c.Control
	return b
}

// DecodeReceiveCopyResultsCDB parses a RECEIVE COPY RESULTS CDB; service
// actions other than COPY STATUS, OPERATING PARAMETERS and FAILED SEGMENT
// DETAILS are INVALID FIELD IN CDB.
func DecodeReceiveCopyResultsCDB(b []byte) (ReceiveCopyResultsCDB, error) {
	if err := checkCDB(b, OpReceiveCopyResults); err != nil {
		return ReceiveCopyResultsCDB{}, err
	}
	switch a := ResultsAction(b[1] & 0x1F); a {
	case ActionCopyStatus, ActionOperatingParameters, ActionFailedSegmentDetails:
	default:
		return ReceiveCopyResultsCDB{}, sense.InvalidCDB(1, 4)
	}
	if err := reservedCDB(b, 3, 10); err != nil {
		return ReceiveCopyResultsCDB{}, err
	}
	return ReceiveCopyResultsCDB{
		Action:           ResultsAction(b[1] & 0x1F),
		ListID:           b[2],
		AllocationLength: binary.BigEndian.Uint32(b[10:14]),
		Control:          b[15],
	}, nil
}

// Truncate cuts data to the allocation length, as the device server does
// when it returns the data.
func (c ReceiveCopyResultsCDB) Truncate(data []byte) []byte {
	if uint64(len(data)) > uint64(c.AllocationLength) {
		return data[:c.AllocationLength]
	}
	return data
}

// checkCDB checks the length, the operation code and the reserved bits 7-5
// of byte 1 and byte 14 common to both CDBs.
func checkCDB(b []byte, op byte) error {
	if len(b) < CDBLen {
		return sense.New(sense.IllegalRequest, sense.InvalidFieldInCDB)
	}
	if b[0] != op {
		s := sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode)
		s.FieldPointer = &sense.FieldPointer{CDB: true, BitValid: true, Bit: 7}
		return s
	}
	if r := b[1] & 0xE0; r != 0 {
		return sense.InvalidCDB(1, highBit(r))
	}
	return reservedCDB(b, 14, 15)
}

// reservedCDB refuses a non-zero byte in b[from:to].
func reservedCDB(b []byte, from, to int) error {
	for i := from; i < to; i++ {
		if b[i] != 0 {
			return sense.InvalidCDB(uint16(i), highBit(b[i]))
		}
	}
	return nil
}

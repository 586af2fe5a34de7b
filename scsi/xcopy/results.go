package xcopy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrResults is wrapped by every error decoding RECEIVE COPY RESULTS data.
var ErrResults = errors.New("xcopy: malformed RECEIVE COPY RESULTS data")

// CopyManagerStatus is the COPY MANAGER STATUS of COPY STATUS data.
type CopyManagerStatus uint8

// Copy manager statuses (SPC-4 RECEIVE COPY RESULTS, COPY STATUS).
const (
	StatusInProgress CopyManagerStatus = 0x00
	StatusCompleted  CopyManagerStatus = 0x01 // completed without errors
	StatusFailed     CopyManagerStatus = 0x02 // completed with errors
)

// TransferCountUnits is the TRANSFER COUNT UNITS field: the transfer count
// is in bytes times 2^(10·units), or in logical blocks of the destination.
type TransferCountUnits uint8

// Transfer count units.
const (
	UnitBytes  TransferCountUnits = 0x00
	UnitKiB    TransferCountUnits = 0x01
	UnitMiB    TransferCountUnits = 0x02
	UnitGiB    TransferCountUnits = 0x03
	UnitTiB    TransferCountUnits = 0x04
	UnitPiB    TransferCountUnits = 0x05
	UnitEiB    TransferCountUnits = 0x06
	UnitBlocks TransferCountUnits = 0xF1
)

// CopyStatus is RECEIVE COPY RESULTS (COPY STATUS, service action 00h)
// data: 12 bytes, AVAILABLE DATA (bytes 0-3) 8.
type CopyStatus struct {
	// HDD is byte 4 bit 7: held data was discarded.
	HDD bool
	// Status is byte 4 bits 6-0.
	Status CopyManagerStatus
	// SegmentsProcessed is bytes 5-6.
	SegmentsProcessed uint16
	// Units is byte 7.
	Units TransferCountUnits
	// TransferCount is bytes 8-11.
	TransferCount uint32
}

const copyStatusLen = 12

// TransferCount expresses n bytes in the smallest unit whose count fits in
// 32 bits, rounding down.
func TransferCount(n uint64) (TransferCountUnits, uint32) {
	units := UnitBytes
	for n > math.MaxUint32 {
		n >>= 10
		units++
	}
	return units, uint32(n)
}

// Encode returns the 12 bytes of COPY STATUS data.
func (c CopyStatus) Encode() []byte {
	b := make([]byte, copyStatusLen)
	binary.BigEndian.PutUint32(b[0:4], copyStatusLen-4)
	b[4] = byte(c.Status) & 0x7F
	if c.HDD {
		b[4] |= 0x80
	}
	binary.BigEndian.PutUint16(b[5:7], c.SegmentsProcessed)
	b[7] = byte(c.Units)
	binary.BigEndian.PutUint32(b[8:12], c.TransferCount)
	return b
}

// DecodeCopyStatus parses COPY STATUS data.
func DecodeCopyStatus(b []byte) (CopyStatus, error) {
	if len(b) < copyStatusLen {
		return CopyStatus{}, fmt.Errorf("%w: COPY STATUS needs %d bytes, have %d", ErrResults, copyStatusLen, len(b))
	}
	if n := binary.BigEndian.Uint32(b[0:4]); n < copyStatusLen-4 {
		return CopyStatus{}, fmt.Errorf("%w: COPY STATUS available data %d, want at least 8", ErrResults, n)
	}
	return CopyStatus{
		HDD:               b[4]&0x80 != 0,
		Status:            CopyManagerStatus(b[4] & 0x7F),
		SegmentsProcessed: binary.BigEndian.Uint16(b[5:7]),
		Units:             TransferCountUnits(b[7]),
		TransferCount:     binary.BigEndian.Uint32(b[8:12]),
	}, nil
}

// OperatingParameters is RECEIVE COPY RESULTS (OPERATING PARAMETERS,
// service action 03h) data: 44 bytes and the implemented descriptor type
// codes.
type OperatingParameters struct {
	SNLID                   bool   // byte 4 bit 0: LIST ID USAGE 11b supported
	MaxTargetDescriptors    uint16 // bytes 8-9: MAXIMUM CSCD DESCRIPTOR COUNT
	MaxSegmentDescriptors   uint16 // bytes 10-11
	MaxDescriptorListLength uint32 // bytes 12-15
	MaxSegmentLength        uint32 // bytes 16-19
	MaxInlineData           uint32 // bytes 20-23
	HeldDataLimit           uint32 // bytes 24-27
	MaxStreamTransferSize   uint32 // bytes 28-31
	TotalConcurrentCopies   uint16 // bytes 34-35
	MaxConcurrentCopies     uint8  // byte 36
	DataSegmentGranularity  uint8  // byte 37, log2
	InlineDataGranularity   uint8  // byte 38, log2
	HeldDataGranularity     uint8  // byte 39, log2
	// Implemented is the list of implemented descriptor type codes (byte 44
	// on, its length in byte 43), ascending.
	Implemented []byte
}

const operatingParamsLen = 44

// Encode returns the OPERATING PARAMETERS data; at most 255 descriptor
// codes fit.
func (o OperatingParameters) Encode() ([]byte, error) {
	if len(o.Implemented) > math.MaxUint8 {
		return nil, fmt.Errorf("%w: %d implemented descriptor codes exceed 255", ErrEncode, len(o.Implemented))
	}
	b := make([]byte, operatingParamsLen+len(o.Implemented))
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	if o.SNLID {
		b[4] = 0x01
	}
	binary.BigEndian.PutUint16(b[8:10], o.MaxTargetDescriptors)
	binary.BigEndian.PutUint16(b[10:12], o.MaxSegmentDescriptors)
	binary.BigEndian.PutUint32(b[12:16], o.MaxDescriptorListLength)
	binary.BigEndian.PutUint32(b[16:20], o.MaxSegmentLength)
	binary.BigEndian.PutUint32(b[20:24], o.MaxInlineData)
	binary.BigEndian.PutUint32(b[24:28], o.HeldDataLimit)
	binary.BigEndian.PutUint32(b[28:32], o.MaxStreamTransferSize)
	binary.BigEndian.PutUint16(b[34:36], o.TotalConcurrentCopies)
	b[36] = o.MaxConcurrentCopies
	b[37] = o.DataSegmentGranularity
	b[38] = o.InlineDataGranularity
	b[39] = o.HeldDataGranularity
	b[43] = byte(len(o.Implemented))
	copy(b[44:], o.Implemented)
	return b, nil
}

// DecodeOperatingParameters parses OPERATING PARAMETERS data.
func DecodeOperatingParameters(b []byte) (OperatingParameters, error) {
	if len(b) < operatingParamsLen {
		return OperatingParameters{}, fmt.Errorf("%w: OPERATING PARAMETERS needs %d bytes, have %d", ErrResults, operatingParamsLen, len(b))
	}
	n := int(b[43])
	if len(b) < operatingParamsLen+n {
		return OperatingParameters{}, fmt.Errorf("%w: %d implemented descriptor codes announced, %d present", ErrResults, n, len(b)-operatingParamsLen)
	}
	if avail := binary.BigEndian.Uint32(b[0:4]); uint64(avail) < uint64(operatingParamsLen-4+n) {
		return OperatingParameters{}, fmt.Errorf("%w: OPERATING PARAMETERS available data %d, want at least %d", ErrResults, avail, operatingParamsLen-4+n)
	}
	return OperatingParameters{
		SNLID:                   b[4]&0x01 != 0,
		MaxTargetDescriptors:    binary.BigEndian.Uint16(b[8:10]),
		MaxSegmentDescriptors:   binary.BigEndian.Uint16(b[10:12]),
		MaxDescriptorListLength: binary.BigEndian.Uint32(b[12:16]),
		MaxSegmentLength:        binary.BigEndian.Uint32(b[16:20]),
		MaxInlineData:           binary.BigEndian.Uint32(b[20:24]),
		HeldDataLimit:           binary.BigEndian.Uint32(b[24:28]),
		MaxStreamTransferSize:   binary.BigEndian.Uint32(b[28:32]),
		TotalConcurrentCopies:   binary.BigEndian.Uint16(b[34:36]),
		MaxConcurrentCopies:     b[36],
		DataSegmentGranularity:  b[37],
		InlineDataGranularity:   b[38],
		HeldDataGranularity:     b[39],
		Implemented:             append([]byte(nil), b[44:44+n]...),
	}, nil
}

// FailedSegmentDetails is RECEIVE COPY RESULTS (FAILED SEGMENT DETAILS,
// service action 04h) data for an EXTENDED COPY that ended in CHECK
// CONDITION.
type FailedSegmentDetails struct {
	// CommandStatus is byte 56: the SCSI status the EXTENDED COPY command
	// returned (02h CHECK CONDITION).
	CommandStatus byte
	// Sense is the sense data returned with it (bytes 60 on, length in
	// bytes 58-59), in either format; see sense.Parse.
	Sense []byte
}

const failedSegmentHeaderLen = 60

// NoFailedSegmentDetails is the answer for a list identifier with nothing
// to report: AVAILABLE DATA zero and nothing after it.
func NoFailedSegmentDetails() []byte { return make([]byte, 4) }

// Encode returns the FAILED SEGMENT DETAILS data: AVAILABLE DATA (bytes
// 0-3), 52 reserved bytes, the status, a reserved byte, the sense length and
// the sense data.
func (f FailedSegmentDetails) Encode() ([]byte, error) {
	if len(f.Sense) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: %d bytes of sense data", ErrEncode, len(f.Sense))
	}
	b := make([]byte, failedSegmentHeaderLen+len(f.Sense))
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	b[56] = f.CommandStatus
	binary.BigEndian.PutUint16(b[58:60], uint16(len(f.Sense)))
	copy(b[60:], f.Sense)
	return b, nil
}

// DecodeFailedSegmentDetails parses FAILED SEGMENT DETAILS data; it returns
// nil when AVAILABLE DATA is zero.
func DecodeFailedSegmentDetails(b []byte) (*FailedSegmentDetails, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: FAILED SEGMENT DETAILS needs 4 bytes, have %d", ErrResults, len(b))
	}
	if binary.BigEndian.Uint32(b[0:4]) == 0 {
		return nil, nil
	}
	if len(b) < failedSegmentHeaderLen {
		return nil, fmt.Errorf("%w: FAILED SEGMENT DETAILS needs %d bytes, have %d", ErrResults, failedSegmentHeaderLen, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[58:60]))
	if len(b) < failedSegmentHeaderLen+n {
		return nil, fmt.Errorf("%w: %d bytes of sense data announced, %d present", ErrResults, n, len(b)-failedSegmentHeaderLen)
	}
	return &FailedSegmentDetails{
		CommandStatus: b[56],
		Sense:         append([]byte(nil), b[60:60+n]...),
	}, nil
}

// String names the status as RECEIVE COPY RESULTS reports it.
func (s CopyManagerStatus) String() string {
	switch s {
	case StatusInProgress:
		return "operation in progress"
	case StatusCompleted:
		return "operation completed without errors"
	case StatusFailed:
		return "operation completed with errors"
	}
	return fmt.Sprintf("copy manager status %02Xh", uint8(s))
}

// String names the unit of a transfer count.
func (u TransferCountUnits) String() string {
	switch u {
	case UnitBytes:
		return "bytes"
	case UnitKiB:
		return "KiB"
	case UnitMiB:
		return "MiB"
	case UnitGiB:
		return "GiB"
	case UnitTiB:
		return "TiB"
	case UnitPiB:
		return "PiB"
	case UnitEiB:
		return "EiB"
	case UnitBlocks:
		return "logical blocks"
	}
	return fmt.Sprintf("transfer count units %02Xh", uint8(u))
}

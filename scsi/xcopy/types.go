package xcopy

import "fmt"

// DeviceType is a CSCD descriptor's PERIPHERAL DEVICE TYPE (byte 1 bits
// 4-0), which selects the format of its device type specific parameters.
type DeviceType uint8

// Device types this package supports.
const (
	DeviceBlock  DeviceType = 0x00 // direct access block device (a disk LUN)
	DeviceStream DeviceType = 0x01 // sequential access device (a tape drive)
)

// String names the device type.
func (d DeviceType) String() string {
	switch d {
	case DeviceBlock:
		return "block"
	case DeviceStream:
		return "stream"
	}
	return fmt.Sprintf("device type %02Xh", uint8(d))
}

// ListIDUsage is the LIST ID USAGE field (header byte 1 bits 4-3), which
// replaced SPC-3's NRCR bit (bit 4): NRCR set is ListIDNoResults.
type ListIDUsage uint8

// List identifier usages.
const (
	// ListIDHeld: the list identifier is held and RECEIVE COPY RESULTS may
	// ask for this copy's results.
	ListIDHeld ListIDUsage = 0
	// ListIDNoResults: the list identifier is held, but the application
	// client will not ask for results (SPC-3's NRCR).
	ListIDNoResults ListIDUsage = 2
	// ListIDNone: the list identifier is not held; nothing is kept after
	// the command completes (requires SNLID).
	ListIDNone ListIDUsage = 3
)

// ParameterList is an EXTENDED COPY (LID1) parameter list.
type ParameterList struct {
	// ListID is the LIST IDENTIFIER (byte 0).
	ListID byte
	// STR is the sequential striped bit (byte 1 bit 5).
	STR bool
	// ListIDUsage is byte 1 bits 4-3; 01b is reserved.
	ListIDUsage ListIDUsage
	// Priority is byte 1 bits 2-0.
	Priority byte
	// Targets are the CSCD descriptors (from byte 16, CSCD DESCRIPTOR LIST
	// LENGTH in bytes 2-3). Segments name them by index.
	Targets []TargetDescriptor
	// Segments follow the targets (SEGMENT DESCRIPTOR LIST LENGTH in bytes
	// 8-11).
	Segments []Segment
	// InlineData follows the segments (INLINE DATA LENGTH in bytes 12-15).
	InlineData []byte
}

// NRCR reports whether the application client said it will not ask for the
// copy's results (SPC-3's NRCR bit, LIST ID USAGE 10b or 11b).
func (p *ParameterList) NRCR() bool { return p.ListIDUsage&2 != 0 }

// TargetDescriptor is an identification CSCD descriptor (type E4h, 32 bytes).
// Byte positions are relative to the start of the descriptor.
type TargetDescriptor struct {
	// LUIDType is byte 1 bits 7-6, kept but not interpreted.
	LUIDType uint8
	// NUL is byte 1 bit 5, obsolete in SPC-4, kept but not interpreted.
	NUL bool
	// DeviceType is byte 1 bits 4-0.
	DeviceType DeviceType
	// RelativeInitiatorPort is bytes 2-3.
	RelativeInitiatorPort uint16
	// NAA is the designator (bytes 8 on, length in byte 7) of a designation
	// descriptor with CODE SET binary (byte 4 bits 3-0 = 1h), ASSOCIATION
	// logical unit (byte 5 bits 5-4 = 00b) and DESIGNATOR TYPE NAA (byte 5
	// bits 3-0 = 3h): 8 bytes for NAA 2h, 3h and 5h, 16 for NAA 6h.
	NAA []byte
	// PAD is byte 28 bit 2.
	PAD bool
	// Fixed is byte 28 bit 0, stream devices only: fixed-length blocks of
	// BlockLength bytes, as opposed to variable-length records.
	Fixed bool
	// BlockLength is bytes 29-31: DISK BLOCK LENGTH for a block device,
	// STREAM BLOCK LENGTH for a stream device.
	BlockLength uint32
}

// SegmentType is a segment descriptor's DESCRIPTOR TYPE CODE (byte 0).
type SegmentType uint8

// Segment descriptor type codes (SPC-4 table 118, where the tape operations
// are 10h-13h; 0Fh is stream→discard with held data).
const (
	BlockToStream       SegmentType = 0x00
	StreamToBlock       SegmentType = 0x01
	BlockToBlock        SegmentType = 0x02
	StreamToStream      SegmentType = 0x03
	InlineToStream      SegmentType = 0x04
	StreamToDiscard     SegmentType = 0x06
	VerifyCSCD          SegmentType = 0x07
	BlockToBlockOffsets SegmentType = 0x0A
	WriteFilemarks      SegmentType = 0x10
	Space               SegmentType = 0x11
	Locate              SegmentType = 0x12
	TapeImageCopy       SegmentType = 0x13
)

// SegmentTypes lists every segment type this package supports, ascending.
func SegmentTypes() []SegmentType {
	return []SegmentType{
		BlockToStream, StreamToBlock, BlockToBlock, StreamToStream,
		InlineToStream, StreamToDiscard, VerifyCSCD, BlockToBlockOffsets,
		WriteFilemarks, Space, Locate, TapeImageCopy,
	}
}

// Writes reports whether a segment of type t writes to its destination
// CSCD: every type with a destination but space and locate, which only
// move the tape.
func (t SegmentType) Writes() bool {
	l, ok := layoutOf(t)
	return ok && l.dst != roleNone && t != Space && t != Locate
}

// String names the segment type the way SPC-4's tables abbreviate it.
func (t SegmentType) String() string {
	switch t {
	case BlockToStream:
		return "block→stream"
	case StreamToBlock:
		return "stream→block"
	case BlockToBlock:
		return "block→block"
	case StreamToStream:
		return "stream→stream"
	case InlineToStream:
		return "inline→stream"
	case StreamToDiscard:
		return "stream→discard"
	case VerifyCSCD:
		return "verify CSCD"
	case BlockToBlockOffsets:
		return "block→block with offsets"
	case WriteFilemarks:
		return "write filemarks"
	case Space:
		return "space"
	case Locate:
		return "locate"
	case TapeImageCopy:
		return "tape image copy"
	}
	return fmt.Sprintf("segment type %02Xh", uint8(t))
}

// SpaceCode is the CODE field of a space segment (byte 8 bits 3-0), as in
// the SSC-3 SPACE command.
type SpaceCode uint8

// Space codes this package accepts.
const (
	SpaceBlocks    SpaceCode = 0x0
	SpaceFilemarks SpaceCode = 0x1
	SpaceEndOfData SpaceCode = 0x3
)

// Segment is one segment descriptor. Which fields a type uses, and where,
// is listed per field; byte positions are relative to the descriptor's
// start. Bytes 0-3 are the type, the CAT/DC flags and DESCRIPTOR LENGTH.
type Segment struct {
	Type SegmentType
	// CAT is byte 1 bit 0, for the data-moving types 00h-04h, 06h and 0Ah.
	CAT bool
	// DC is byte 1 bit 1, for 02h only: Blocks counts destination blocks
	// rather than source blocks.
	DC bool
	// Src is the SOURCE CSCD DESCRIPTOR ID (bytes 4-5): 00h-03h, 06h, 07h,
	// 0Ah, 13h.
	Src uint16
	// Dst is the DESTINATION CSCD DESCRIPTOR ID (bytes 6-7): 00h-04h, 0Ah,
	// 10h-13h.
	Dst uint16
	// StreamLength is the STREAM DEVICE TRANSFER LENGTH (bytes 9-11) of
	// 00h, 01h, 04h and 06h, and the SOURCE STREAM DEVICE TRANSFER LENGTH of
	// 03h: bytes per read or write for a variable-block stream device,
	// blocks per read or write for a fixed-block one.
	StreamLength uint32
	// DstStreamLength is the DESTINATION STREAM DEVICE TRANSFER LENGTH of
	// 03h (bytes 13-15).
	DstStreamLength uint32
	// Blocks is the BLOCK DEVICE NUMBER OF BLOCKS: bytes 14-15 of 00h and
	// 01h, bytes 10-11 of 02h. The wire field is 16 bits wide.
	Blocks uint32
	// ByteCount is the number of bytes of 03h (BYTE COUNT, bytes 16-19),
	// 04h (INLINE DATA NUMBER OF BYTES, bytes 16-19), 06h (NUMBER OF BYTES,
	// bytes 12-15) and 0Ah (NUMBER OF BYTES, bytes 8-11).
	ByteCount uint32
	// SrcLBA is the source LOGICAL BLOCK ADDRESS: bytes 16-23 of 00h,
	// bytes 12-19 of 02h and 0Ah.
	SrcLBA uint64
	// DstLBA is the destination LOGICAL BLOCK ADDRESS: bytes 16-23 of 01h,
	// bytes 20-27 of 02h and 0Ah.
	DstLBA uint64
	// SrcOffset and DstOffset are the SOURCE and DESTINATION BYTE OFFSET of
	// 0Ah (bytes 28-29 and 30-31) into the first block.
	SrcOffset, DstOffset uint16
	// InlineOffset is the INLINE DATA OFFSET of 04h (bytes 12-15), from the
	// start of the inline data.
	InlineOffset uint32
	// TUR is the TUR bit of 07h (byte 8 bit 0): also send TEST UNIT READY.
	TUR bool
	// Filemarks is the TRANSFER LENGTH of 10h (bytes 9-11).
	Filemarks uint32
	// SpaceCode is the CODE of 11h (byte 8 bits 3-0).
	SpaceCode SpaceCode
	// SpaceCount is the COUNT of 11h (bytes 9-11, 24-bit two's complement):
	// negative spaces backwards.
	SpaceCount int32
	// LocateBlock is the BLOCK ADDRESS (logical object identifier) of 12h
	// (bytes 8-11).
	LocateBlock uint32
	// ImageCount is the COUNT of 13h (bytes 8-11): the number of consecutive
	// filemarks that ends the image copy; zero copies up to end-of-data.
	ImageCount uint32
}

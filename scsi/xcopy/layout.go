package xcopy

// Sizes of the fixed parts of a parameter list.
const (
	headerLen     = 16 // parameter list header
	targetDescLen = 32 // every CSCD descriptor this package knows
	segHeaderLen  = 4  // type, flags, DESCRIPTOR LENGTH
	identCSCD     = 0xE4
)

// role is what a segment requires of the CSCD named by its source or
// destination index.
type role uint8

const (
	roleNone   role = iota // the index field is reserved
	roleAny                // any device type
	roleBlock              // a block device
	roleStream             // a stream device
)

// layout describes a segment type's fixed shape.
type layout struct {
	// descLen is the DESCRIPTOR LENGTH value (bytes 2-3): the descriptor's
	// size less four.
	descLen uint16
	// flags are the byte 1 bits that are not reserved (CAT, DC).
	flags byte
	src   role
	dst   role
}

const (
	flagCAT = 0x01
	flagDC  = 0x02
)

// layoutOf returns the layout of a supported segment type.
func layoutOf(t SegmentType) (layout, bool) {
	switch t {
	case BlockToStream:
		return layout{0x14, flagCAT, roleBlock, roleStream}, true
	case StreamToBlock:
		return layout{0x14, flagCAT, roleStream, roleBlock}, true
	case BlockToBlock:
		return layout{0x18, flagCAT | flagDC, roleBlock, roleBlock}, true
	case StreamToStream:
		return layout{0x10, flagCAT, roleStream, roleStream}, true
	case InlineToStream:
		return layout{0x10, flagCAT, roleNone, roleStream}, true
	case StreamToDiscard:
		return layout{0x0C, flagCAT, roleStream, roleNone}, true
	case VerifyCSCD:
		return layout{0x08, 0, roleAny, roleNone}, true
	case BlockToBlockOffsets:
		return layout{0x1C, flagCAT, roleBlock, roleBlock}, true
	case WriteFilemarks, Space, Locate:
		return layout{0x08, 0, roleNone, roleStream}, true
	case TapeImageCopy:
		return layout{0x08, 0, roleStream, roleStream}, true
	}
	return layout{}, false
}

// segmentLen is the encoded size of a segment descriptor of a supported type.
func segmentLen(t SegmentType) int {
	l, _ := layoutOf(t)
	return segHeaderLen + int(l.descLen)
}

// reserved lists, per segment type, the byte ranges [from, to) after the
// four-byte header that SPC-4 reserves. Index fields marked roleNone are
// reserved too and are checked through the layout.
func reservedRanges(t SegmentType) [][2]int {
	switch t {
	case BlockToStream, StreamToBlock:
		return [][2]int{{8, 9}, {12, 14}}
	case BlockToBlock:
		return [][2]int{{8, 10}}
	case StreamToStream:
		return [][2]int{{8, 9}, {12, 13}}
	case InlineToStream, StreamToDiscard:
		return [][2]int{{8, 9}}
	case VerifyCSCD:
		return [][2]int{{9, 12}}
	case WriteFilemarks, Space:
		return nil // byte 8 holds bit fields checked by the decoder
	}
	return nil
}

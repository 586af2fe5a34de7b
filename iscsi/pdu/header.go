package pdu

import "encoding/binary"

// BHSLength is the size of the Basic Header Segment.
const BHSLength = 48

// Header is a raw Basic Header Segment. Its accessors read the fields that
// sit at the same place in every opcode; the typed messages (SCSICommand,
// DataIn, ...) give names to the rest.
type Header [BHSLength]byte

// Opcode is the operation code.
func (h *Header) Opcode() Opcode { return Opcode(h[0] & 0x3f) }

// Immediate is the I bit of initiator PDUs.
func (h *Header) Immediate() bool { return h[0]&0x40 != 0 }

// Final is the F bit.
func (h *Header) Final() bool { return h[1]&0x80 != 0 }

// TotalAHSLength is the length of the additional header segments in bytes.
func (h *Header) TotalAHSLength() int { return int(h[4]) * 4 }

// DataSegmentLength is the length of the data segment without padding.
func (h *Header) DataSegmentLength() int {
	return int(h[5])<<16 | int(h[6])<<8 | int(h[7])
}

// ITT is the initiator task tag.
func (h *Header) ITT() uint32 { return h.u32(16) }

// SetStatSN stamps the three numbers that share bytes 24-35 in every target
// PDU; the connection writes them at send time so they are never stale.
func (h *Header) SetStatSN(statSN, expCmdSN, maxCmdSN uint32) {
	h.put32(24, statSN)
	h.put32(28, expCmdSN)
	h.put32(32, maxCmdSN)
}

func (h *Header) setOpcode(op Opcode, immediate bool) {
	h[0] = byte(op) & 0x3f
	if immediate {
		h[0] |= 0x40
	}
}

func (h *Header) setLengths(ahs, data int) {
	h[4] = byte(ahs / 4)
	h[5], h[6], h[7] = byte(data>>16), byte(data>>8), byte(data)
}

func (h *Header) u16(off int) uint16      { return binary.BigEndian.Uint16(h[off:]) }
func (h *Header) u32(off int) uint32      { return binary.BigEndian.Uint32(h[off:]) }
func (h *Header) u64(off int) uint64      { return binary.BigEndian.Uint64(h[off:]) }
func (h *Header) put16(off int, v uint16) { binary.BigEndian.PutUint16(h[off:], v) }
func (h *Header) put32(off int, v uint32) { binary.BigEndian.PutUint32(h[off:], v) }
func (h *Header) put64(off int, v uint64) { binary.BigEndian.PutUint64(h[off:], v) }

func (h *Header) flag(mask byte) bool { return h[1]&mask != 0 }

func (h *Header) setFlag(mask byte, on bool) {
	if on {
		h[1] |= mask
	}
}

// ReservedTag is the all-ones task tag that means "no task".
const ReservedTag uint32 = 0xffffffff

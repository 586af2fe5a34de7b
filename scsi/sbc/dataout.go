package sbc

import (
	"encoding/binary"
	"math"
)

// DataOutLength is how many data-out bytes cdb transfers to LUN lun (the
// SCSI transfer length), so that the transport reports write residuals
// (RFC 7143 11.4.5.1) and hands Execute only that much. It reports false
// for commands without data-out, unknown commands and unknown LUNs, whose
// data-out the transport then passes on as it came; and for WRITE SAME
// and COMPARE AND WRITE, whose data-out must arrive exactly, so that a
// data-out of another size reaches them and is refused there rather than
// silently cut.
func (s *Server) DataOutLength(lun uint64, cdb []byte) (uint32, bool) {
	cmd, err := s.lookup(cdb)
	if err != nil {
		return 0, false
	}
	l := s.lun(lun)
	if l == nil {
		return 0, false
	}
	switch cdb[0] {
	case opWrite6, opWrite10, opWrite12, opWrite16, opWriteVerify10, opWriteVerify12, opWriteVerify16, opOrWrite16:
		_, count, _ := blockRange(cdb[:len(cmd.usage)])
		return blockBytes(l, count), true
	case opVerify10, opVerify12, opVerify16:
		_, count, _ := blockRange(cdb[:len(cmd.usage)])
		switch cdb[1] >> bytchkShift & bytchkMask {
		case bytchkCompare:
			return blockBytes(l, count), true
		case bytchkSame:
			return l.BlockSize(), true
		}
		return 0, true
	case opExtendedCopy:
		return binary.BigEndian.Uint32(cdb[10:14]), true
	case opPersistentReserveOut:
		return prOutParamLength(cdb), true
	case opUnmap:
		return uint32(binary.BigEndian.Uint16(cdb[7:9])), true
	}
	return 0, false
}

// blockBytes is count blocks of l in bytes, saturated to 32 bits: a
// transfer that large fails the command's own checks anyway.
func blockBytes(l LUN, count uint64) uint32 {
	n := count * uint64(l.BlockSize())
	if count > math.MaxUint32 || n > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

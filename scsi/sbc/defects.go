package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// READ DEFECT DATA(10) and (12) (SBC-3 5.16, 5.17).
const (
	opReadDefectData10 = 0x37
	opReadDefectData12 = 0xB7

	reqLists         = 0x18 // REQ_PLIST, REQ_GLIST; PLISTV, GLISTV in the header
	listFormatMask   = 0x07
	defectHeader10   = 4
	defectHeader12   = 8
	formatShortBlock = 0x0 // short block format address descriptors
	formatLongBlock  = 0x3
	formatIndex      = 0x4 // bytes from index
	formatSector     = 0x5 // physical sector
	formatVendor     = 0x6
)

// readDefectData is READ DEFECT DATA(10) and (12). A LUN is a file or a
// block device whose own device remaps its defects, so Ferry knows of
// none: both lists are valid and empty. The header reports the lists
// asked for as valid (PLISTV, GLISTV) and the format asked for, which an
// empty list is in whatever the format; the DEFECT LIST LENGTH is zero
// (and in READ DEFECT DATA(12) so is the GENERATION CODE: the list never
// changes). The ADDRESS DESCRIPTOR INDEX of (12) is past the end of an
// empty list whatever it is, which returns the header alone as well. A
// format SBC-3 reserves (001b, 010b, 111b) is INVALID FIELD IN CDB.
func (s *Server) readDefectData(_ context.Context, r *request) task.Result {
	flagsAt, header := 2, defectHeader10
	alloc := uint32(binary.BigEndian.Uint16(r.cdb[7:9]))
	if r.cdb[0] == opReadDefectData12 {
		flagsAt, header = 1, defectHeader12
		alloc = binary.BigEndian.Uint32(r.cdb[6:10])
	}
	flags := r.cdb[flagsAt]
	switch flags & listFormatMask {
	case formatShortBlock, formatLongBlock, formatIndex, formatSector, formatVendor:
	default:
		return s.reply(nil, sense.InvalidCDB(uint16(flagsAt), 2))
	}
	b := make([]byte, header)
	b[1] = flags & (reqLists | listFormatMask)
	return s.reply(truncate(b, alloc), nil)
}

package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// SELECT REPORT values (SPC-4 6.33) beside 00h, all LUNs.
const (
	reportWellKnownLUNs = 0x01
	reportAllAndWellKn  = 0x02
	minReportLUNsAlloc  = 16
)

// reportLUNs is REPORT LUNS, which any LUN answers: the server's LUNs in
// ascending order (it has no well-known LUNs). LUNs below 256 use the
// peripheral device addressing method, larger ones flat space addressing.
func (s *Server) reportLUNs(_ context.Context, r *request) task.Result {
	sel := r.cdb[2]
	alloc := binary.BigEndian.Uint32(r.cdb[6:10])
	if sel > reportAllAndWellKn {
		return s.reply(nil, sense.InvalidCDB(2, 7))
	}
	if alloc < minReportLUNsAlloc {
		return s.reply(nil, sense.InvalidCDB(6, 7))
	}
	var luns []uint64
	if sel != reportWellKnownLUNs {
		luns = s.lunNumbers()
	}
	b := make([]byte, 8+8*len(luns))
	binary.BigEndian.PutUint32(b[0:4], uint32(8*len(luns)))
	for i, n := range luns {
		e := b[8+8*i:]
		if n < 256 {
			e[1] = byte(n)
		} else {
			binary.BigEndian.PutUint16(e[0:2], 0x4000|uint16(n))
		}
	}
	return s.reply(truncate(b, alloc), nil)
}

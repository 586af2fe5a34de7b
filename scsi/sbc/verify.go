package sbc

import (
	"bytes"
	"context"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// BYTCHK values (VERIFY CDB byte 1 bits 2-1, SBC-3 5.29); 00b only
// checks that the medium reads.
const (
	bytchkShift    = 1
	bytchkMask     = 0x03
	bytchkCompare  = 1 // compare the data-out buffer with the range
	bytchkReserved = 2
	bytchkSame     = 3 // compare one data-out block with every block
)

// verify is VERIFY(10), VERIFY(12) and VERIFY(16). A difference is MISCOMPARE,
// MISCOMPARE DURING VERIFY OPERATION with the offset of the first
// differing byte of the data-out buffer in INFORMATION. When the
// initiator sent less data than the range holds, only what it sent is
// compared.
func (s *Server) verify(ctx context.Context, r *request) task.Result {
	lba, count, _ := blockRange(r.cdb)
	if err := checkRange(r.lun, lba, count); err != nil {
		return s.reply(nil, err)
	}
	bs := uint64(r.lun.BlockSize())
	perChunk := max(chunkBytes/bs, 1)
	buf := make([]byte, min(perChunk, count)*bs)
	bytchk := r.cdb[1] >> bytchkShift & bytchkMask
	if bytchk == bytchkReserved {
		return s.reply(nil, sense.InvalidCDB(1, 2))
	}
	data := r.task.DataOut
	if bytchk == bytchkSame && uint64(len(data)) < bs {
		return s.reply(nil, sense.New(sense.IllegalRequest, sense.ParameterListLengthError))
	}
	for done := uint64(0); done < count; {
		if err := ctx.Err(); err != nil {
			return s.ioFailure(err, sense.UnrecoveredReadError, r, lba+done)
		}
		n := min(perChunk, count-done)
		got := buf[:n*bs]
		if _, err := r.lun.ReadAt(got, int64((lba+done)*bs)); err != nil {
			return s.ioFailure(err, sense.UnrecoveredReadError, r, lba+done)
		}
		var off uint64
		var ok bool
		switch bytchk {
		case bytchkCompare:
			off, ok = compare(got, data, done*bs)
		case bytchkSame:
			off, ok = compareEach(got, data[:bs])
		default:
			ok = true
		}
		if !ok {
			return task.Fail(sense.New(sense.Miscompare, sense.MiscompareDuringVerify).WithInformation(off))
		}
		done += n
	}
	return s.reply(nil, nil)
}

// compare compares got, the medium from byte at of the range, with the
// same bytes of want, as far as want goes; it returns the offset into want
// of the first difference.
func compare(got, want []byte, at uint64) (uint64, bool) {
	if at >= uint64(len(want)) {
		return 0, true
	}
	want = want[at:]
	n := min(len(got), len(want))
	if bytes.Equal(got[:n], want[:n]) {
		return 0, true
	}
	for i := range n {
		if got[i] != want[i] {
			return at + uint64(i), false
		}
	}
	return 0, true
}

// compareEach compares every block of got with block; it returns the
// offset into block of the first difference.
func compareEach(got, block []byte) (uint64, bool) {
	for b := 0; b < len(got); b += len(block) {
		if off, ok := compare(got[b:b+len(block)], block, 0); !ok {
			return off, false
		}
	}
	return 0, true
}

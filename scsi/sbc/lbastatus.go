package sbc

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// GET LBA STATUS (SBC-3 5.6), a service action of SERVICE ACTION IN(16).
const (
	saGetLBAStatus       = 0x12
	lbaStatusHeaderLen   = 8
	lbaStatusDescLen     = 16
	maxLBAStatusDescs    = 256 // bounds the store lookups of one command
	provisioningUnmapped = 0x1 // PROVISIONING STATUS deallocated (mapped is 0)
)

// getLBAStatus is GET LBA STATUS: descriptors of the runs of mapped and
// deallocated blocks from the STARTING LOGICAL BLOCK ADDRESS on, as many
// as the allocation length holds, the first one starting at that address.
// A fully provisioned LUN has every block mapped. Anchored blocks are not
// supported, so none is reported.
func (s *Server) getLBAStatus(ctx context.Context, r *request) task.Result {
	lba := binary.BigEndian.Uint64(r.cdb[2:10])
	alloc := binary.BigEndian.Uint32(r.cdb[10:14])
	blocks := r.lun.Blocks()
	if lba >= blocks {
		return s.reply(nil, sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(lba))
	}
	// At least one descriptor, cut to the allocation length if need be.
	want := 1
	if alloc > lbaStatusHeaderLen {
		want = max(1, int(min((alloc-lbaStatusHeaderLen)/lbaStatusDescLen, maxLBAStatusDescs)))
	}
	p := provisioner(r.lun)
	b := make([]byte, lbaStatusHeaderLen, lbaStatusHeaderLen+want*lbaStatusDescLen)
	for n := 0; n < want && lba < blocks; n++ {
		if err := ctx.Err(); err != nil {
			return s.reply(nil, err)
		}
		count, mapped := blocks-lba, true
		if p != nil {
			var err error
			if count, mapped, err = p.ExtentAt(lba); err != nil {
				return s.ioFailure(err, sense.UnrecoveredReadError, r, lba)
			}
		}
		count = max(1, min(count, blocks-lba, math.MaxUint32))
		d := make([]byte, lbaStatusDescLen)
		binary.BigEndian.PutUint64(d[0:8], lba)
		binary.BigEndian.PutUint32(d[8:12], uint32(count))
		if !mapped {
			d[12] = provisioningUnmapped
		}
		b = append(b, d...)
		lba += count
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	return s.reply(truncate(b, alloc), nil)
}

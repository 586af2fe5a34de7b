package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// Provisioner is a Volume that may be thin provisioned (*disk.LUN is one).
// A LUN whose Volume is not a Provisioner, or says it is not thin, is fully
// provisioned: LBPME is zero, and UNMAP and WRITE SAME's UNMAP bit are
// refused (ILLEGAL REQUEST, INVALID FIELD IN CDB).
type Provisioner interface {
	// Thin reports whether Unmap deallocates blocks, which then read as
	// zeroes.
	Thin() bool
	// Unmap deallocates n bytes at byte offset off.
	Unmap(off, n int64) error
	// ExtentAt returns how many blocks from lba share its state, mapped
	// or not.
	ExtentAt(lba uint64) (count uint64, mapped bool, err error)
	// UnmapGranularity is the unit Unmap deallocates in, in bytes.
	UnmapGranularity() uint32
}

// provisioner returns l's Provisioner if l is thin provisioned, or nil.
func provisioner(l LUN) Provisioner {
	if p, ok := volume(l).(Provisioner); ok && p.Thin() {
		return p
	}
	return nil
}

// UNMAP (SBC-3 5.28) and its limits, reported in the block limits page.
const (
	opUnmap             = 0x42
	unmapHeaderLen      = 8
	unmapDescriptorLen  = 16
	maxUnmapDescriptors = 256
	// maxUnmapBytes bounds the blocks one UNMAP may name, so that one
	// command holds the task's gate for a bounded time: 512 Ki blocks of
	// 512 bytes (libiscsi's Inquiry.BlockLimits takes more than 1 Mi as
	// insane).
	maxUnmapBytes = 256 << 20
)

// maxUnmapBlocks is the MAXIMUM UNMAP LBA COUNT of a LUN of bs-byte
// blocks.
func maxUnmapBlocks(bs uint32) uint32 { return maxUnmapBytes / bs }

// unmapLimits fills the UNMAP fields of the block limits page (b is the
// page after its header) for a thin LUN: the counts above, and the
// granularity the store deallocates in, aligned at LBA 0 (UGAVALID).
func unmapLimits(l LUN, b []byte) {
	p := provisioner(l)
	if p == nil {
		return
	}
	bs := l.BlockSize()
	binary.BigEndian.PutUint32(b[16:20], maxUnmapBlocks(bs))
	binary.BigEndian.PutUint32(b[20:24], maxUnmapDescriptors)
	binary.BigEndian.PutUint32(b[24:28], blocks(p.UnmapGranularity(), bs))
	b[28] = 0x80 // UGAVALID, UNMAP GRANULARITY ALIGNMENT 0
}

// unmapRange is one UNMAP block descriptor.
type unmapRange struct{ lba, count uint64 }

// unmap is UNMAP: every descriptor of the parameter list is checked before
// any block is unmapped, so that a bad list changes nothing. A PARAMETER
// LIST LENGTH of zero unmaps nothing; the ANCHOR bit is outside the usage
// data (anchored blocks are not supported, ANC_SUP is zero). A read-only
// LUN is WRITE PROTECTED, thin or not, like every command that would
// change its medium; on a fully provisioned one the operation code is
// INVALID FIELD IN CDB rather than an invalid operation code, since the
// command table, which REPORT SUPPORTED OPERATION CODES reports, is the
// server's and not the LUN's.
func (s *Server) unmap(ctx context.Context, r *request) task.Result {
	if err := writeProtected(r.lun); err != nil {
		return s.reply(nil, err)
	}
	p := provisioner(r.lun)
	if p == nil {
		return s.reply(nil, sense.InvalidCDB(0, -1))
	}
	ranges, err := parseUnmapList(r.cdb, r.task.DataOut, r.lun.Blocks(), r.lun.BlockSize())
	if err != nil {
		return s.reply(nil, err)
	}
	for _, u := range ranges {
		if u.count == 0 {
			continue
		}
		if err := r.unmapAt(ctx, p, u.lba, u.count); err != nil {
			return s.ioFailure(err, sense.WriteError, r, u.lba)
		}
	}
	return s.reply(nil, nil)
}

// parseUnmapList decodes and checks an UNMAP parameter list: a header of
// 1 to 7 bytes is PARAMETER LIST LENGTH ERROR; an incomplete last
// descriptor is ignored, as SBC-3 says; too many descriptors or blocks are
// INVALID FIELD IN PARAMETER LIST; a range off the LUN is LOGICAL BLOCK
// ADDRESS OUT OF RANGE.
func parseUnmapList(cdb, data []byte, lunBlocks uint64, bs uint32) ([]unmapRange, error) {
	plen := int(binary.BigEndian.Uint16(cdb[7:9]))
	if plen == 0 {
		return nil, nil
	}
	data = data[:min(len(data), plen)]
	if len(data) < unmapHeaderLen {
		return nil, sense.New(sense.IllegalRequest, sense.ParameterListLengthError)
	}
	descLen := min(int(binary.BigEndian.Uint16(data[2:4])), len(data)-unmapHeaderLen)
	n := descLen / unmapDescriptorLen
	if n > maxUnmapDescriptors {
		return nil, sense.InvalidParameter(2, -1)
	}
	ranges := make([]unmapRange, n)
	total := uint64(0)
	for i := range ranges {
		d := data[unmapHeaderLen+i*unmapDescriptorLen:]
		lba, count := binary.BigEndian.Uint64(d[0:8]), uint64(binary.BigEndian.Uint32(d[8:12]))
		if lba > lunBlocks || count > lunBlocks-lba {
			return nil, sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(lba)
		}
		if total += count; total > uint64(maxUnmapBlocks(bs)) {
			return nil, sense.InvalidParameter(uint16(unmapHeaderLen+i*unmapDescriptorLen+8), -1)
		}
		ranges[i] = unmapRange{lba: lba, count: count}
	}
	return ranges, nil
}

// unmapAt deallocates count blocks from lba, a bounded piece at a time.
// Unmapping is a write: like writeAt, each piece holds the shared range
// lock, so that it never lands inside a COMPARE AND WRITE through any
// node, and goes through the task's gate, so that none lands once task
// management has aborted the task.
func (r *request) unmapAt(ctx context.Context, p Provisioner, lba, count uint64) error {
	bs := uint64(r.lun.BlockSize())
	per := uint64(maxUnmapBlocks(uint32(bs)))
	for done := uint64(0); done < count; {
		n := min(per, count-done)
		if err := r.unmapPiece(ctx, p, (lba+done)*bs, n*bs); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// unmapPiece unmaps n bytes from byte off under the shared range lock.
func (r *request) unmapPiece(ctx context.Context, p Provisioner, off, n uint64) error {
	unlock, err := r.lockRange(ctx, off, n, false)
	if err != nil {
		return err
	}
	defer unlock()
	return r.task.Commit(func() error { return p.Unmap(int64(off), int64(n)) })
}

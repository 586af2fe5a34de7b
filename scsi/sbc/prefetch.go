package sbc

import (
	"context"

	"github.com/ferry-san/ferry/scsi/task"
)

// PRE-FETCH(10) and (16) (SBC-3 5.8, 5.9).
const (
	opPrefetch10 = 0x34
	opPrefetch16 = 0x90
	immedBit     = 0x02 // PRE-FETCH CDB byte 1: return once the CDB is checked
)

// prefetcher is a Volume that can start reading a byte range into a cache
// ahead of the reads that will want it (*disk.LUN: POSIX_FADV_WILLNEED).
// It is advice: it returns at once and never fails.
type prefetcher interface {
	Prefetch(off, n int64)
}

// Prefetch passes the advice on to the Volume, when it takes any.
func (l identified) Prefetch(off, n int64) {
	if p, ok := l.Volume.(prefetcher); ok {
		p.Prefetch(off, n)
	}
}

// prefetch is PRE-FETCH(10) and (16). The range must be on the LUN; a
// PREFETCH LENGTH of zero runs to its last block. The server asks the
// Volume to start reading the range into the page cache and answers GOOD
// at once, IMMED or not. It never answers CONDITION MET, which would
// promise that every block of the range is in the cache: the page cache
// makes no such promise (readahead is advice, and pages are evicted at
// will), and SBC-3 prescribes GOOD when not all of the range could be
// cached.
func (s *Server) prefetch(_ context.Context, r *request) task.Result {
	lba, count, _ := blockRange(r.cdb)
	count = toEnd(r.lun, lba, count)
	if err := checkRange(r.lun, lba, count); err != nil {
		return s.reply(nil, err)
	}
	if p, ok := r.lun.(prefetcher); ok {
		bs := uint64(r.lun.BlockSize())
		p.Prefetch(int64(lba*bs), int64(count*bs))
	}
	return s.reply(nil, nil)
}

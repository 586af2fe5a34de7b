package disk

import (
	"context"
	"fmt"
)

// LockRange locks bytes [off, off+n) of the LUN, shared or exclusive,
// against every other holder in this process and — on Linux, through open
// file description locks (F_OFD_SETLK) on the image file or block device
// — in every other process that has it open, such as another node's agent
// on the same host or on a file system that carries POSIX locks between
// hosts (NFSv4, GFS2, OCFS2). The SCSI device server takes a shared lock
// for each ordinary write and an exclusive one for COMPARE AND WRITE, so
// that a compare and its write are never split by another write. A blocked
// lock gives up with ctx's error when ctx ends. unlock releases it; call
// it exactly once. The locks are advisory: ReadAt and WriteAt do not take
// them.
func (l *LUN) LockRange(ctx context.Context, off, n int64, exclusive bool) (unlock func(), err error) {
	if n < 0 || n > l.size {
		return nil, l.check(off, -1)
	}
	if err := l.check(off, int(n)); err != nil {
		return nil, err
	}
	unlock, err = l.locks.Lock(ctx, off, n, exclusive)
	if err != nil {
		return nil, fmt.Errorf("disk %s: lock LBA %d: %w", l.path, off/int64(l.blockSize), err)
	}
	return unlock, nil
}

package disk

import "golang.org/x/sys/unix"

// Prefetch asks the kernel to start reading n bytes at off into the page
// cache (POSIX_FADV_WILLNEED) and returns at once: a PRE-FETCH of the
// LUN. It is advice, so a failure, or a range past the end, changes
// nothing but speed.
func (l *LUN) Prefetch(off, n int64) {
	_ = unix.Fadvise(int(l.f.Fd()), off, n, unix.FADV_WILLNEED)
}

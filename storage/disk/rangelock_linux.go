package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-san/ferry/internal/rangelock"
)

// Polling bounds of a lock another process holds. F_OFD_SETLKW would wait
// in the kernel, but a goroutine blocked there cannot be called back when
// its command is aborted, so the lock is polled: first soon, since a
// COMPARE AND WRITE holds it for a read and a write, then backing off.
const (
	ofdFirstRetry = 20 * time.Microsecond
	ofdMaxRetry   = 2 * time.Millisecond
	// ofdUnlockTries bounds the retries of an unlock the kernel refused
	// for want of memory.
	ofdUnlockTries = 100
)

// ofdLocks extends a LUN's range locks to other processes with open file
// description locks on its file. They belong to the description, not the
// process, so two LUNs opened on the same file in one process exclude each
// other too; and a process that dies loses them at once.
type ofdLocks struct{ f *os.File }

func newLocks(f *os.File) *rangelock.Table { return rangelock.New(ofdLocks{f}) }

func (o ofdLocks) Lock(ctx context.Context, off, n int64, exclusive bool) error {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0, Start: off, Len: n}
	if exclusive {
		lk.Type = unix.F_WRLCK
	}
	var timer *time.Timer
	for delay := ofdFirstRetry; ; delay = min(2*delay, ofdMaxRetry) {
		err := unix.FcntlFlock(o.f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("F_OFD_SETLK: %w", err)
		}
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		} else {
			timer.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

func (o ofdLocks) Unlock(off, n int64) {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: off, Len: n}
	// Unlocking fails only for want of kernel memory to split a lock
	// (ENOLCK), a signal, or a closed file. Left locked, the range would
	// hold other processes' writers off until the file is closed, so a
	// transient failure is retried.
	for range ofdUnlockTries {
		err := unix.FcntlFlock(o.f.Fd(), unix.F_OFD_SETLK, &lk)
		if !errors.Is(err, unix.ENOLCK) && !errors.Is(err, unix.EINTR) {
			return
		}
		time.Sleep(ofdFirstRetry)
	}
}

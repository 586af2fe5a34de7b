package disk

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ferry-san/ferry/internal/rangelock"
)

// intentOffset is the byte whose shared lock announces that a process
// waits for an exclusive range: far past the end of any LUN, so it never
// covers data (POSIX locks may lie beyond the end of a file or device).
const intentOffset = 1 << 62

// ofdUnlockTries bounds the retries of an unlock the kernel refused for
// want of memory.
const ofdUnlockTries = 100

// ofdLocks extends a LUN's range locks to other processes with open file
// description locks on its file. They belong to the description, not the
// process, so two LUNs opened on the same file in one process exclude each
// other too; and a process that dies loses them at once.
type ofdLocks struct{ rc syscall.RawConn }

func newLocks(f *os.File) (*rangelock.Table, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return rangelock.New(ofdLocks{rc}), nil
}

// fcntl is F_OFD_SETLK or F_OFD_GETLK. Control keeps the descriptor from
// being closed (and its number reused by another file) during the call.
// Neither command blocks, so the raw system call spares the scheduler's
// bookkeeping of a call that might.
func (o ofdLocks) fcntl(cmd int, lk *unix.Flock_t) error {
	var e syscall.Errno
	err := o.rc.Control(func(fd uintptr) {
		for e = unix.EINTR; e == unix.EINTR; {
			_, _, e = unix.RawSyscall(unix.SYS_FCNTL, fd, uintptr(cmd), uintptr(unsafe.Pointer(lk)))
		}
	})
	if err != nil {
		return err
	}
	if e != 0 {
		return e
	}
	return nil
}

func (o ofdLocks) TryLock(off, n int64, exclusive bool) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Start: off, Len: n}
	if exclusive {
		lk.Type = unix.F_WRLCK
	}
	err := o.fcntl(unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("F_OFD_SETLK: %w", err)
	}
	return true, nil
}

func (o ofdLocks) Unlock(off, n int64) {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Start: off, Len: n}
	// Unlocking fails only for want of kernel memory to split a lock
	// (ENOLCK) or a closed file. Left locked, the range would hold other
	// processes' writers off until the file is closed, so a transient
	// failure is retried.
	for range ofdUnlockTries {
		if err := o.fcntl(unix.F_OFD_SETLK, &lk); !errors.Is(err, unix.ENOLCK) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (o ofdLocks) Intent(on bool) error {
	if on {
		_, err := o.TryLock(intentOffset, 1, false)
		return err
	}
	o.Unlock(intentOffset, 1)
	return nil
}

func (o ofdLocks) Contended() (bool, error) {
	// F_OFD_GETLK ignores the description's own locks: it sees only
	// another's intent.
	lk := unix.Flock_t{Type: unix.F_WRLCK, Start: intentOffset, Len: 1}
	if err := o.fcntl(unix.F_OFD_GETLK, &lk); err != nil {
		return false, fmt.Errorf("F_OFD_GETLK: %w", err)
	}
	return lk.Type != unix.F_UNLCK, nil
}

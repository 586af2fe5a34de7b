//go:build unix

package fence

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockMode is the kind of flock to take.
type lockMode int

const (
	lockShared    lockMode = unix.LOCK_SH
	lockExclusive lockMode = unix.LOCK_EX
)

// flockWait takes a lock of mode on f, waiting as long as it takes.
func flockWait(f *os.File, mode lockMode) error {
	return flock(f, int(mode))
}

// flockTry takes a lock of mode on f if it is free now; acquired reports
// whether it did.
func flockTry(f *os.File, mode lockMode) (acquired bool, err error) {
	err = flock(f, int(mode)|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// funlock drops whatever lock f's open file description holds.
func funlock(f *os.File) error { return flock(f, unix.LOCK_UN) }

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		// A signal may interrupt a waiting flock; the lock is still wanted.
		if err != unix.EINTR {
			return err
		}
	}
}

package disk

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openDirect opens f's file a second time with O_DIRECT. Reopening through
// /proc/self/fd reaches the same inode even if the path was renamed or
// replaced since Open.
func openDirect(f *os.File, readOnly bool) (*os.File, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	return os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), flag|unix.O_DIRECT, 0)
}

func startWriteback(f *os.File, off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

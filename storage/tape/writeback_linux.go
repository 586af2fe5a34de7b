package tape

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback is sync_file_range(SYNC_FILE_RANGE_WRITE): it queues the
// range's dirty pages for writing and returns.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

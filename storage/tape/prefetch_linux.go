package tape

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// prefetch asks the kernel to start reading n bytes at off of r's file
// into the page cache (POSIX_FADV_WILLNEED) and returns at once. It is
// advice: other readers and failures are ignored.
func prefetch(r io.ReaderAt, off, n int64) {
	if f, ok := r.(*os.File); ok {
		_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED)
	}
}

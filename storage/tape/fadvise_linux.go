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

// adviseSequential tells the kernel that f will be read front to back
// (POSIX_FADV_SEQUENTIAL), as a tape is: it doubles the read-ahead window.
// On the benchmark VM this took a 2 GiB read of 256 KiB records beside a
// disk write from 1.75–3.1 s (sys 1.4–2.7 s) to 0.87–0.95 s (sys 0.26 s).
// Advice only: a failure changes nothing but speed.
func adviseSequential(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}

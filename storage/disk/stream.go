package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// StreamAlign is the alignment of the buffer address, length and offset
// that lets ReadStream and WriteStream bypass the page cache: a page, which
// also satisfies devices with 4096-byte logical blocks.
const StreamAlign = 4096

// streamIO is a LUN's second descriptor on the same file, opened with
// O_DIRECT on first use by a streaming copy.
type streamIO struct {
	once sync.Once
	f    *os.File // nil where the file system refuses O_DIRECT
	// off: the file system refused an aligned O_DIRECT transfer; f stays
	// open (another goroutine may be using it) until Close.
	off atomic.Bool
}

// direct returns the O_DIRECT descriptor, or nil.
func (l *LUN) direct() *os.File {
	l.stream.once.Do(func() {
		if f, err := openDirect(l.f, l.readOnly); err == nil {
			l.stream.f = f
		}
	})
	if l.stream.off.Load() {
		return nil
	}
	return l.stream.f
}

func aligned(p []byte, off int64) bool {
	return len(p) > 0 && len(p)%StreamAlign == 0 && off%StreamAlign == 0 &&
		uintptr(unsafe.Pointer(&p[0]))%StreamAlign == 0
}

// ReadStream is ReadAt for a long sequential copy. When p's address and
// length and off are multiples of StreamAlign it reads with O_DIRECT: the
// device transfers straight into p, sparing the CPU a copy out of the page
// cache and the cache two copies' worth of a file that will not be read
// again. Otherwise, or where the file system has no O_DIRECT, it is ReadAt.
func (l *LUN) ReadStream(p []byte, off int64) (int, error) {
	d := l.direct()
	if d == nil || !aligned(p, off) {
		return l.ReadAt(p, off)
	}
	if err := l.check(off, len(p)); err != nil {
		return 0, err
	}
	n, err := d.ReadAt(p, off)
	if errors.Is(err, syscall.EINVAL) && n == 0 {
		l.stream.off.Store(true)
		return l.ReadAt(p, off)
	}
	if err == io.EOF && n < len(p) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, fmt.Errorf("disk %s: read LBA %d: %w", l.path, off/int64(l.blockSize), err)
	}
	return n, nil
}

// WriteStream is WriteAt for a long sequential copy. When p's address and
// length and off are multiples of StreamAlign it writes with O_DIRECT, so
// no copy into the page cache is made and Flush has only metadata and the
// device's cache left to make durable. Otherwise it writes through the
// page cache and starts write-back of the range at once (sync_file_range),
// so dirty pages stream out behind the copy instead of piling up for one
// long Flush. Flush covers both paths. On a thin LUN a buffer of zeroes
// is unmapped instead (see keepSparse), so that a copy keeps the holes of
// what it copies.
func (l *LUN) WriteStream(p []byte, off int64) (int, error) {
	if done, err := l.keepSparse(p, off); err != nil {
		return 0, err
	} else if done {
		return len(p), nil
	}
	d := l.direct()
	if d != nil && aligned(p, off) && !l.readOnly {
		if err := l.check(off, len(p)); err != nil {
			return 0, err
		}
		n, err := d.WriteAt(p, off)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, syscall.EINVAL) || n != 0 {
			return n, fmt.Errorf("disk %s: write LBA %d: %w", l.path, off/int64(l.blockSize), err)
		}
		l.stream.off.Store(true)
	}
	n, err := l.WriteAt(p, off)
	if err != nil {
		return n, err
	}
	if err := startWriteback(l.f, off, int64(n)); err != nil {
		return n, fmt.Errorf("disk %s: start write-back: %w", l.path, err)
	}
	return n, nil
}

// closeStream closes the O_DIRECT descriptor, if one was opened.
func (l *LUN) closeStream() error {
	l.stream.once.Do(func() {}) // none may be opened after Close
	if l.stream.f == nil {
		return nil
	}
	return l.stream.f.Close()
}

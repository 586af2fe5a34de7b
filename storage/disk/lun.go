package disk

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ferry-san/ferry/internal/rangelock"
)

// Options controls how Open presents a file or device.
type Options struct {
	// BlockSize is the logical block size, 512 or 4096. Zero means the
	// device's logical block size for a block device and 512 for a file.
	BlockSize uint32
	// ReadOnly opens the file read-only; writes fail with ErrReadOnly.
	ReadOnly bool
	// Thin makes the LUN thin provisioned if its store allows: Open probes
	// whether it can deallocate ranges that then read as zeroes (see
	// Provisioning), and Unmap punches holes. Ignored with ReadOnly.
	Thin bool
}

// LUN is an open disk LUN. ReadAt, WriteAt, ReadStream, WriteStream and
// Flush may be called concurrently, as on an *os.File.
type LUN struct {
	f         *os.File
	path      string
	blockSize uint32
	size      int64
	readOnly  bool
	device    bool
	stream    streamIO
	// locks are the range locks of LockRange.
	locks *rangelock.Table
	prov  Provisioning
}

// Open opens a regular file or a block device as a LUN. The size must be a
// positive multiple of the block size.
func Open(path string, opt Options) (*LUN, error) {
	flag := os.O_RDWR
	if opt.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("disk open: %w", err)
	}
	l, err := newLUN(f, path, opt)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("disk open %s: %w", path, err)
	}
	return l, nil
}

func newLUN(f *os.File, path string, opt Options) (*LUN, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	locks, err := newLocks(f)
	if err != nil {
		return nil, err
	}
	l := &LUN{f: f, path: path, readOnly: opt.ReadOnly, locks: locks}
	var native uint32
	switch m := st.Mode(); {
	case m.IsRegular():
		l.size, native = st.Size(), 512
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		l.device = true
		if l.size, native, err = blockDeviceGeometry(f); err != nil {
			return nil, err
		}
	case m.IsDir():
		return nil, errors.New("is a directory: want a disk image file or a block device")
	default:
		return nil, fmt.Errorf("not a regular file or block device (mode %v)", m)
	}
	l.blockSize = opt.BlockSize
	if l.blockSize == 0 {
		l.blockSize = native
	}
	if err := checkBlockSize(l.blockSize); err != nil {
		return nil, err
	}
	if l.device && l.blockSize < native {
		return nil, fmt.Errorf("%w: %d is smaller than the device's logical block size %d", ErrBlockSize, l.blockSize, native)
	}
	if l.size <= 0 || l.size%int64(l.blockSize) != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a positive multiple of the block size %d", ErrSize, l.size, l.blockSize)
	}
	if opt.Thin && !opt.ReadOnly {
		l.prov = probe(f, path, l.device)
	}
	return l, nil
}

// BlockSize is the logical block size in bytes.
func (l *LUN) BlockSize() uint32 { return l.blockSize }

// Blocks is the number of logical blocks.
func (l *LUN) Blocks() uint64 { return uint64(l.size) / uint64(l.blockSize) }

// Size is the LUN's size in bytes.
func (l *LUN) Size() int64 { return l.size }

// ReadOnly reports whether the LUN was opened read-only.
func (l *LUN) ReadOnly() bool { return l.readOnly }

// IsDevice reports whether the LUN is a block device rather than a file.
func (l *LUN) IsDevice() bool { return l.device }

// Path is the path the LUN was opened from.
func (l *LUN) Path() string { return l.path }

// ReadAt reads len(p) bytes at byte offset off. It reads all of p or
// returns an error; an access past the end is a *RangeError.
func (l *LUN) ReadAt(p []byte, off int64) (int, error) {
	if err := l.check(off, len(p)); err != nil {
		return 0, err
	}
	n, err := l.f.ReadAt(p, off)
	if err == io.EOF && n < len(p) {
		// In range but the file ended: it was truncated behind our back.
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, fmt.Errorf("disk %s: read LBA %d: %w", l.path, off/int64(l.blockSize), err)
	}
	return n, nil
}

// WriteAt writes p at byte offset off; an access past the end is a
// *RangeError and a write to a read-only LUN fails with ErrReadOnly.
func (l *LUN) WriteAt(p []byte, off int64) (int, error) {
	if l.readOnly {
		return 0, fmt.Errorf("disk %s: write LBA %d: %w", l.path, off/int64(l.blockSize), ErrReadOnly)
	}
	if err := l.check(off, len(p)); err != nil {
		return 0, err
	}
	n, err := l.f.WriteAt(p, off)
	if err != nil {
		return n, fmt.Errorf("disk %s: write LBA %d: %w", l.path, off/int64(l.blockSize), err)
	}
	return n, nil
}

// check refuses any byte range not wholly inside the LUN.
func (l *LUN) check(off int64, n int) error {
	if off >= 0 && n >= 0 && off <= l.size && int64(n) <= l.size-off {
		return nil
	}
	bs := int64(l.blockSize)
	lba := floorDiv(off, bs)
	count := int64(0)
	if n > 0 {
		count = floorDiv(off+int64(n)-1, bs) - lba + 1
	}
	return &RangeError{Path: l.path, Offset: off, Length: n, LBA: lba, Count: count, Blocks: l.Blocks()}
}

// floorDiv rounds towards minus infinity so negative offsets name the
// block they fall in.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Flush makes every completed write durable (fsync).
func (l *LUN) Flush() error {
	if l.readOnly {
		return nil
	}
	if err := datasync(l.f); err != nil {
		return fmt.Errorf("disk %s: flush: %w", l.path, err)
	}
	return nil
}

// Close closes the file; it does not flush.
func (l *LUN) Close() error {
	serr := l.closeStream()
	if err := errors.Join(l.f.Close(), serr); err != nil {
		return fmt.Errorf("disk %s: close: %w", l.path, err)
	}
	return nil
}

// Fd is the file descriptor, for zero-copy system calls.
func (l *LUN) Fd() uintptr { return l.f.Fd() }

// File is the underlying file, for zero-copy system calls. Accesses made
// through it bypass the bounds check.
func (l *LUN) File() *os.File { return l.f }

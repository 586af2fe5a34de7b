package disk

import (
	"errors"
	"fmt"
	"os"
)

// Create makes a new sparse image file of size bytes at path. It fails if
// path exists, if blockSize is not 512 or 4096, or if size is not a positive
// multiple of blockSize; on failure nothing is left behind.
func Create(path string, size int64, blockSize uint32) (err error) {
	if err := checkBlockSize(blockSize); err != nil {
		return fmt.Errorf("disk create %s: %w", path, err)
	}
	if size <= 0 || size%int64(blockSize) != 0 {
		return fmt.Errorf("disk create %s: %w: %d bytes is not a positive multiple of %d", path, ErrSize, size, blockSize)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if info, serr := os.Stat(path); serr == nil && info.IsDir() {
			return &dirError{path: path, err: err}
		}
		return fmt.Errorf("disk create: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("disk create %s: %w", path, cerr)
		}
		if err != nil {
			err = errors.Join(err, os.Remove(path))
		}
	}()
	// Truncate leaves a hole: the image takes no space until written.
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("disk create %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("disk create %s: %w", path, err)
	}
	return nil
}

func checkBlockSize(bs uint32) error {
	if bs != 512 && bs != 4096 {
		return fmt.Errorf("%w: %d (want 512 or 4096)", ErrBlockSize, bs)
	}
	return nil
}

// dirError is a disk create whose path names a directory: it still matches
// fs.ErrExist, but says what is in the way.
type dirError struct {
	path string
	err  error
}

func (e *dirError) Error() string {
	return fmt.Sprintf("disk create %s: is a directory: want the path of a new disk image file", e.path)
}

func (e *dirError) Unwrap() error { return e.err }

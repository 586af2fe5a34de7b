package disk

import (
	"errors"
	"fmt"
)

var (
	// ErrOutOfRange reports an access that touches a block past the LUN's
	// last logical block (or a negative offset).
	ErrOutOfRange = errors.New("logical block address out of range")
	// ErrReadOnly reports a write to a LUN opened read-only.
	ErrReadOnly = errors.New("LUN is read-only")
	// ErrBlockSize reports a block size other than 512 or 4096, or one the
	// device cannot address.
	ErrBlockSize = errors.New("unsupported block size")
	// ErrSize reports a LUN size that is not a positive multiple of the
	// block size.
	ErrSize = errors.New("invalid LUN size")
)

// RangeError describes an access outside the LUN. It matches ErrOutOfRange.
type RangeError struct {
	Path string
	// Offset and Length are the byte range asked for.
	Offset int64
	Length int
	// LBA and Count are the logical blocks that range touches.
	LBA   int64
	Count int64
	// Blocks is the LUN's size in blocks.
	Blocks uint64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("disk %s: LBA %d count %d (bytes %d+%d) beyond LUN of %d blocks: %v",
		e.Path, e.LBA, e.Count, e.Offset, e.Length, e.Blocks, ErrOutOfRange)
}

// Unwrap lets errors.Is(err, ErrOutOfRange) match.
func (e *RangeError) Unwrap() error { return ErrOutOfRange }

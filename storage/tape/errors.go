package tape

import (
	"errors"
	"fmt"
)

// Sentinel errors reported by every Drive. They carry the SCSI stream-device
// condition they stand for, so a copy manager can map them to sense data.
var (
	// ErrFilemark: a read or a record space crossed a filemark (FILEMARK
	// DETECTED). The position is past the filemark when moving forward and
	// before it when moving backward.
	ErrFilemark = errors.New("tape: filemark detected")
	// ErrEndOfData: nothing is recorded at or after the position (BLANK
	// CHECK, END-OF-DATA DETECTED). The position is at end of data.
	ErrEndOfData = errors.New("tape: end of data")
	// ErrEndOfMedium: the write does not fit before the physical end of the
	// medium (VOLUME OVERFLOW). Nothing was written.
	ErrEndOfMedium = errors.New("tape: end of medium")
	// ErrBeginningOfMedium: a backward space reached the beginning of the
	// medium before the count was exhausted. The position is at BOP.
	ErrBeginningOfMedium = errors.New("tape: beginning of medium")
	// ErrWriteProtected: the cartridge is write protected (DATA PROTECT).
	ErrWriteProtected = errors.New("tape: write protected")
	// ErrIncorrectLength: the record read is not the requested length (ILI).
	// See IncorrectLengthError for the lengths.
	ErrIncorrectLength = errors.New("tape: incorrect length")
	// ErrNotLoaded: the drive holds no cartridge, or the cartridge was
	// closed (NOT READY, MEDIUM NOT PRESENT).
	ErrNotLoaded = errors.New("tape: no cartridge loaded")
	// ErrCorrupt: the image is not valid SIMH format at some offset. See
	// CorruptError for where.
	ErrCorrupt = errors.New("tape: corrupt tape image")
	// ErrMediumError: the record is flagged in the image as read with an
	// error from its original medium (MEDIUM ERROR). Its data is returned.
	ErrMediumError = errors.New("tape: record marked as a medium error")
	// ErrInvalidLength: a write's length is not allowed: empty, longer than
	// MaxRecordSize, or not the block size in fixed mode (ILLEGAL REQUEST).
	ErrInvalidLength = errors.New("tape: invalid record length")
	// ErrInvalidArgument: a count, block size or position is out of range
	// (ILLEGAL REQUEST, INVALID FIELD IN CDB).
	ErrInvalidArgument = errors.New("tape: invalid argument")
	// ErrNotLabeled: the first tape file is not an ANSI VOL1 label.
	ErrNotLabeled = errors.New("tape: no VOL1 label")
)

// CorruptError tells where an image stops being valid. It unwraps to
// ErrCorrupt.
type CorruptError struct {
	Path   string
	Offset int64 // byte offset of the damaged object in the image
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("tape: corrupt tape image %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// IncorrectLengthError reports the lengths of an ILI condition. Residue is
// the SSC INFORMATION field: requested minus actual, negative when the record
// was longer than the request. It unwraps to ErrIncorrectLength.
type IncorrectLengthError struct {
	Requested    int // bytes asked for: len(p), or the block size in fixed mode
	RecordLength int // bytes the record holds
}

func (e *IncorrectLengthError) Error() string {
	return fmt.Sprintf("tape: incorrect length: record holds %d bytes, %d requested", e.RecordLength, e.Requested)
}

// Residue is requested minus actual length, as SSC reports it in sense data.
func (e *IncorrectLengthError) Residue() int64 { return int64(e.Requested) - int64(e.RecordLength) }

// Unwrap makes errors.Is(err, ErrIncorrectLength) hold.
func (e *IncorrectLengthError) Unwrap() error { return ErrIncorrectLength }

// ResidueError reports a SPACE or LOCATE that stopped early: Residue is how
// many of the requested units were not spaced over (the SSC INFORMATION
// field), and Err the condition that stopped it (ErrFilemark, ErrEndOfData,
// ErrBeginningOfMedium). It unwraps to Err.
type ResidueError struct {
	Residue int64
	Err     error
}

func (e *ResidueError) Error() string {
	return fmt.Sprintf("%v (residue %d)", e.Err, e.Residue)
}

// Unwrap returns the stopping condition.
func (e *ResidueError) Unwrap() error { return e.Err }

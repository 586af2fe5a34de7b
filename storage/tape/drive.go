package tape

import "fmt"

// Drive is a positioned tape drive with a cartridge loaded, in the terms of
// the SCSI stream command set. Cartridge (a SIMH image) and ST (a Linux SCSI
// tape) implement it; the mover declares its own copy of the subset it uses.
type Drive interface {
	// ReadRecord reads the next record into p and returns its length.
	// At a filemark it returns ErrFilemark, positioned after the mark; at
	// end of data ErrEndOfData. A record longer than p (or, in fixed mode,
	// not BlockSize long) yields ErrIncorrectLength with as much data as
	// fits, positioned after the record.
	ReadRecord(p []byte) (int, error)
	// WriteRecord writes p as one record at the position and discards
	// everything after it. earlyWarning reports that the record ended in
	// the early-warning zone; a record that does not fit before the end of
	// the medium fails with ErrEndOfMedium and is not written.
	WriteRecord(p []byte) (earlyWarning bool, err error)
	// WriteFilemarks writes n filemarks (n = 0 only flushes) and discards
	// everything after them.
	WriteFilemarks(n int) (earlyWarning bool, err error)
	// ReadPosition reports the logical position.
	ReadPosition() (Position, error)
	// Locate moves to just before the object with that logical object
	// identifier; past end of data it stops at end of data with
	// ErrEndOfData.
	Locate(objectID uint64) error
	// Space moves count units, backwards when count is negative.
	Space(u SpaceUnit, count int64) error
	// Rewind moves to the beginning of the medium.
	Rewind() error
	// SetBlockSize selects fixed mode with records of n bytes, or variable
	// mode when n is 0.
	SetBlockSize(n uint32) error
	// BlockSize is the fixed record size, 0 in variable mode.
	BlockSize() uint32
	// Flush makes everything written so far durable on the medium.
	Flush() error
	// Close flushes and releases the drive.
	Close() error
}

// Position is a logical tape position as READ POSITION reports it.
type Position struct {
	// ObjectID is the SSC logical object identifier of the next object:
	// records and filemarks counted from the beginning of medium.
	ObjectID uint64
	// File is the number of filemarks between BOP and here: the tape file
	// the position is in, counting from 0.
	File uint64
	// BOP: at the beginning of medium.
	BOP bool
	// EOD: at end of data; a read here returns ErrEndOfData.
	EOD bool
	// EarlyWarning: the position is inside the early-warning zone before
	// the end of the medium.
	EarlyWarning bool
}

// SpaceUnit is what Space counts.
type SpaceUnit int

// The SPACE codes of SSC that a Drive supports.
const (
	// SpaceRecords spaces over logical blocks; a filemark stops it.
	SpaceRecords SpaceUnit = iota
	// SpaceFilemarks spaces over filemarks; forward it ends after the
	// last one crossed, backward before it (on its BOP side).
	SpaceFilemarks
	// SpaceEndOfData moves to end of data; the count is ignored.
	SpaceEndOfData
)

func (u SpaceUnit) String() string {
	switch u {
	case SpaceRecords:
		return "records"
	case SpaceFilemarks:
		return "filemarks"
	case SpaceEndOfData:
		return "end of data"
	}
	return fmt.Sprintf("SpaceUnit(%d)", int(u))
}

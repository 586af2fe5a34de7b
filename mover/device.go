package mover

import (
	"fmt"

	"github.com/ferry-san/ferry/storage/tape"
)

// BlockDevice is a random-access device of fixed-size logical blocks, such
// as a *disk.LUN. Offsets are in bytes.
//
// Flush may be called while a WriteAt is in progress on another goroutine;
// it must make durable at least every WriteAt that returned before it was
// called. The mover relies on this to flush without stalling the writer.
type BlockDevice interface {
	BlockSize() uint32
	Blocks() uint64
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Flush() error
}

// TapeDrive is the subset of a tape drive (tape.Drive, *tape.Cartridge)
// that the mover uses. Its methods are only ever called from one goroutine
// at a time.
type TapeDrive interface {
	ReadRecord(p []byte) (int, error)
	WriteRecord(p []byte) (earlyWarning bool, err error)
	WriteFilemarks(n int) (earlyWarning bool, err error)
	ReadPosition() (tape.Position, error)
	Locate(objectID uint64) error
	Space(u tape.SpaceUnit, count int64) error
	// BlockSize is the fixed record size, 0 in variable mode.
	BlockSize() uint32
	Flush() error
}

// Device is one copy target: exactly one of Block and Tape is set. Name is
// used in errors and logs.
type Device struct {
	Name  string
	Block BlockDevice
	Tape  TapeDrive
}

func (d Device) String() string {
	if d.Name != "" {
		return d.Name
	}
	if d.Tape != nil {
		return "tape"
	}
	return "disk"
}

func checkDevices(devs []Device) error {
	for i, d := range devs {
		if (d.Block == nil) == (d.Tape == nil) {
			return fmt.Errorf("mover: device %d (%s): exactly one of Block and Tape must be set", i, d)
		}
	}
	return nil
}

package ndmpserver

import (
	"context"
	"errors"

	"github.com/ferry-san/ferry/storage/library"
	"github.com/ferry-san/ferry/storage/tape"
)

// Cluster is what the NDMP server needs of the node it runs on: the
// libraries it reaches, the robot's moves and the drives' holds, each a
// Raft entry of the same library state and job records copy jobs use.
// node.go implements it over a cluster node; tests use fakes.
type Cluster interface {
	// NodeName is this node's name in the cluster.
	NodeName() string
	// Libraries lists every tape library this node reaches, with its
	// elements and who holds each drive, as the replicated state has it
	// after a linearizable read (every node's robot shows the same).
	Libraries(ctx context.Context) ([]LibraryView, error)
	// Move is a DMA's MOVE MEDIUM: one Raft entry. Errors wrap the
	// library package's sentinels (library.ErrOccupied for a full
	// destination, library.ErrEmpty for an empty source,
	// library.ErrNoSuchElement) or ErrHeld.
	Move(ctx context.Context, lib string, from, to library.Location, dma string) error
	// OpenDrive records an NDMP session holding a drive (a Raft entry:
	// a job of kind ndmp naming the DMA, this node, the drive and its
	// cartridge) and opens the cartridge in it, its writes fenced by the
	// session's epoch. Errors: ErrNoTape, ErrHeld, ErrWriteProtected,
	// ErrNoDevice.
	OpenDrive(ctx context.Context, req DriveRequest) (Drive, error)
}

// LibraryView is one library as the SCSI and CONFIG services show it.
type LibraryView struct {
	// State is the replicated library state (a clone the caller owns).
	State *library.State
	// Holders names who holds each drive that is held, by drive index:
	// "copy job 7f3a…" or "NDMP session from 10.0.0.5:41234 on n2".
	Holders map[int]string
	// Busy says, for each cartridge a DMA may not move, why.
	Busy map[string]string
}

// DriveRequest asks for a hold on one drive.
type DriveRequest struct {
	Library string
	Drive   int
	// DMA is the address of the DMA's control connection.
	DMA       string
	ReadWrite bool
}

// Drive is a cartridge in a cluster drive that an NDMP session holds. Its
// tape.Drive methods position, read and write the cartridge as storage/tape
// does; every write is fenced by the session's epoch, so once the cluster
// has given the drive to someone else not one more byte lands. Close is
// Release with a background context.
type Drive interface {
	tape.Drive
	Barcode() string
	WriteProtected() bool
	// Capacity of the cartridge and bytes in use up to end of data.
	Capacity() int64
	Used() int64
	// Release ends the hold: one Raft entry recording the bytes moved and
	// the tape files written (so the cartridge's catalog lists them), then
	// the cartridge is closed. The cartridge stays in the drive; a DMA
	// unloads it with MOVE MEDIUM.
	Release(ctx context.Context) error
}

// Errors a Cluster returns, mapped by the services to NDMP errors and SCSI
// sense.
var (
	// ErrNoTape: the drive is empty (NDMP4_NO_TAPE_LOADED_ERR).
	ErrNoTape = errors.New("no cartridge in the drive")
	// ErrHeld: a copy job or another NDMP session holds the drive or the
	// cartridge (NDMP4_DEVICE_BUSY_ERR; for MOVE MEDIUM, SCSI sense).
	ErrHeld = errors.New("held by another job")
	// ErrWriteProtected: a read-write open of a protected cartridge
	// (NDMP4_WRITE_PROTECT_ERR).
	ErrWriteProtected = errors.New("cartridge is write-protected")
	// ErrNoDevice: no such library or drive on this node
	// (NDMP4_NO_DEVICE_ERR).
	ErrNoDevice = errors.New("no such device on this node")
)

package sbc

import "io"

// Volume is the block storage behind a LUN. *disk.LUN satisfies it; ReadAt
// and WriteAt may be called concurrently.
type Volume interface {
	io.ReaderAt
	io.WriterAt
	// Flush makes every completed write durable.
	Flush() error
	// BlockSize is the logical block size in bytes.
	BlockSize() uint32
	// Blocks is the number of logical blocks.
	Blocks() uint64
	// ReadOnly reports whether writes are refused.
	ReadOnly() bool
}

// Identity is how a LUN presents itself to initiators.
type Identity struct {
	// NAA is the LUN's NAA designator (8 bytes for NAA 2h, 3h or 5h, 16
	// for NAA 6h), reported in VPD page 83h. EXTENDED COPY target
	// descriptors name the LUN by it, so it must be stable and unique in
	// the cluster.
	NAA []byte
	// Serial is the unit serial number (VPD page 80h), printable ASCII.
	Serial string
}

// LUN is a logical unit the server presents: its storage and identity.
type LUN interface {
	Volume
	Identity() Identity
}

// identified joins a Volume and an Identity into a LUN.
type identified struct {
	Volume
	id Identity
}

func (l identified) Identity() Identity { return l.id }

// NewLUN presents v with identity id, so that a *disk.LUN, which knows
// nothing of designators, can back a LUN.
func NewLUN(v Volume, id Identity) LUN { return identified{Volume: v, id: id} }

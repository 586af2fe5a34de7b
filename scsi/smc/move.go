package smc

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/library"
)

// MOVE MEDIUM CDB fields.
const (
	moveTransportField = 2
	moveSourceField    = 4
	moveDestField      = 6
	moveInvertField    = 10
)

// moveMedium is MOVE MEDIUM (A5h). The CDB and the snapshot give the
// answer SMC-3 asks for when the move cannot be made; otherwise the
// Library makes it, through the cluster, and its error is mapped to the
// same senses (the cluster has the last word: the snapshot may be a
// moment old).
//
//   - transport not 0, source or destination not an element: ILLEGAL
//     REQUEST, INVALID ELEMENT ADDRESS (21/01), field pointer on the field;
//   - INVERT set, or the transport as destination: INVALID FIELD IN CDB
//     (24/00), as the device capabilities page says neither is possible;
//   - source empty: MEDIUM SOURCE ELEMENT EMPTY (3B/0E);
//   - destination full, or the reserved home slot of another loaded
//     cartridge: MEDIUM DESTINATION ELEMENT FULL (3B/0D);
//   - the cartridge, its drive or the destination drive held by a copy job
//     or another NDMP session: see heldSense.
//
// A move onto the element the cartridge is in succeeds without a Raft
// entry, as SMC-3 allows.
func (d *Device) moveMedium(ctx context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	cdb := c.CDB
	if cdb[moveInvertField]&0x01 != 0 {
		return nil, nil, sense.InvalidCDB(moveInvertField, 0)
	}
	if binary.BigEndian.Uint16(cdb[2:4]) != TransportAddress {
		return nil, nil, invalidAddress(moveTransportField)
	}
	snap, err := d.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := MapOf(snap.State)
	src, ok := m.Lookup(binary.BigEndian.Uint16(cdb[4:6]))
	if !ok {
		return nil, nil, invalidAddress(moveSourceField)
	}
	dst, ok := m.Lookup(binary.BigEndian.Uint16(cdb[6:8]))
	if !ok {
		return nil, nil, invalidAddress(moveDestField)
	}
	if dst.Type == TypeTransport {
		return nil, nil, sense.InvalidCDB(moveDestField, -1)
	}
	if src.Type == TypeTransport {
		return nil, nil, sense.New(sense.IllegalRequest, sense.MediumSourceEmpty)
	}
	st := snap.State
	barcode, full := st.At(src.Location)
	if !full {
		return nil, nil, sense.New(sense.IllegalRequest, sense.MediumSourceEmpty)
	}
	if src == dst {
		return nil, nil, nil
	}
	if other, ok := st.At(dst.Location); ok && other != barcode {
		return nil, nil, sense.New(sense.IllegalRequest, sense.MediumDestinationFull)
	}
	if home, ok := st.HomeOf(dst.Location); ok && home != barcode {
		return nil, nil, sense.New(sense.IllegalRequest, sense.MediumDestinationFull)
	}
	if held(snap, src, barcode) || held(snap, dst, "") {
		return nil, nil, heldSense(src, dst)
	}
	if err := d.lib.Move(ctx, src.Location, dst.Location); err != nil {
		return nil, nil, moveSense(err, src, dst)
	}
	return nil, &Move{From: src.Location, To: dst.Location}, nil
}

// held reports whether e's drive has a holder or its cartridge is busy.
func held(snap Snapshot, e Element, barcode string) bool {
	if e.Type == TypeDrive && snap.Holders[e.Location.Index] != "" {
		return true
	}
	_, busy := snap.Busy[barcode]
	return barcode != "" && busy
}

// heldSense is the answer to a move that a job's hold forbids: ILLEGAL
// REQUEST with MEDIUM REMOVAL PREVENTED BY DATA TRANSFER ELEMENT (53/03)
// when a drive is involved (its user, a copy job or another NDMP
// session, has the medium in use, as a drive that prevented medium removal
// would), else MEDIUM REMOVAL PREVENTED (53/02) for a cartridge reserved
// in a slot.
//
// Why not NOT READY: the changer itself is ready and every other move
// works; NOT READY would make a DMA treat the whole robot as down. Why not
// 3B/0D or 3B/0E: the elements are not full or empty, and a DMA that
// believes them would act on a wrong inventory. SMC-3 and SPC-4 define
// 53/03 for a media changer whose data transfer element keeps the medium,
// and 53/02 under ILLEGAL REQUEST is what changers answer when removal is
// prevented.
func heldSense(src, dst Element) *sense.Sense {
	if src.Type == TypeDrive || dst.Type == TypeDrive {
		return sense.New(sense.IllegalRequest, sense.MediumRemovalPreventedByDTE)
	}
	return sense.New(sense.IllegalRequest, sense.MediumRemovalPrevented)
}

// moveSense maps an error of Library.Move to sense data.
func moveSense(err error, src, dst Element) *sense.Sense {
	switch {
	case errors.Is(err, ErrHeld):
		return heldSense(src, dst)
	case errors.Is(err, library.ErrEmpty), errors.Is(err, library.ErrUnknownCartridge):
		return sense.New(sense.IllegalRequest, sense.MediumSourceEmpty)
	case errors.Is(err, library.ErrOccupied), errors.Is(err, library.ErrDuplicateBarcode):
		return sense.New(sense.IllegalRequest, sense.MediumDestinationFull)
	case errors.Is(err, library.ErrNoSuchElement):
		return invalidAddress(moveDestField)
	case errors.Is(err, library.ErrNotAllowed):
		return sense.InvalidCDB(moveDestField, -1)
	case errors.Is(err, library.ErrCorruptState), errors.Is(err, library.ErrInvalidConfig):
		return sense.New(sense.HardwareError, sense.InternalTargetFailure)
	}
	// The cluster could not commit the move now (no leader, a timeout):
	// NOT READY, which a DMA may retry; whether it happened, the next
	// READ ELEMENT STATUS tells.
	return sense.New(sense.NotReady, sense.NotReadyCauseNotReportable)
}

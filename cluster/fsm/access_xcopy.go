package fsm

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

const listField = "spec.xcopy_parameter_list"

// Where the fields the checks point at lie in a parameter list (SPC-4
// 6.4.3, 6.4.5, 6.4.6): the CSCD list follows the 16-byte header, 32 bytes
// a descriptor, with its block length in bytes 29-31.
const (
	listHeaderLen = 16
	cscdLen       = 32
	cscdBlockLen  = 29
)

// parameterList resolves an EXTENDED COPY parameter list: its CSCD
// descriptors name devices by NAA designator, its segments the ranges of
// the disks among them. What the list alone decides (its syntax, ranges
// that overflow, a segment onto itself) is xcopy.Decode's; what depends on
// the registry is checked here, with the sense SPC-4 prescribes:
//   - a CSCD whose block length is not its disk's: ILLEGAL REQUEST, INVALID
//     FIELD IN PARAMETER LIST pointing at it (the mover would refuse it);
//   - a block range past the end of its LUN: ILLEGAL REQUEST, LOGICAL
//     BLOCK ADDRESS OUT OF RANGE, the LBA in INFORMATION and a field
//     pointer to the LBA field;
//   - a segment writing a write-protected cartridge or read-only disk: DATA
//     PROTECT, WRITE PROTECTED.
func (r *resolver) parameterList(list []byte) {
	pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
	if err != nil {
		r.acc.Unresolvable = true
		r.refuse(listField, err)
		return
	}
	devs := make([]*DeviceAccess, len(pl.Targets))
	for i, t := range pl.Targets {
		naa := hex.EncodeToString(t.NAA)
		d, err := r.s.resolveDevice(&ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: naa}})
		if err != nil {
			r.missing(listField, fmt.Sprintf("CSCD descriptor %d: no registered device with NAA %s", i, naa))
			continue
		}
		a := r.device(d)
		a.Read, a.Write = true, true
		if d.Disk == nil || t.DeviceType != xcopy.DeviceBlock {
			// A device of the wrong type is the copy's to report (INCORRECT
			// COPY TARGET DEVICE TYPE): no ranges to check on it.
			devs[i] = a
			continue
		}
		if bs := d.Disk.GetBlockSize(); t.BlockLength != bs {
			r.refuse(listField, fmt.Errorf("CSCD descriptor %d: block length %d, but disk %s has %d-byte blocks: %w",
				i, t.BlockLength, d.Disk.GetName(), bs, invalidAt(listHeaderLen+cscdLen*i+cscdBlockLen)))
			continue
		}
		devs[i] = a
	}
	off := listHeaderLen + cscdLen*len(pl.Targets)
	for k, sg := range pl.Segments {
		r.segment(k, off, sg, pl.Targets, devs)
		// Decode has checked every DESCRIPTOR LENGTH against the list.
		off += 4 + int(binary.BigEndian.Uint16(list[off+2:off+4]))
	}
}

// blockUse is a range a segment names on a block CSCD: n bytes from
// lba × block length + add, with the LBA field at byte lbaAt of the
// segment descriptor.
type blockUse struct {
	cscd   uint16
	lba    uint64
	lbaAt  int
	add, n uint64
	write  bool
}

// segment checks segment k, which starts at byte off of the list, against
// the devices its CSCDs resolved to (nil: missing, or a disk whose block
// length the list gets wrong).
func (r *resolver) segment(k, off int, sg xcopy.Segment, targets []xcopy.TargetDescriptor, devs []*DeviceAccess) {
	dev := func(i uint16) *DeviceAccess {
		if int(i) < len(devs) {
			return devs[i]
		}
		return nil
	}
	// The CSCD's block length, which parameterList has matched with its
	// disk's: the mover sizes segments by the disk's.
	bl := func(i uint16) uint64 {
		if int(i) < len(targets) {
			return uint64(targets[i].BlockLength)
		}
		return 0
	}
	var uses []blockUse
	switch sg.Type {
	case xcopy.BlockToStream:
		uses = []blockUse{{cscd: sg.Src, lba: sg.SrcLBA, lbaAt: 16, n: uint64(sg.Blocks) * bl(sg.Src)}}
	case xcopy.StreamToBlock:
		uses = []blockUse{{cscd: sg.Dst, lba: sg.DstLBA, lbaAt: 16, n: uint64(sg.Blocks) * bl(sg.Dst), write: true}}
	case xcopy.BlockToBlock:
		n := uint64(sg.Blocks) * bl(sg.Src)
		if sg.DC {
			n = uint64(sg.Blocks) * bl(sg.Dst)
		}
		uses = []blockUse{{cscd: sg.Src, lba: sg.SrcLBA, lbaAt: 12, n: n}, {cscd: sg.Dst, lba: sg.DstLBA, lbaAt: 20, n: n, write: true}}
	case xcopy.BlockToBlockOffsets:
		n := uint64(sg.ByteCount)
		uses = []blockUse{{cscd: sg.Src, lba: sg.SrcLBA, lbaAt: 12, add: uint64(sg.SrcOffset), n: n}, {cscd: sg.Dst, lba: sg.DstLBA, lbaAt: 20, add: uint64(sg.DstOffset), n: n, write: true}}
	}
	for _, u := range uses {
		d := dev(u.cscd)
		if d == nil || d.Device.Disk == nil {
			continue
		}
		rng, ok := r.listRange(k, off, u, d.Device.Disk)
		switch {
		case !ok:
		case u.write:
			d.Writes = append(d.Writes, rng)
		default:
			d.Reads = append(d.Reads, rng)
		}
	}
	if writes(sg.Type) {
		if d := dev(sg.Dst); d != nil {
			r.protected(k, d.Device)
		}
	}
}

// listRange is a block use's byte range on its disk, refused with LOGICAL
// BLOCK ADDRESS OUT OF RANGE when any byte of it is past the disk's end
// (which covers an LBA whose byte offset would not fit in 64 bits).
func (r *resolver) listRange(k, off int, u blockUse, d *ferryv1.Disk) (ByteRange, bool) {
	bs, total, size := uint64(d.GetBlockSize()), diskBlocks(d), diskBlocks(d)*uint64(d.GetBlockSize())
	if u.lba <= total {
		start := u.lba*bs + u.add // lba ≤ total and add < 2^16: no wrap
		if start <= size && u.n <= size-start {
			return ByteRange{Offset: start, Length: u.n}, true
		}
	}
	sd := sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(u.lba)
	if at := off + u.lbaAt; at <= math.MaxUint16 {
		sd.FieldPointer = &sense.FieldPointer{BitValid: true, Bit: 7, Byte: uint16(at)}
	}
	r.refuse(listField, fmt.Errorf("segment %d: LBA %d + %d bytes is past the end of disk %s (%d blocks of %d bytes): %w", k, u.lba, u.n, d.GetName(), total, bs, sd))
	return ByteRange{}, false
}

// protected refuses segment k's write to a protected device.
func (r *resolver) protected(k int, d Device) {
	sd := sense.New(sense.DataProtect, sense.WriteProtected)
	switch {
	case d.Disk != nil && d.Disk.GetReadOnly():
		r.refuse(listField, fmt.Errorf("segment %d writes disk %s, which is read-only: %w", k, d.Disk.GetName(), sd))
	case d.Cartridge != nil && d.Cartridge.GetWriteProtected():
		r.refuse(listField, fmt.Errorf("segment %d writes cartridge %s, which is write-protected: %w", k, d.Cartridge.GetBarcode(), sd))
	}
}

// writes reports whether a segment type writes its destination CSCD.
// Space and locate only move a tape.
func writes(t xcopy.SegmentType) bool {
	switch t {
	case xcopy.BlockToStream, xcopy.StreamToBlock, xcopy.BlockToBlock, xcopy.StreamToStream,
		xcopy.InlineToStream, xcopy.BlockToBlockOffsets, xcopy.WriteFilemarks, xcopy.TapeImageCopy:
		return true
	}
	return false
}

// invalidAt is ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST at byte at
// of the list; the pointer is left out when at does not fit its 16 bits.
func invalidAt(at int) *sense.Sense {
	if at > math.MaxUint16 {
		return sense.New(sense.IllegalRequest, sense.InvalidFieldInParameterList)
	}
	return sense.InvalidParameter(uint16(at), -1)
}

// refuse records a violation that carries SCSI sense data; the first
// sense found is the one a SCSI initiator gets.
func (r *resolver) refuse(field string, err error) {
	var sd *sense.Sense
	if errors.As(err, &sd) && r.sense == nil {
		r.sense = sd
	}
	r.v.add(field, err.Error())
}

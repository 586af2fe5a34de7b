package fsm

import (
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
//     FIELD IN PARAMETER LIST pointing at it (the mover would refuse it; at
//     most 32 CSCDs, so the pointer always fits);
//   - a block range past the end of its LUN: what ParameterList.Extents
//     says (COPY ABORTED with the segment's index and a segment pointer to
//     the LBA field, as libiscsi expects of a copy manager);
//   - a segment writing a write-protected cartridge or read-only disk: DATA
//     PROTECT, WRITE PROTECTED.
func (r *resolver) parameterList(list []byte) {
	pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
	if err != nil {
		r.acc.Unresolvable = true
		r.refuse(listField, err)
		return
	}
	// devs[i] indexes CSCD i's device in the access; -1 when it is not
	// registered or its block length is wrong.
	devs := make([]int, len(pl.Targets))
	written := map[string]bool{}
	for _, sg := range pl.Segments {
		if sg.Type.Writes() && int(sg.Dst) < len(pl.Targets) {
			written[string(pl.Targets[sg.Dst].NAA)] = true
		}
	}
	for i, t := range pl.Targets {
		devs[i] = -1
		naa := hex.EncodeToString(t.NAA)
		d, err := r.s.resolveDevice(&ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: naa}})
		if err != nil {
			r.missing(listField, fmt.Sprintf("CSCD descriptor %d: no registered device with NAA %s", i, naa))
			continue
		}
		a := r.deviceIndex(d)
		// Written when a segment writes it, as the copy opens it for
		// writing (and claims its fence) only then; read otherwise.
		if written[string(t.NAA)] {
			r.acc.Devices[a].Write = true
		} else {
			r.acc.Devices[a].Read = true
		}
		if d.Disk == nil || t.DeviceType != xcopy.DeviceBlock {
			// A device of the wrong type is the copy's to report (INCORRECT
			// COPY TARGET DEVICE TYPE): no ranges to check on it.
			devs[i] = a
			continue
		}
		if bs := d.Disk.GetBlockSize(); t.BlockLength != bs {
			r.refuse(listField, fmt.Errorf("CSCD descriptor %d: block length %d, but disk %s has %d-byte blocks: %w",
				i, t.BlockLength, d.Disk.GetName(), bs, sense.InvalidParameter(uint16(listHeaderLen+cscdLen*i+cscdBlockLen), -1)))
			continue
		}
		devs[i] = a
	}
	for k, sg := range pl.Segments {
		r.segment(pl, k, sg, devs)
	}
}

// segment checks segment k against the devices its CSCDs resolved to (see
// devs in parameterList): its block
// ranges by xcopy's own rule (ParameterList.Extents) against the sizes of
// the disks, and whether it writes a protected device.
func (r *resolver) segment(pl *xcopy.ParameterList, k int, sg xcopy.Segment, devs []int) {
	dev := func(i uint16) *DeviceAccess {
		if int(i) < len(devs) && devs[i] >= 0 {
			return &r.acc.Devices[devs[i]]
		}
		return nil
	}
	disk := func(i uint16) *DeviceAccess {
		if d := dev(i); d != nil && d.Device.Disk != nil {
			return d
		}
		return nil
	}
	size := func(a *DeviceAccess) int64 {
		if a == nil {
			return math.MaxInt64 // not known here: the copy checks it
		}
		return int64(min(diskBlocks(a.Device.Disk)*uint64(a.Device.Disk.GetBlockSize()), math.MaxInt64))
	}
	src, dst := disk(sg.Src), disk(sg.Dst)
	sp, dp, err := pl.Extents(k, size(src), size(dst))
	if err != nil {
		side := dst
		if _, _, serr := pl.Extents(k, size(src), math.MaxInt64); serr != nil {
			side = src
		}
		if side == nil {
			// Decode refuses ranges that overflow, so a known disk is
			// always at fault; a panic here would stop every replica.
			r.refuse(listField, fmt.Errorf("segment %d: %w", k, err))
			return
		}
		r.refuse(listField, fmt.Errorf("segment %d: a block range past the end of disk %s (%d blocks of %d bytes): %w",
			k, side.Device.Disk.GetName(), diskBlocks(side.Device.Disk), side.Device.Disk.GetBlockSize(), err))
		return
	}
	if sp != nil && src != nil {
		src.Reads = append(src.Reads, ByteRange{Offset: uint64(sp.Offset), Length: uint64(sp.Length)})
	}
	if dp != nil && dst != nil {
		dst.Writes = append(dst.Writes, ByteRange{Offset: uint64(dp.Offset), Length: uint64(dp.Length)})
	}
	if d := dev(sg.Dst); d != nil && sg.Type.Writes() {
		r.protected(k, d.Device)
	}
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

// refuse records a violation that carries SCSI sense data; the first
// sense found is the one a SCSI initiator gets.
func (r *resolver) refuse(field string, err error) {
	var sd *sense.Sense
	if errors.As(err, &sd) && r.sense == nil {
		r.sense = sd
	}
	r.v.add(field, err.Error())
}

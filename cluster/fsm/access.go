package fsm

import (
	"fmt"
	"slices"
	"strings"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
)

// ByteRange is the bytes [Offset, Offset+Length) of a disk. Ranges are
// built only from sums checked against the disk's size, so the end never
// wraps around 2^64.
type ByteRange struct{ Offset, Length uint64 }

// End is one past the range's last byte.
func (r ByteRange) End() uint64 { return r.Offset + r.Length }

// Overlaps reports whether the two ranges share a byte.
func (r ByteRange) Overlaps(o ByteRange) bool {
	return r.Length > 0 && o.Length > 0 && r.Offset < o.End() && o.Offset < r.End()
}

func (r ByteRange) String() string {
	if r.Length == 0 {
		return fmt.Sprintf("no bytes at %d", r.Offset)
	}
	return fmt.Sprintf("bytes %d–%d", r.Offset, r.End()-1)
}

// DeviceAccess is how a job uses one registered device.
type DeviceAccess struct {
	// Device is the registry record (exactly one of Disk and Cartridge).
	Device Device
	// Read and Write say whether the job reads and writes the device. A
	// target of an EXTENDED COPY parameter list counts as written when any
	// segment writes it (the copy then opens it for writing), else as read.
	Read, Write bool
	// Reads and Writes are the byte ranges of a disk the job reads and
	// writes, in the order the spec names them (nil for a cartridge).
	Reads, Writes []ByteRange
	// ReadFile is the tape file a source → destination copy reads; nil with
	// Read means every file after the label (an image copy). WriteFile is
	// where it starts writing: nil with Write means a new file at end of
	// data. Both are nil for a parameter list, which positions its tapes
	// itself.
	ReadFile, WriteFile *uint32
	// Replaces is how many files of the cartridge's catalog the copy
	// replaces, writing from WriteFile on (only with options.overwrite).
	Replaces int
	// ReadsIncomplete: ReadFile is a file the catalog holds as incomplete
	// (cut short when its copy failed or was stopped, or changed part-way
	// by a later write). The copy runs, and says so.
	ReadsIncomplete bool
}

// Key names the device uniquely: "disk:NAME" or "tape:BARCODE".
func (a DeviceAccess) Key() string {
	if a.Device.Disk != nil {
		return "disk:" + a.Device.Disk.GetName()
	}
	return "tape:" + a.Device.Cartridge.GetBarcode()
}

// JobAccess is what a job does to the devices it names.
type JobAccess struct {
	// Devices holds each device the spec names once, in the order it names
	// them.
	Devices []DeviceAccess
	// Missing lists the references that name no registered device (or the
	// parameter list that does not decode), as field violations.
	Missing []FieldViolation
	// Unresolvable is set when the copy cannot run at all: an endpoint names
	// no registered device, or the parameter list does not decode. A
	// parameter list target that is not registered does not make it so:
	// the copy reports that target as not reachable when it comes to it.
	Unresolvable bool
	// Pool names the pool a queued copy's destination is to be chosen from
	// (see DestinationPool); Devices then leave the destination out.
	Pool string
}

// notes says, for the job's history, which files an overwriting copy
// replaces and which incomplete file a copy reads: "" when neither.
func (a JobAccess) notes() string {
	var parts []string
	for _, d := range a.Devices {
		if d.Replaces > 0 && d.WriteFile != nil {
			parts = append(parts, fmt.Sprintf("replaces %s of cartridge %s (files %d–%d)",
				filesText(d.Replaces), d.Device.Cartridge.GetBarcode(), *d.WriteFile, int(*d.WriteFile)+d.Replaces-1))
		}
		if d.ReadsIncomplete && d.ReadFile != nil {
			parts = append(parts, fmt.Sprintf("reads file %d of cartridge %s, which is incomplete (cut short, or changed part-way)",
				*d.ReadFile, d.Device.Cartridge.GetBarcode()))
		}
	}
	return strings.Join(parts, "; it ")
}

// Reads and Writes list the keys of the devices read and written.
func (a JobAccess) Reads() []string  { return a.keys(func(d DeviceAccess) bool { return d.Read }) }
func (a JobAccess) Writes() []string { return a.keys(func(d DeviceAccess) bool { return d.Write }) }

func (a JobAccess) keys(pick func(DeviceAccess) bool) []string {
	var out []string
	for _, d := range a.Devices {
		if pick(d) {
			out = append(out, d.Key())
		}
	}
	return out
}

// JobAccess resolves a job's spec against the registry as it stands: which
// devices it reads and writes, and where. It is the one rule for what a job
// touches: submission checks it (CheckAccess), the scheduler and the
// executor's device locks follow it. The error is a *ValidationError listing
// every rule the spec breaks on its devices (see CheckAccess); the access
// is returned either way, as far as it resolves.
func (f *FSM) JobAccess(spec *ferryv1.JobSpec) (JobAccess, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	acc, verr := f.st.resolveAccess(spec)
	for i := range acc.Devices {
		d := &acc.Devices[i].Device
		if d.Disk != nil {
			d.Disk = cloneDisk(d.Disk)
		} else {
			d.Cartridge = f.st.cartridgeCopy(d.Cartridge)
		}
	}
	if verr != nil {
		return acc, verr
	}
	return acc, nil
}

// resolveAccess resolves spec against the state's registry. The devices in
// the access are the state's own records. The ValidationError, nil when the
// spec breaks no rule, lists what the copy must not do:
//   - a device of another kind than its endpoint says;
//   - source and destination the same cartridge: one drive cannot read and
//     write one cartridge;
//   - a source and a destination range on one disk that overlap. Ferry
//     refuses such copies rather than give them memmove semantics: the
//     mover copies in parallel chunks and resumes from checkpoints, and
//     neither is safe when a write may change bytes still to be read;
//   - a disk range past the end of its LUN, or more bytes than the
//     destination range holds;
//   - a write to a disk that does not cover whole blocks of it;
//   - a write-protected cartridge or read-only disk as a destination;
//   - for a parameter list, target ranges past the end of a LUN and writes
//     to a write-protected device (with the SPC-4 sense in Sense).
//
// It reads the state and nothing else, so every replica decides alike.
func (s *state) resolveAccess(spec *ferryv1.JobSpec) (JobAccess, *ValidationError) {
	r := &resolver{s: s}
	if sess := spec.GetNdmp(); sess != nil {
		// An NDMP session reads (and may write) the cartridge in its drive.
		if c, ok := s.cartridges[sess.GetBarcode()]; ok {
			r.acc.Devices = append(r.acc.Devices, DeviceAccess{Device: Device{Cartridge: c}, Read: true, Write: sess.GetReadWrite()})
		} else {
			r.acc.Unresolvable = true
		}
		return r.acc, nil
	}
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		r.parameterList(list)
	} else {
		r.endpoints(spec)
	}
	if len(r.v) == 0 {
		return r.acc, nil
	}
	return r.acc, &ValidationError{Violations: r.v, Sense: r.sense}
}

// resolver gathers a job's access and the rules it breaks.
type resolver struct {
	s     *state
	acc   JobAccess
	v     violations
	sense *sense.Sense
}

// device returns the access entry of d, adding one the first time. The
// pointer is good until the next device is added.
func (r *resolver) device(d Device) *DeviceAccess { return &r.acc.Devices[r.deviceIndex(d)] }

// deviceIndex is where d's entry is in the access, added the first time.
func (r *resolver) deviceIndex(d Device) int {
	key := DeviceAccess{Device: d}.Key()
	i := slices.IndexFunc(r.acc.Devices, func(a DeviceAccess) bool { return a.Key() == key })
	if i < 0 {
		r.acc.Devices = append(r.acc.Devices, DeviceAccess{Device: d})
		i = len(r.acc.Devices) - 1
	}
	return i
}

func (r *resolver) missing(field, description string) {
	r.acc.Missing = append(r.acc.Missing, FieldViolation{Field: field, Description: description})
}

// refText names a device reference in messages.
func refText(d *ferryv1.DeviceRef) string {
	if naa := d.GetNaa(); naa != "" {
		return "with NAA " + naa
	}
	return fmt.Sprintf("named %q", d.GetName())
}

// deviceText names a registered device in messages: "disk db01",
// "cartridge A00001L9".
func deviceText(d Device) string {
	if d.Disk != nil {
		return "disk " + d.Disk.GetName()
	}
	return "cartridge " + d.Cartridge.GetBarcode()
}

// writable refuses a destination that may not be written.
func (r *resolver) writable(field string, d Device) {
	// The sense a write would get, so people who know SCSI recognise it.
	protect := sense.New(sense.DataProtect, sense.WriteProtected)
	switch {
	case d.Disk != nil && d.Disk.GetReadOnly():
		r.v.add(field, fmt.Sprintf("disk %s is read-only (%v)", d.Disk.GetName(), protect))
	case d.Cartridge != nil && d.Cartridge.GetWriteProtected():
		r.v.add(field, fmt.Sprintf("cartridge %s is write-protected (%v)", d.Cartridge.GetBarcode(), protect))
	}
}

// diskBlocks is the number of whole blocks of a disk; a registered disk's
// block size is 512 or 4096.
func diskBlocks(d *ferryv1.Disk) uint64 {
	return d.GetSizeBytes() / uint64(max(d.GetBlockSize(), 1))
}

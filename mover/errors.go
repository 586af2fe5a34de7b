package mover

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// SegmentError is why a copy stopped: which segment, how far it got, which
// device failed doing what, and the sense data a SCSI copy manager reports
// for it. errors.As finds both Err's chain and the *sense.Sense.
type SegmentError struct {
	Segment int
	Kind    SegmentKind
	// Bytes of the segment committed before the failure (not necessarily
	// flushed: only a checkpoint says what is durable).
	Bytes int64
	// Device is the index of the failing device, -1 when none failed (a
	// cancelled copy, a refused checkpoint).
	Device     int
	DeviceName string
	Op         string
	Err        error
	// Sense describes a device or plan failure; nil when the copy was
	// cancelled or stopped by OnCheckpoint.
	Sense *sense.Sense
}

func (e *SegmentError) Error() string {
	where := fmt.Sprintf("mover: segment %d (%s) after %d bytes", e.Segment, e.Kind, e.Bytes)
	if e.Device >= 0 {
		where += fmt.Sprintf(": %s %s", e.Op, e.DeviceName)
	} else if e.Op != "" {
		where += ": " + e.Op
	}
	if e.Sense != nil {
		return fmt.Sprintf("%s: %v [%v]", where, e.Err, e.Sense)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

// Unwrap exposes the cause and the sense data to errors.Is and errors.As.
func (e *SegmentError) Unwrap() []error {
	if e.Sense == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Sense}
}

// fail turns an error met while running r.seg into a *SegmentError.
func (r *runner) fail(err error) error {
	var se *SegmentError
	if errors.As(err, &se) {
		return err
	}
	kind := SegmentKind(-1)
	if r.seg < len(r.plan.Segments) {
		kind = r.plan.Segments[r.seg].Kind
	}
	e := &SegmentError{Segment: r.seg, Kind: kind, Bytes: r.segBytes, Device: -1, Err: err}
	var st *stageError
	if errors.As(err, &st) {
		e.Device, e.DeviceName, e.Op, e.Err = st.device, r.devs[st.device].String(), st.op, st.err
		e.Sense = senseFor(st.err, st.write)
	}
	return e
}

// SenseFor is senseFor for other device servers over the same devices (the
// NDMP server's TAPE_EXECUTE_CDB): one mapping of tape and disk errors to
// sense data.
func SenseFor(err error, write bool) *sense.Sense { return senseFor(err, write) }

// senseFor maps a device error to the sense data SPC-4, SBC-3 and SSC-3
// assign to it. write tells a failed write from a failed read where the
// error itself does not.
func senseFor(err error, write bool) *sense.Sense {
	var s *sense.Sense
	if errors.As(err, &s) {
		return s
	}
	var residue uint64
	var re *tape.ResidueError
	if errors.As(err, &re) && re.Residue >= 0 {
		residue = uint64(re.Residue)
	}
	var dre *disk.RangeError
	var mre *RangeError
	var ile *tape.IncorrectLengthError
	switch {
	case errors.Is(err, ErrUnderrun):
		s = sense.New(sense.CopyAborted, sense.CopyTargetDataUnderrun)
		s.Filemark = errors.Is(err, tape.ErrFilemark)
		s.EOM = errors.Is(err, tape.ErrEndOfData)
		return s
	case errors.Is(err, tape.ErrWriteProtected), errors.Is(err, disk.ErrReadOnly):
		return sense.New(sense.DataProtect, sense.WriteProtected)
	case errors.Is(err, tape.ErrEndOfMedium):
		return sense.EndOfMedium(residue)
	case errors.As(err, &dre) && dre.LBA >= 0:
		return sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(uint64(dre.LBA))
	case errors.As(err, &mre) && mre.LBA >= 0:
		return sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(uint64(mre.LBA))
	case errors.Is(err, disk.ErrOutOfRange), errors.Is(err, ErrOutOfRange):
		return sense.New(sense.IllegalRequest, sense.LBAOutOfRange)
	case errors.As(err, &ile):
		return sense.IncorrectLength(int32(ile.Residue()))
	case errors.Is(err, tape.ErrFilemark):
		return sense.Filemark(residue)
	case errors.Is(err, tape.ErrEndOfData):
		return sense.EndOfData(residue)
	case errors.Is(err, tape.ErrBeginningOfMedium):
		return sense.BeginningOfPartition(residue)
	case errors.Is(err, tape.ErrNotLoaded):
		return sense.New(sense.NotReady, sense.MediumNotPresent)
	case errors.Is(err, tape.ErrCorrupt):
		return sense.New(sense.MediumError, sense.MediumFormatCorrupted)
	case errors.Is(err, tape.ErrInvalidLength), errors.Is(err, tape.ErrInvalidArgument), errors.Is(err, ErrInvalidPlan):
		return sense.New(sense.IllegalRequest, sense.InvalidFieldInParameterList)
	case errors.Is(err, tape.ErrMediumError), errors.Is(err, io.ErrUnexpectedEOF), !write && errors.Is(err, syscall.EIO):
		return sense.New(sense.MediumError, sense.UnrecoveredReadError)
	case write:
		return sense.New(sense.MediumError, sense.WriteError)
	}
	return sense.New(sense.MediumError, sense.UnrecoveredReadError)
}

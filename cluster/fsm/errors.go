package fsm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Sentinel errors wrapped by Result.Err and by Restore; check them with
// errors.Is.
var (
	// ErrNotFound: the command names a job, device, library or cartridge the
	// state machine does not know.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a registration reuses a name, barcode, NAA designator
	// or path that another device or library already has.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalid: the command is malformed; a *ValidationError says why.
	ErrInvalid = errors.New("invalid argument")
	// ErrJobEnded: the job already succeeded or failed, so it cannot change.
	ErrJobEnded = errors.New("job has ended")
	// ErrBusy: a place or a cartridge the command needs is taken: a slot
	// already holds a cartridge, a drive another cartridge, or a cartridge
	// serves another job. A placement refused so may succeed later.
	ErrBusy = errors.New("resource busy")
	// ErrFenced: the command comes from a node that no longer owns the job,
	// or carries an older epoch than the job's current one (the fencing
	// rule), or the job is no longer running. The sender must stop working
	// on the job.
	ErrFenced = errors.New("fenced: not the job's current owner and epoch")
	// ErrUnknownCommand: the entry carries no operation this version knows.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrBadSnapshot: Restore was given data that is not a consistent
	// StateSnapshot.
	ErrBadSnapshot = errors.New("bad snapshot")
)

// busyError is ErrBusy with the reason alone, as people should read it.
type busyError struct{ reason string }

func busy(format string, args ...any) error {
	return &busyError{reason: fmt.Sprintf(format, args...)}
}

func (e *busyError) Error() string { return ErrBusy.Error() + ": " + e.reason }

// Unwrap makes errors.Is(err, ErrBusy) hold.
func (e *busyError) Unwrap() error { return ErrBusy }

// FieldViolation is one reason a request is invalid. Field is a path in proto
// field-name form relative to the request, e.g. "spec.source.device.naa" or
// "spec.segments[2].length", so the gRPC server can hand it on unchanged as a
// google.rpc.BadRequest field violation.
type FieldViolation struct {
	Field       string
	Description string
}

// ValidationError lists every violation found in a command, so that a client
// can fix all of them in one go. It wraps ErrInvalid.
type ValidationError struct {
	Violations []FieldViolation
	// Sense, when set, is the SCSI sense SPC-4 prescribes for the first
	// violation of an EXTENDED COPY parameter list: what a copy manager
	// answers the initiator with.
	Sense *sense.Sense
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.Field)
		b.WriteString(": ")
		b.WriteString(v.Description)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold, and errors.As find the
// sense data when there is some.
func (e *ValidationError) Unwrap() []error {
	if e.Sense != nil {
		return []error{ErrInvalid, e.Sense}
	}
	return []error{ErrInvalid}
}

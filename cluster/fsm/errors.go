package fsm

import (
	"errors"
	"strings"
)

// Sentinel errors wrapped by Result.Err and by Restore; check them with
// errors.Is.
var (
	// ErrNotFound: the command names a job the state machine does not know.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the command is malformed; a *ValidationError says why.
	ErrInvalid = errors.New("invalid argument")
	// ErrJobEnded: the job already succeeded or failed, so it cannot change.
	ErrJobEnded = errors.New("job has ended")
	// ErrUnknownCommand: the entry carries no operation this version knows.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrBadSnapshot: Restore was given data that is not a consistent
	// StateSnapshot.
	ErrBadSnapshot = errors.New("bad snapshot")
)

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

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Package task is the seam between a SCSI transport (the iSCSI target) and
// the device servers behind it (block LUNs, the copy manager): a command
// as the transport received it, with its data, and the outcome the
// transport sends back. A transport collects all of a command's data-out
// before it hands the task on, and a device server never sees PDUs.
// Every change a device server makes to the medium goes through
// Task.Commit, which refuses it once the transport has aborted the task.
// Short data-in (INQUIRY, MODE SENSE) comes back whole in Result.DataIn;
// the data-in of a READ may come back as a Stream that the transport
// reads a piece at a time as it sends it, so that no task holds a buffer
// the size of its transfer.
package task

import (
	"context"
	"errors"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Status is a SAM-5 status byte.
type Status byte

// The statuses a device server returns.
const (
	Good                Status = 0x00
	CheckCondition      Status = 0x02
	Busy                Status = 0x08
	ReservationConflict Status = 0x18
	TaskSetFull         Status = 0x28
	TaskAborted         Status = 0x40
)

// Task is one SCSI command addressed to a logical unit.
type Task struct {
	// LUN is the logical unit number (SAM-5 single-level addressing).
	LUN uint64
	// CDB is the command descriptor block.
	CDB []byte
	// DataOut is everything the initiator sent with the command (the data
	// of a WRITE, an EXTENDED COPY parameter list); nil when none.
	DataOut []byte
	// AllocationLength is how many data-in bytes the initiator accepts
	// (the transport's expected data transfer length for a read).
	AllocationLength uint32
	// Initiator names the I_T nexus the command came through (the
	// initiator's iSCSI name and session id), for state that SPC-4 keeps
	// per initiator, such as EXTENDED COPY list identifiers.
	Initiator string
	// Gate, when set, is how the transport aborts the task: the device
	// server makes every change to the medium through Gate.Commit, so that
	// no write lands once task management has answered the abort.
	Gate *Gate
	// StreamDataIn says the transport takes large data-in as a
	// Result.Stream; without it a server returns all of it in DataIn.
	StreamDataIn bool
}

// Commit runs change, a change to the medium, unless the task has been
// aborted (ErrAborted).
func (t *Task) Commit(change func() error) error { return t.Gate.Commit(change) }

// Result is a command's outcome.
type Result struct {
	Status Status
	// DataIn is the data for the initiator; the transport sends at most
	// AllocationLength bytes of it and reports the residual.
	DataIn []byte
	// Stream, set only with GOOD and only for a task with StreamDataIn,
	// takes DataIn's place: the transport reads the data-in from it a
	// piece at a time, each piece sent before the next is read. A piece
	// that fails ends the command with ErrorResult of its error instead,
	// after the pieces already sent.
	Stream Stream
	// Sense describes a CHECK CONDITION.
	Sense *sense.Sense
}

// Stream is a command's data-in, read a piece at a time.
type Stream interface {
	// Len is how many bytes of data-in the command has; the transport
	// reads at most AllocationLength of them and reports the residual.
	Len() uint64
	// ReadAt fills p with the data-in from offset off, which with len(p)
	// stays within Len. Its error is a *sense.Sense (such as MEDIUM
	// ERROR) or, for a task aborted or whose context ended, ErrAborted or
	// the context's error.
	ReadAt(ctx context.Context, p []byte, off uint64) error
}

// Server executes tasks for the logical units behind one target.
type Server interface {
	Execute(ctx context.Context, t *Task) Result
}

// Fail is the CHECK CONDITION result carrying s.
func Fail(s *sense.Sense) Result { return Result{Status: CheckCondition, Sense: s} }

// Aborted reports whether err means the task was aborted by task
// management or its context ended.
func Aborted(err error) bool {
	return errors.Is(err, ErrAborted) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// ErrorResult is the outcome of a command that err ended: CHECK CONDITION
// with the sense data of a *sense.Sense in err's chain, TASK ABORTED when
// the task was aborted, and HARDWARE ERROR, INTERNAL TARGET FAILURE for
// anything else (a fault of the server, which the caller logs).
func ErrorResult(err error) Result {
	var s *sense.Sense
	switch {
	case errors.As(err, &s):
		return Fail(s)
	case Aborted(err):
		return Result{Status: TaskAborted}
	}
	return Fail(sense.New(sense.HardwareError, sense.InternalTargetFailure))
}

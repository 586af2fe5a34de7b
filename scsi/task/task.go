// Package task is the seam between a SCSI transport (the iSCSI target) and
// the device servers behind it (block LUNs, the copy manager): a command
// as the transport received it, with its data, and the outcome the
// transport sends back. A transport collects all of a command's data-out
// before it hands the task on, and a device server never sees PDUs.
// Every change a device server makes to the medium goes through
// Task.Commit, which refuses it once the transport has aborted the task.
package task

import (
	"context"

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
	// Sense describes a CHECK CONDITION.
	Sense *sense.Sense
}

// Server executes tasks for the logical units behind one target.
type Server interface {
	Execute(ctx context.Context, t *Task) Result
}

// Fail is the CHECK CONDITION result carrying s.
func Fail(s *sense.Sense) Result { return Result{Status: CheckCondition, Sense: s} }

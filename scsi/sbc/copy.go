package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// CopyManager handles the third-party copy commands (SPC-4), which the
// cluster runs as jobs. Its results go back to the initiator unchanged, so
// it returns CHECK CONDITION with the sense data SPC-4 prescribes itself.
type CopyManager interface {
	// ExtendedCopy runs an EXTENDED COPY (LID1) parameter list sent
	// through the I_T nexus initiator (see task.Task.Initiator). It is
	// never called with an empty list: the server answers that itself.
	ExtendedCopy(ctx context.Context, initiator string, parameterList []byte) task.Result
	// ReceiveCopyResults answers a RECEIVE COPY RESULTS CDB (service
	// action COPY STATUS, OPERATING PARAMETERS or FAILED SEGMENT
	// DETAILS) with at most allocation bytes.
	ReceiveCopyResults(ctx context.Context, initiator string, cdb []byte, allocation uint32) task.Result
	// Limits are the parameter lists the copy manager accepts; the
	// third-party copy VPD page reports them, and they must equal what
	// RECEIVE COPY RESULTS (OPERATING PARAMETERS) reports.
	Limits() xcopy.Limits
}

// extendedCopy is EXTENDED COPY (LID1). A PARAMETER LIST LENGTH of zero
// is not an error and changes nothing (SPC-4 6.4.1); otherwise the copy
// manager gets the parameter list cut to that length, or as much of it as
// the initiator sent, and judges it.
func (s *Server) extendedCopy(ctx context.Context, r *request) task.Result {
	n := binary.BigEndian.Uint32(r.cdb[10:14])
	if n == 0 {
		return task.Result{Status: task.Good}
	}
	return s.copier.ExtendedCopy(ctx, r.task.Initiator, truncate(r.task.DataOut, n))
}

// receiveCopyResults is RECEIVE COPY RESULTS, answered by the copy
// manager.
func (s *Server) receiveCopyResults(ctx context.Context, r *request) task.Result {
	return s.copier.ReceiveCopyResults(ctx, r.task.Initiator, r.cdb, binary.BigEndian.Uint32(r.cdb[10:14]))
}

// Third-party copy descriptor types (SPC-4 7.8.17).
const (
	tpcSupportedCommands    = 0x0001
	tpcParameterData        = 0x0004
	tpcSupportedDescriptors = 0x0008
	tpcSupportedCSCDIDs     = 0x000C
	tpcGeneralCopyOps       = 0x8001
	parameterDataLen        = 0x1C
	generalCopyOpsLen       = 0x20
)

// thirdPartyCopy is VPD page 8Fh: the LID1 commands and service actions
// the copy manager answers, its limits, the descriptor type codes it
// implements and its general copy limits, all from the same Limits as
// RECEIVE COPY RESULTS (OPERATING PARAMETERS).
func (s *Server) thirdPartyCopy(LUN) []byte {
	op := s.copier.Limits().OperatingParameters()

	commands := []byte{
		opExtendedCopy, 1, saExtendedCopyLID1,
		opReceiveCopyResults, 3, saCopyStatus, saOperatingParameters, saFailedSegmentDetails,
	}
	b := tpcDescriptor(nil, tpcSupportedCommands, append([]byte{byte(len(commands))}, commands...))

	params := make([]byte, parameterDataLen)
	binary.BigEndian.PutUint16(params[4:6], op.MaxTargetDescriptors)
	binary.BigEndian.PutUint16(params[6:8], op.MaxSegmentDescriptors)
	binary.BigEndian.PutUint32(params[8:12], op.MaxDescriptorListLength)
	binary.BigEndian.PutUint32(params[12:16], op.MaxInlineData)
	b = tpcDescriptor(b, tpcParameterData, params)

	b = tpcDescriptor(b, tpcSupportedDescriptors, append([]byte{byte(len(op.Implemented))}, op.Implemented...))
	// No CSCD descriptor IDs (the shorthand IDs above 07FFh) are supported.
	b = tpcDescriptor(b, tpcSupportedCSCDIDs, []byte{0, 0})

	general := make([]byte, generalCopyOpsLen)
	binary.BigEndian.PutUint32(general[0:4], uint32(op.TotalConcurrentCopies))
	binary.BigEndian.PutUint32(general[4:8], uint32(op.MaxConcurrentCopies))
	binary.BigEndian.PutUint32(general[8:12], op.MaxSegmentLength)
	general[12] = op.DataSegmentGranularity
	general[13] = op.InlineDataGranularity
	return tpcDescriptor(b, tpcGeneralCopyOps, general)
}

// tpcDescriptor appends a third-party copy descriptor: type, length and
// body padded to a multiple of 4 bytes.
func tpcDescriptor(b []byte, typ uint16, body []byte) []byte {
	padded := (len(body) + 3) &^ 3
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(padded))
	b = append(b, body...)
	return append(b, make([]byte, padded-len(body))...)
}

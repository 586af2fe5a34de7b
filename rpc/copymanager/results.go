package copymanager

import (
	"fmt"
	"strings"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// CopyStatus is the COPY STATUS (service action 00h) of a job.
func CopyStatus(job *ferryv1.Job) xcopy.CopyStatus {
	p := job.GetProgress()
	cs := xcopy.CopyStatus{SegmentsProcessed: uint16(min(p.GetSegmentsDone(), 0xffff))}
	bytes := p.GetBytesDone()
	switch job.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED:
		cs.Status = xcopy.StatusCompleted
		cs.SegmentsProcessed = uint16(min(uint32(len(job.GetResult().GetSegments())), 0xffff))
		bytes = job.GetResult().GetBytes()
	case ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		cs.Status = xcopy.StatusFailed
		cs.SegmentsProcessed = uint16(min(job.GetError().GetSegment(), 0xffff))
	default:
		cs.Status = xcopy.StatusInProgress
	}
	cs.Units, cs.TransferCount = xcopy.TransferCount(bytes)
	return cs
}

// CopyStatusText renders a COPY STATUS for people.
func CopyStatusText(cs xcopy.CopyStatus) string {
	state := map[xcopy.CopyManagerStatus]string{
		xcopy.StatusInProgress: "in progress", xcopy.StatusCompleted: "completed without errors", xcopy.StatusFailed: "completed with errors",
	}[cs.Status]
	return fmt.Sprintf("copy manager status: %s\nsegments processed: %d\ntransfer count: %d (units code %d)\nheld data discarded: %v\n",
		state, cs.SegmentsProcessed, cs.TransferCount, cs.Units, cs.HDD)
}

// OperatingParameters is the OPERATING PARAMETERS (service action 03h) of
// the cluster's copy manager as the API offers it, tape operations
// included; the iSCSI target's copy manager offers less (Manager.Limits).
func OperatingParameters() xcopy.OperatingParameters {
	return xcopy.DefaultLimits().OperatingParameters()
}

// OperatingParametersText renders OPERATING PARAMETERS for people.
func OperatingParametersText(op xcopy.OperatingParameters) string {
	var b strings.Builder
	fmt.Fprintf(&b, "max CSCD descriptors: %d\nmax segment descriptors: %d\nmax descriptor list length: %d\n", op.MaxTargetDescriptors, op.MaxSegmentDescriptors, op.MaxDescriptorListLength)
	fmt.Fprintf(&b, "max segment length: %d\nmax inline data: %d\nheld data limit: %d\nmax stream transfer size: %d\n", op.MaxSegmentLength, op.MaxInlineData, op.HeldDataLimit, op.MaxStreamTransferSize)
	fmt.Fprintf(&b, "total concurrent copies: %d\nmax concurrent copies: %d\n", op.TotalConcurrentCopies, op.MaxConcurrentCopies)
	codes := make([]string, len(op.Implemented))
	for i, c := range op.Implemented {
		codes[i] = fmt.Sprintf("%02Xh", c)
	}
	fmt.Fprintf(&b, "implemented descriptors: %s\n", strings.Join(codes, " "))
	return b.String()
}

// FailedSegmentDetails is the FAILED SEGMENT DETAILS (service action 04h)
// of a job, with a rendering for people: none unless the job failed. The
// sense data is what EXTENDED COPY returned (see copyAborted).
func FailedSegmentDetails(job *ferryv1.Job) ([]byte, string, error) {
	if job.GetState() != ferryv1.JobState_JOB_STATE_FAILED {
		return xcopy.NoFailedSegmentDetails(), "no failed segment\n", nil
	}
	sd := copyAborted(job)
	data, err := xcopy.FailedSegmentDetails{CommandStatus: byte(task.CheckCondition), Sense: sd.Fixed()}.Encode()
	if err != nil {
		return nil, "", err
	}
	text := fmt.Sprintf("failed segment: %d after %d bytes\nstatus: CHECK CONDITION\nsense: %v\n", job.GetError().GetSegment(), job.GetError().GetSegmentBytesDone(), sd)
	if ts, ok := targetSense(job); ok {
		text += fmt.Sprintf("copy target sense: %v\n", &ts)
	}
	return data, text, nil
}

// copyAborted is the sense data of a copy that did not complete. SPC-4
// reports an error met while processing the segments as COPY ABORTED, with
// the failing segment's index in COMMAND-SPECIFIC INFORMATION. A copy
// target device's own error (LOGICAL BLOCK ADDRESS OUT OF RANGE, a medium
// error) is not the copy manager's to report under another sense key, and
// its additional sense code, INFORMATION and field pointer describe a
// command to that device, not this one: it becomes NO ADDITIONAL SENSE
// INFORMATION, and the device's own sense stays in the job's record
// (targetSense). Sense data already COPY ABORTED (the copy manager's own
// findings) is returned as is; a copy that ended without sense data failed
// in the copy manager's own machinery: THIRD PARTY DEVICE FAILURE.
func copyAborted(job *ferryv1.Job) *sense.Sense {
	code := sense.NoAdditionalSense
	parsed, err := sense.Parse(job.GetError().GetSense())
	switch {
	case err != nil:
		code = sense.ThirdPartyDeviceFailure
	case parsed.Key == sense.CopyAborted:
		return &parsed
	}
	s := sense.New(sense.CopyAborted, code)
	s.CommandInfo = uint64(job.GetError().GetSegment())
	return s
}

// targetSense is the copy target device's own sense data when copyAborted
// replaced it, for people reading FAILED SEGMENT DETAILS.
func targetSense(job *ferryv1.Job) (sense.Sense, bool) {
	parsed, err := sense.Parse(job.GetError().GetSense())
	return parsed, err == nil && parsed.Key != sense.CopyAborted
}

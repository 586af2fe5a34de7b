package grpcapi

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// checkCondition is the SCSI status byte of a command that failed with sense.
const checkCondition = 0x02

// CopyResults answers as RECEIVE COPY RESULTS would, from the replicated job
// state, so every node gives the same answer.
func (s *Server) CopyResults(ctx context.Context, req *ferryv1.CopyResultsRequest) (*ferryv1.CopyResultsResponse, error) {
	if req.GetAction() == ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_OPERATING_PARAMETERS {
		op := xcopy.DefaultLimits().OperatingParameters()
		data, err := op.Encode()
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		return &ferryv1.CopyResultsResponse{Data: data, Text: operatingParametersText(op)}, nil
	}
	if req.GetId() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "id", Description: "required"})
	}
	if err := s.read(ctx, false); err != nil {
		return nil, err
	}
	job, ok := s.node.FSM().Job(req.GetId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "job %q not found", req.GetId())
	}
	switch req.GetAction() {
	case ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_UNSPECIFIED, ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_COPY_STATUS:
		cs := copyStatus(job)
		return &ferryv1.CopyResultsResponse{Data: cs.Encode(), Text: copyStatusText(cs)}, nil
	case ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_FAILED_SEGMENT_DETAILS:
		sd := job.GetError().GetSense()
		if job.GetState() != ferryv1.JobState_JOB_STATE_FAILED || len(sd) == 0 {
			return &ferryv1.CopyResultsResponse{Data: xcopy.NoFailedSegmentDetails(), Text: "no failed segment\n"}, nil
		}
		data, err := xcopy.FailedSegmentDetails{CommandStatus: checkCondition, Sense: sd}.Encode()
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		text := fmt.Sprintf("failed segment: %d after %d bytes\nstatus: CHECK CONDITION\n", job.GetError().GetSegment(), job.GetError().GetSegmentBytesDone())
		if parsed, err := sense.Parse(sd); err == nil {
			text += "sense: " + parsed.Error() + "\n"
		}
		return &ferryv1.CopyResultsResponse{Data: data, Text: text}, nil
	}
	return nil, invalid(fsm.FieldViolation{Field: "action", Description: "unknown action"})
}

func copyStatus(job *ferryv1.Job) xcopy.CopyStatus {
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

func copyStatusText(cs xcopy.CopyStatus) string {
	state := map[xcopy.CopyManagerStatus]string{
		xcopy.StatusInProgress: "in progress", xcopy.StatusCompleted: "completed without errors", xcopy.StatusFailed: "completed with errors",
	}[cs.Status]
	return fmt.Sprintf("copy manager status: %s\nsegments processed: %d\ntransfer count: %d (units code %d)\nheld data discarded: %v\n",
		state, cs.SegmentsProcessed, cs.TransferCount, cs.Units, cs.HDD)
}

func operatingParametersText(op xcopy.OperatingParameters) string {
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

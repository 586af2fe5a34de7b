package grpcapi

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/rpc/copymanager"
)

// CopyResults answers as RECEIVE COPY RESULTS would, from the replicated job
// state, so every node gives the same answer.
func (s *Server) CopyResults(ctx context.Context, req *ferryv1.CopyResultsRequest) (*ferryv1.CopyResultsResponse, error) {
	if req.GetAction() == ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_OPERATING_PARAMETERS {
		op := copymanager.OperatingParameters()
		data, err := op.Encode()
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		return &ferryv1.CopyResultsResponse{Data: data, Text: copymanager.OperatingParametersText(op)}, nil
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
		cs := copymanager.CopyStatus(job)
		return &ferryv1.CopyResultsResponse{Data: cs.Encode(), Text: copymanager.CopyStatusText(cs)}, nil
	case ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_FAILED_SEGMENT_DETAILS:
		data, text, err := copymanager.FailedSegmentDetails(job)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		return &ferryv1.CopyResultsResponse{Data: data, Text: text}, nil
	}
	return nil, invalid(fsm.FieldViolation{Field: "action", Description: "unknown action"})
}

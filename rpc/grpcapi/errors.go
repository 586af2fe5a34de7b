package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
)

// invalid returns INVALID_ARGUMENT naming every bad field, as a
// google.rpc.BadRequest detail and in the message.
func invalid(vs ...fsm.FieldViolation) error {
	return toStatus(&fsm.ValidationError{Violations: vs})
}

// toStatus maps the node's and state machine's errors to gRPC codes.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var verr *fsm.ValidationError
	switch {
	case errors.As(err, &verr) && verr.Sense != nil && len(verr.Violations) > 0:
		return senseStatus(codes.InvalidArgument, verr.Violations[0].Field, verr.Sense)
	case errors.As(err, &verr):
		st := status.New(codes.InvalidArgument, err.Error())
		br := &errdetails.BadRequest{}
		for _, v := range verr.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		if withDetails, derr := st.WithDetails(br); derr == nil {
			st = withDetails
		}
		return st.Err()
	case errors.Is(err, fsm.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, fsm.ErrNotFound), errors.Is(err, cluster.ErrUnknownMember):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, fsm.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, fsm.ErrJobEnded), errors.Is(err, cluster.ErrLastVoter),
		errors.Is(err, fsm.ErrBusy), errors.Is(err, fsm.ErrFenced),
		errors.Is(err, fsm.ErrAlreadyBootstrapped), errors.Is(err, fsm.ErrNotBootstrapped), errors.Is(err, fsm.ErrLastAdmin),
		errors.Is(err, fsm.ErrPrimaryKey), errors.Is(err, fsm.ErrKeyringFull):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, cluster.ErrNoLeader):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

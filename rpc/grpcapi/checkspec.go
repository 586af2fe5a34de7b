package grpcapi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
)

// checkDevices refuses a job that the state machine would refuse on its
// devices (fsm.FSM.JobAccess: one rule for both), or whose devices are not
// registered, before anything is replicated, so that the client gets every
// violation at once. It reads this node's state, and only when a device is
// missing there makes sure with a linearizable read: a device registered a
// moment ago through another node may not have reached this one.
func (s *Server) checkDevices(ctx context.Context, spec *ferryv1.JobSpec) error {
	missing, err := s.checkDevicesLocally(spec)
	if !missing || len(spec.GetXcopyParameterList()) > 0 {
		return err
	}
	if rerr := s.read(ctx, false); rerr != nil {
		return rerr
	}
	_, err = s.checkDevicesLocally(spec)
	return err
}

// checkDevicesLocally checks the spec against this node's state; missing
// reports a device that is not registered here.
func (s *Server) checkDevicesLocally(spec *ferryv1.JobSpec) (missing bool, err error) {
	acc, err := s.node.FSM().JobAccess(spec)
	var verr *fsm.ValidationError
	if err != nil && !errors.As(err, &verr) {
		return false, toStatus(err)
	}
	if verr != nil && verr.Sense != nil {
		return false, toStatus(verr)
	}
	var bad []fsm.FieldViolation
	if len(spec.GetXcopyParameterList()) == 0 {
		// A parameter list target that is not registered is the copy's to
		// report (COPY TARGET DEVICE NOT REACHABLE), as SPC-4 has it.
		bad = append(bad, acc.Missing...)
	}
	if verr != nil {
		bad = append(bad, verr.Violations...)
	}
	if len(bad) > 0 {
		return len(acc.Missing) > 0, invalid(bad...)
	}
	return false, nil
}

// senseStatus carries SCSI sense data in a gRPC error: the decoded text in
// the message, the fixed-format bytes in an ErrorInfo detail (reason
// SCSI_SENSE), and the offending field in a BadRequest detail.
func senseStatus(code codes.Code, field string, err error) error {
	var sd *sense.Sense
	if !errors.As(err, &sd) {
		return invalid(fsm.FieldViolation{Field: field, Description: err.Error()})
	}
	st := status.New(code, fmt.Sprintf("%s: %v", field, sd))
	withDetails, derr := st.WithDetails(
		&errdetails.ErrorInfo{Reason: "SCSI_SENSE", Domain: "ferry", Metadata: map[string]string{"sense": hex.EncodeToString(sd.Fixed())}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: sd.Error()}}},
	)
	if derr == nil {
		st = withDetails
	}
	return st.Err()
}

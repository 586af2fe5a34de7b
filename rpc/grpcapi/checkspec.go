package grpcapi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// checkDevices refuses a job whose devices are not registered, of the wrong
// kind, or whose EXTENDED COPY parameter list a copy manager would refuse,
// before anything is replicated. It reads this node's state, and only when a
// device is missing there makes sure with a linearizable read: a device
// registered a moment ago through another node may not have reached this one.
func (s *Server) checkDevices(ctx context.Context, spec *ferryv1.JobSpec) error {
	err := s.checkDevicesLocally(spec)
	if err == nil || status.Code(err) != codes.InvalidArgument || len(spec.GetXcopyParameterList()) > 0 {
		return err
	}
	if rerr := s.read(ctx, false); rerr != nil {
		return rerr
	}
	return s.checkDevicesLocally(spec)
}

func (s *Server) checkDevicesLocally(spec *ferryv1.JobSpec) error {
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		if _, err := xcopy.Decode(list, xcopy.DefaultLimits()); err != nil {
			return senseStatus(codes.InvalidArgument, "spec.xcopy_parameter_list", err)
		}
		return nil
	}
	var bad []fsm.FieldViolation
	kinds := map[string]ferryv1.DeviceKind{}
	for field, ep := range map[string]*ferryv1.Endpoint{"spec.source": spec.GetSource(), "spec.destination": spec.GetDestination()} {
		dev, err := s.node.FSM().ResolveDevice(ep.GetDevice())
		if err != nil {
			bad = append(bad, fsm.FieldViolation{Field: field + ".device", Description: fmt.Sprintf("no registered device %s", refText(ep.GetDevice()))})
			continue
		}
		kinds[field] = ferryv1.DeviceKind_DEVICE_KIND_DISK
		if dev.Cartridge != nil {
			kinds[field] = ferryv1.DeviceKind_DEVICE_KIND_TAPE
		}
		if kinds[field] != ep.GetKind() {
			bad = append(bad, fsm.FieldViolation{Field: field + ".kind", Description: fmt.Sprintf("%s is a %s", refText(ep.GetDevice()), lower(kinds[field].String(), "DEVICE_KIND_"))})
		}
	}
	if len(spec.GetSegments()) > 0 && kinds["spec.source"] == ferryv1.DeviceKind_DEVICE_KIND_TAPE {
		bad = append(bad, fsm.FieldViolation{Field: "spec.segments", Description: "explicit segments need a disk source"})
	}
	if len(bad) > 0 {
		return invalid(bad...)
	}
	return nil
}

func refText(d *ferryv1.DeviceRef) string {
	if naa := d.GetNaa(); naa != "" {
		return "with NAA " + naa
	}
	return fmt.Sprintf("named %q", d.GetName())
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

func lower(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

package grpcapi

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/security/devicedirs"
)

// checkPath refuses a path the node's device directories do not allow
// (security/devicedirs), naming the request's field: PERMISSION_DENIED,
// since the path is well formed and this node will not open it.
func checkPath(p devicedirs.Policy, field, path string) error {
	if err := p.Check(path); err != nil {
		return status.Errorf(codes.PermissionDenied, "%s %v", field, err)
	}
	return nil
}

package grpcapi

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
)

// operatorMover names the operator's moves where a DMA's address would be.
const operatorMover = "operator (ferry library unload)"

// UnloadDrive sends the cartridge in a drive home, as a DMA's MOVE MEDIUM
// would (one MoveMediumOp, under the same rules): a DMA that died, or
// forgot, leaves its cartridge in the drive, and copy jobs that need it or
// the drive wait until it is out. A cartridge a running job holds (a copy,
// an NDMP session) is refused: that job is using it.
func (s *DeviceServer) UnloadDrive(ctx context.Context, req *ferryv1.UnloadDriveRequest) (*ferryv1.Cartridge, error) {
	if req.GetLibrary() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "library", Description: "required"})
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	_, place, ok := s.node.FSM().LibraryPlacement(req.GetLibrary())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no library named %q", req.GetLibrary())
	}
	drive := library.AtDrive(int(req.GetDrive()))
	if !place.Exists(drive) {
		return nil, invalid(fsm.FieldViolation{Field: "drive", Description: "library " + req.GetLibrary() + " has no " + drive.String()})
	}
	barcode, loaded := place.At(drive)
	if !loaded {
		return nil, status.Errorf(codes.FailedPrecondition, "%v of library %s is empty", drive, req.GetLibrary())
	}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_MoveMedium{MoveMedium: &ferryv1.MoveMediumOp{
		Library: req.GetLibrary(), From: fsm.ElementOf(drive), To: fsm.ElementOf(place.Origins[barcode]), DmaAddress: operatorMover,
	}}})
	if err != nil {
		return nil, err
	}
	return res.Cartridge, nil
}

package grpcapi

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestUnloadDrive: a cartridge a DMA left in a drive goes home; one an
// NDMP session holds stays; an empty drive or no such drive is said so.
func TestUnloadDrive(t *testing.T) {
	f := newRemoveFixture(t)
	ctx := context.Background()
	propose := func(op *ferryv1.Command) {
		t.Helper()
		res, err := f.node.Propose(ctx, op)
		if err != nil || res.Err != nil {
			t.Fatalf("%T: %v %v", op.GetOp(), err, res.Err)
		}
	}
	if _, err := f.c.UnloadDrive(ctx, &ferryv1.UnloadDriveRequest{Library: "libR"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("unload of an empty drive: %v", err)
	}
	if _, err := f.c.UnloadDrive(ctx, &ferryv1.UnloadDriveRequest{Library: "libR", Drive: 3}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unload of no such drive: %v", err)
	}
	propose(&ferryv1.Command{Op: &ferryv1.Command_MoveMedium{MoveMedium: &ferryv1.MoveMediumOp{Library: "libR", DmaAddress: "10.0.0.5:1",
		From: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1},
		To:   &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 0}}}})
	propose(&ferryv1.Command{Op: &ferryv1.Command_OpenNdmpSession{OpenNdmpSession: &ferryv1.OpenNdmpSessionOp{JobId: "s1",
		Session: &ferryv1.NdmpSession{DmaAddress: "10.0.0.5:1", Library: "libR", Drive: 0}}}})
	if _, err := f.c.UnloadDrive(ctx, &ferryv1.UnloadDriveRequest{Library: "libR"}); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(err.Error(), "NDMP session s1") {
		t.Fatalf("unload of a session's cartridge: %v", err)
	}
	f.cancel(t, "s1") // the cartridge stays in the drive, the DMA's
	c, err := f.c.UnloadDrive(ctx, &ferryv1.UnloadDriveRequest{Library: "libR"})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_SLOT || c.GetLocation().GetIndex() != 1 || c.GetNdmpLoad() != nil {
		t.Fatalf("unloaded cartridge: %v", c)
	}
}

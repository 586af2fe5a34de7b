package main

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// UnloadDrive: drive 0 of libA holds D00001L9, which a DMA loaded and left;
// drive 1's cartridge is an NDMP session's.
func (f *dataFake) UnloadDrive(_ context.Context, req *ferryv1.UnloadDriveRequest) (*ferryv1.Cartridge, error) {
	switch {
	case req.GetLibrary() != "libA":
		return nil, status.Errorf(codes.NotFound, "no library named %q", req.GetLibrary())
	case req.GetDrive() == 1:
		return nil, status.Error(codes.FailedPrecondition, "move medium: held by a running job: cartridge A00001L9 in drive 1 of library libA is held by NDMP session s-3 from 10.0.0.5:41234 on node-2")
	case req.GetDrive() != 0:
		return nil, status.Errorf(codes.InvalidArgument, "invalid argument: drive: library libA has no drive %d", req.GetDrive())
	}
	return &ferryv1.Cartridge{Barcode: "D00001L9", Library: "libA", HomeSlot: 3,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 3, Barcode: "D00001L9"}}, nil
}

func TestLibraryUnloadGolden(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"library_unload", []string{"library", "unload", "libA", "0"}},
		{"library_unload_held", []string{"library", "unload", "libA", "1"}},
		{"library_unload_bad_drive", []string{"library", "unload", "libA", "zero"}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			checkGolden(t, tt.golden, runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...).String())
		})
	}
}

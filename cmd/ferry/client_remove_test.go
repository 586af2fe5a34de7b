package main

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// The fake's erase and removals: A00001L9 is in a drive for job j-1 (as the
// cluster refuses it), B00001L9 and db02 are idle, libA holds cartridges.

func (f *dataFake) EraseTape(_ context.Context, req *ferryv1.EraseTapeRequest) (*ferryv1.Cartridge, error) {
	if req.GetBarcode() == "A00001L9" {
		return nil, status.Error(codes.FailedPrecondition, "resource busy: cartridge A00001L9 is loaded in drive 1 of libA")
	}
	return &ferryv1.Cartridge{Barcode: req.GetBarcode(), Library: "libA", UsedBytes: 92, CapacityBytes: 8 << 30}, nil
}

func (f *dataFake) RemoveTape(_ context.Context, req *ferryv1.RemoveTapeRequest) (*ferryv1.RemoveResponse, error) {
	if req.GetBarcode() == "A00001L9" {
		return nil, status.Error(codes.FailedPrecondition, "resource busy: cartridge A00001L9 is used by job j-1, which has not ended")
	}
	resp := &ferryv1.RemoveResponse{Removed: []string{"tape " + req.GetBarcode()}}
	if req.GetDeleteFiles() {
		resp.DeletedFiles = []string{"/vtl/libA/" + req.GetBarcode() + ".tap", "/vtl/libA/" + req.GetBarcode() + ".tap.fence"}
	}
	return resp, nil
}

func (f *dataFake) RemoveDisk(_ context.Context, req *ferryv1.RemoveDiskRequest) (*ferryv1.RemoveResponse, error) {
	if req.GetName() == "db01" {
		return nil, status.Error(codes.FailedPrecondition, "resource busy: disk db01 is used by job j-1, which has not ended")
	}
	return &ferryv1.RemoveResponse{Removed: []string{"disk " + req.GetName()}}, nil
}

func (f *dataFake) RemoveLibrary(_ context.Context, req *ferryv1.RemoveLibraryRequest) (*ferryv1.RemoveResponse, error) {
	if !req.GetDeleteFiles() {
		return nil, status.Error(codes.FailedPrecondition, "library libA holds 2 cartridges: remove them first, or remove the library with --delete-files to delete them with it")
	}
	return &ferryv1.RemoveResponse{Removed: []string{"tape B00001L9", "library libB"},
		DeletedFiles: []string{"/vtl/libB/B00001L9.tap", "/vtl/libB"}}, nil
}

// TestRemoveCommandsGolden: tape erase (refused without -yes, saying what
// would be lost), and the remove commands.
func TestRemoveCommandsGolden(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"tape_erase_unconfirmed", []string{"tape", "erase", "A00001L9"}},
		{"tape_erase_busy", []string{"tape", "erase", "A00001L9", "--yes"}},
		{"tape_erase", []string{"tape", "erase", "B00001L9", "-yes"}},
		{"tape_erase_unknown", []string{"tape", "erase", "Q00001L9", "-yes"}},
		{"tape_remove", []string{"tape", "remove", "B00001L9"}},
		{"tape_remove_delete", []string{"tape", "remove", "B00001L9", "--delete-files"}},
		{"tape_remove_busy", []string{"tape", "remove", "A00001L9"}},
		{"disk_remove", []string{"disk", "remove", "db02"}},
		{"disk_remove_busy", []string{"disk", "remove", "db01", "-delete-files"}},
		{"library_remove_full", []string{"library", "remove", "libB"}},
		{"library_remove_delete", []string{"library", "remove", "libB", "-delete-files"}},
		{"library_remove_h", []string{"library", "remove", "-h"}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...)
			checkGolden(t, tt.golden, r.String())
		})
	}
}

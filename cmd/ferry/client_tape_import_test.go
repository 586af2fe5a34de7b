package main

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// ImportTape answers as the real server does: /vtl/old/C00001L9.tap is
// another cluster's until taken over, /vtl/bad.tap is damaged.
func (f *dataFake) ImportTape(_ context.Context, req *ferryv1.ImportTapeRequest) (*ferryv1.Cartridge, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	switch {
	case req.GetPath() == "/vtl/bad.tap":
		return nil, fieldError("path", "/vtl/bad.tap is not a valid SIMH tape image: damaged at byte offset 65632 (record length 4294967 runs past the end of the image)")
	case !req.GetTakeOver():
		return nil, status.Errorf(codes.FailedPrecondition, "path: the fence of %s belongs to cluster 5b0e3d4e-1f0a-4a43-9f3e-7f6c3c1d2e10 (epoch 936), "+
			"not to this cluster (0d8f6a52-3c1b-4b8e-a0c4-2f7d9e1b5a33), so every copy to it would be refused: if that cluster no longer uses the device, "+
			"register it with 'ferry tape import --take-over' to take it over", req.GetPath())
	}
	return &ferryv1.Cartridge{
		Barcode: "C00001L9", Library: req.GetLibrary(), Naa: "3f00000000000007", Path: req.GetPath(),
		Location:      &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: req.GetSlot()},
		CapacityBytes: 8 << 30, HomeSlot: req.GetSlot(), UsedBytes: 67_111_008,
		Files: []*ferryv1.TapeFile{
			{Number: 1, Bytes: 64 << 20, Records: 64, Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			{Number: 2, Bytes: 1 << 20, Records: 1, Sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", Incomplete: true},
		},
	}, nil
}

// TestTapeImportGolden runs tape import against the fake registry.
func TestTapeImportGolden(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	tests := []struct {
		golden string
		args   []string
	}{
		{"tape_import", []string{"tape", "import", "--library", "libA", "--slot", "3", "--path", "/vtl/old/C00001L9.tap", "--take-over"}},
		{"tape_import_other_cluster", []string{"tape", "import", "--library", "libA", "--slot", "3", "--path", "/vtl/old/C00001L9.tap"}},
		{"tape_import_damaged", []string{"tape", "import", "-library", "libA", "-slot", "3", "-path", "/vtl/bad.tap"}},
		{"tape_import_missing", []string{"tape", "import", "-library", "libA"}},
		{"tape_import_h", []string{"tape", "import", "-h"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...)
			checkGolden(t, tt.golden, r.String())
		})
	}
}

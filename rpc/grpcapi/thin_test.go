package grpcapi

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestCreateThinDisk: disk create --thin registers a thin disk in a sparse
// file, and ListDisks reports the bytes each disk's file takes as this
// node sees them, which the registry never stores.
func TestCreateThinDisk(t *testing.T) {
	node := newFakeNode()
	c := serveDevices(t, node)
	dir := t.TempDir()
	ctx := context.Background()
	thin, err := c.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: "thin1", Path: filepath.Join(dir, "thin.img"), SizeBytes: 8 << 20, Thin: true})
	if err != nil {
		t.Fatal(err)
	}
	full, err := c.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: "full1", Path: filepath.Join(dir, "full.img"), SizeBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !thin.GetThin() || full.GetThin() {
		t.Fatalf("thin = %v, full = %v: want the request's", thin.GetThin(), full.GetThin())
	}
	if err := os.WriteFile(thin.GetPath(), bytes.Repeat([]byte{1}, 1<<20), 0o644); err != nil { // keeps no size: truncates
		t.Fatal(err)
	}
	if err := os.Truncate(thin.GetPath(), 8<<20); err != nil {
		t.Fatal(err)
	}
	resp, err := c.ListDisks(ctx, &ferryv1.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, d := range resp.GetDisks() {
		got[d.GetName()] = d.GetAllocatedBytes()
	}
	if got["thin1"] < 1<<20 || got["thin1"] >= 2<<20 || got["full1"] >= 1<<20 {
		t.Fatalf("allocated bytes %v: want about 1 MiB for thin1, little for full1", got)
	}
	if d, _ := node.FSM().Disk("thin1"); d.GetAllocatedBytes() != 0 || !d.GetThin() {
		t.Fatalf("registry holds %v", d)
	}
}

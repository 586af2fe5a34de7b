package grpcapi

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// removeFixture is a fake node with library libR (in a temporary
// directory) holding a labelled cartridge R00001L9 with two data files on
// it, and a disk d1.
type removeFixture struct {
	node *fakeNode
	c    ferryv1.DeviceServiceClient
	dir  string
	cart *ferryv1.Cartridge
	disk *ferryv1.Disk
}

func newRemoveFixture(t *testing.T) *removeFixture {
	t.Helper()
	f := &removeFixture{node: newFakeNode(), dir: t.TempDir()}
	f.c = serveDevices(t, f.node)
	ctx := context.Background()
	if _, err := f.c.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: "libR", Dir: filepath.Join(f.dir, "libR"), Slots: 4, Drives: 1, CartridgeCapacityBytes: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.cart, err = f.c.LabelTape(ctx, &ferryv1.LabelTapeRequest{Library: "libR", Slot: 1, Barcode: "R00001L9"}); err != nil {
		t.Fatal(err)
	}
	tp, err := tape.Open(f.cart.GetPath(), tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, tp.Space(tape.SpaceEndOfData, 0))
	for range 2 {
		if _, err := tp.WriteRecord(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		if _, err := tp.WriteFilemarks(1); err != nil {
			t.Fatal(err)
		}
	}
	mustDo(t, tp.Close())
	if f.disk, err = f.c.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: "d1", Path: filepath.Join(f.dir, "d1.img"), SizeBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	return f
}

// submit queues a disk → tape copy from d1 to the cartridge.
func (f *removeFixture) submit(t *testing.T, id string) {
	t.Helper()
	res, err := f.node.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: id, Spec: &ferryv1.JobSpec{
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "d1"}}},
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "R00001L9"}}},
	}}}})
	if err != nil || res.Err != nil {
		t.Fatalf("submit: %v %v", err, res.Err)
	}
}

func (f *removeFixture) cancel(t *testing.T, id string) {
	t.Helper()
	res, err := f.node.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{JobId: id, Reason: "test"}}})
	if err != nil || res.Err != nil {
		t.Fatalf("cancel: %v %v", err, res.Err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

// TestEraseTape: refused while a job names the cartridge (nothing written),
// then the label alone is left, the catalog is empty and the fence holds
// the erase's epoch; an erase that a newer epoch fences out writes nothing.
func TestEraseTape(t *testing.T) {
	f := newRemoveFixture(t)
	ctx := context.Background()
	full := fileSize(t, f.cart.GetPath())
	f.submit(t, "j1")
	_, err := f.c.EraseTape(ctx, &ferryv1.EraseTapeRequest{Barcode: "R00001L9"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "used by job j1") {
		t.Fatalf("erase while queued: %v, want FAILED_PRECONDITION naming j1", err)
	}
	if got := fileSize(t, f.cart.GetPath()); got != full {
		t.Fatalf("a refused erase changed the image: %d bytes, was %d", got, full)
	}
	f.cancel(t, "j1")

	// A job placed after the erase's entry would hold a newer epoch: its
	// fence refuses the erase, which writes nothing.
	fc, err := fence.Open(f.cart.GetPath(), testClusterID)
	mustDo(t, err)
	mustDo(t, fc.Claim(ctx, 1<<40))
	mustDo(t, fc.Close())
	if _, err := f.c.EraseTape(ctx, &ferryv1.EraseTapeRequest{Barcode: "R00001L9"}); status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "still on it") {
		t.Fatalf("fenced erase: %v, want ABORTED saying the files are still there", err)
	}
	if got := fileSize(t, f.cart.GetPath()); got != full {
		t.Fatalf("a fenced erase changed the image: %d bytes, was %d", got, full)
	}

	mustDo(t, os.Remove(f.cart.GetPath()+".fence"))
	got, err := f.c.EraseTape(ctx, &ferryv1.EraseTapeRequest{Barcode: "R00001L9"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetFiles()) != 0 || got.GetUsedBytes() != f.cart.GetUsedBytes() || fileSize(t, f.cart.GetPath()) != int64(f.cart.GetUsedBytes()) {
		t.Fatalf("erased: %d files, used %d, image %d bytes; want none, the label's %d", len(got.GetFiles()), got.GetUsedBytes(), fileSize(t, f.cart.GetPath()), f.cart.GetUsedBytes())
	}
	tp, err := tape.Open(f.cart.GetPath(), tape.Options{ReadOnly: true})
	mustDo(t, err)
	defer tp.Close()
	if l, err := tape.ReadLabel(tp); err != nil || !strings.HasPrefix(l.VolumeID, "R00001") {
		t.Fatalf("label after erase: %+v %v", l, err)
	}
	if rec, err := fence.Read(f.cart.GetPath()); err != nil || rec.Epoch == 0 || rec.Cluster != testClusterID {
		t.Fatalf("fence after erase: %+v %v", rec, err)
	}
	if _, err := f.c.EraseTape(ctx, &ferryv1.EraseTapeRequest{Barcode: "Q00001L9"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown cartridge: %v", err)
	}
}

// TestRemoveDevices: removals refused while a job names the device delete
// nothing; files are kept without delete_files and deleted with it.
func TestRemoveDevices(t *testing.T) {
	f := newRemoveFixture(t)
	ctx := context.Background()
	f.submit(t, "j1")
	for name, call := range map[string]func() error{
		"disk": func() error {
			_, err := f.c.RemoveDisk(ctx, &ferryv1.RemoveDiskRequest{Name: "d1", DeleteFiles: true})
			return err
		},
		"tape": func() error {
			_, err := f.c.RemoveTape(ctx, &ferryv1.RemoveTapeRequest{Barcode: "R00001L9", DeleteFiles: true})
			return err
		},
		"library": func() error {
			_, err := f.c.RemoveLibrary(ctx, &ferryv1.RemoveLibraryRequest{Name: "libR", DeleteFiles: true})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "job j1") {
			t.Errorf("remove %s while j1 is queued: %v, want FAILED_PRECONDITION naming j1", name, err)
		}
	}
	for _, p := range []string{f.disk.GetPath(), f.cart.GetPath()} {
		if !exists(p) {
			t.Fatalf("%s deleted by a refused removal", p)
		}
	}
	f.cancel(t, "j1")
	if _, err := f.c.RemoveLibrary(ctx, &ferryv1.RemoveLibraryRequest{Name: "libR"}); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "--delete-files") {
		t.Fatalf("library with a cartridge: %v", err)
	}
	resp, err := f.c.RemoveDisk(ctx, &ferryv1.RemoveDiskRequest{Name: "d1"})
	if err != nil || !slices.Equal(resp.GetRemoved(), []string{"disk d1"}) || len(resp.GetDeletedFiles()) != 0 || !exists(f.disk.GetPath()) {
		t.Fatalf("remove d1: %v %v (file kept: %v)", resp, err, exists(f.disk.GetPath()))
	}
	resp, err = f.c.RemoveLibrary(ctx, &ferryv1.RemoveLibraryRequest{Name: "libR", DeleteFiles: true})
	if err != nil || !slices.Equal(resp.GetRemoved(), []string{"tape R00001L9", "library libR"}) {
		t.Fatalf("remove libR: %v %v", resp, err)
	}
	if exists(f.cart.GetPath()) || exists(filepath.Join(f.dir, "libR")) {
		t.Fatalf("files left after remove --delete-files: %v", resp.GetDeletedFiles())
	}
	if _, ok := f.node.FSM().Library("libR"); ok {
		t.Fatal("libR still registered")
	}
	if _, err := f.c.RemoveTape(ctx, &ferryv1.RemoveTapeRequest{Barcode: "R00001L9"}); status.Code(err) != codes.NotFound {
		t.Fatalf("removed twice: %v", err)
	}
	if _, err := f.c.RemoveDisk(ctx, &ferryv1.RemoveDiskRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("no name: %v", err)
	}
}

// TestListCartridgesLeavesCatalogsOut: a listing counts each cartridge's
// files without carrying them; asking for one barcode brings its catalog.
func TestListCartridgesLeavesCatalogsOut(t *testing.T) {
	node := newFakeNode()
	files := []*ferryv1.TapeFile{{Number: 1, Bytes: 10, Records: 1}, {Number: 2, Incomplete: true}}
	if res, err := node.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
		Barcode: "C00001L9", Library: "libA", Naa: "3000000000000003", Path: "/vtl/libA/C00001L9.tap", Files: files,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 2}}}}}); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	c := serveDevices(t, node)
	list, err := c.ListCartridges(context.Background(), &ferryv1.ListCartridgesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cart := range list.GetCartridges() {
		if len(cart.GetFiles()) != 0 || cart.GetBarcode() == "C00001L9" && cart.GetFileCount() != 2 {
			t.Fatalf("listed %s with %d files, count %d", cart.GetBarcode(), len(cart.GetFiles()), cart.GetFileCount())
		}
	}
	one, err := c.ListCartridges(context.Background(), &ferryv1.ListCartridgesRequest{Barcode: "C00001L9"})
	if err != nil || len(one.GetCartridges()) != 1 || len(one.GetCartridges()[0].GetFiles()) != 2 || one.GetCartridges()[0].GetFileCount() != 2 {
		t.Fatalf("one cartridge: %v %v", one, err)
	}
	if _, err := c.ListCartridges(context.Background(), &ferryv1.ListCartridgesRequest{Barcode: "Q00001L9"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown barcode: %v", err)
	}
}

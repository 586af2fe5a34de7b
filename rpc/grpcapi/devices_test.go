package grpcapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/disk"
)

// serveDevices serves a DeviceService on node over loopback.
func serveDevices(t *testing.T, node Node) ferryv1.DeviceServiceClient {
	t.Helper()
	conn := serveGRPC(t, func(gs *grpc.Server) { ferryv1.RegisterDeviceServiceServer(gs, NewDeviceServer(node)) })
	return ferryv1.NewDeviceServiceClient(conn)
}

// TestOneFileOneDisk: a file registered as a disk cannot be registered
// again under any other path that reaches it, nor as a cartridge.
func TestOneFileOneDisk(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "real", "d.img")
	if err := os.Mkdir(filepath.Dir(img), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := disk.Create(img, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	mustDo(t, os.Symlink(img, filepath.Join(dir, "sym.img")))
	mustDo(t, os.Link(img, filepath.Join(dir, "hard.img")))
	mustDo(t, os.Symlink(filepath.Dir(img), filepath.Join(dir, "linkdir")))
	c := serveDevices(t, newFakeNode())
	first, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d1", Path: filepath.Join(dir, "linkdir", "..", "real", "d.img")})
	if err != nil {
		t.Fatal(err)
	}
	canon, err := filepath.EvalSymlinks(img)
	if err != nil {
		t.Fatal(err)
	}
	if first.GetPath() != canon || first.GetIdentity().GetIno() == 0 {
		t.Errorf("registered path %q identity %v, want the canonical path %q and an inode", first.GetPath(), first.GetIdentity(), canon)
	}
	for _, tc := range []struct{ name, path string }{
		{"the same path", img},
		{"a symlink", filepath.Join(dir, "sym.img")},
		{"a hard link", filepath.Join(dir, "hard.img")},
		{"a symlinked directory", filepath.Join(dir, "linkdir", "d.img")},
		{"/proc/self/root", "/proc/self/root" + img},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d2", Path: tc.path})
			if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), `"d1"`) {
				t.Fatalf("AddDisk(%s) = %v, want ALREADY_EXISTS naming d1", tc.path, err)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// outcomeNode is a fakeNode whose first proposal's fate the test picks:
// applied or not, and reported lost either way, as a timed-out proposal
// is.
type outcomeNode struct {
	*fakeNode
	applyFirst bool
	calls      atomic.Int32
}

func (n *outcomeNode) Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	if n.calls.Add(1) == 1 {
		if n.applyFirst {
			n.fakeNode.Propose(ctx, cmd)
		}
		return fsm.Result{}, context.DeadlineExceeded
	}
	return n.fakeNode.Propose(ctx, cmd)
}

// TestCreateKeepsRegisteredFiles: a create whose proposal's outcome is
// unknown keeps its file, and the device ends up registered with it; a
// refused one leaves nothing behind.
func TestCreateKeepsRegisteredFiles(t *testing.T) {
	for _, applied := range []bool{true, false} {
		name := map[bool]string{true: "committed before the timeout", false: "lost"}[applied]
		t.Run(name, func(t *testing.T) {
			n := &outcomeNode{fakeNode: newFakeNode(), applyFirst: applied}
			c := serveDevices(t, n)
			dir := t.TempDir()
			path := filepath.Join(dir, "new.img")
			_, err := c.CreateDisk(context.Background(), &ferryv1.CreateDiskRequest{Name: "d9", Path: path, SizeBytes: 1 << 20})
			if err != nil {
				t.Fatalf("CreateDisk: %v", err)
			}
			d, ok := n.fsm.Disk("d9")
			if !ok {
				t.Fatal("d9 is not registered")
			}
			if _, err := os.Stat(d.GetPath()); err != nil {
				t.Fatalf("the registered disk's file: %v", err)
			}
			if got := n.calls.Load(); applied && got != 1 || !applied && got != 2 {
				t.Errorf("%d proposals", got)
			}

			lib := filepath.Join(dir, "a", "b")
			if _, err := c.CreateLibrary(context.Background(), &ferryv1.CreateLibraryRequest{Name: "l1", Dir: lib, Slots: 2, Drives: 1, CartridgeCapacityBytes: 1 << 20}); err != nil {
				t.Fatalf("CreateLibrary: %v", err)
			}
			tp, err := c.LabelTape(context.Background(), &ferryv1.LabelTapeRequest{Library: "l1", Slot: 1, Barcode: "B00001L9"})
			if err != nil {
				t.Fatalf("LabelTape: %v", err)
			}
			if _, err := os.Stat(tp.GetPath()); err != nil {
				t.Fatalf("the cartridge's image: %v", err)
			}
		})
	}
}

// TestRefusedCreateLeavesNothing: a create the state machine refuses
// removes the file or the directories it made.
func TestRefusedCreateLeavesNothing(t *testing.T) {
	c := serveDevices(t, newFakeNode())
	dir := t.TempDir()
	// db01's NAA is random, its path free: the name is what is refused, by
	// the library's name check in the state machine.
	_, err := c.CreateLibrary(context.Background(), &ferryv1.CreateLibraryRequest{Name: "db01", Dir: filepath.Join(dir, "x", "y"),
		Slots: 2, Drives: 1, CartridgeCapacityBytes: 1 << 20})
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), `disk "db01"`) {
		t.Fatalf("CreateLibrary named like a disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused library left its directory: %v", err)
	}
	_, err = c.CreateDisk(context.Background(), &ferryv1.CreateDiskRequest{Name: "libA", Path: filepath.Join(dir, "l.img"), SizeBytes: 1 << 20})
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), `library "libA"`) {
		t.Fatalf("CreateDisk named like a library: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "l.img")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused disk left its file: %v", err)
	}
}

package grpcapi

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/devicedirs"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/fence"
)

// serveDevices serves a DeviceService on node over loopback.
func serveDevices(t *testing.T, node Node) ferryv1.DeviceServiceClient {
	return serveDevicesWith(t, node, devicedirs.Policy{})
}

// serveDevicesWith serves a DeviceService with a path policy.
func serveDevicesWith(t *testing.T, node Node, paths devicedirs.Policy) ferryv1.DeviceServiceClient {
	t.Helper()
	conn := serveGRPC(t, func(gs *grpc.Server) { ferryv1.RegisterDeviceServiceServer(gs, NewDeviceServer(node, paths)) })
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

// TestOneFileOneDiskAfterAMove: a registered disk's file moved away and
// another put at its path leaves the registry's identity stale: the disk
// now writes the new file, which a second registration through a hard link
// reached as a "new" file, so two disks (two fences, two locks) wrote one
// file. The file at a registered device's path is that device's whatever
// the registry recorded, so registering it again is refused.
func TestOneFileOneDiskAfterAMove(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "d.img")
	if err := disk.Create(img, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	c := serveDevices(t, newFakeNode())
	if _, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d1", Path: img}); err != nil {
		t.Fatal(err)
	}
	mustDo(t, os.Rename(img, filepath.Join(dir, "moved.img")))
	if err := disk.Create(img, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	mustDo(t, os.Link(img, filepath.Join(dir, "hard.img")))
	_, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d2", Path: filepath.Join(dir, "hard.img")})
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), `"d1"`) {
		t.Fatalf("AddDisk of the file now at d1's path = %v, want ALREADY_EXISTS naming d1", err)
	}
	// The moved file is still d1's by its identity.
	_, err = c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d3", Path: filepath.Join(dir, "moved.img")})
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), `"d1"`) {
		t.Fatalf("AddDisk of d1's moved file = %v, want ALREADY_EXISTS naming d1", err)
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

// fenceV1 is a fence record as versions without cluster ids wrote it.
func fenceV1(epoch uint64) []byte {
	b := append([]byte("FNC1"), binary.BigEndian.AppendUint64(nil, epoch)...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// TestAddDiskTakeOver: a disk whose fence is another cluster's is refused
// with the flag named, and taken over with it; fences of this cluster, or
// without a cluster and below this cluster's index, are accepted as they
// are.
// TestRefusedTakeOverLeavesTheFence: a disk add --take-over that the
// registry refuses (its name is taken) rewrote the device's fence anyway,
// so the cluster that owns the device could no longer copy to it. The
// fence is taken over only once the registration committed.
func TestRefusedTakeOverLeavesTheFence(t *testing.T) {
	n := newFakeNode()
	c := serveDevices(t, n)
	dir := t.TempDir()
	other, path := filepath.Join(dir, "other.img"), filepath.Join(dir, "d.img")
	for _, p := range []string{other, path} {
		if err := disk.Create(p, 1<<20, 512); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d1", Path: other}); err != nil {
		t.Fatal(err)
	}
	claimAs("cluster-1", 936)(t, path)
	_, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d1", Path: path, TakeOver: true})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("AddDisk under a taken name = %v, want ALREADY_EXISTS", err)
	}
	if rec, err := fence.Read(path); err != nil || rec.Cluster != "cluster-1" || rec.Epoch != 936 {
		t.Fatalf("the refused take-over left the fence %+v (%v), want cluster-1's at epoch 936", rec, err)
	}
}

func TestAddDiskTakeOver(t *testing.T) {
	tests := []struct {
		name     string
		fence    func(t *testing.T, path string)
		takeOver bool
		// refused: the error wanted without take_over, or "" for success.
		refused string
		// after: the fence's cluster after the registration.
		after string
	}{
		{name: "no fence", fence: func(*testing.T, string) {}},
		{name: "another cluster's fence", fence: claimAs("cluster-1", 936),
			refused: "belongs to cluster cluster-1 (epoch 936), not to this cluster (test-cluster)", after: "cluster-1"},
		{name: "another cluster's fence, taken over", fence: claimAs("cluster-1", 936), takeOver: true, after: testClusterID},
		{name: "this cluster's fence", fence: claimAs(testClusterID, 2), after: testClusterID},
		{name: "an old fence beyond this cluster's index", fence: writeFence(fenceV1(936)), refused: "wrote no id into it (epoch 936"},
		{name: "an old fence beyond this cluster's index, taken over", fence: writeFence(fenceV1(936)), takeOver: true, after: testClusterID},
		{name: "an old fence within this cluster's index", fence: writeFence(fenceV1(1))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNode()
			c := serveDevices(t, n)
			path := filepath.Join(t.TempDir(), "d.img")
			if err := disk.Create(path, 1<<20, 512); err != nil {
				t.Fatal(err)
			}
			tc.fence(t, path)
			_, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "d1", Path: path, TakeOver: tc.takeOver})
			if tc.refused != "" {
				if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), tc.refused) ||
					!strings.Contains(err.Error(), "'ferry disk add --take-over'") {
					t.Fatalf("AddDisk = %v, want FAILED_PRECONDITION with %q and the flag", err, tc.refused)
				}
				if _, ok := n.fsm.Disk("d1"); ok {
					t.Fatal("the refused disk was registered")
				}
			} else if err != nil {
				t.Fatalf("AddDisk: %v", err)
			}
			rec, err := fence.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Cluster != tc.after {
				t.Errorf("the fence is cluster %q's, want %q's", rec.Cluster, tc.after)
			}
			if tc.takeOver && rec.Epoch > n.RaftStatus().GetAppliedIndex() {
				t.Errorf("taken over at epoch %d, beyond the index %d", rec.Epoch, n.RaftStatus().GetAppliedIndex())
			}
		})
	}
}

func claimAs(cluster string, epoch uint64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		f, err := fence.Open(path, cluster)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Claim(context.Background(), epoch); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFence(b []byte) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path+".fence", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// lostNode loses every proposal and cannot read either: the outcome of a
// create stays unknown.
type lostNode struct{ *fakeNode }

func (n lostNode) Propose(context.Context, *ferryv1.Command) (fsm.Result, error) {
	return fsm.Result{}, context.DeadlineExceeded
}

func (n lostNode) LinearizableRead(context.Context) error { return context.DeadlineExceeded }

// TestCreateKeepsFileWhenUnknown: a create whose registration may or may
// not have committed, and cannot be looked up, keeps its file and says so.
func TestCreateKeepsFileWhenUnknown(t *testing.T) {
	c := serveDevices(t, lostNode{newFakeNode()})
	path := filepath.Join(t.TempDir(), "d.img")
	_, err := c.CreateDisk(context.Background(), &ferryv1.CreateDiskRequest{Name: "d9", Path: path, SizeBytes: 1 << 20})
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "was kept") {
		t.Fatalf("CreateDisk = %v, want DEADLINE_EXCEEDED saying the file was kept", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file of a registration that may have committed was removed: %v", err)
	}
}

// TestCreateLibraryDriveModel: the drive model is kept, and a value out of
// bounds is refused naming its field.
func TestCreateLibraryDriveModel(t *testing.T) {
	n := newFakeNode()
	c := serveDevices(t, n)
	dir := t.TempDir()
	_, err := c.CreateLibrary(context.Background(), &ferryv1.CreateLibraryRequest{Name: "l1", Dir: filepath.Join(dir, "l1"), Slots: 2, Drives: 1,
		CartridgeCapacityBytes: 1 << 20, DriveRateBytesPerSecond: 1 << 41, LoadTimeMillis: 3_600_000, LocateRateBytesPerSecond: 10e9})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateLibrary with a 2 TiB/s drive and an hour's load: %v", err)
	}
	if got := fieldViolations(t, err); !slices.Equal(got, []string{"drive_rate_bytes_per_second", "load_time_millis"}) {
		t.Errorf("field violations %v", got)
	}
	lib, err := c.CreateLibrary(context.Background(), &ferryv1.CreateLibraryRequest{Name: "l2", Dir: filepath.Join(dir, "l2"), Slots: 2, Drives: 1,
		CartridgeCapacityBytes: 1 << 20, DriveRateBytesPerSecond: 400e6, LoadTimeMillis: 15_000, LocateRateBytesPerSecond: 10e9})
	if err != nil {
		t.Fatalf("CreateLibrary: %v", err)
	}
	if lib.GetDriveRateBytesPerSecond() != 400e6 || lib.GetLoadTimeMillis() != 15_000 || lib.GetLocateRateBytesPerSecond() != 10e9 {
		t.Errorf("the library's drive model: %v", lib)
	}
}

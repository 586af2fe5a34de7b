package grpcapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/devicedirs"
	"github.com/ferry-san/ferry/storage/disk"
)

// TestPathPolicy: with device directories set, a path outside them is
// refused (PERMISSION_DENIED naming the field), however it is spelled
// (a symlink out of an allowed directory, ..); the node's data directory
// is refused even inside them; a refused library leaves no directory
// behind; paths inside are registered.
func TestPathPolicy(t *testing.T) {
	root := t.TempDir()
	san, data, outside := filepath.Join(root, "san"), filepath.Join(root, "san", "node-data"), filepath.Join(root, "etc")
	for _, d := range []string{san, data, outside} {
		mustDo(t, os.MkdirAll(d, 0o755))
	}
	for _, f := range []string{filepath.Join(outside, "shadow"), filepath.Join(data, "raft.db"), filepath.Join(san, "ok.img")} {
		mustDo(t, disk.Create(f, 1<<20, 512))
	}
	mustDo(t, os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(san, "escape.img")))
	policy, err := devicedirs.New([]string{san}, []string{data})
	if err != nil {
		t.Fatal(err)
	}
	c := serveDevicesWith(t, newFakeNode(), policy)
	ctx := context.Background()
	refused := func(what string, err error, field, why string) {
		t.Helper()
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), field+" ") || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want PERMISSION_DENIED naming %s and saying %q", what, err, field, why)
		}
	}
	_, err = c.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: "a", Path: filepath.Join(outside, "shadow")})
	refused("a file outside", err, "path", "outside this node's device directories")
	_, err = c.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: "b", Path: filepath.Join(san, "escape.img")})
	refused("a symlink out", err, "path", "outside this node's device directories")
	_, err = c.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: "c", Path: filepath.Join(san, "..", "etc", "shadow")})
	refused("..", err, "path", "outside this node's device directories")
	_, err = c.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: "d", Path: filepath.Join(data, "raft.db")})
	refused("the node's raft.db", err, "path", "own data")
	_, err = c.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: "e", Path: filepath.Join(outside, "new.img"), SizeBytes: 1 << 20})
	refused("a new disk outside", err, "path", "outside")
	if _, err := os.Stat(filepath.Join(outside, "new.img")); err == nil {
		t.Error("a refused disk was created")
	}
	_, err = c.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: "l", Dir: filepath.Join(outside, "a", "b"), Slots: 1, Drives: 1, CartridgeCapacityBytes: 1 << 20})
	refused("a library outside", err, "dir", "outside")
	if _, err := os.Stat(filepath.Join(outside, "a")); err == nil {
		t.Error("a refused library left a directory")
	}
	_, err = c.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: "l", Dir: san, Slots: 1, Drives: 1, CartridgeCapacityBytes: 1 << 20})
	refused("a library holding the data directory", err, "dir", "own data")
	_, err = c.ImportTape(ctx, &ferryv1.ImportTapeRequest{Library: "l", Path: filepath.Join(outside, "shadow")})
	if status.Code(err) != codes.PermissionDenied && status.Code(err) != codes.NotFound && status.Code(err) != codes.InvalidArgument {
		t.Errorf("import from outside: %v", err)
	}
	if _, err := c.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: "ok", Path: filepath.Join(san, "ok.img")}); err != nil {
		t.Fatalf("a disk inside the device directories: %v", err)
	}
	if _, err := c.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: "lib", Dir: filepath.Join(san, "vtl", "lib"), Slots: 1, Drives: 1, CartridgeCapacityBytes: 1 << 20}); err != nil {
		t.Fatalf("a library inside the device directories: %v", err)
	}
}

// TestPathPolicyNoDirs: without device directories any path goes, but
// never the node's data directory.
func TestPathPolicyNoDirs(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	mustDo(t, os.MkdirAll(data, 0o755))
	mustDo(t, disk.Create(filepath.Join(data, "raft.db"), 1<<20, 512))
	mustDo(t, disk.Create(filepath.Join(root, "x.img"), 1<<20, 512))
	policy, err := devicedirs.New(nil, []string{data})
	if err != nil {
		t.Fatal(err)
	}
	c := serveDevicesWith(t, newFakeNode(), policy)
	if _, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "r", Path: filepath.Join(data, "raft.db")}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("raft.db: %v", err)
	}
	if _, err := c.AddDisk(context.Background(), &ferryv1.AddDiskRequest{Name: "x", Path: filepath.Join(root, "x.img")}); err != nil {
		t.Errorf("any other path: %v", err)
	}
}

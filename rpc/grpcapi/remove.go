package grpcapi

import (
	"context"
	"errors"
	"os"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// RemoveDisk unregisters a disk; its image and fence are deleted only with
// delete_files, and only after the removal committed: a refused removal
// deletes nothing.
func (s *DeviceServer) RemoveDisk(ctx context.Context, req *ferryv1.RemoveDiskRequest) (*ferryv1.RemoveResponse, error) {
	if req.GetName() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "name", Description: "required"})
	}
	res, err := s.register(ctx, removeOp(&ferryv1.RemoveDeviceOp{Disk: req.GetName()}))
	if err != nil {
		return nil, err
	}
	out := &ferryv1.RemoveResponse{Removed: []string{"disk " + res.Disk.GetName()}}
	return out, deleteFiles(req.GetDeleteFiles(), out, res.Disk.GetPath(), fence.Path(res.Disk.GetPath()))
}

// RemoveTape unregisters a cartridge (refused in a drive or while a job
// that has not ended names it); delete_files deletes its image and fence
// afterwards.
func (s *DeviceServer) RemoveTape(ctx context.Context, req *ferryv1.RemoveTapeRequest) (*ferryv1.RemoveResponse, error) {
	if req.GetBarcode() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "barcode", Description: "required"})
	}
	res, err := s.register(ctx, removeOp(&ferryv1.RemoveDeviceOp{Cartridge: req.GetBarcode()}))
	if err != nil {
		return nil, err
	}
	out := &ferryv1.RemoveResponse{Removed: []string{"tape " + res.Cartridge.GetBarcode()}}
	return out, deleteFiles(req.GetDeleteFiles(), out, cartridgeFiles(res.Cartridge.GetPath())...)
}

// RemoveLibrary unregisters a library. One that holds cartridges is
// refused unless delete_files, which removes them first, one removal each
// (each refused like tape remove), deleting their images, then the
// library. The library's directory is removed if that leaves it empty.
func (s *DeviceServer) RemoveLibrary(ctx context.Context, req *ferryv1.RemoveLibraryRequest) (*ferryv1.RemoveResponse, error) {
	if req.GetName() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "name", Description: "required"})
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	lib, ok := s.node.FSM().Library(req.GetName())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no library named %q", req.GetName())
	}
	carts := s.node.FSM().Cartridges(lib.GetName())
	if len(carts) > 0 && !req.GetDeleteFiles() {
		return nil, status.Errorf(codes.FailedPrecondition,
			"library %s holds %d cartridges: remove them first, or remove the library with --delete-files to delete them with it", lib.GetName(), len(carts))
	}
	// Nothing is removed while a job uses the library or a cartridge is in
	// a drive: the state machine would refuse the library in the end, and
	// half a library deleted is no help. (A job submitted meanwhile stops
	// the removals at its cartridge.)
	if err := s.node.FSM().LibraryIdle(lib.GetName()); err != nil {
		return nil, toStatus(err)
	}
	out := &ferryv1.RemoveResponse{}
	for _, c := range carts {
		res, err := s.register(ctx, removeOp(&ferryv1.RemoveDeviceOp{Cartridge: c.GetBarcode()}))
		if err != nil {
			return out, err
		}
		out.Removed = append(out.Removed, "tape "+res.Cartridge.GetBarcode())
		if err := deleteFiles(true, out, cartridgeFiles(res.Cartridge.GetPath())...); err != nil {
			return out, err
		}
	}
	res, err := s.register(ctx, removeOp(&ferryv1.RemoveDeviceOp{Library: lib.GetName()}))
	if err != nil {
		return out, err
	}
	out.Removed = append(out.Removed, "library "+res.Library.GetName())
	if req.GetDeleteFiles() {
		// Only an empty directory: files Ferry does not know stay.
		if err := os.Remove(lib.GetDir()); err == nil {
			out.DeletedFiles = append(out.DeletedFiles, lib.GetDir())
		}
	}
	return out, nil
}

func removeOp(op *ferryv1.RemoveDeviceOp) *ferryv1.Command {
	return &ferryv1.Command{Op: &ferryv1.Command_RemoveDevice{RemoveDevice: op}}
}

// cartridgeFiles are a cartridge image's files: the image, its fence and
// its index file (storage/tape).
func cartridgeFiles(path string) []string {
	return []string{path, fence.Path(path), tape.IndexPath(path)}
}

// deleteFiles deletes a removed device's files (its image first) when
// asked, listing what it deleted in out. A file already gone is not an
// error.
func deleteFiles(yes bool, out *ferryv1.RemoveResponse, files ...string) error {
	if !yes {
		return nil
	}
	path := files[0]
	var errs []error
	for _, p := range files {
		switch err := os.Remove(p); {
		case err == nil:
			out.DeletedFiles = append(out.DeletedFiles, p)
		case !errors.Is(err, os.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return status.Errorf(codes.Internal, "%s was removed from the cluster but its files were not all deleted: %v", path, err)
	}
	return nil
}

package grpcapi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/executor"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/library"
	"github.com/ferry-san/ferry/storage/tape"
)

// DeviceServer implements DeviceService. Files are created on the node that
// receives the request; the paths must be reachable by every node that will
// run copies on them (a SAN, or one machine).
type DeviceServer struct {
	ferryv1.UnimplementedDeviceServiceServer
	node Node
}

// NewDeviceServer returns a DeviceServer on node.
func NewDeviceServer(node Node) *DeviceServer { return &DeviceServer{node: node} }

// newNAA makes a locally assigned NAA designator (NAA type 3): the first
// nibble is 3, the other 60 bits random, unique in practice and checked
// unique by the state machine.
func newNAA() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	v := binary.BigEndian.Uint64(b[:])&(1<<60-1) | 3<<60
	binary.BigEndian.PutUint64(b[:], v)
	return hex.EncodeToString(b[:])
}

func (s *DeviceServer) register(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	res, err := s.node.Propose(ctx, cmd)
	if err != nil {
		return res, toStatus(err)
	}
	return res, toStatus(res.Err)
}

func (s *DeviceServer) CreateDisk(ctx context.Context, req *ferryv1.CreateDiskRequest) (*ferryv1.Disk, error) {
	bs := req.GetBlockSize()
	if bs == 0 {
		bs = 512
	}
	var bad []fsm.FieldViolation
	if req.GetName() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "name", Description: "required"})
	}
	if !filepath.IsAbs(req.GetPath()) {
		bad = append(bad, fsm.FieldViolation{Field: "path", Description: "must be an absolute path"})
	}
	if bs != 512 && bs != 4096 {
		bad = append(bad, fsm.FieldViolation{Field: "block_size", Description: "must be 512 or 4096"})
	}
	if req.GetSizeBytes() == 0 || req.GetSizeBytes()%uint64(bs) != 0 {
		bad = append(bad, fsm.FieldViolation{Field: "size_bytes", Description: fmt.Sprintf("must be a positive multiple of the block size (%d)", bs)})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	if _, ok := s.node.FSM().Disk(req.GetName()); ok {
		return nil, status.Errorf(codes.AlreadyExists, "a disk named %q exists", req.GetName())
	}
	if err := disk.Create(req.GetPath(), int64(req.GetSizeBytes()), bs); err != nil {
		return nil, fileError("path", err)
	}
	// A fence left beside an earlier file at this path is not this disk's.
	if err := fence.Remove(req.GetPath()); err != nil {
		os.Remove(req.GetPath()) // ours: created just now
		return nil, fileError("path", err)
	}
	d := &ferryv1.Disk{Name: req.GetName(), Naa: newNAA(), Path: filepath.Clean(req.GetPath()), SizeBytes: req.GetSizeBytes(), BlockSize: bs, Site: s.siteOr(req.GetSite())}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: d}}})
	if err != nil {
		os.Remove(req.GetPath()) // ours: created just now
		return nil, err
	}
	return res.Disk, nil
}

func (s *DeviceServer) AddDisk(ctx context.Context, req *ferryv1.AddDiskRequest) (*ferryv1.Disk, error) {
	var bad []fsm.FieldViolation
	if req.GetName() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "name", Description: "required"})
	}
	if !filepath.IsAbs(req.GetPath()) {
		bad = append(bad, fsm.FieldViolation{Field: "path", Description: "must be an absolute path"})
	}
	if bs := req.GetBlockSize(); bs != 0 && bs != 512 && bs != 4096 {
		bad = append(bad, fsm.FieldViolation{Field: "block_size", Description: "must be 512 or 4096"})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	lun, err := disk.Open(req.GetPath(), disk.Options{BlockSize: req.GetBlockSize(), ReadOnly: true})
	if err != nil {
		return nil, fileError("path", err)
	}
	d := &ferryv1.Disk{Name: req.GetName(), Naa: newNAA(), Path: filepath.Clean(req.GetPath()), SizeBytes: uint64(lun.Size()),
		BlockSize: lun.BlockSize(), ReadOnly: req.GetReadOnly(), Site: s.siteOr(req.GetSite())}
	lun.Close()
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: d}}})
	if err != nil {
		return nil, err
	}
	return res.Disk, nil
}

func (s *DeviceServer) ListDisks(ctx context.Context, _ *ferryv1.ListDisksRequest) (*ferryv1.ListDisksResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	return &ferryv1.ListDisksResponse{Disks: s.node.FSM().Disks()}, nil
}

func (s *DeviceServer) CreateLibrary(ctx context.Context, req *ferryv1.CreateLibraryRequest) (*ferryv1.Library, error) {
	var bad []fsm.FieldViolation
	if req.GetName() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "name", Description: "required"})
	}
	if !filepath.IsAbs(req.GetDir()) {
		bad = append(bad, fsm.FieldViolation{Field: "dir", Description: "must be an absolute path"})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	ie := req.GetIeSlots()
	if ie == 0 {
		ie = 1
	}
	if err := os.MkdirAll(req.GetDir(), 0o755); err != nil {
		return nil, fileError("dir", err)
	}
	lib := &ferryv1.Library{Name: req.GetName(), Dir: filepath.Clean(req.GetDir()), Site: s.siteOr(req.GetSite()), Slots: req.GetSlots(),
		Drives: req.GetDrives(), IeSlots: ie, CartridgeCapacityBytes: req.GetCartridgeCapacityBytes()}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: lib}}})
	if err != nil {
		return nil, err
	}
	return res.Library, nil
}

func (s *DeviceServer) ListLibraries(ctx context.Context, _ *ferryv1.ListLibrariesRequest) (*ferryv1.ListLibrariesResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	return &ferryv1.ListLibrariesResponse{Libraries: s.node.FSM().Libraries()}, nil
}

func (s *DeviceServer) Inventory(ctx context.Context, req *ferryv1.InventoryRequest) (*ferryv1.Library, error) {
	if req.GetLibrary() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "library", Description: "required"})
	}
	if err := linearize(ctx, s.node, req.GetStale()); err != nil {
		return nil, err
	}
	lib, ok := s.node.FSM().Library(req.GetLibrary())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no library named %q", req.GetLibrary())
	}
	return lib, nil
}

func (s *DeviceServer) LabelTape(ctx context.Context, req *ferryv1.LabelTapeRequest) (*ferryv1.Cartridge, error) {
	var bad []fsm.FieldViolation
	if err := library.ValidBarcode(req.GetBarcode()); err != nil {
		bad = append(bad, fsm.FieldViolation{Field: "barcode", Description: err.Error()})
	}
	if req.GetSlot() == 0 {
		bad = append(bad, fsm.FieldViolation{Field: "slot", Description: "required: slots count from 1"})
	}
	if req.GetLibrary() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "library", Description: "required"})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	lib, ok := s.node.FSM().Library(req.GetLibrary())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no library named %q", req.GetLibrary())
	}
	if req.GetSlot() > lib.GetSlots() {
		return nil, invalid(fsm.FieldViolation{Field: "slot", Description: fmt.Sprintf("library %s has slots 1 to %d", lib.GetName(), lib.GetSlots())})
	}
	if _, ok := s.node.FSM().Cartridge(req.GetBarcode()); ok {
		return nil, status.Errorf(codes.AlreadyExists, "cartridge %s exists", req.GetBarcode())
	}
	path := filepath.Join(lib.GetDir(), req.GetBarcode()+".tap")
	if err := writeLabelledCartridge(path, req.GetBarcode(), int64(lib.GetCartridgeCapacityBytes())); err != nil {
		return nil, fileError("barcode", err)
	}
	c := &ferryv1.Cartridge{
		Barcode: req.GetBarcode(), Library: lib.GetName(), Naa: newNAA(), Path: path,
		Location:      &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: req.GetSlot()},
		CapacityBytes: lib.GetCartridgeCapacityBytes(), HomeSlot: req.GetSlot(),
	}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: c}}})
	if err != nil {
		os.Remove(path) // ours: created just now
		return nil, err
	}
	return res.Cartridge, nil
}

func writeLabelledCartridge(path, barcode string, capacity int64) (err error) {
	t, err := tape.Create(path, tape.Options{Capacity: capacity})
	if err != nil {
		return err
	}
	// A fence left beside an earlier file at this path is not this
	// cartridge's.
	if err := fence.Remove(path); err != nil {
		return errors.Join(err, t.Close(), os.Remove(path))
	}
	defer func() {
		err = errors.Join(err, t.Close())
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := tape.WriteLabel(t, barcode); err != nil {
		return err
	}
	return t.Flush()
}

func (s *DeviceServer) ListCartridges(ctx context.Context, req *ferryv1.ListCartridgesRequest) (*ferryv1.ListCartridgesResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	return &ferryv1.ListCartridgesResponse{Cartridges: s.node.FSM().Cartridges(req.GetLibrary())}, nil
}

func (s *DeviceServer) Hash(ctx context.Context, req *ferryv1.HashRequest) (*ferryv1.HashResponse, error) {
	if bad := fsm.ValidateEndpoint("endpoint", req.GetEndpoint()); len(bad) > 0 {
		return nil, invalid(bad...)
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	resp, err := executor.Hash(ctx, s.node.FSM(), req.GetEndpoint())
	if err != nil {
		return nil, deviceError(err)
	}
	return resp, nil
}

// siteOr defaults a new device's site to the site of the node registering
// it: an administrator registers a LUN or a library through a node on the
// same fabric, and the scheduler gives a node every device of its site.
func (s *DeviceServer) siteOr(site string) string {
	if site != "" {
		return site
	}
	if n, ok := s.node.FSM().NodeByName(s.node.Name()); ok && n.GetSite() != "" {
		return n.GetSite()
	}
	return "default"
}

// fileError reports a problem with a path the caller gave.
func fileError(field string, err error) error {
	switch {
	case errors.Is(err, os.ErrExist):
		return status.Errorf(codes.AlreadyExists, "%s: %v", field, err)
	case errors.Is(err, os.ErrNotExist):
		return status.Errorf(codes.NotFound, "%s: %v", field, err)
	case errors.Is(err, os.ErrPermission):
		return status.Errorf(codes.PermissionDenied, "%s: %v", field, err)
	}
	return status.Errorf(codes.FailedPrecondition, "%s: %v", field, err)
}

// deviceError maps device-level failures of a read such as Hash.
func deviceError(err error) error {
	switch {
	case errors.Is(err, disk.ErrOutOfRange), errors.Is(err, fsm.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, tape.ErrEndOfData):
		return status.Error(codes.OutOfRange, err.Error())
	}
	return toStatus(err)
}

// linearize makes the node's state fresh enough for a read: linearizable
// (Raft ReadIndex) unless the caller accepted a stale one.
func linearize(ctx context.Context, n Node, stale bool) error {
	if stale {
		return nil
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	return toStatus(n.LinearizableRead(ctx))
}

func (s *DeviceServer) ProtectTape(ctx context.Context, req *ferryv1.ProtectTapeRequest) (*ferryv1.Cartridge, error) {
	if req.GetBarcode() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "barcode", Description: "required"})
	}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{
		Barcode: req.GetBarcode(), WriteProtected: req.GetWriteProtected(),
	}}})
	if err != nil {
		return nil, err
	}
	return res.Cartridge, nil
}

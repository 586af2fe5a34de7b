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
	"github.com/ferry-san/ferry/security/devicedirs"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/drivemodel"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/library"
	"github.com/ferry-san/ferry/storage/tape"
)

// DeviceServer implements DeviceService. Files are created on the node that
// receives the request; the paths must be reachable by every node that will
// run copies on them (a SAN, or one machine).
type DeviceServer struct {
	ferryv1.UnimplementedDeviceServiceServer
	node  Node
	paths devicedirs.Policy
}

// NewDeviceServer returns a DeviceServer on node that registers devices
// where paths allows.
func NewDeviceServer(node Node, paths devicedirs.Policy) *DeviceServer {
	return &DeviceServer{node: node, paths: paths}
}

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
	return propose(ctx, s.node, cmd)
}

// propose replicates cmd under the call's deadline (or the default one)
// and returns its result, its refusal as a gRPC status.
func propose(ctx context.Context, n Node, cmd *ferryv1.Command) (fsm.Result, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	res, err := n.Propose(ctx, cmd)
	if err != nil {
		return res, toStatus(err)
	}
	return res, toStatus(res.Err)
}

// registerCreated registers a device whose file (or directory) this call
// has just created, and undoes the creation only when the registration is
// known to have failed. A proposal whose outcome is unknown (it timed out,
// the leader changed) may still have committed: the device is looked up
// with a linearizable read and, if it is not there, proposed once more,
// which settles it, as one registration cannot succeed twice (its name and
// NAA would be taken). ours says whether the state holds this very
// registration. Settling takes time of its own, as the caller's deadline
// may be what ended the first proposal. If even that fails, the file is
// kept and the error says so.
func (s *DeviceServer) registerCreated(ctx context.Context, cmd *ferryv1.Command, ours func(*fsm.FSM) (fsm.Result, bool),
	file string, undo func() error) (fsm.Result, error) {
	refused := func(err error) (fsm.Result, error) {
		if uerr := undo(); uerr != nil {
			return fsm.Result{}, status.Errorf(status.Code(toStatus(err)), "%v (and removing %s failed: %v)", err, file, uerr)
		}
		return fsm.Result{}, toStatus(err)
	}
	pctx, cancel := withDefaultTimeout(ctx)
	res, err := s.node.Propose(pctx, cmd)
	cancel()
	switch {
	case err == nil && res.Err == nil:
		return res, nil
	case err == nil:
		return refused(res.Err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultWriteTimeout)
	defer cancel()
	if rerr := s.node.LinearizableRead(sctx); rerr == nil {
		if got, ok := ours(s.node.FSM()); ok {
			return got, nil
		}
		again, perr := s.node.Propose(sctx, cmd)
		switch {
		case perr == nil && again.Err == nil:
			return again, nil
		case perr == nil:
			if got, ok := ours(s.node.FSM()); ok {
				return got, nil
			}
			return refused(again.Err)
		}
	}
	return fsm.Result{}, status.Errorf(status.Code(toStatus(err)),
		"%v: whether the registration was committed is not known, so %s was kept (list the devices; delete the file if it is not registered)", err, file)
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
	if err := checkPath(s.paths, "path", req.GetPath()); err != nil {
		return nil, err
	}
	path, err := canonicalNewPath(req.GetPath())
	if err != nil {
		return nil, fileError("path", err)
	}
	if err := disk.Create(path, int64(req.GetSizeBytes()), bs); err != nil {
		return nil, fileError("path", err)
	}
	if req.GetThin() {
		if err := checkThin(path, bs); err != nil {
			os.Remove(path) // ours: created just now
			return nil, err
		}
	}
	_, id, err := identify(path)
	// A fence left beside an earlier file at this path is not this disk's.
	if err == nil {
		err = fence.Remove(path)
	}
	if err != nil {
		os.Remove(path) // ours: created just now
		return nil, fileError("path", err)
	}
	d := &ferryv1.Disk{Name: req.GetName(), Naa: newNAA(), Path: path, SizeBytes: req.GetSizeBytes(), BlockSize: bs,
		Site: s.siteOr(req.GetSite()), Identity: id, Thin: req.GetThin()}
	res, err := s.registerCreated(ctx, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: d}}},
		func(st *fsm.FSM) (fsm.Result, bool) {
			got, ok := st.Disk(d.GetName())
			return fsm.Result{Disk: got}, ok && got.GetNaa() == d.GetNaa()
		}, path, func() error { return os.Remove(path) })
	if err != nil {
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
	path, id, err := identify(req.GetPath())
	if err != nil {
		return nil, fileError("path", err)
	}
	if err := checkPath(s.paths, "path", path); err != nil {
		return nil, err
	}
	if err := s.reachedByPath(id); err != nil {
		return nil, err
	}
	lun, err := disk.Open(path, disk.Options{BlockSize: req.GetBlockSize(), ReadOnly: true})
	if err != nil {
		return nil, fileError("path", err)
	}
	d := &ferryv1.Disk{Name: req.GetName(), Naa: newNAA(), Path: path, SizeBytes: uint64(lun.Size()),
		BlockSize: lun.BlockSize(), ReadOnly: req.GetReadOnly(), Site: s.siteOr(req.GetSite()), Identity: id}
	lun.Close()
	takeOver, err := s.adoptFence(ctx, path, req.GetTakeOver(), "'ferry disk add --take-over'")
	if err != nil {
		return nil, err
	}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: d}}})
	if err != nil {
		return nil, err
	}
	if takeOver != nil {
		if err := takeOver(ctx); err != nil {
			return nil, err
		}
	}
	return res.Disk, nil
}

func (s *DeviceServer) ListDisks(ctx context.Context, _ *ferryv1.ListDisksRequest) (*ferryv1.ListDisksResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	disks := s.node.FSM().Disks()
	for _, d := range disks {
		// What this node sees of the file: 0 when it cannot tell.
		if n, err := disk.AllocatedBytes(d.GetPath()); err == nil {
			d.AllocatedBytes = uint64(n)
		}
	}
	return &ferryv1.ListDisksResponse{Disks: disks}, nil
}

// checkThin makes sure a thin disk's file system can unmap: punch holes
// that read back as zeroes. Without that the LUN would be presented as
// fully provisioned, which is not what was asked.
func checkThin(path string, bs uint32) error {
	l, err := disk.Open(path, disk.Options{BlockSize: bs, Thin: true})
	if err != nil {
		return fileError("path", err)
	}
	p := l.Provisioning()
	l.Close()
	if !p.Thin {
		return status.Errorf(codes.FailedPrecondition, "thin: %s cannot be thin provisioned: %s", path, p.Reason)
	}
	return nil
}

func (s *DeviceServer) CreateLibrary(ctx context.Context, req *ferryv1.CreateLibraryRequest) (*ferryv1.Library, error) {
	var bad []fsm.FieldViolation
	if req.GetName() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "name", Description: "required"})
	}
	if !filepath.IsAbs(req.GetDir()) {
		bad = append(bad, fsm.FieldViolation{Field: "dir", Description: "must be an absolute path"})
	}
	for _, v := range drivemodel.Check(req.GetDriveRateBytesPerSecond(), req.GetLoadTimeMillis(), req.GetLocateRateBytesPerSecond()) {
		bad = append(bad, fsm.FieldViolation{Field: v.Field, Description: v.Description})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	ie := req.GetIeSlots()
	if ie == 0 {
		ie = 1
	}
	if _, ok := s.node.FSM().Library(req.GetName()); ok {
		return nil, status.Errorf(codes.AlreadyExists, "a library named %q exists", req.GetName())
	}
	if err := checkPath(s.paths, "dir", req.GetDir()); err != nil {
		return nil, err
	}
	created, err := mkdirAll(req.GetDir())
	if err != nil {
		return nil, fileError("dir", err)
	}
	undo := func() error { return removeCreated(created) }
	dir, id, err := identify(req.GetDir())
	if err != nil {
		return nil, errors.Join(fileError("dir", err), undo())
	}
	lib := &ferryv1.Library{Name: req.GetName(), Dir: dir, Site: s.siteOr(req.GetSite()), Slots: req.GetSlots(),
		Drives: req.GetDrives(), IeSlots: ie, CartridgeCapacityBytes: req.GetCartridgeCapacityBytes(), Identity: id,
		DriveRateBytesPerSecond: req.GetDriveRateBytesPerSecond(), LoadTimeMillis: req.GetLoadTimeMillis(),
		LocateRateBytesPerSecond: req.GetLocateRateBytesPerSecond()}
	res, err := s.registerCreated(ctx, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: lib}}},
		func(st *fsm.FSM) (fsm.Result, bool) {
			got, ok := st.Library(lib.GetName())
			return fsm.Result{Library: got}, ok && got.GetDir() == lib.GetDir()
		}, dir, undo)
	if err != nil {
		return nil, err
	}
	return res.Library, nil
}

// mkdirAll is os.MkdirAll that returns the directories it created, the
// deepest first, so that a refused registration can take them away again.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errors.Join(err, removeCreated(missing))
	}
	return missing, nil
}

// removeCreated removes the directories mkdirAll created, deepest first,
// each only if it is still empty.
func removeCreated(dirs []string) error {
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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

// librarySlot checks a request's library and storage slot, with the
// violations the caller found in its other fields, and returns the library
// from a linearizable read.
func (s *DeviceServer) librarySlot(ctx context.Context, name string, slot uint32, bad []fsm.FieldViolation) (*ferryv1.Library, error) {
	if slot == 0 {
		bad = append(bad, fsm.FieldViolation{Field: "slot", Description: "required: slots count from 1"})
	}
	if name == "" {
		bad = append(bad, fsm.FieldViolation{Field: "library", Description: "required"})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	lib, ok := s.node.FSM().Library(name)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no library named %q", name)
	}
	if slot > lib.GetSlots() {
		return nil, invalid(fsm.FieldViolation{Field: "slot", Description: fmt.Sprintf("library %s has slots 1 to %d", lib.GetName(), lib.GetSlots())})
	}
	return lib, nil
}

func (s *DeviceServer) LabelTape(ctx context.Context, req *ferryv1.LabelTapeRequest) (*ferryv1.Cartridge, error) {
	var bad []fsm.FieldViolation
	if err := library.ValidBarcode(req.GetBarcode()); err != nil {
		bad = append(bad, fsm.FieldViolation{Field: "barcode", Description: err.Error()})
	}
	lib, err := s.librarySlot(ctx, req.GetLibrary(), req.GetSlot(), bad)
	if err != nil {
		return nil, err
	}
	if _, ok := s.node.FSM().Cartridge(req.GetBarcode()); ok {
		return nil, status.Errorf(codes.AlreadyExists, "cartridge %s exists", req.GetBarcode())
	}
	if name := req.GetPool(); name != "" {
		// Checked before the image is made; the state machine checks again.
		switch p, ok := s.node.FSM().Pool(name); {
		case !ok:
			return nil, invalid(fsm.FieldViolation{Field: "pool", Description: fmt.Sprintf("no pool named %q (ferry pool list)", name)})
		case p.GetLibrary() != lib.GetName():
			return nil, invalid(fsm.FieldViolation{Field: "pool", Description: fmt.Sprintf("pool %s holds cartridges of library %s, not %s", name, p.GetLibrary(), lib.GetName())})
		}
	}
	path, err := canonicalNewPath(filepath.Join(lib.GetDir(), req.GetBarcode()+".tap"))
	if err != nil {
		return nil, fileError("library", err)
	}
	used, err := writeLabelledCartridge(path, req.GetBarcode(), int64(lib.GetCartridgeCapacityBytes()))
	if err != nil {
		return nil, fileError("barcode", err)
	}
	_, id, err := identify(path)
	if err != nil {
		os.Remove(path) // ours: created just now
		return nil, fileError("barcode", err)
	}
	c := &ferryv1.Cartridge{
		Barcode: req.GetBarcode(), Library: lib.GetName(), Naa: newNAA(), Path: path,
		Location:      &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: req.GetSlot()},
		CapacityBytes: lib.GetCartridgeCapacityBytes(), HomeSlot: req.GetSlot(), Identity: id,
		UsedBytes: uint64(used), // an empty catalog: the label only
		Pool:      req.GetPool(),
	}
	res, err := s.registerCreated(ctx, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: c}}},
		func(st *fsm.FSM) (fsm.Result, bool) {
			got, ok := st.Cartridge(c.GetBarcode())
			return fsm.Result{Cartridge: got}, ok && got.GetNaa() == c.GetNaa()
		}, path, func() error { return os.Remove(path) })
	if err != nil {
		return nil, err
	}
	return res.Cartridge, nil
}

// writeLabelledCartridge creates a cartridge image holding only its label
// and returns the bytes the label takes.
func writeLabelledCartridge(path, barcode string, capacity int64) (used int64, err error) {
	t, err := tape.Create(path, tape.Options{Capacity: capacity})
	if err != nil {
		return 0, err
	}
	// A fence left beside an earlier file at this path is not this
	// cartridge's.
	if err := fence.Remove(path); err != nil {
		return 0, errors.Join(err, t.Close(), os.Remove(path))
	}
	defer func() {
		err = errors.Join(err, t.Close())
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := tape.WriteLabel(t, barcode); err != nil {
		return 0, err
	}
	return t.Used(), t.Flush()
}

func (s *DeviceServer) ListCartridges(ctx context.Context, req *ferryv1.ListCartridgesRequest) (*ferryv1.ListCartridgesResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	if b := req.GetBarcode(); b != "" {
		c, ok := s.node.FSM().Cartridge(b)
		if !ok || req.GetLibrary() != "" && c.GetLibrary() != req.GetLibrary() {
			return nil, status.Errorf(codes.NotFound, "no cartridge %s", b)
		}
		c.FileCount = uint32(len(c.GetFiles()))
		return &ferryv1.ListCartridgesResponse{Cartridges: []*ferryv1.Cartridge{c}}, nil
	}
	carts := s.node.FSM().Cartridges(req.GetLibrary())
	for _, c := range carts {
		// Catalogs stay out of listings: a few thousand files each would
		// take a library's listing past gRPC's message limit.
		c.FileCount, c.Files = uint32(len(c.GetFiles())), nil
	}
	return &ferryv1.ListCartridgesResponse{Cartridges: carts}, nil
}

func (s *DeviceServer) Hash(ctx context.Context, req *ferryv1.HashRequest) (*ferryv1.HashResponse, error) {
	if parts := req.GetParts(); len(parts) > 0 {
		return s.hashParts(ctx, req)
	}
	if bad := fsm.ValidateEndpoint("endpoint", req.GetEndpoint()); len(bad) > 0 {
		return nil, invalid(bad...)
	}
	if ep := req.GetEndpoint(); ep.GetPool() != "" && ep.GetDevice().GetRef() == nil {
		// A pool has no bytes of its own: each copy to it picks a cartridge.
		return nil, invalid(fsm.FieldViolation{Field: "endpoint.pool", Description: "a pool cannot be read: name the cartridge a copy wrote (ferry job get shows it), or the job (job:ID)"})
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	// This node reads the device: its own -device-dirs decide, whichever
	// node registered it.
	if dev, err := s.node.FSM().ResolveDevice(req.GetEndpoint().GetDevice()); err == nil {
		if err := checkPath(s.paths, "endpoint.device", dev.Path()); err != nil {
			return nil, err
		}
	}
	resp, err := executor.Hash(ctx, s.node.FSM(), req.GetEndpoint())
	if err != nil {
		return nil, deviceError(err)
	}
	return resp, nil
}

// maxHashParts bounds the volumes one Hash reads.
const maxHashParts = 1024

// hashParts answers a Hash of tape files read as one stream: the volumes
// of a copy that spanned cartridges.
func (s *DeviceServer) hashParts(ctx context.Context, req *ferryv1.HashRequest) (*ferryv1.HashResponse, error) {
	var bad []fsm.FieldViolation
	if req.GetEndpoint() != nil {
		bad = append(bad, fsm.FieldViolation{Field: "endpoint", Description: "give endpoint or parts, not both"})
	}
	if len(req.GetParts()) > maxHashParts {
		bad = append(bad, fsm.FieldViolation{Field: "parts", Description: fmt.Sprintf("at most %d", maxHashParts)})
	}
	for i, ep := range req.GetParts() {
		field := fmt.Sprintf("parts[%d]", i)
		bad = append(bad, fsm.ValidateEndpoint(field, ep)...)
		if ep.GetKind() != ferryv1.DeviceKind_DEVICE_KIND_TAPE || ep.TapeFile == nil || ep.GetDevice().GetRef() == nil {
			bad = append(bad, fsm.FieldViolation{Field: field, Description: "a part is one file of a named cartridge (tape:BARCODE#FILE)"})
		}
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	resp, err := executor.HashParts(ctx, s.node.FSM(), req.GetParts())
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
	case errors.Is(err, executor.ErrOtherImage), errors.Is(err, tape.ErrNotLabeled):
		return status.Error(codes.FailedPrecondition, err.Error())
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

package fsm

import (
	"fmt"
	"path"
	"strings"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/drivemodel"
	"github.com/ferry-san/ferry/storage/library"
)

// Limits on registered devices. They match what a virtual library and the
// SCSI fields that describe it can express, and keep snapshots small.
const (
	maxPathLen   = 4096
	maxSlots     = 10000
	maxDrives    = 256
	maxIESlots   = 64
	blockSize512 = 512
	blockSize4K  = 4096
)

// registerDisk adds a disk LUN to the registry. The NAA designator is stored
// in lower case, the form ResolveDevice matches.
func (s *state) registerDisk(cmd *ferryv1.Command, op *ferryv1.RegisterDiskOp) (*ferryv1.Disk, error) {
	if err := validateDisk(cmd, op.GetDisk()); err != nil {
		return nil, err
	}
	d := cloneDisk(op.GetDisk())
	d.Naa = strings.ToLower(d.GetNaa())
	d.AllocatedBytes = 0 // a node's reading when it lists disks, never state
	if err := s.deviceIsNew("disk", d.GetName(), d.GetNaa(), d.GetPath(), d.GetIdentity()); err != nil {
		return nil, err
	}
	if err := s.notALibrary("disk", d.GetName()); err != nil {
		return nil, err
	}
	d.Lun = s.nextLUN()
	s.disks[d.GetName()] = d
	s.index("disk", d.GetName(), d.GetNaa(), d.GetPath(), d.GetIdentity())
	return d, nil
}

// nextLUN is the logical unit number of the next disk: one past the
// highest ever given, removed disks' included, so numbers are not reused
// and an initiator's LUN always names the same disk.
func (s *state) nextLUN() uint32 {
	top := s.lastLUN
	for _, d := range s.disks {
		top = max(top, d.GetLun())
	}
	s.lastLUN = top + 1
	return s.lastLUN
}

// registerLibrary adds an empty tape library. Elements in the op are
// ignored: the state machine alone decides where cartridges are.
func (s *state) registerLibrary(cmd *ferryv1.Command, op *ferryv1.RegisterLibraryOp) (*ferryv1.Library, error) {
	if err := validateLibrary(cmd, op.GetLibrary()); err != nil {
		return nil, err
	}
	meta := cloneLibrary(op.GetLibrary())
	meta.Elements = nil
	name := meta.GetName()
	if _, ok := s.libraries[name]; ok {
		return nil, fmt.Errorf("library %q: %w", name, ErrAlreadyExists)
	}
	// A DeviceRef or a CLI argument naming a disk or cartridge must not be
	// mistaken for a library, nor the reverse.
	if _, ok := s.disks[name]; ok {
		return nil, fmt.Errorf("library %q: %w: the name belongs to disk %q", name, ErrAlreadyExists, name)
	}
	if _, ok := s.cartridges[name]; ok {
		return nil, fmt.Errorf("library %q: %w: the name belongs to cartridge %q", name, ErrAlreadyExists, name)
	}
	for _, other := range s.libraries {
		if other.meta.GetDir() == meta.GetDir() {
			return nil, fmt.Errorf("library %q: %w: directory %s belongs to library %q", name, ErrAlreadyExists, meta.GetDir(), other.meta.GetName())
		}
	}
	if err := s.fileIsNew("library", name, meta.GetIdentity()); err != nil {
		return nil, err
	}
	lib, err := newTapeLibrary(meta)
	if err != nil {
		// validateLibrary enforces at least the library package's limits,
		// so this is a disagreement between the two, not bad input.
		return nil, fmt.Errorf("library %q: %w: %w", name, ErrInvalid, err)
	}
	s.libraries[name] = lib
	s.index("library", name, "", "", meta.GetIdentity())
	return meta, nil
}

// addCartridge puts a new cartridge into an empty storage or import/export
// slot. A cartridge in a storage slot calls that slot home; one that enters
// through an import/export slot has no home (home_slot 0) until a job
// loads it, when it is given one. The op's home_slot, the location's
// barcode and job_id are ignored; a capacity of 0 means the library's.
func (s *state) addCartridge(cmd *ferryv1.Command, op *ferryv1.AddCartridgeOp) (*ferryv1.Cartridge, error) {
	if err := validateCartridge(cmd, op.GetCartridge()); err != nil {
		return nil, err
	}
	in := op.GetCartridge()
	lib, ok := s.libraries[in.GetLibrary()]
	if !ok {
		return nil, fmt.Errorf("cartridge %q: library %q: %w", in.GetBarcode(), in.GetLibrary(), ErrNotFound)
	}
	c := &ferryv1.Cartridge{
		Barcode:        in.GetBarcode(),
		Library:        in.GetLibrary(),
		Naa:            strings.ToLower(in.GetNaa()),
		Path:           in.GetPath(),
		Location:       &ferryv1.Element{Kind: in.GetLocation().GetKind(), Index: in.GetLocation().GetIndex()},
		CapacityBytes:  in.GetCapacityBytes(),
		WriteProtected: in.GetWriteProtected(),
		Identity:       cloneIdentity(in.GetIdentity()),
		// An imported cartridge brings the catalog read from its image.
		Files:     cloneFiles(in.GetFiles()),
		UsedBytes: in.GetUsedBytes(),
	}
	if c.GetCapacityBytes() == 0 {
		c.CapacityBytes = lib.meta.GetCartridgeCapacityBytes()
	}
	at, _ := toLocation(c.GetLocation())
	if at.Kind == library.Slot {
		c.HomeSlot = uint32(at.Index)
	}
	if !lib.place.Exists(at) {
		return nil, &ValidationError{Violations: []FieldViolation{{
			Field:       "cartridge.location.index",
			Description: fmt.Sprintf("library %s has no %v", lib.meta.GetName(), at),
		}}}
	}
	if err := s.deviceIsNew("cartridge", c.GetBarcode(), c.GetNaa(), c.GetPath(), c.GetIdentity()); err != nil {
		return nil, err
	}
	if err := s.notALibrary("cartridge", c.GetBarcode()); err != nil {
		return nil, err
	}
	if b, ok := homeOwner(lib.place, at.Index); ok && at.Kind == library.Slot {
		return nil, fmt.Errorf("cartridge %q: %w", c.GetBarcode(), busy("%v of library %s is the home of %s, which is loaded in a drive", at, lib.meta.GetName(), b))
	}
	pool, err := s.joinPool(in)
	if err != nil {
		return nil, err
	}
	if err := lib.place.Add(c.GetBarcode(), at); err != nil {
		return nil, fmt.Errorf("cartridge %q: %w", c.GetBarcode(), changerError(err))
	}
	if pool != nil {
		s.addPoolMember(pool, c.GetBarcode())
	}
	s.cartridges[c.GetBarcode()] = c
	s.index("cartridge", c.GetBarcode(), c.GetNaa(), c.GetPath(), c.GetIdentity())
	return c, nil
}

// deviceIsNew refuses a device whose name, NAA designator, path or file
// (its identity, whatever path names it) another device already has. Disk
// names and barcodes share one namespace because a DeviceRef names either.
func (s *state) deviceIsNew(kind, name, naa, file string, id *ferryv1.FileIdentity) error {
	if _, ok := s.disks[name]; ok {
		return fmt.Errorf("%s %q: %w: the name belongs to disk %q", kind, name, ErrAlreadyExists, name)
	}
	if _, ok := s.cartridges[name]; ok {
		return fmt.Errorf("%s %q: %w: the name belongs to cartridge %q", kind, name, ErrAlreadyExists, name)
	}
	if owner, ok := s.naas[naa]; ok {
		return fmt.Errorf("%s %q: %w: NAA %s belongs to %q", kind, name, ErrAlreadyExists, naa, owner)
	}
	if owner, ok := s.paths[file]; ok {
		return fmt.Errorf("%s %q: %w: %s belongs to %q", kind, name, ErrAlreadyExists, file, owner)
	}
	return s.fileIsNew(kind, name, id)
}

// notALibrary refuses a disk or cartridge that would take a library's name.
// It is not part of deviceIsNew because states written before the rule may
// hold such pairs, and restoring them must not fail.
func (s *state) notALibrary(kind, name string) error {
	if _, ok := s.libraries[name]; ok {
		return fmt.Errorf("%s %q: %w: the name belongs to library %q", kind, name, ErrAlreadyExists, name)
	}
	return nil
}

// fileIsNew refuses a device that is a file another device already is: one
// file reached through a symlink, a hard link, another mount or
// /proc/self/root is still one device, and two registrations of it would
// let two jobs write it at once under two fences. Devices registered
// without an identity (before identities were recorded) are known by path
// alone.
func (s *state) fileIsNew(kind, name string, id *ferryv1.FileIdentity) error {
	key, ok := identityKey(id)
	if !ok {
		return nil
	}
	if owner, ok := s.files[key]; ok {
		return fmt.Errorf("%s %q: %w: it is the same file as %s (%s)", kind, name, ErrAlreadyExists, owner, describeIdentity(id))
	}
	return nil
}

// index records a registered device's NAA, path and identity as taken.
func (s *state) index(kind, name, naa, file string, id *ferryv1.FileIdentity) {
	if naa != "" {
		s.naas[naa] = name
	}
	if file != "" {
		s.paths[file] = name
	}
	if key, ok := identityKey(id); ok {
		s.files[key] = fmt.Sprintf("%s %q", kind, name)
	}
}

// unindex forgets what index recorded, when a device is removed.
func (s *state) unindex(naa, file string, id *ferryv1.FileIdentity) {
	delete(s.naas, naa)
	delete(s.paths, file)
	if key, ok := identityKey(id); ok {
		delete(s.files, key)
	}
}

// identityKey is the key of a file identity in the registry: a block or
// character device is the device it is (st_rdev), whichever node names it;
// anything else is its filesystem's device and inode numbers. ok is false
// for no identity.
func identityKey(id *ferryv1.FileIdentity) (key string, ok bool) {
	switch {
	case id.GetRdev() != 0:
		return fmt.Sprintf("rdev:%d", id.GetRdev()), true
	case id.GetDev() == 0 && id.GetIno() == 0:
		return "", false
	}
	return fmt.Sprintf("file:%d:%d", id.GetDev(), id.GetIno()), true
}

func describeIdentity(id *ferryv1.FileIdentity) string {
	if id.GetRdev() != 0 {
		return fmt.Sprintf("device number %d:%d", id.GetRdev()>>8&0xfff|id.GetRdev()>>32&^0xfff, id.GetRdev()&0xff|id.GetRdev()>>12&^0xff)
	}
	return fmt.Sprintf("device %d inode %d", id.GetDev(), id.GetIno())
}

func cloneIdentity(id *ferryv1.FileIdentity) *ferryv1.FileIdentity {
	if id == nil {
		return nil
	}
	return proto.Clone(id).(*ferryv1.FileIdentity)
}

func cloneFiles(files []*ferryv1.TapeFile) []*ferryv1.TapeFile {
	var out []*ferryv1.TapeFile
	for _, f := range files {
		out = append(out, proto.Clone(f).(*ferryv1.TapeFile))
	}
	return out
}

func validateDisk(cmd *ferryv1.Command, d *ferryv1.Disk) error {
	var v violations
	v.commandTime(cmd)
	if d == nil {
		v.add("disk", "required")
		return &ValidationError{Violations: v}
	}
	if msg := checkDeviceName(d.GetName()); msg != "" {
		v.add("disk.name", msg)
	}
	v.naa("disk.naa", d.GetNaa())
	v.absPath("disk.path", d.GetPath())
	bs := d.GetBlockSize()
	switch {
	case bs != blockSize512 && bs != blockSize4K:
		v.add("disk.block_size", fmt.Sprintf("must be %d or %d", blockSize512, blockSize4K))
	case d.GetSizeBytes() == 0:
		v.add("disk.size_bytes", "must be greater than 0")
	case d.GetSizeBytes()%uint64(bs) != 0:
		v.add("disk.size_bytes", fmt.Sprintf("must be a multiple of the block size %d", bs))
	}
	if d.GetSite() == "" {
		v.add("disk.site", "required")
	}
	return v.err()
}

func validateLibrary(cmd *ferryv1.Command, l *ferryv1.Library) error {
	var v violations
	v.commandTime(cmd)
	if l == nil {
		v.add("library", "required")
		return &ValidationError{Violations: v}
	}
	if msg := checkDeviceName(l.GetName()); msg != "" {
		v.add("library.name", msg)
	}
	v.absPath("library.dir", l.GetDir())
	v.between("library.slots", l.GetSlots(), 1, maxSlots)
	v.between("library.drives", l.GetDrives(), 1, maxDrives)
	v.between("library.ie_slots", l.GetIeSlots(), 0, maxIESlots)
	if l.GetCartridgeCapacityBytes() == 0 {
		v.add("library.cartridge_capacity_bytes", "must be greater than 0")
	}
	for _, bad := range drivemodel.Check(l.GetDriveRateBytesPerSecond(), l.GetLoadTimeMillis(), l.GetLocateRateBytesPerSecond()) {
		v.add("library."+bad.Field, bad.Description)
	}
	return v.err()
}

func validateCartridge(cmd *ferryv1.Command, c *ferryv1.Cartridge) error {
	var v violations
	v.commandTime(cmd)
	if c == nil {
		v.add("cartridge", "required")
		return &ValidationError{Violations: v}
	}
	// An LTO barcode is also a valid device name, so a DeviceRef can name
	// the cartridge.
	if err := library.ValidBarcode(c.GetBarcode()); err != nil {
		v.add("cartridge.barcode", err.Error())
	}
	if c.GetLibrary() == "" {
		v.add("cartridge.library", "required")
	}
	v.naa("cartridge.naa", c.GetNaa())
	v.absPath("cartridge.path", c.GetPath())
	for i, f := range c.GetFiles() {
		if f.GetNumber() != uint32(i+1) {
			v.add(fmt.Sprintf("cartridge.files[%d].number", i), fmt.Sprintf("must be %d: files are numbered from 1 in order", i+1))
		}
	}
	switch k := c.GetLocation().GetKind(); {
	case c.GetLocation() == nil:
		v.add("cartridge.location", "required: an empty storage or import/export slot")
	case k != ferryv1.ElementKind_ELEMENT_KIND_SLOT && k != ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT:
		v.add("cartridge.location.kind", "must be ELEMENT_KIND_SLOT or ELEMENT_KIND_IMPORT_EXPORT: a new cartridge enters through a slot")
	}
	return v.err()
}

func (v *violations) naa(field, s string) {
	if !isNAA(s) {
		v.add(field, "must be 16 or 32 hexadecimal digits")
	}
}

// absPath insists on absolute, clean paths so that one file has one
// spelling and the registry's uniqueness check means something.
func (v *violations) absPath(field, p string) {
	switch {
	case p == "":
		v.add(field, "required")
	case len(p) > maxPathLen:
		v.add(field, fmt.Sprintf("longer than %d bytes", maxPathLen))
	case !path.IsAbs(p):
		v.add(field, "must be an absolute path")
	case path.Clean(p) != p:
		v.add(field, fmt.Sprintf("must be a clean path (%s)", path.Clean(p)))
	}
}

func (v *violations) between(field string, n, lo, hi uint32) {
	if n < lo || n > hi {
		v.add(field, fmt.Sprintf("must be between %d and %d", lo, hi))
	}
}

func (v violations) err() error {
	if len(v) > 0 {
		return &ValidationError{Violations: v}
	}
	return nil
}

// cartridgeFor checks a cartridge command's time and barcode and finds the
// cartridge.
func (s *state) cartridgeFor(cmd *ferryv1.Command, barcode string) (*ferryv1.Cartridge, error) {
	var v violations
	v.commandTime(cmd)
	if barcode == "" {
		v.add("barcode", "required")
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	c, ok := s.cartridges[barcode]
	if !ok {
		return nil, fmt.Errorf("cartridge %q: %w", barcode, ErrNotFound)
	}
	return c, nil
}

// protectCartridge sets or clears the write-protect tab of a cartridge that
// sits in a slot: a loaded cartridge's tab cannot be reached.
func (s *state) protectCartridge(cmd *ferryv1.Command, op *ferryv1.ProtectCartridgeOp) (*ferryv1.Cartridge, error) {
	c, err := s.cartridgeFor(cmd, op.GetBarcode())
	if err != nil {
		return nil, err
	}
	if c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
		return nil, fmt.Errorf("cartridge %s is loaded in drive %d of %s: %w", c.GetBarcode(), c.GetLocation().GetIndex(), c.GetLibrary(), ErrBusy)
	}
	c.WriteProtected = op.GetWriteProtected()
	return s.cartridgeCopy(c), nil
}

package fsm

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Device is what a DeviceRef resolves to: exactly one of Disk and Cartridge
// is set.
type Device struct {
	Disk      *ferryv1.Disk
	Cartridge *ferryv1.Cartridge
}

// Path is the device's file: the disk's, or the cartridge's image.
func (d Device) Path() string {
	if d.Disk != nil {
		return d.Disk.GetPath()
	}
	return d.Cartridge.GetPath()
}

// Disk returns a copy of the disk with the name.
func (f *FSM) Disk(name string) (*ferryv1.Disk, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.st.disks[name]
	if !ok {
		return nil, false
	}
	return cloneDisk(d), true
}

// Disks returns copies of all disks sorted by name.
func (f *FSM) Disks() []*ferryv1.Disk {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*ferryv1.Disk, 0, len(f.st.disks))
	for _, name := range slices.Sorted(maps.Keys(f.st.disks)) {
		out = append(out, cloneDisk(f.st.disks[name]))
	}
	return out
}

// Library returns a copy of the library with its full inventory in
// Elements: every slot, drive and import/export slot, with the cartridge
// each holds and, for a drive, the job the cartridge is loaded for.
func (f *FSM) Library(name string) (*ferryv1.Library, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if _, ok := f.st.libraries[name]; !ok {
		return nil, false
	}
	return f.st.libraryWithInventory(name), true
}

// Libraries returns copies of all libraries sorted by name, without their
// inventories (Library has them): a library may have thousands of slots.
func (f *FSM) Libraries() []*ferryv1.Library {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*ferryv1.Library, 0, len(f.st.libraries))
	for _, name := range slices.Sorted(maps.Keys(f.st.libraries)) {
		out = append(out, cloneLibrary(f.st.libraries[name].meta))
	}
	return out
}

// Cartridge returns a copy of the cartridge with the barcode. Its location
// names the element holding it, with the barcode and, in a drive, the job
// it is loaded for.
func (f *FSM) Cartridge(barcode string) (*ferryv1.Cartridge, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	c, ok := f.st.cartridges[barcode]
	if !ok {
		return nil, false
	}
	return f.st.cartridgeCopy(c), true
}

// Cartridges returns copies of the cartridges of one library, or of all
// libraries when library is "", sorted by barcode.
func (f *FSM) Cartridges(library string) []*ferryv1.Cartridge {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []*ferryv1.Cartridge
	for _, b := range slices.Sorted(maps.Keys(f.st.cartridges)) {
		if c := f.st.cartridges[b]; library == "" || c.GetLibrary() == library {
			out = append(out, f.st.cartridgeCopy(c))
		}
	}
	return out
}

// ResolveDevice finds the disk or cartridge a DeviceRef names: by name (a
// disk name or a barcode) or by NAA designator, whose hex digits match in
// either case. It wraps ErrNotFound when nothing matches and ErrInvalid
// when the ref names nothing at all.
func (f *FSM) ResolveDevice(ref *ferryv1.DeviceRef) (Device, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, err := f.st.resolveDevice(ref)
	if err != nil {
		return Device{}, err
	}
	if d.Disk != nil {
		return Device{Disk: cloneDisk(d.Disk)}, nil
	}
	return Device{Cartridge: f.st.cartridgeCopy(d.Cartridge)}, nil
}

// resolveDevice is ResolveDevice on the state itself: the records it
// returns are the state's own, not copies.
func (s *state) resolveDevice(ref *ferryv1.DeviceRef) (Device, error) {
	var name string
	switch r := ref.GetRef().(type) {
	case *ferryv1.DeviceRef_Name:
		name = r.Name
	case *ferryv1.DeviceRef_Naa:
		owner, ok := s.naas[strings.ToLower(r.Naa)]
		if !ok {
			return Device{}, fmt.Errorf("device with NAA %s: %w", r.Naa, ErrNotFound)
		}
		name = owner
	default:
		return Device{}, fmt.Errorf("%w: a device reference needs a name or an NAA designator", ErrInvalid)
	}
	if d, ok := s.disks[name]; ok {
		return Device{Disk: d}, nil
	}
	if c, ok := s.cartridges[name]; ok {
		return Device{Cartridge: c}, nil
	}
	return Device{}, fmt.Errorf("device %q: %w", name, ErrNotFound)
}

// libraryWithInventory returns a copy of the named library, which must
// exist, with its inventory.
func (s *state) libraryWithInventory(name string) *ferryv1.Library {
	lib := s.libraries[name]
	out := cloneLibrary(lib.meta)
	out.Elements = s.inventory(lib)
	return out
}

// cartridgeCopy returns a copy of the cartridge with its location filled in
// the way an inventory shows the element.
func (s *state) cartridgeCopy(c *ferryv1.Cartridge) *ferryv1.Cartridge {
	out := cloneCartridge(c)
	out.Pool = s.poolOf[c.GetBarcode()]
	if out.Location != nil {
		out.Location.Barcode = c.GetBarcode()
		if out.Location.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
			out.Location.JobId = s.holders[c.GetBarcode()]
			out.Location.NdmpLoad = cloneNdmpLoad(c.GetNdmpLoad())
		}
	}
	return out
}

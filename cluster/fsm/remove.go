package fsm

import (
	"fmt"
	"maps"
	"slices"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// removeDevice unregisters one disk, cartridge or library. It refuses while
// a job that has not ended (queued or running) names the device (for a
// library: any of its cartridges), a cartridge sits in a drive, or a
// library still holds cartridges: those go first, one by one. The device's
// files are not the state machine's business: the server deletes them, if
// asked, once this entry has committed. The Result carries the device as
// it was.
func (s *state) removeDevice(cmd *ferryv1.Command, op *ferryv1.RemoveDeviceOp) (Result, error) {
	var v violations
	v.commandTime(cmd)
	named := 0
	for _, n := range []string{op.GetDisk(), op.GetCartridge(), op.GetLibrary()} {
		if n != "" {
			named++
		}
	}
	if named != 1 {
		v.add("disk", "exactly one of disk, cartridge and library is required")
	}
	if len(v) > 0 {
		return Result{}, &ValidationError{Violations: v}
	}
	switch {
	case op.GetDisk() != "":
		d, ok := s.disks[op.GetDisk()]
		if !ok {
			return Result{}, fmt.Errorf("disk %q: %w", op.GetDisk(), ErrNotFound)
		}
		if err := s.unusedBy("disk "+d.GetName(), func(dev Device) bool { return dev.Disk == d }); err != nil {
			return Result{}, err
		}
		delete(s.disks, d.GetName())
		s.unindex(d.GetNaa(), d.GetPath(), d.GetIdentity())
		return Result{Disk: cloneDisk(d)}, nil
	case op.GetCartridge() != "":
		c, ok := s.cartridges[op.GetCartridge()]
		if !ok {
			return Result{}, fmt.Errorf("cartridge %q: %w", op.GetCartridge(), ErrNotFound)
		}
		if err := s.cartridgeIdle(c); err != nil {
			return Result{}, err
		}
		out := s.cartridgeCopy(c)
		delete(s.libraries[c.GetLibrary()].place.Cartridges, c.GetBarcode())
		delete(s.cartridges, c.GetBarcode())
		s.unindex(c.GetNaa(), c.GetPath(), c.GetIdentity())
		return Result{Cartridge: out}, nil
	default:
		lib, ok := s.libraries[op.GetLibrary()]
		if !ok {
			return Result{}, fmt.Errorf("library %q: %w", op.GetLibrary(), ErrNotFound)
		}
		name := lib.meta.GetName()
		if err := s.unusedBy("library "+name, func(dev Device) bool { return dev.Cartridge.GetLibrary() == name }); err != nil {
			return Result{}, err
		}
		if n := len(lib.place.Cartridges); n > 0 {
			return Result{}, busy("library %s still holds %d cartridges: remove them first (ferry library remove --delete-files removes them with it)", name, n)
		}
		out := s.libraryWithInventory(name)
		delete(s.libraries, name)
		s.unindex("", "", lib.meta.GetIdentity())
		return Result{Library: out}, nil
	}
}

// LibraryIdle says why a library and its cartridges cannot be removed
// now, as RemoveDeviceOps would: a queued or running job names one of its
// cartridges, or one is in a drive. nil when they all could be.
func (f *FSM) LibraryIdle(name string) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if _, ok := f.st.libraries[name]; !ok {
		return fmt.Errorf("library %q: %w", name, ErrNotFound)
	}
	for _, b := range slices.Sorted(maps.Keys(f.st.cartridges)) {
		if c := f.st.cartridges[b]; c.GetLibrary() == name {
			if err := f.st.cartridgeIdle(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// cartridgeIdle refuses a cartridge in a drive or named by a job that has
// not ended: erasing or removing it would pull it from under the job.
func (s *state) cartridgeIdle(c *ferryv1.Cartridge) error {
	if c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
		if h := s.holderOf(c.GetBarcode()); h != "" {
			return busy("cartridge %s is loaded in drive %d of %s for %s", c.GetBarcode(), c.GetLocation().GetIndex(), c.GetLibrary(), h)
		}
		return busy("%s: a DMA must unload it first", DescribeNdmpLoad(c))
	}
	return s.unusedBy("cartridge "+c.GetBarcode(), func(dev Device) bool { return dev.Cartridge == c })
}

// unusedBy refuses when a queued or running job touches a device that
// matches, as the job's access resolves against the registry now (by name
// or NAA, a parameter list's targets included). The jobs are named, first
// ones first.
func (s *state) unusedBy(what string, match func(Device) bool) error {
	var ids []string
	for _, j := range s.order {
		if st := j.GetState(); st != ferryv1.JobState_JOB_STATE_QUEUED && st != ferryv1.JobState_JOB_STATE_RUNNING {
			continue
		}
		acc, _ := s.resolveAccess(j.GetSpec())
		if slices.ContainsFunc(acc.Devices, func(d DeviceAccess) bool { return match(d.Device) }) {
			ids = append(ids, j.GetId())
		}
	}
	switch len(ids) {
	case 0:
		return nil
	case 1:
		return busy("%s is used by job %s, which has not ended", what, ids[0])
	}
	return busy("%s is used by %d jobs that have not ended: %s", what, len(ids), listFirst(ids, 5))
}

// listFirst joins up to n items, saying how many more there are.
func listFirst(items []string, n int) string {
	if len(items) <= n {
		return fmt.Sprint(items)
	}
	return fmt.Sprintf("%v and %d more", items[:n], len(items)-n)
}

// eraseCartridge empties a cartridge's catalog: its label is being (or has
// been) rewritten, discarding every data file. Refused like a removal while
// the cartridge is in a drive or a job that has not ended names it; the
// server claims the cartridge's fence with this entry's index before it
// rewrites the label, so no job placed later, and no writer of an earlier
// epoch, is overwritten or overwrites the label.
func (s *state) eraseCartridge(cmd *ferryv1.Command, op *ferryv1.EraseCartridgeOp) (*ferryv1.Cartridge, error) {
	c, err := s.cartridgeFor(cmd, op.GetBarcode())
	if err != nil {
		return nil, err
	}
	if c.GetWriteProtected() {
		return nil, busy("cartridge %s is write-protected: unprotect it first", c.GetBarcode())
	}
	if err := s.cartridgeIdle(c); err != nil {
		return nil, err
	}
	c.Files = nil
	c.UsedBytes = op.GetUsedBytes()
	return s.cartridgeCopy(c), nil
}

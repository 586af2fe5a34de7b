package library

import (
	"errors"
	"fmt"
)

func (s *State) fail(sentinel error, format string, args ...any) error {
	return &Error{Library: s.Name, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
}

// element checks that l exists.
func (s *State) element(l Location) error {
	if s.Exists(l) {
		return nil
	}
	var n string
	switch l.Kind {
	case Slot:
		n = fmt.Sprintf("slots 1-%d", s.Slots)
	case Drive:
		n = fmt.Sprintf("drives 0-%d", s.Drives-1)
	case ImportExport:
		if s.IESlots == 0 {
			n = "no import/export slots"
		} else {
			n = fmt.Sprintf("import/export slots 1-%d", s.IESlots)
		}
	default:
		return s.fail(ErrNoSuchElement, "%v is not an element kind", l.Kind)
	}
	return s.fail(ErrNoSuchElement, "no %v: the library has %s", l, n)
}

// vacant checks that l exists, holds nothing and is not reserved as the
// home of a loaded cartridge other than barcode.
func (s *State) vacant(l Location, barcode string) error {
	if err := s.element(l); err != nil {
		return err
	}
	if b, ok := s.At(l); ok {
		return s.fail(ErrOccupied, "%v already holds %s", l, b)
	}
	if b, ok := s.HomeOf(l); ok && b != barcode {
		return s.fail(ErrOccupied, "%v is the home of %s, which is loaded in %v", l, b, s.Cartridges[b])
	}
	return nil
}

// locate finds a cartridge.
func (s *State) locate(barcode string) (Location, error) {
	l, ok := s.Cartridges[barcode]
	if !ok {
		return Location{}, s.fail(ErrUnknownCartridge, "no cartridge %s in the library", barcode)
	}
	return l, nil
}

// Add places a new cartridge, as importing or labelling one does, in an
// empty storage or import/export slot; cartridges reach drives only by
// being loaded.
func (s *State) Add(barcode string, at Location) error {
	if err := ValidBarcode(barcode); err != nil {
		return &Error{Library: s.Name, Err: ErrInvalidBarcode, Msg: err.Error()}
	}
	if l, ok := s.Cartridges[barcode]; ok {
		return s.fail(ErrDuplicateBarcode, "%s is already in %v", barcode, l)
	}
	if err := s.element(at); err != nil {
		return err
	}
	if at.Kind == Drive {
		return s.fail(ErrNotAllowed, "a new cartridge goes into a slot or an import/export slot, not %v", at)
	}
	if err := s.vacant(at, barcode); err != nil {
		return err
	}
	s.Cartridges[barcode] = at
	return nil
}

// Move carries a cartridge to an empty element, as MOVE MEDIUM does. Into
// a drive it is a load (the origin is remembered and reserved); out of a
// drive, an unload. Moving a cartridge to where it already is does nothing.
func (s *State) Move(barcode string, to Location) error {
	from, err := s.locate(barcode)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	if err := s.vacant(to, barcode); err != nil {
		return err
	}
	switch {
	case from.Kind != Drive && to.Kind == Drive:
		s.Origins[barcode] = from
	case from.Kind == Drive && to.Kind != Drive:
		delete(s.Origins, barcode)
	}
	s.Cartridges[barcode] = to
	return nil
}

// Load moves a cartridge from a storage or import/export slot into an
// empty drive.
func (s *State) Load(barcode string, drive int) error {
	from, err := s.locate(barcode)
	if err != nil {
		return err
	}
	to := AtDrive(drive)
	if from.Kind == Drive {
		return s.fail(ErrNotAllowed, "%s is already loaded in %v", barcode, from)
	}
	return s.Move(barcode, to)
}

// Unload takes the cartridge out of a drive to `to`, or when to is nil
// back to the slot it was loaded from, which was kept free for it.
func (s *State) Unload(drive int, to *Location) error {
	d := AtDrive(drive)
	if err := s.element(d); err != nil {
		return err
	}
	barcode, ok := s.At(d)
	if !ok {
		return s.fail(ErrEmpty, "%v is empty", d)
	}
	dest, ok := s.Origins[barcode]
	if to != nil {
		dest = *to
	} else if !ok {
		return s.fail(ErrCorruptState, "%s in %v has no origin; give a destination", barcode, d)
	}
	if err := s.element(dest); err != nil {
		return err
	}
	if dest.Kind == Drive {
		return s.fail(ErrNotAllowed, "unloading %v goes to a slot or an import/export slot, not %v", d, dest)
	}
	if err := s.vacant(dest, barcode); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Msg = fmt.Sprintf("cannot unload %s from %v: %s", barcode, d, e.Msg)
		}
		return err
	}
	return s.Move(barcode, dest)
}

// Remove exports a cartridge: it must be in an import/export slot, where
// the operator takes it out.
func (s *State) Remove(barcode string) error {
	from, err := s.locate(barcode)
	if err != nil {
		return err
	}
	if from.Kind != ImportExport {
		return s.fail(ErrNotAllowed, "%s is in %v; cartridges leave the library through an import/export slot", barcode, from)
	}
	delete(s.Cartridges, barcode)
	return nil
}

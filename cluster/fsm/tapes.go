package fsm

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
)

// tapeLibrary is a registered library: its description, and where its
// cartridges are under the changer rules of storage/library.
//
// Placement lives twice: in place, which enforces the rules, and in each
// Cartridge's location and home_slot, which snapshots carry. Every change
// goes through a working copy of place and is written back to both at once
// (see tapeMoves), so the two never disagree.
type tapeLibrary struct {
	meta  *ferryv1.Library // Elements is always nil
	place *library.State
}

func newTapeLibrary(meta *ferryv1.Library) (*tapeLibrary, error) {
	place, err := library.New(meta.GetName(), int(meta.GetSlots()), int(meta.GetDrives()), int(meta.GetIeSlots()))
	if err != nil {
		return nil, err
	}
	return &tapeLibrary{meta: meta, place: place}, nil
}

func cloneLibrary(l *ferryv1.Library) *ferryv1.Library {
	return proto.Clone(l).(*ferryv1.Library)
}

// toLocation converts an element of the API to the library package's form;
// ok is false for an element kind the library does not have.
func toLocation(e *ferryv1.Element) (library.Location, bool) {
	i := int(e.GetIndex())
	switch e.GetKind() {
	case ferryv1.ElementKind_ELEMENT_KIND_SLOT:
		return library.AtSlot(i), true
	case ferryv1.ElementKind_ELEMENT_KIND_DRIVE:
		return library.AtDrive(i), true
	case ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT:
		return library.AtIE(i), true
	}
	return library.Location{}, false
}

func toElement(l library.Location) *ferryv1.Element {
	e := &ferryv1.Element{Index: uint32(l.Index)}
	switch l.Kind {
	case library.Slot:
		e.Kind = ferryv1.ElementKind_ELEMENT_KIND_SLOT
	case library.Drive:
		e.Kind = ferryv1.ElementKind_ELEMENT_KIND_DRIVE
	case library.ImportExport:
		e.Kind = ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT
	}
	return e
}

// describeElement names an element for messages, as the library package
// does ("slot 3", "drive 0").
func describeElement(e *ferryv1.Element) string {
	if l, ok := toLocation(e); ok {
		return l.String()
	}
	return fmt.Sprintf("element of kind %d", int32(e.GetKind()))
}

// inventory lists every element of the library in the library package's
// order (slots, drives, import/export slots), each with its cartridge and,
// for a drive, the job the cartridge is loaded for.
func (s *state) inventory(lib *tapeLibrary) []*ferryv1.Element {
	inv := lib.place.Inventory()
	out := make([]*ferryv1.Element, 0, len(inv))
	for _, e := range inv {
		el := toElement(e.Location)
		el.Barcode = e.Barcode
		if e.Location.Kind == library.Drive && e.Barcode != "" {
			el.JobId = s.holders[e.Barcode]
			el.NdmpLoad = cloneNdmpLoad(s.cartridges[e.Barcode].GetNdmpLoad())
		}
		out = append(out, el)
	}
	return out
}

// homeOwner returns the cartridge whose home a storage slot is while the
// cartridge is loaded in a drive. Such a slot is empty but not free: the
// cartridge must be able to go back.
func homeOwner(place *library.State, slot int) (string, bool) {
	for b, origin := range place.Origins {
		if origin == library.AtSlot(slot) {
			return b, true
		}
	}
	return "", false
}

// occupied maps every element holding a cartridge, and every storage slot
// reserved as a loaded cartridge's home, to that cartridge.
func occupied(place *library.State) map[library.Location]string {
	taken := make(map[library.Location]string, len(place.Cartridges)+len(place.Origins))
	for b, l := range place.Cartridges {
		taken[l] = b
	}
	for b, l := range place.Origins {
		taken[l] = b
	}
	return taken
}

// tapeMoves is a set of changer moves made on working copies of the
// libraries involved. Nothing is visible until commit, so a plan that fails
// halfway leaves the state untouched.
type tapeMoves struct {
	s       *state
	work    map[string]*library.State
	touched []string // barcodes whose place may have changed, in move order
}

func (s *state) newMoves() *tapeMoves {
	return &tapeMoves{s: s, work: make(map[string]*library.State)}
}

// lib returns the working copy of a library, making it on first use.
func (m *tapeMoves) lib(name string) (*library.State, error) {
	if w, ok := m.work[name]; ok {
		return w, nil
	}
	l, ok := m.s.libraries[name]
	if !ok {
		return nil, fmt.Errorf("library %q: %w", name, ErrNotFound)
	}
	w := l.place.Clone()
	m.work[name] = w
	return w, nil
}

// loadAt loads a cartridge into a drive known to be free. A cartridge
// waiting in an import/export slot is first taken into the lowest-numbered
// free storage slot, which becomes its home: a cartridge in a drive always
// has a storage slot to return to.
func (m *tapeMoves) loadAt(w *library.State, c *ferryv1.Cartridge, drive int) (*ferryv1.TapeAssignment, error) {
	from, ok := w.Where(c.GetBarcode())
	if !ok {
		return nil, fmt.Errorf("cartridge %s is not in library %s: %w", c.GetBarcode(), c.GetLibrary(), ErrBadSnapshot)
	}
	taken := occupied(w)
	if from.Kind == library.ImportExport {
		slot := 0
		for i := 1; i <= w.Slots; i++ {
			if _, held := taken[library.AtSlot(i)]; !held {
				slot = i
				break
			}
		}
		if slot == 0 {
			return nil, busy("no free storage slot in library %s to take %s from %v", c.GetLibrary(), c.GetBarcode(), from)
		}
		if err := w.Move(c.GetBarcode(), library.AtSlot(slot)); err != nil {
			return nil, changerError(err)
		}
	}
	if err := w.Load(c.GetBarcode(), drive); err != nil {
		return nil, changerError(err)
	}
	m.touched = append(m.touched, c.GetBarcode())
	return &ferryv1.TapeAssignment{Barcode: c.GetBarcode(), Library: c.GetLibrary(), Drive: uint32(drive)}, nil
}

// loadInto puts a cartridge into the drive given, which must be free.
func (m *tapeMoves) loadInto(c *ferryv1.Cartridge, drive int) (*ferryv1.TapeAssignment, error) {
	w, err := m.lib(c.GetLibrary())
	if err != nil {
		return nil, err
	}
	if drive < 0 || drive >= w.Drives {
		return nil, fmt.Errorf("%w: library %s has no drive %d", ErrInvalid, c.GetLibrary(), drive)
	}
	if b, held := occupied(w)[library.AtDrive(drive)]; held && b != c.GetBarcode() {
		return nil, busy("drive %d of library %s holds %s", drive, c.GetLibrary(), b)
	}
	return m.loadAt(w, c, drive)
}

// unload returns a loaded cartridge to its home slot.
func (m *tapeMoves) unload(c *ferryv1.Cartridge) error {
	w, err := m.lib(c.GetLibrary())
	if err != nil {
		return err
	}
	at, ok := w.Where(c.GetBarcode())
	if !ok || at.Kind != library.Drive {
		return fmt.Errorf("cartridge %s is not in a drive of library %s: %w", c.GetBarcode(), c.GetLibrary(), ErrBadSnapshot)
	}
	if err := w.Unload(at.Index, nil); err != nil {
		return changerError(err)
	}
	m.touched = append(m.touched, c.GetBarcode())
	return nil
}

// commit installs the working copies and writes every moved cartridge's
// new location and home back to its record.
func (m *tapeMoves) commit() {
	for name, w := range m.work {
		m.s.libraries[name].place = w
	}
	for _, b := range m.touched {
		c := m.s.cartridges[b]
		w := m.work[c.GetLibrary()]
		at, _ := w.Where(b)
		c.Location = toElement(at)
		switch origin, loaded := w.Origins[b]; {
		case loaded:
			c.HomeSlot = uint32(origin.Index)
		case at.Kind == library.Slot:
			// A DMA may put a cartridge in any storage slot: that is its
			// home from now on.
			c.HomeSlot = uint32(at.Index)
		default:
			c.HomeSlot = 0 // an import/export slot is nobody's home
		}
	}
}

// changerError maps a broken changer rule onto the package's sentinels. An
// occupied element is contention; anything else means the state machine's
// own bookkeeping went wrong, which only a bad snapshot can cause.
func changerError(err error) error {
	if errors.Is(err, library.ErrOccupied) {
		return busy("%v", err)
	}
	return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
}

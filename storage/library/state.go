// Package library holds the rules of a tape library (a media changer):
// storage slots, drives and import/export slots, the cartridges in them by
// barcode, and the moves a real changer allows. It does no I/O: the cluster's
// replicated state machine keeps a State per library and applies moves to
// it, so everything here is deterministic and a State deep-copies with Clone.
package library

import (
	"fmt"
	"sort"
)

// Limits on the element counts: SMC element addresses are 16 bits, and
// bounding them keeps an Inventory a sane size.
const (
	MaxSlots   = 10000
	MaxDrives  = 256
	MaxIESlots = 256
)

// State is one library and where its cartridges are.
type State struct {
	Name    string
	Slots   int // storage slots, numbered 1..Slots
	Drives  int // drives, numbered 0..Drives-1
	IESlots int // import/export slots, numbered 1..IESlots
	// Cartridges maps each barcode to the element holding it.
	Cartridges map[string]Location
	// Origins maps each cartridge in a drive to the slot or import/export
	// slot it was loaded from: its home, where Unload returns it by
	// default. A home stays reserved while its cartridge is loaded, so
	// nothing else can be put there and the unload cannot fail.
	Origins map[string]Location
}

// Element is one entry of an inventory: an element and what it holds.
type Element struct {
	Location Location
	Barcode  string // "" when empty
	// Origin is, for a loaded drive, where the cartridge came from.
	Origin *Location
}

// New makes an empty library. It needs at least one slot and one drive.
func New(name string, slots, drives, ieSlots int) (*State, error) {
	bad := func(format string, args ...any) error {
		return &Error{Library: name, Err: ErrInvalidConfig, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case name == "":
		return nil, bad("a library needs a name")
	case slots < 1 || slots > MaxSlots:
		return nil, bad("%d slots: want 1 to %d", slots, MaxSlots)
	case drives < 1 || drives > MaxDrives:
		return nil, bad("%d drives: want 1 to %d", drives, MaxDrives)
	case ieSlots < 0 || ieSlots > MaxIESlots:
		return nil, bad("%d import/export slots: want 0 to %d", ieSlots, MaxIESlots)
	}
	return &State{
		Name: name, Slots: slots, Drives: drives, IESlots: ieSlots,
		Cartridges: map[string]Location{},
		Origins:    map[string]Location{},
	}, nil
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Cartridges = make(map[string]Location, len(s.Cartridges))
	for b, l := range s.Cartridges {
		c.Cartridges[b] = l
	}
	c.Origins = make(map[string]Location, len(s.Origins))
	for b, l := range s.Origins {
		c.Origins[b] = l
	}
	return &c
}

// Where tells which element holds the cartridge.
func (s *State) Where(barcode string) (Location, bool) {
	l, ok := s.Cartridges[barcode]
	return l, ok
}

// At tells which cartridge an element holds.
func (s *State) At(l Location) (barcode string, ok bool) {
	for b, at := range s.Cartridges {
		if at == l {
			return b, true
		}
	}
	return "", false
}

// HomeOf tells which loaded cartridge has l as its home.
func (s *State) HomeOf(l Location) (barcode string, ok bool) {
	for b, o := range s.Origins {
		if o == l {
			return b, true
		}
	}
	return "", false
}

// Free reports whether a cartridge can be put at l: it exists, is empty and
// is no loaded cartridge's home.
func (s *State) Free(l Location) bool {
	if !s.Exists(l) {
		return false
	}
	_, held := s.At(l)
	_, reserved := s.HomeOf(l)
	return !held && !reserved
}

// FirstFree is the lowest-numbered free element of a kind.
func (s *State) FirstFree(k LocKind) (Location, bool) {
	taken := make(map[Location]bool, len(s.Cartridges)+len(s.Origins))
	for _, l := range s.Cartridges {
		taken[l] = true
	}
	for _, l := range s.Origins {
		taken[l] = true
	}
	first, last := 1, 0
	switch k {
	case Slot:
		last = s.Slots
	case Drive:
		first, last = 0, s.Drives-1
	case ImportExport:
		last = s.IESlots
	}
	for i := first; i <= last; i++ {
		if l := (Location{Kind: k, Index: i}); !taken[l] {
			return l, true
		}
	}
	return Location{}, false
}

// Inventory lists every element, slots then drives then import/export
// slots, each in index order, with what it holds.
func (s *State) Inventory() []Element {
	held := make(map[Location]string, len(s.Cartridges))
	for b, l := range s.Cartridges {
		held[l] = b
	}
	out := make([]Element, 0, s.Slots+s.Drives+s.IESlots)
	add := func(l Location) {
		e := Element{Location: l, Barcode: held[l]}
		if o, ok := s.Origins[e.Barcode]; ok && l.Kind == Drive {
			e.Origin = &o
		}
		out = append(out, e)
	}
	for i := 1; i <= s.Slots; i++ {
		add(AtSlot(i))
	}
	for i := 0; i < s.Drives; i++ {
		add(AtDrive(i))
	}
	for i := 1; i <= s.IESlots; i++ {
		add(AtIE(i))
	}
	return out
}

// Barcodes lists the cartridges in the library, sorted.
func (s *State) Barcodes() []string { return sortedKeys(s.Cartridges) }

func sortedKeys(m map[string]Location) []string {
	out := make([]string, 0, len(m))
	for b := range m {
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

// Exists reports whether the library has the element.
func (s *State) Exists(l Location) bool {
	switch l.Kind {
	case Slot:
		return 1 <= l.Index && l.Index <= s.Slots
	case Drive:
		return 0 <= l.Index && l.Index < s.Drives
	case ImportExport:
		return 1 <= l.Index && l.Index <= s.IESlots
	}
	return false
}

// Validate checks the invariants of a State that came from elsewhere (a
// snapshot, a decoded message): sizes in range, valid barcodes, every
// cartridge in an existing element, no element holding two, and an origin
// exactly for each cartridge in a drive, kept free for it.
func (s *State) Validate() error {
	if _, err := New(s.Name, s.Slots, s.Drives, s.IESlots); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return &Error{Library: s.Name, Err: ErrCorruptState, Msg: fmt.Sprintf(format, args...)}
	}
	holder := make(map[Location]string, len(s.Cartridges))
	for _, b := range s.Barcodes() {
		l := s.Cartridges[b]
		if err := ValidBarcode(b); err != nil {
			return bad("%v", err)
		}
		if !s.Exists(l) {
			return bad("%s is in %v, which does not exist", b, l)
		}
		if other, ok := holder[l]; ok {
			return bad("%v holds both %s and %s", l, other, b)
		}
		holder[l] = b
		o, hasOrigin := s.Origins[b]
		switch {
		case l.Kind == Drive && !hasOrigin:
			return bad("%s is in %v with no origin to unload it to", b, l)
		case l.Kind != Drive && hasOrigin:
			return bad("%s is in %v but has an origin, which only loaded cartridges have", b, l)
		case hasOrigin && (o.Kind == Drive || !s.Exists(o)):
			return bad("%s has origin %v, which is not a slot of the library", b, o)
		}
	}
	homes := make(map[Location]string, len(s.Origins))
	for _, b := range sortedKeys(s.Origins) {
		o := s.Origins[b]
		if _, ok := s.Cartridges[b]; !ok {
			return bad("origin recorded for %s, which is not in the library", b)
		}
		if other, ok := holder[o]; ok {
			return bad("%v, the home of %s, holds %s", o, b, other)
		}
		if other, ok := homes[o]; ok {
			return bad("%v is the home of both %s and %s", o, other, b)
		}
		homes[o] = b
	}
	return nil
}

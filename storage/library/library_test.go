package library

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fixture: 5 slots, 2 drives, 1 IE slot; A in slot 1, B in slot 2, C loaded
// in drive 1 from slot 3, D in the IE slot.
func fixture(t *testing.T) *State {
	t.Helper()
	s, err := New("libA", 5, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{
		s.Add("A00001L9", AtSlot(1)),
		s.Add("B00001L9", AtSlot(2)),
		s.Add("C00001L9", AtSlot(3)),
		s.Load("C00001L9", 1),
		s.Add("D00001L9", AtIE(1)),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	return s
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		slots, drives, ieSlots int
		ok                     bool
	}{
		{"libA", 24, 4, 1, true},
		{"libA", 1, 1, 0, true},
		{"", 24, 4, 1, false},
		{"libA", 0, 4, 1, false},
		{"libA", 24, 0, 1, false},
		{"libA", 24, 4, -1, false},
		{"libA", MaxSlots + 1, 4, 1, false},
		{"libA", 24, MaxDrives + 1, 1, false},
	} {
		_, err := New(tc.name, tc.slots, tc.drives, tc.ieSlots)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("New(%q, %d, %d, %d): %v", tc.name, tc.slots, tc.drives, tc.ieSlots, err)
		}
	}
}

func TestMoveRules(t *testing.T) {
	ie := AtIE(1)
	slot4 := AtSlot(4)
	drive0 := AtDrive(0)
	for _, tc := range []struct {
		name  string
		op    func(s *State) error
		err   error
		msg   string              // part of the error message
		where map[string]Location // checked after a successful op
	}{
		{"add to an empty slot", func(s *State) error { return s.Add("E00001L9", slot4) }, nil, "",
			map[string]Location{"E00001L9": slot4}},
		{"add to an occupied slot", func(s *State) error { return s.Add("E00001L9", AtSlot(1)) }, ErrOccupied, "slot 1 already holds A00001L9", nil},
		{"add a duplicate barcode", func(s *State) error { return s.Add("A00001L9", slot4) }, ErrDuplicateBarcode, "A00001L9 is already in slot 1", nil},
		{"add an invalid barcode", func(s *State) error { return s.Add("a00001L9", slot4) }, ErrInvalidBarcode, "a00001L9", nil},
		{"add into a drive", func(s *State) error { return s.Add("E00001L9", drive0) }, ErrNotAllowed, "not drive 0", nil},
		{"add past the last slot", func(s *State) error { return s.Add("E00001L9", AtSlot(6)) }, ErrNoSuchElement, "no slot 6: the library has slots 1-5", nil},
		{"add to slot 0", func(s *State) error { return s.Add("E00001L9", AtSlot(0)) }, ErrNoSuchElement, "slot 0", nil},
		{"add to a zero location", func(s *State) error { return s.Add("E00001L9", Location{}) }, ErrNoSuchElement, "not an element kind", nil},

		{"load from a slot", func(s *State) error { return s.Load("A00001L9", 0) }, nil, "",
			map[string]Location{"A00001L9": drive0}},
		{"load from the IE slot", func(s *State) error { return s.Load("D00001L9", 0) }, nil, "",
			map[string]Location{"D00001L9": drive0}},
		{"load into a full drive", func(s *State) error { return s.Load("A00001L9", 1) }, ErrOccupied, "drive 1 already holds C00001L9", nil},
		{"load a loaded cartridge", func(s *State) error { return s.Load("C00001L9", 0) }, ErrNotAllowed, "C00001L9 is already loaded in drive 1", nil},
		{"load into a missing drive", func(s *State) error { return s.Load("A00001L9", 2) }, ErrNoSuchElement, "no drive 2: the library has drives 0-1", nil},
		{"load an unknown cartridge", func(s *State) error { return s.Load("Z00001L9", 0) }, ErrUnknownCartridge, "no cartridge Z00001L9", nil},

		{"unload home", func(s *State) error { return s.Unload(1, nil) }, nil, "",
			map[string]Location{"C00001L9": AtSlot(3)}},
		{"unload elsewhere", func(s *State) error { return s.Unload(1, &slot4) }, nil, "",
			map[string]Location{"C00001L9": slot4}},
		{"unload to an occupied slot", func(s *State) error { l := AtSlot(1); return s.Unload(1, &l) }, ErrOccupied,
			"cannot unload C00001L9 from drive 1: slot 1 already holds A00001L9", nil},
		{"move into a loaded cartridge's home", func(s *State) error { return s.Move("A00001L9", AtSlot(3)) }, ErrOccupied,
			"slot 3 is the home of C00001L9, which is loaded in drive 1", nil},
		{"add into a loaded cartridge's home", func(s *State) error { return s.Add("E00001L9", AtSlot(3)) }, ErrOccupied,
			"slot 3 is the home of C00001L9", nil},
		{"unload into another's home", func(s *State) error {
			if err := s.Load("A00001L9", 0); err != nil {
				return err
			}
			l := AtSlot(1)
			return s.Unload(1, &l)
		}, ErrOccupied, "cannot unload C00001L9 from drive 1: slot 1 is the home of A00001L9", nil},
		{"unload to the IE slot, then the home is free", func(s *State) error {
			if err := s.Remove("D00001L9"); err != nil {
				return err
			}
			if err := s.Unload(1, &ie); err != nil {
				return err
			}
			return s.Add("E00001L9", AtSlot(3))
		}, nil, "", map[string]Location{"C00001L9": ie, "E00001L9": AtSlot(3)}},
		{"unload an empty drive", func(s *State) error { return s.Unload(0, nil) }, ErrEmpty, "drive 0 is empty", nil},
		{"unload into a drive", func(s *State) error { return s.Unload(1, &drive0) }, ErrNotAllowed, "not drive 0", nil},
		{"unload to the IE slot when full", func(s *State) error { return s.Unload(1, &ie) }, ErrOccupied,
			"cannot unload C00001L9 from drive 1: import/export slot 1 already holds D00001L9", nil},

		{"move slot to slot", func(s *State) error { return s.Move("A00001L9", slot4) }, nil, "",
			map[string]Location{"A00001L9": slot4}},
		{"move to where it is", func(s *State) error { return s.Move("A00001L9", AtSlot(1)) }, nil, "",
			map[string]Location{"A00001L9": AtSlot(1)}},
		{"move onto another cartridge", func(s *State) error { return s.Move("A00001L9", AtSlot(2)) }, ErrOccupied, "slot 2 already holds B00001L9", nil},
		{"move drive to drive keeps the origin", func(s *State) error {
			if err := s.Move("C00001L9", drive0); err != nil {
				return err
			}
			return s.Unload(0, nil)
		}, nil, "", map[string]Location{"C00001L9": AtSlot(3)}},
		{"move into a drive is a load", func(s *State) error {
			if err := s.Move("B00001L9", drive0); err != nil {
				return err
			}
			return s.Unload(0, nil)
		}, nil, "", map[string]Location{"B00001L9": AtSlot(2)}},
		{"move to a missing IE slot", func(s *State) error { return s.Move("A00001L9", AtIE(2)) }, ErrNoSuchElement, "import/export slots 1-1", nil},

		{"remove from the IE slot", func(s *State) error { return s.Remove("D00001L9") }, nil, "", nil},
		{"remove from a slot", func(s *State) error { return s.Remove("A00001L9") }, ErrNotAllowed, "A00001L9 is in slot 1", nil},
		{"remove from a drive", func(s *State) error { return s.Remove("C00001L9") }, ErrNotAllowed, "C00001L9 is in drive 1", nil},
		{"remove an unknown cartridge", func(s *State) error { return s.Remove("Z00001L9") }, ErrUnknownCartridge, "Z00001L9", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fixture(t)
			before := s.Clone()
			err := tc.op(s)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "library libA: ") {
					t.Fatalf("message %q does not say %q", err.Error(), tc.msg)
				}
			}
			for b, want := range tc.where {
				if got, ok := s.Where(b); !ok || got != want {
					t.Fatalf("%s is in %v, want %v", b, got, want)
				}
				if got, ok := s.At(want); !ok || got != b {
					t.Fatalf("At(%v) = %q, want %s", want, got, b)
				}
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("state broken after the op: %v", err)
			}
			// A refused move changes nothing (except the ones that made
			// a successful move first).
			if tc.err != nil && !strings.Contains(tc.name, "another's home") && !reflect.DeepEqual(s, before) {
				t.Fatalf("a refused move changed the state:\n%+v\nwas\n%+v", s, before)
			}
		})
	}
}

func TestInventory(t *testing.T) {
	s := fixture(t)
	inv := s.Inventory()
	if len(inv) != 5+2+1 {
		t.Fatalf("%d elements, want 8", len(inv))
	}
	origin := AtSlot(3)
	want := []Element{
		{Location: AtSlot(1), Barcode: "A00001L9"},
		{Location: AtSlot(2), Barcode: "B00001L9"},
		{Location: AtSlot(3)},
		{Location: AtSlot(4)},
		{Location: AtSlot(5)},
		{Location: AtDrive(0)},
		{Location: AtDrive(1), Barcode: "C00001L9", Origin: &origin},
		{Location: AtIE(1), Barcode: "D00001L9"},
	}
	if !reflect.DeepEqual(inv, want) {
		t.Fatalf("inventory\n%+v\nwant\n%+v", inv, want)
	}
	if got := s.Barcodes(); !reflect.DeepEqual(got, []string{"A00001L9", "B00001L9", "C00001L9", "D00001L9"}) {
		t.Fatalf("Barcodes %v", got)
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := fixture(t)
	c := s.Clone()
	if !reflect.DeepEqual(s, c) {
		t.Fatal("clone differs")
	}
	if err := c.Unload(1, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("E00001L9", AtSlot(5)); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Where("C00001L9"); l != AtDrive(1) {
		t.Fatal("unloading the clone moved the original's cartridge")
	}
	if _, ok := s.Where("E00001L9"); ok || len(s.Origins) != 1 {
		t.Fatal("changing the clone changed the original")
	}
}

func TestDeterministicEncoding(t *testing.T) {
	a, b := fixture(t), fixture(t)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("two equal states encode differently:\n%s\n%s", ja, jb)
	}
	var back State
	if err := json.Unmarshal(ja, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, a) {
		t.Fatal("JSON round trip changed the state")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(s *State)
	}{
		{"two in one slot", func(s *State) { s.Cartridges["E00001L9"] = AtSlot(1) }},
		{"slot out of range", func(s *State) { s.Cartridges["A00001L9"] = AtSlot(9) }},
		{"bad barcode", func(s *State) { s.Cartridges["bad"] = AtSlot(5) }},
		{"loaded without origin", func(s *State) { delete(s.Origins, "C00001L9") }},
		{"origin for a stored cartridge", func(s *State) { s.Origins["A00001L9"] = AtSlot(4) }},
		{"origin is a drive", func(s *State) { s.Origins["C00001L9"] = AtDrive(0) }},
		{"origin of a missing cartridge", func(s *State) { s.Origins["Z00001L9"] = AtSlot(4) }},
		{"bad sizes", func(s *State) { s.Drives = 0 }},
		{"a cartridge in another's home", func(s *State) { s.Cartridges["A00001L9"] = AtSlot(3) }},
		{"two cartridges with one home", func(s *State) {
			s.Cartridges["A00001L9"] = AtDrive(0)
			s.Origins["A00001L9"] = AtSlot(3)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fixture(t)
			tc.damage(s)
			if err := s.Validate(); err == nil {
				t.Fatal("Validate accepted a broken state")
			}
		})
	}
	if err := fixture(t).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidBarcode(t *testing.T) {
	for _, tc := range []struct {
		b  string
		ok bool
	}{
		{"A00001L9", true}, {"CLN001L1", true}, {"ZZZZZZL5", true}, {"123456L8", true},
		{"", false}, {"A00001L", false}, {"A00001L90", false}, {"a00001L9", false},
		{"A0000-L9", false}, {"A00001M9", false}, {"A00001L0", false}, {"A00001LX", false},
	} {
		err := ValidBarcode(tc.b)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidBarcode)) {
			t.Errorf("ValidBarcode(%q): %v", tc.b, err)
		}
	}
}

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Location
		ok   bool
	}{
		{"slot:3", AtSlot(3), true}, {"slot3", AtSlot(3), true}, {"Drive 0", AtDrive(0), true},
		{"ie:1", AtIE(1), true}, {"slot:", Location{}, false}, {"bay:1", Location{}, false},
		{"slot:-1", Location{}, false}, {"drive:x", Location{}, false},
	} {
		got, err := ParseLocation(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLocation(%q) = %v, %v", tc.in, got, err)
		}
	}
	if got := AtIE(2).String(); got != "import/export slot 2" {
		t.Errorf("String %q", got)
	}
}

func TestFreeElements(t *testing.T) {
	s := fixture(t)
	for _, tc := range []struct {
		l    Location
		free bool
	}{
		{AtSlot(1), false}, {AtSlot(3), false}, {AtSlot(4), true}, {AtSlot(6), false},
		{AtDrive(0), true}, {AtDrive(1), false}, {AtIE(1), false}, {Location{}, false},
	} {
		if got := s.Free(tc.l); got != tc.free {
			t.Errorf("Free(%v) = %v, want %v", tc.l, got, tc.free)
		}
	}
	if b, ok := s.HomeOf(AtSlot(3)); !ok || b != "C00001L9" {
		t.Errorf("HomeOf(slot 3) = %q, %v", b, ok)
	}
	if _, ok := s.HomeOf(AtSlot(4)); ok {
		t.Error("slot 4 is nobody's home")
	}
	for _, tc := range []struct {
		k    LocKind
		want Location
		ok   bool
	}{
		{Slot, AtSlot(4), true}, {Drive, AtDrive(0), true}, {ImportExport, Location{}, false}, {LocKind(9), Location{}, false},
	} {
		if got, ok := s.FirstFree(tc.k); got != tc.want || ok != tc.ok {
			t.Errorf("FirstFree(%v) = %v, %v; want %v, %v", tc.k, got, ok, tc.want, tc.ok)
		}
	}
}

package library

import (
	"fmt"
	"strconv"
	"strings"
)

// LocKind is the kind of a library element, as SMC names them: storage
// slots, data transfer elements (drives) and import/export elements.
type LocKind int

// Element kinds, in the order Inventory lists them. The zero value is no
// element, so a zero Location is never valid.
const (
	Slot LocKind = iota + 1
	Drive
	ImportExport
)

func (k LocKind) String() string {
	switch k {
	case Slot:
		return "slot"
	case Drive:
		return "drive"
	case ImportExport:
		return "import/export slot"
	}
	return fmt.Sprintf("LocKind(%d)", int(k))
}

// Location names one element: slots are numbered 1..Slots, drives
// 0..Drives-1 (as /dev/nst0…), import/export slots 1..IESlots.
type Location struct {
	Kind  LocKind
	Index int
}

// AtSlot is storage slot n.
func AtSlot(n int) Location { return Location{Kind: Slot, Index: n} }

// AtDrive is drive n.
func AtDrive(n int) Location { return Location{Kind: Drive, Index: n} }

// AtIE is import/export slot n.
func AtIE(n int) Location { return Location{Kind: ImportExport, Index: n} }

func (l Location) String() string { return fmt.Sprintf("%v %d", l.Kind, l.Index) }

// ParseLocation reads the forms the CLI accepts: "slot:3", "drive:0",
// "ie:1" (also "slot3", "drive 0", "ie1").
func ParseLocation(s string) (Location, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, k := range []struct {
		prefix string
		kind   LocKind
	}{{"slot", Slot}, {"drive", Drive}, {"ie", ImportExport}} {
		rest, ok := strings.CutPrefix(t, k.prefix)
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, ": ")
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			break
		}
		return Location{Kind: k.kind, Index: n}, nil
	}
	return Location{}, &Error{Err: ErrNoSuchElement, Msg: fmt.Sprintf("%q is not a location (slot:N, drive:N or ie:N)", s)}
}

package pr_test

import (
	"fmt"
	"testing"

	"github.com/ferry-san/ferry/scsi/pr"
)

// CDBs of the conflict tests.
var (
	read10      = []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}
	write10     = []byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0}
	modeSense6  = []byte{0x1A, 0, 0x3F, 0, 0xFF, 0}
	modeSelect6 = []byte{0x15, 0x10, 0, 0, 0x18, 0}
	syncCache10 = []byte{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	read32      = []byte{0x7F, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	write32     = []byte{0x7F, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	getLBA      = []byte{0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0}
	rsoc        = []byte{0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0}
	xcopy       = []byte{0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0}
	unknown     = []byte{0xC0, 0, 0, 0, 0, 0}
	// Never refused by a persistent reservation.
	inquiry     = []byte{0x12, 0, 0, 0, 0x60, 0}
	tur         = []byte{0x00, 0, 0, 0, 0, 0}
	reportLUNs  = []byte{0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	requestSns  = []byte{0x03, 0, 0, 0, 0xFC, 0}
	readCap10   = []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	readCap16   = []byte{0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0}
	logSense    = []byte{0x4D, 0, 0, 0, 0, 0, 0, 0x10, 0, 0}
	reportTPGs  = []byte{0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0}
	allowRem    = []byte{0x1E, 0, 0, 0, 0, 0}
	preventRem  = []byte{0x1E, 0, 0, 0, 1, 0}
	startUnit   = []byte{0x1B, 0, 0, 0, 1, 0}
	stopUnit    = []byte{0x1B, 0, 0, 0, 0, 0}
	prIn        = inCDB(0)
	prOut       = outCDB(saRegister, 0)
	reserve6CDB = []byte{pr.OpReserve6, 0, 0, 0, 0, 0}
	release6CDB = []byte{pr.OpRelease6, 0, 0, 0, 0, 0}
)

// The commands of each access class.
var (
	readCDBs    = [][]byte{read10, modeSense6, read32, getLBA, rsoc}
	writeCDBs   = [][]byte{write10, modeSelect6, syncCache10, write32, xcopy, unknown, preventRem, stopUnit}
	allowedCDBs = [][]byte{inquiry, tur, reportLUNs, requestSns, readCap10, readCap16, logSense, reportTPGs, allowRem, startUnit, prIn}
	// Apply decides these, conflicts included.
	applyCDBs = [][]byte{prOut, reserve6CDB, release6CDB}
)

// TestConflictsPersistent covers every type against the holder, another
// registrant and an unregistered nexus, for reads, writes and the
// commands no reservation refuses.
func TestConflictsPersistent(t *testing.T) {
	// ok lists, for holder / registrant / other, whether reads and
	// writes are allowed (SPC-4 table 62, SBC-3 table 13).
	type access struct{ read, write bool }
	tests := []struct {
		t                         pr.Type
		holder, registrant, other access
	}{
		{pr.WriteExclusive, access{true, true}, access{true, false}, access{true, false}},
		{pr.ExclusiveAccess, access{true, true}, access{false, false}, access{false, false}},
		{pr.WriteExclusiveRegistrantsOnly, access{true, true}, access{true, true}, access{true, false}},
		{pr.ExclusiveAccessRegistrantsOnly, access{true, true}, access{true, true}, access{false, false}},
		{pr.WriteExclusiveAllRegistrants, access{true, true}, access{true, true}, access{true, false}},
		{pr.ExclusiveAccessAllRegistrants, access{true, true}, access{true, true}, access{false, false}},
	}
	for _, tt := range tests {
		// a holds the reservation, b is registered, c is not.
		s := apply(t, pr.State{}, register(a, 0, ka), register(b, 0, kb), reserve(a, ka, tt.t))
		for _, who := range []struct {
			name string
			n    pr.Nexus
			ok   access
		}{{"holder", a, tt.holder}, {"registrant", b, tt.registrant}, {"other", c, tt.other},
			// a registered through port 1 only: through port 2 it is another, unregistered nexus.
			{"holder's initiator through another port", a2, tt.other}} {
			check := func(class string, cdbs [][]byte, ok bool) {
				for _, cdb := range cdbs {
					if got := pr.Conflicts(s, who.n, cdb); got == ok {
						t.Errorf("type %#x, %s, %s % x: conflict %v, want %v", tt.t, who.name, class, cdb, got, !ok)
					}
				}
			}
			check("read", readCDBs, who.ok.read)
			check("write", writeCDBs, who.ok.write)
			check("allowed", allowedCDBs, true)
			check("decided by Apply", applyCDBs, true)
		}
	}
}

// TestConflictsAllTargetPorts: a registration with ALL_TG_PT counts through
// every target port; the reservation is held by one I_T nexus.
func TestConflictsAllTargetPorts(t *testing.T) {
	s := apply(t, pr.State{}, registerFlags(a, 0, ka, allTgPt), register(b, 0, kb), reserve(b, kb, pr.ExclusiveAccessRegistrantsOnly))
	if pr.Conflicts(s, a2, write10) {
		t.Error("registrant through another port refused")
	}
	s = apply(t, pr.State{}, registerFlags(a, 0, ka, allTgPt), reserve(a, ka, pr.ExclusiveAccess))
	if pr.Conflicts(s, a, write10) || !pr.Conflicts(s, a2, write10) {
		t.Error("exclusive access holder is one I_T nexus")
	}
}

// TestConflictsNone: without reservations nothing conflicts.
func TestConflictsNone(t *testing.T) {
	s := apply(t, pr.State{}, register(a, 0, ka))
	for _, cdbs := range [][][]byte{readCDBs, writeCDBs, allowedCDBs, applyCDBs} {
		for _, cdb := range cdbs {
			for _, n := range []pr.Nexus{a, b} {
				if pr.Conflicts(s, n, cdb) || pr.Conflicts(pr.State{}, n, cdb) {
					t.Errorf("% x from %s refused without a reservation", cdb, n.Initiator)
				}
			}
		}
	}
	if pr.Conflicts(s, a, nil) {
		t.Error("empty CDB refused")
	}
}

// TestConflictsReserve6 covers an SPC-2 reservation: its holder may do
// anything but PERSISTENT RESERVE IN, others only what SPC-2 allows.
func TestConflictsReserve6(t *testing.T) {
	s := apply(t, pr.State{}, reserve6(a))
	tests := []struct {
		cdb            []byte
		holder, others bool // conflict
	}{
		{read10, false, true},
		{write10, false, true},
		{modeSense6, false, true},
		{tur, false, true},
		{readCap10, false, true},
		{logSense, false, true},
		{inquiry, false, false},
		{reportLUNs, false, false},
		{requestSns, false, false},
		{allowRem, false, false},
		{preventRem, false, true},
		{prIn, true, true},
		{prOut, false, false}, // Apply refuses it
		{reserve6CDB, false, false},
		{release6CDB, false, false},
	}
	for _, tt := range tests {
		for _, who := range []struct {
			n    pr.Nexus
			want bool
		}{{a, tt.holder}, {a2, tt.others}, {b, tt.others}} {
			if got := pr.Conflicts(s, who.n, tt.cdb); got != who.want {
				t.Errorf("% x from %s port %d: conflict %v, want %v", tt.cdb, who.n.Initiator, who.n.TargetPort, got, who.want)
			}
		}
	}
}

// ExampleConflicts shows a write refused by another initiator's Write
// Exclusive reservation while a read passes.
func ExampleConflicts() {
	s, _, _ := pr.Apply(pr.State{}, a, outCDB(saRegister, 0), params(0, ka, 0))
	s, _, _ = pr.Apply(s, a, outCDB(saReserve, pr.WriteExclusive), params(ka, 0, 0))
	fmt.Println(pr.Conflicts(s, b, read10), pr.Conflicts(s, b, write10), pr.Conflicts(s, a, write10))
	// Output: false true false
}

func TestCovers(t *testing.T) {
	tests := []struct {
		n, m pr.Nexus
		want bool
	}{
		{a, a, true},
		{a, a2, false},
		{pr.Nexus{Initiator: a.Initiator}, a2, true},
		{pr.Nexus{Initiator: a.Initiator}, b, false},
		{b, a, false},
	}
	for _, tt := range tests {
		if got := tt.n.Covers(tt.m); got != tt.want {
			t.Errorf("%+v covers %+v: %v", tt.n, tt.m, got)
		}
	}
}

func TestWrites(t *testing.T) {
	for _, cdb := range writeCDBs {
		if !pr.Writes(cdb) {
			t.Errorf("% x is not a write", cdb)
		}
	}
	for _, cdbs := range [][][]byte{readCDBs, allowedCDBs, applyCDBs, {nil}} {
		for _, cdb := range cdbs {
			if pr.Writes(cdb) {
				t.Errorf("% x is a write", cdb)
			}
		}
	}
}

package pr_test

import (
	"errors"
	"testing"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sense"
)

// fuzzStates are the States the fuzz targets start from: none, registered,
// reserved by a persistent reservation, reserved by RESERVE(6).
func fuzzStates(t *testing.T) []pr.State {
	regs := apply(t, pr.State{}, register(a, 0, ka), registerFlags(b, 0, kb, allTgPt))
	return []pr.State{
		{},
		regs,
		apply(t, regs, reserve(a, ka, pr.ExclusiveAccessRegistrantsOnly)),
		apply(t, regs, reserve(b, kb, pr.WriteExclusiveAllRegistrants)),
		apply(t, pr.State{}, reserve6(a)),
	}
}

// FuzzApply runs arbitrary CDBs and parameter lists from a and b against
// each starting State: no panic, the input State unchanged, errors that
// are sense data or a conflict, and a result Read and Conflicts accept.
func FuzzApply(f *testing.F) {
	seeds := []cmd{register(a, 0, ka), registerFlags(a, 0, ka, allTgPt|aptpl), reserve(a, ka, pr.WriteExclusive),
		release(a, ka, pr.ExclusiveAccessRegistrantsOnly), clearAll(b, kb), preempt(a, ka, kb, pr.ExclusiveAccess),
		preemptAbort(b, kb, 0, pr.WriteExclusive), registerIgnore(b, 0), reserve6(a), release6(b)}
	for _, c := range seeds {
		f.Add(c.cdb, c.params, uint8(0))
	}
	f.Fuzz(func(t *testing.T, cdb, params []byte, who uint8) {
		n := []pr.Nexus{a, a2, b, c}[who%4]
		for _, s := range fuzzStates(t) {
			next, e, err := applyChecked(t, s, cmd{n, cdb, params})
			var sn *sense.Sense
			if err != nil && !errors.Is(err, pr.ErrConflict) && !errors.As(err, &sn) {
				t.Fatalf("error %v is neither sense data nor a conflict", err)
			}
			if err != nil && (len(e.Abort) > 0 || len(e.Attention) > 0) {
				t.Fatalf("error %v with an effect %+v", err, e)
			}
			checkInvariants(t, next)
			for _, sa := range []byte{0, 1, 2, 3} {
				_, _ = pr.Read(next, n, inCDB(sa))
			}
			_ = pr.Conflicts(next, n, cdb)
		}
	})
}

// checkInvariants checks what every State Apply returns keeps: a persistent
// reservation of a valid type held by a registered nexus (for a type other
// than All Registrants), registrations with non-zero keys, one per nexus,
// and no RESERVE(6) reservation beside persistent reservations.
func checkInvariants(t *testing.T, s pr.State) {
	t.Helper()
	allRegistrants := s.Type == pr.WriteExclusiveAllRegistrants || s.Type == pr.ExclusiveAccessAllRegistrants
	if s.Reserved && !allRegistrants && !s.Registered(s.Holder) {
		t.Fatalf("holder %+v not registered in %+v", s.Holder, s)
	}
	if s.Reserved && allRegistrants && len(s.Registrations) == 0 {
		t.Fatalf("all registrants reservation without registrants: %+v", s)
	}
	for i, r := range s.Registrations {
		if r.Key == 0 {
			t.Fatalf("zero key registered: %+v", s)
		}
		for _, o := range s.Registrations[i+1:] {
			if o.Nexus.Initiator == r.Nexus.Initiator && (o.Nexus.TargetPort == r.Nexus.TargetPort || o.AllTargetPorts || r.AllTargetPorts) {
				t.Fatalf("two registrations for one nexus: %+v", s)
			}
		}
	}
	if s.Legacy != nil && (s.Reserved || len(s.Registrations) > 0) {
		t.Fatalf("RESERVE(6) beside persistent reservations: %+v", s)
	}
}

// FuzzRead answers arbitrary PERSISTENT RESERVE IN CDBs: no panic, sense
// data or a conflict on error, and an ADDITIONAL LENGTH that counts the
// data that follows.
func FuzzRead(f *testing.F) {
	for sa := range byte(5) {
		f.Add(inCDB(sa), uint8(0))
	}
	f.Fuzz(func(t *testing.T, cdb []byte, who uint8) {
		n := []pr.Nexus{a, a2, b, c}[who%4]
		for _, s := range fuzzStates(t) {
			before := deepCopy(s)
			data, err := pr.Read(s, n, cdb)
			var sn *sense.Sense
			switch {
			case err != nil && !errors.Is(err, pr.ErrConflict) && !errors.As(err, &sn):
				t.Fatalf("error %v is neither sense data nor a conflict", err)
			case err == nil && len(data) < 8:
				t.Fatalf("% x: %d bytes", cdb, len(data))
			case err == nil && cdb[1]&0x1F != 2 && int(uint32(data[4])<<24|uint32(data[5])<<16|uint32(data[6])<<8|uint32(data[7])) != len(data)-8:
				t.Fatalf("% x: ADDITIONAL LENGTH wrong in % x", cdb, data)
			}
			if !equalState(before, s) {
				t.Fatalf("Read changed its State")
			}
		}
	})
}

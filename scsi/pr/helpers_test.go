package pr_test

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sense"
)

// The I_T nexuses of the tests: a and a2 are one initiator port through
// two target ports.
var (
	a  = pr.Nexus{Initiator: "iqn.2026-01.test:a,i,0x400000000001", TargetPort: 1}
	a2 = pr.Nexus{Initiator: "iqn.2026-01.test:a,i,0x400000000001", TargetPort: 2}
	b  = pr.Nexus{Initiator: "iqn.2026-01.test:b,i,0x400000000002", TargetPort: 1}
	c  = pr.Nexus{Initiator: "iqn.2026-01.test:c,i,0x400000000003", TargetPort: 2}
)

// The keys the nexuses register.
const (
	ka uint64 = 0xAAAA
	kb uint64 = 0xBBBB
	kc uint64 = 0xCCCC
)

// PERSISTENT RESERVE OUT service actions.
const (
	saRegister        = 0x00
	saReserve         = 0x01
	saRelease         = 0x02
	saClear           = 0x03
	saPreempt         = 0x04
	saPreemptAndAbort = 0x05
	saRegisterIgnore  = 0x06
)

// Parameter list flags.
const (
	specIPT = 0x08
	allTgPt = 0x04
	aptpl   = 0x01
)

// cmd is one reservation command from a nexus.
type cmd struct {
	n           pr.Nexus
	cdb, params []byte
}

// outCDB is PERSISTENT RESERVE OUT with a 24-byte parameter list.
func outCDB(sa byte, t pr.Type) []byte {
	return outCDBLen(sa, t, 24)
}

// outCDBLen is PERSISTENT RESERVE OUT with PARAMETER LIST LENGTH plen.
func outCDBLen(sa byte, t pr.Type, plen uint32) []byte {
	cdb := make([]byte, 10)
	cdb[0], cdb[1], cdb[2] = pr.OpPersistentReserveOut, sa, byte(t)
	binary.BigEndian.PutUint32(cdb[5:9], plen)
	return cdb
}

// params is PERSISTENT RESERVE OUT's basic parameter list.
func params(key, sak uint64, flags byte) []byte {
	p := make([]byte, 24)
	binary.BigEndian.PutUint64(p[0:8], key)
	binary.BigEndian.PutUint64(p[8:16], sak)
	p[20] = flags
	return p
}

func register(n pr.Nexus, key, sak uint64) cmd {
	return cmd{n, outCDB(saRegister, 0), params(key, sak, 0)}
}

func registerFlags(n pr.Nexus, key, sak uint64, flags byte) cmd {
	return cmd{n, outCDB(saRegister, 0), params(key, sak, flags)}
}

func registerIgnore(n pr.Nexus, sak uint64) cmd {
	return cmd{n, outCDB(saRegisterIgnore, 0), params(0x5A5A, sak, 0)}
}

func reserve(n pr.Nexus, key uint64, t pr.Type) cmd {
	return cmd{n, outCDB(saReserve, t), params(key, 0, 0)}
}

func release(n pr.Nexus, key uint64, t pr.Type) cmd {
	return cmd{n, outCDB(saRelease, t), params(key, 0, 0)}
}

func clearAll(n pr.Nexus, key uint64) cmd {
	return cmd{n, outCDB(saClear, 0), params(key, 0, 0)}
}

func preempt(n pr.Nexus, key, sak uint64, t pr.Type) cmd {
	return cmd{n, outCDB(saPreempt, t), params(key, sak, 0)}
}

func preemptAbort(n pr.Nexus, key, sak uint64, t pr.Type) cmd {
	return cmd{n, outCDB(saPreemptAndAbort, t), params(key, sak, 0)}
}

func reserve6(n pr.Nexus) cmd { return cmd{n, []byte{pr.OpReserve6, 0, 0, 0, 0, 0}, nil} }
func release6(n pr.Nexus) cmd { return cmd{n, []byte{pr.OpRelease6, 0, 0, 0, 0, 0}, nil} }

// reg is a registration through one target port.
func reg(n pr.Nexus, key uint64) pr.Registration { return pr.Registration{Nexus: n, Key: key} }

// apply runs cmds in order on s, each of which must succeed.
func apply(t *testing.T, s pr.State, cmds ...cmd) pr.State {
	t.Helper()
	for _, c := range cmds {
		next, _, err := applyChecked(t, s, c)
		if err != nil {
			t.Fatalf("setup % x from %s: %v", c.cdb, c.n.Initiator, err)
		}
		s = next
	}
	return s
}

// applyChecked runs pr.Apply and fails the test if it changed the State
// it was given.
func applyChecked(t *testing.T, s pr.State, c cmd) (pr.State, pr.Effect, error) {
	t.Helper()
	before := deepCopy(s)
	next, e, err := pr.Apply(s, c.n, c.cdb, c.params)
	if !reflect.DeepEqual(before, s) {
		t.Fatalf("Apply changed its input State:\nbefore %+v\nafter  %+v", before, s)
	}
	if err != nil && !reflect.DeepEqual(next, s) {
		t.Fatalf("Apply failed (%v) and returned a changed State %+v", err, next)
	}
	return next, e, err
}

// deepCopy copies s without sharing memory.
func deepCopy(s pr.State) pr.State {
	c := s
	c.Registrations = append([]pr.Registration(nil), s.Registrations...)
	if s.Legacy != nil {
		l := *s.Legacy
		c.Legacy = &l
	}
	return c
}

// wantErr is an expected outcome: nil for success, errConflict for
// RESERVATION CONFLICT, or sense data.
type wantErr = error

var errConflict = pr.ErrConflict

// checkErr compares an error with the expected one.
func checkErr(t *testing.T, got, want error) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Fatalf("error %v, want success", got)
	case want == nil:
	case !errors.Is(got, want):
		t.Fatalf("error %v, want %v", got, want)
	}
	var sn *sense.Sense
	if want != nil && !errors.Is(want, pr.ErrConflict) && !errors.As(got, &sn) {
		t.Fatalf("error %v is not sense data", got)
	}
}

// sn is sense data to expect.
func sn(key sense.Key, code sense.Code) error { return sense.New(key, code) }

// equalState compares two States by content.
func equalState(x, y pr.State) bool { return reflect.DeepEqual(normal(x), normal(y)) }

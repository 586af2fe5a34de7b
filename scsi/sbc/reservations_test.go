package sbc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// The initiator ports of the reservation tests.
const (
	initA = "iqn.2026-01.test:a,i,0x400000000001"
	initB = "iqn.2026-01.test:b,i,0x400000000002"
)

// as runs cdb on LUN 1 from initiator port from.
func (f *fixture) as(from string, cdb, data []byte) task.Result {
	return f.srv.Execute(context.Background(), &task.Task{LUN: 1, CDB: cdb, DataOut: data, AllocationLength: 1 << 16, Initiator: from})
}

// prOutCDB is PERSISTENT RESERVE OUT with a 24-byte parameter list.
func prOutCDB(sa byte, t pr.Type) []byte {
	return []byte{opPersistentReserveOut, sa, byte(t), 0, 0, 0, 0, 0, 24, 0}
}

// prParams is the basic parameter list.
func prParams(key, sak uint64) []byte {
	p := make([]byte, 24)
	binary.BigEndian.PutUint64(p, key)
	binary.BigEndian.PutUint64(p[8:], sak)
	return p
}

// prInCDB is PERSISTENT RESERVE IN with an allocation length.
func prInCDB(sa byte, alloc uint16) []byte {
	c := []byte{opPersistentReserveIn, sa, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(c[7:], alloc)
	return c
}

var (
	tur        = []byte{opTestUnitReady, 0, 0, 0, 0, 0}
	reserve6   = []byte{opReserve6, 0, 0, 0, 0, 0}
	release6   = []byte{opRelease6, 0, 0, 0, 0, 0}
	modeSense6 = []byte{opModeSense6, 0, 0x3F, 0, 0xFF, 0}
	conflict   = want{key: 0xFF} // RESERVATION CONFLICT status
)

// checkStatus is check with RESERVATION CONFLICT as a possible outcome.
func checkStatus(t *testing.T, res task.Result, w want) {
	t.Helper()
	if w == conflict {
		if res.Status != task.ReservationConflict {
			t.Fatalf("status %#x, sense %v; want RESERVATION CONFLICT", res.Status, res.Sense)
		}
		return
	}
	check(t, res, w)
}

func unitAttention(code sense.Code) want { return want{key: sense.UnitAttention, code: code} }

func TestPersistentReservations(t *testing.T) {
	f := newFixture(t)
	read, write := rw10(opRead10, 0, 1, 0, 0), rw10(opWrite10, 0, 1, 0, 0)
	block := make([]byte, 512)
	steps := []struct {
		name      string
		from      string
		cdb, data []byte
		want      want
		dataIn    []byte // checked when set
	}{
		{"no keys", initA, prInCDB(saReadKeys, 100), nil, good, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{"service action 4", initA, prInCDB(4, 100), nil, invalidAt(1, 4), nil},
		{"service action 1Fh", initA, prInCDB(0x1F, 100), nil, invalidAt(1, 4), nil},
		{"register and move", initA, prOutCDB(0x07, 0), prParams(0, 1), invalidAt(1, 4), nil},
		{"register a", initA, prOutCDB(saRegister, 0), prParams(0, 0xA), good, nil},
		{"register short list", initB, []byte{opPersistentReserveOut, saRegister, 0, 0, 0, 0, 0, 0, 16, 0}, prParams(0, 0xB)[:16],
			illegal(sense.ParameterListLengthError), nil},
		{"register b", initB, prOutCDB(saRegisterIgnore, 0), prParams(0, 0xB), good, nil},
		{"keys", initB, prInCDB(saReadKeys, 100), nil, good, []byte{0, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0xA, 0, 0, 0, 0, 0, 0, 0, 0xB}},
		{"keys cut to the allocation length", initB, prInCDB(saReadKeys, 8), nil, good, []byte{0, 0, 0, 2, 0, 0, 0, 16}},
		{"reserve wrong key", initA, prOutCDB(saReserve, pr.ExclusiveAccess), prParams(0xB, 0), conflict, nil},
		{"reserve a", initA, prOutCDB(saReserve, pr.ExclusiveAccess), prParams(0xA, 0), good, nil},
		{"reservation", initB, prInCDB(saReadReservation, 100), nil, good,
			[]byte{0, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0xA, 0, 0, 0, 0, 0, 3, 0, 0}},
		{"holder writes", initA, write, block, good, nil},
		{"holder reads", initA, read, nil, good, nil},
		{"registrant cannot read", initB, read, nil, conflict, nil},
		{"registrant cannot write", initB, write, block, conflict, nil},
		{"inquiry passes", initB, inquiryCDB(false, 0, 96), nil, good, nil},
		{"test unit ready passes", initB, tur, nil, good, nil},
		{"reserve6 conflicts", initA, reserve6, nil, conflict, nil},
		{"b preempts a", initB, prOutCDB(saPreempt, pr.WriteExclusive), prParams(0xB, 0xA), good, nil},
		{"a is told, inquiry first", initA, inquiryCDB(false, 0, 96), nil, good, nil},
		{"a is told", initA, tur, nil, unitAttention(sense.RegistrationsPreempted), nil},
		{"once", initA, tur, nil, good, nil},
		{"a reads through write exclusive", initA, read, nil, good, nil},
		{"a cannot write", initA, write, block, conflict, nil},
		{"a cannot release", initA, prOutCDB(saRelease, pr.WriteExclusive), prParams(0xA, 0), conflict, nil},
		{"a registers again", initA, prOutCDB(saRegister, 0), prParams(0, 0xA), good, nil},
		{"b clears", initB, prOutCDB(saClear, 0), prParams(0xB, 0), good, nil},
		{"request sense reports the attention", initA, []byte{opRequestSense, 0, 0, 0, 18, 0}, nil, good,
			sense.New(sense.UnitAttention, sense.ReservationsPreempted).Fixed()},
		{"b writes", initB, write, block, good, nil},
		{"a writes", initA, write, block, good, nil},
	}
	for _, st := range steps {
		res := f.as(st.from, st.cdb, st.data)
		t.Run(st.name, func(t *testing.T) {
			checkStatus(t, res, st.want)
			if st.dataIn != nil && !bytes.Equal(res.DataIn, st.dataIn) {
				t.Fatalf("data-in\n got % x\nwant % x", res.DataIn, st.dataIn)
			}
		})
	}
}

func TestReserve6(t *testing.T) {
	f := newFixture(t)
	checkStatus(t, f.as(initA, reserve6, nil), good)
	checkStatus(t, f.as(initA, reserve6, nil), good)
	checkStatus(t, f.as(initB, reserve6, nil), conflict)
	checkStatus(t, f.as(initB, release6, nil), good)
	checkStatus(t, f.as(initA, modeSense6, nil), good)
	checkStatus(t, f.as(initB, modeSense6, nil), conflict)
	checkStatus(t, f.as(initB, inquiryCDB(false, 0, 96), nil), good)
	checkStatus(t, f.as(initA, prInCDB(saReadKeys, 100), nil), conflict)
	checkStatus(t, f.as(initA, prOutCDB(saRegister, 0), prParams(0, 1)), conflict)
	checkStatus(t, f.as(initA, []byte{opReserve6, 0x10, 0, 0, 0, 0}, nil), invalidAt(1, 4))

	// A logical unit reset releases it, whoever holds it.
	f.srv.ResetLUN(initA, 2)
	checkStatus(t, f.as(initB, reserve6, nil), conflict)
	f.srv.ResetLUN(initA, 1)
	checkStatus(t, f.as(initA, tur, nil), unitAttention(sense.BusDeviceResetOccurred))
	checkStatus(t, f.as(initB, tur, nil), unitAttention(sense.BusDeviceResetOccurred))
	checkStatus(t, f.as(initB, reserve6, nil), good)
	// So does a target reset.
	f.srv.ResetLUN(initA, ^uint64(0))
	checkStatus(t, f.as(initA, reserve6, nil), good)
	// And the loss of the holder's nexus, not another's.
	f.srv.NexusLost(initB)
	checkStatus(t, f.as(initB, reserve6, nil), conflict)
	f.srv.NexusLost(initA)
	checkStatus(t, f.as(initB, reserve6, nil), good)
	checkStatus(t, f.as(initB, release6, nil), good)
	checkStatus(t, f.as(initA, modeSense6, nil), good)
}

// busyReservations is a store whose LUN a copy job is writing.
type busyReservations struct{ *localReservations }

var errCopying = errors.New("a copy job writes the LUN")

func (busyReservations) Busy(Identity) error { return errCopying }

func TestBusyRefusesWrites(t *testing.T) {
	f := newFixture(t)
	f.srv = New(Config{Reservations: busyReservations{newLocalReservations()}, Logger: f.srv.cfg.Logger}, nil)
	if err := f.srv.Add(1, NewLUN(f.disk, Identity{NAA: testNAA})); err != nil {
		t.Fatal(err)
	}
	checkStatus(t, f.as(initA, rw10(opWrite10, 0, 1, 0, 0), make([]byte, 512)), conflict)
	checkStatus(t, f.as(initA, rw16(opWriteSame16, 0, 1, 0, 0), make([]byte, 512)), conflict)
	checkStatus(t, f.as(initA, rw10(opRead10, 0, 1, 0, 0), nil), good)
	checkStatus(t, f.as(initA, prOutCDB(saRegister, 0), prParams(0, 1)), good)
}

// recordingAborter records AbortTasks calls.
type recordingAborter struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingAborter) AbortTasks(initiator string, lun uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, initiator+"@"+string(rune('0'+lun)))
}

func TestPreemptAndAbort(t *testing.T) {
	f := newFixture(t)
	ab := &recordingAborter{}
	f.srv.SetTaskAborter(ab)
	checkStatus(t, f.as(initA, prOutCDB(saRegister, 0), prParams(0, 0xA)), good)
	checkStatus(t, f.as(initB, prOutCDB(saRegister, 0), prParams(0, 0xB)), good)
	checkStatus(t, f.as(initB, prOutCDB(saReserve, pr.WriteExclusive), prParams(0xB, 0)), good)
	checkStatus(t, f.as(initA, prOutCDB(saPreemptAndAbort, pr.ExclusiveAccess), prParams(0xA, 0xB)), good)
	if len(ab.calls) != 1 || ab.calls[0] != initB+"@1" {
		t.Fatalf("aborts %v, want %s on LUN 1", ab.calls, initB)
	}
	checkStatus(t, f.as(initB, rw10(opRead10, 0, 1, 0, 0), nil), unitAttention(sense.RegistrationsPreempted))
	checkStatus(t, f.as(initB, rw10(opRead10, 0, 1, 0, 0), nil), conflict)
}

func TestDeliver(t *testing.T) {
	f := newFixture(t) // relative port 2
	ab := &recordingAborter{}
	f.srv.SetTaskAborter(ab)
	id := Identity{NAA: testNAA}
	code := sense.ReservationsReleased
	f.srv.Deliver(id, pr.Effect{
		Abort: []pr.Nexus{{Initiator: initA, TargetPort: 1}, {Initiator: initB}},
		Attention: []pr.Attention{
			{Nexus: pr.Nexus{Initiator: initA, TargetPort: 1}, ASC: code.ASC(), ASCQ: code.ASCQ()},
			{Nexus: pr.Nexus{Initiator: initB, TargetPort: 2}, ASC: code.ASC(), ASCQ: code.ASCQ()},
		},
	})
	if len(ab.calls) != 1 || ab.calls[0] != initB+"@1" {
		t.Fatalf("aborts %v: want only %s's, through every port", ab.calls, initB)
	}
	checkStatus(t, f.as(initA, tur, nil), good)
	checkStatus(t, f.as(initB, tur, nil), unitAttention(code))
	// Another LUN's attentions stay there.
	f.srv.Deliver(Identity{NAA: []byte{0x50, 1, 2, 3, 4, 5, 6, 7}}, pr.Effect{Attention: []pr.Attention{{Nexus: pr.Nexus{Initiator: initB}, ASC: 0x2A, ASCQ: 0x03}}})
	checkStatus(t, f.as(initB, tur, nil), good)
}

func TestAttentionBounds(t *testing.T) {
	var a attentions
	id := Identity{NAA: testNAA}
	for i := range maxAttentionsPerNexus + 3 {
		a.add(id, initA, sense.MakeCode(0x2A, byte(i)))
	}
	a.add(id, initA, sense.MakeCode(0x2A, maxAttentionsPerNexus+2)) // pending already
	for i := 3; i < maxAttentionsPerNexus+3; i++ {
		if c, ok := a.arrive(id, initA, true); !ok || c != sense.MakeCode(0x2A, byte(i)) {
			t.Fatalf("take %d: %v %v", i, c, ok)
		}
	}
	if _, ok := a.arrive(id, initA, true); ok {
		t.Fatal("more attentions than kept")
	}
	for i := range maxAttentionNexuses + 10 {
		a.add(id, string(rune(i)), sense.ReservationsPreempted)
	}
	if len(a.pending) != maxAttentionNexuses {
		t.Fatalf("%d nexuses kept", len(a.pending))
	}
}

func TestDataOutLengthPersistentReserveOut(t *testing.T) {
	f := newFixture(t)
	cdb := prOutCDB(saRegister, 0)
	cdb[8] = 0x30
	if n, ok := f.srv.DataOutLength(1, cdb); !ok || n != 0x30 {
		t.Fatalf("DataOutLength %d %v", n, ok)
	}
}

func TestResetAttentions(t *testing.T) {
	f := newFixture(t)
	const initC = "iqn.2026-01.test:c,i,0x400000000003"
	checkStatus(t, f.as(initA, tur, nil), good)
	checkStatus(t, f.as(initB, inquiryCDB(false, 0, 96), nil), good)
	// A target reset establishes none.
	f.srv.ResetLUN(initA, ^uint64(0))
	checkStatus(t, f.as(initA, tur, nil), good)
	// A logical unit reset reaches every nexus that addressed the LUN;
	// another LUN's reset none.
	f.srv.ResetLUN(initA, 2)
	checkStatus(t, f.as(initA, tur, nil), good)
	f.srv.ResetLUN(initA, 1)
	reset := unitAttention(sense.BusDeviceResetOccurred)
	checkStatus(t, f.as(initA, tur, nil), reset)
	checkStatus(t, f.as(initA, tur, nil), good)
	checkStatus(t, f.as(initB, rw10(opRead10, 0, 1, 0, 0), nil), reset)
	checkStatus(t, f.as(initC, tur, nil), good)
	// A lost nexus is forgotten, with what was pending for it.
	f.srv.ResetLUN(initA, 1)
	f.srv.NexusLost(initA)
	checkStatus(t, f.as(initA, tur, nil), good)
	checkStatus(t, f.as(initC, tur, nil), reset)
}

// TestResetFromAnotherPort: a logical unit reset another node applied
// reaches, through Deliver, every nexus that addressed the LUN here.
func TestResetFromAnotherPort(t *testing.T) {
	f := newFixture(t)
	const initC = "iqn.2026-01.test:c,i,0x400000000003"
	checkStatus(t, f.as(initA, tur, nil), good)
	_, e, err := pr.Apply(pr.State{}, pr.Nexus{Initiator: initC, TargetPort: 9}, pr.ResetCDB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Deliver(Identity{NAA: testNAA}, e)
	checkStatus(t, f.as(initA, tur, nil), unitAttention(sense.BusDeviceResetOccurred))
	checkStatus(t, f.as(initA, tur, nil), good)
	checkStatus(t, f.as(initB, tur, nil), good)
}

// PERSISTENT RESERVE OUT service actions (SPC-4 table 222), for the tests.
const (
	saRegister        = 0x00
	saReserve         = 0x01
	saRelease         = 0x02
	saClear           = 0x03
	saPreempt         = 0x04
	saPreemptAndAbort = 0x05
	saRegisterIgnore  = 0x06
)

package fsm

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/pr/prtest"
	"github.com/ferry-san/ferry/scsi/sense"
)

// The nexuses of the tests: initiator A through two nodes' ports, B.
var (
	nexusA1 = &ferryv1.PRNexus{Initiator: "iqn.1994-05.com.example:a,i,0x23d000000001", TargetPort: 2}
	nexusB2 = &ferryv1.PRNexus{Initiator: "iqn.1994-05.com.example:b,i,0x23d000000002", TargetPort: 3}
)

var (
	proutCDB    = prtest.OutCDB
	proutParams = prtest.Keys
)

func reserveCmd(step int, disk string, n *ferryv1.PRNexus, cdb, params []byte) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "reserve", Time: stamp(step), Node: "node-b",
		Op: &ferryv1.Command_Reserve{Reserve: &ferryv1.ReserveOp{Disk: disk, Nexus: n, Cdb: cdb, Parameters: params}}}
}

func registerCmd(step int, n *ferryv1.PRNexus, key uint64) *ferryv1.Command {
	return reserveCmd(step, "db02", n, proutCDB(0x00, 0), proutParams(0, key))
}

func writeExclusiveCmd(step int, n *ferryv1.PRNexus, key uint64) *ferryv1.Command {
	return reserveCmd(step, "db02", n, proutCDB(0x01, byte(pr.WriteExclusive)), proutParams(key, 0))
}

// reservedDB02 is deviceSetup with A registered (key 0xA) and holding a
// Write Exclusive reservation of db02.
func reservedDB02(t *testing.T) *FSM {
	t.Helper()
	f := deviceFixture(t)
	applyAll(t, f, registerCmd(1, nexusA1, 0xA), writeExclusiveCmd(2, nexusA1, 0xA))
	return f
}

func TestReserve(t *testing.T) {
	held := &ferryv1.PersistentReservation{
		Generation:    1,
		Registrations: []*ferryv1.PRRegistration{{Nexus: nexusA1, Key: 0xA}},
		Reserved:      true, Type: uint32(pr.WriteExclusive), Holder: nexusA1,
	}
	tests := []struct {
		name string
		cmd  *ferryv1.Command
		// want is the disk's reservation after the command; err what
		// errors.Is finds in the outcome (nil: success).
		want   *ferryv1.PersistentReservation
		err    error
		sense  bool
		wantIn string
	}{
		{
			name: "another initiator registers",
			cmd:  registerCmd(3, nexusB2, 0xB),
			want: &ferryv1.PersistentReservation{
				Generation:    2,
				Registrations: []*ferryv1.PRRegistration{{Nexus: nexusA1, Key: 0xA}, {Nexus: nexusB2, Key: 0xB}},
				Reserved:      true, Type: uint32(pr.WriteExclusive), Holder: nexusA1,
			},
		},
		{
			name: "an unregistered initiator cannot reserve: RESERVATION CONFLICT, nothing changes",
			cmd:  writeExclusiveCmd(3, nexusB2, 0xB),
			want: held, err: pr.ErrConflict,
		},
		{
			name: "a service action pr refuses: its sense is the outcome",
			cmd:  reserveCmd(3, "db02", nexusA1, proutCDB(0x1F, 0), proutParams(0xA, 0)),
			want: held, err: sense.New(sense.IllegalRequest, sense.InvalidFieldInCDB), sense: true,
		},
		{
			name: "a disk the registry does not know",
			cmd:  reserveCmd(3, "db09", nexusA1, proutCDB(0x00, 0), proutParams(0, 1)),
			want: held, err: ErrNotFound, wantIn: `disk "db09"`,
		},
		{
			name: "no nexus",
			cmd:  reserveCmd(3, "db02", nil, proutCDB(0x00, 0), proutParams(0, 1)),
			want: held, err: ErrInvalid, wantIn: "nexus.initiator",
		},
		{
			name: "no CDB",
			cmd:  reserveCmd(3, "db02", nexusA1, nil, nil),
			want: held, err: ErrInvalid, wantIn: "cdb: required",
		},
		{
			name: "no proposer time",
			cmd: func() *ferryv1.Command {
				c := registerCmd(3, nexusB2, 0xB)
				c.Time = nil
				return c
			}(),
			want: held, err: ErrInvalid, wantIn: "time",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := reservedDB02(t)
			r := f.Apply(f.AppliedIndex()+1, tc.cmd)
			switch {
			case tc.err == nil && r.Err != nil:
				t.Fatalf("err = %v", r.Err)
			case tc.err != nil && !errors.Is(r.Err, tc.err):
				t.Fatalf("err = %v, want %v", r.Err, tc.err)
			case tc.wantIn != "" && !strings.Contains(r.Err.Error(), tc.wantIn):
				t.Errorf("err = %q, want it to mention %q", r.Err, tc.wantIn)
			}
			var s *sense.Sense
			if tc.sense && !errors.As(r.Err, &s) {
				t.Errorf("err = %v carries no sense for the proposer to answer with", r.Err)
			}
			if tc.err == nil && !proto.Equal(r.Disk.GetReservation(), tc.want) {
				t.Errorf("result's disk reservation = %v, want %v", r.Disk.GetReservation(), tc.want)
			}
			if tc.err != nil && (r.Disk != nil || r.Effect.Abort != nil || r.Effect.Attention != nil) {
				t.Errorf("a refused command returned %v, %v", r.Disk, r.Effect)
			}
			d, _ := f.Disk("db02")
			if !proto.Equal(d.GetReservation(), tc.want) {
				t.Errorf("db02's reservation = %v, want %v", d.GetReservation(), tc.want)
			}
			// Snapshots carry it, so a node restored from one enforces
			// the same reservation.
			d, _ = restored(t, f).Disk("db02")
			if !proto.Equal(d.GetReservation(), tc.want) {
				t.Errorf("restored db02's reservation = %v, want %v", d.GetReservation(), tc.want)
			}
		})
	}
}

// TestReservePreemptEffect: the Effect of a PREEMPT comes back with the
// result, the same on every replica, so every node's target can abort the
// preempted nexus's tasks.
func TestReservePreemptEffect(t *testing.T) {
	f := reservedDB02(t)
	applyAll(t, f, registerCmd(3, nexusB2, 0xB))
	g := restored(t, f)
	preempt := reserveCmd(4, "db02", nexusB2, proutCDB(0x05, byte(pr.WriteExclusive)), proutParams(0xB, 0xA))
	r1 := f.Apply(f.AppliedIndex()+1, preempt)
	r2 := g.Apply(g.AppliedIndex()+1, preempt)
	if r1.Err != nil || r2.Err != nil {
		t.Fatalf("preempt: %v / %v", r1.Err, r2.Err)
	}
	if len(r1.Effect.Abort) != 1 || r1.Effect.Abort[0] != (pr.Nexus{Initiator: nexusA1.Initiator, TargetPort: 2}) {
		t.Errorf("effect = %+v, want A's tasks aborted", r1.Effect)
	}
	if !proto.Equal(r1.Disk, r2.Disk) {
		t.Errorf("replicas disagree: %v vs %v", r1.Disk, r2.Disk)
	}
	if h := r1.Disk.GetReservation().GetHolder(); !proto.Equal(h, nexusB2) {
		t.Errorf("holder = %v, want B", h)
	}
}

func TestReservationConversion(t *testing.T) {
	legacy := pr.Nexus{Initiator: "iqn.c,i,0x3", TargetPort: 7}
	states := []pr.State{
		{},
		{Generation: 3},
		{Generation: 9, Registrations: []pr.Registration{
			{Nexus: pr.Nexus{Initiator: "iqn.a,i,0x1", TargetPort: 2}, Key: 1, AllTargetPorts: true},
			{Nexus: pr.Nexus{Initiator: "iqn.b,i,0x2", TargetPort: 65535}, Key: 1<<64 - 1},
		}, Reserved: true, Type: pr.ExclusiveAccessRegistrantsOnly, Holder: pr.Nexus{Initiator: "iqn.b,i,0x2", TargetPort: 65535}, APTPL: true},
		{Reserved: true, Type: pr.WriteExclusiveAllRegistrants},
		{Legacy: &legacy},
	}
	for _, st := range states {
		p := ReservationProto(st)
		got := ReservationState(p)
		if !equalState(got, st) {
			t.Errorf("round trip of %+v gave %+v (via %v)", st, got, p)
		}
		data, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back ferryv1.PersistentReservation
		if err := proto.Unmarshal(data, &back); err != nil || !equalState(ReservationState(&back), st) {
			t.Errorf("wire round trip of %+v: %v", st, err)
		}
	}
	if ReservationProto(pr.State{}) != nil {
		t.Error("the zero State is stored as something")
	}
}

func equalState(a, b pr.State) bool {
	if (a.Legacy == nil) != (b.Legacy == nil) || a.Legacy != nil && *a.Legacy != *b.Legacy {
		return false
	}
	if len(a.Registrations) != len(b.Registrations) {
		return false
	}
	for i := range a.Registrations {
		if a.Registrations[i] != b.Registrations[i] {
			return false
		}
	}
	return a.Generation == b.Generation && a.Reserved == b.Reserved && a.Type == b.Type && a.Holder == b.Holder && a.APTPL == b.APTPL
}

// TestCopyToReservedDisk: a copy whose destination an initiator reserved is
// not placed (the scheduler keeps it queued with the reason); one that only
// reads it is.
func TestCopyToReservedDisk(t *testing.T) {
	toDB02 := &ferryv1.JobSpec{Name: "db01 to db02", Source: diskByName("db01", 0, 8), Destination: diskByName("db02", 0, 8)}
	fromDB02 := &ferryv1.JobSpec{Name: "db02 to db01", Source: diskByName("db02", 0, 8), Destination: diskByName("db01", 0, 8)}
	tests := []struct {
		name  string
		extra []*ferryv1.Command
		spec  *ferryv1.JobSpec
		want  string
	}{
		{name: "persistent reservation", spec: toDB02,
			want: "disk db02 is reserved (Write Exclusive) by initiator " + nexusA1.Initiator + " through target port 2"},
		{name: "SPC-2 reservation", spec: toDB02,
			extra: []*ferryv1.Command{
				reserveCmd(3, "db02", nexusA1, proutCDB(0x02, byte(pr.WriteExclusive)), proutParams(0xA, 0)), // RELEASE
				reserveCmd(3, "db02", nexusA1, proutCDB(0x00, 0), proutParams(0xA, 0)),                       // unregister
				reserveCmd(4, "db02", nexusB2, []byte{0x16, 0, 0, 0, 0, 0}, nil),
			},
			want: "disk db02 is reserved (RESERVE(6)) by initiator " + nexusB2.Initiator + " through target port 3"},
		{name: "reading a reserved disk", spec: fromDB02},
		{name: "registered, not reserved", spec: toDB02,
			extra: []*ferryv1.Command{reserveCmd(3, "db02", nexusA1, proutCDB(0x02, byte(pr.WriteExclusive)), proutParams(0xA, 0))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := reservedDB02(t)
			applyAll(t, f, tc.extra...)
			applyAll(t, f, submitCmd(5, "jd", "", tc.spec))
			r := f.Apply(f.AppliedIndex()+1, placeCmd(6, "jd", "node-a", 0))
			if tc.want == "" {
				if r.Err != nil {
					t.Fatalf("place: %v", r.Err)
				}
				return
			}
			var b *busyError
			if !errors.As(r.Err, &b) || b.reason != tc.want {
				t.Fatalf("place: %v, want ErrBusy %q", r.Err, tc.want)
			}
			if got := CopyExcluded(mustDisk(t, f, "db02")); got != tc.want {
				t.Errorf("CopyExcluded = %q", got)
			}
		})
	}
}

func mustDisk(t *testing.T, f *FSM, name string) *ferryv1.Disk {
	t.Helper()
	d, ok := f.Disk(name)
	if !ok {
		t.Fatalf("no disk %s", name)
	}
	return d
}

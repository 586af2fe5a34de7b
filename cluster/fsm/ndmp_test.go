package fsm

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
)

const testDMA = "10.0.0.5:41234"

func slotEl(n uint32) *ferryv1.Element {
	return &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: n}
}
func driveEl(n uint32) *ferryv1.Element {
	return &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: n}
}
func ieEl(n uint32) *ferryv1.Element {
	return &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: n}
}

func moveCmd(step int, node, lib string, from, to *ferryv1.Element) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "move", Time: stamp(step), Node: node,
		Op: &ferryv1.Command_MoveMedium{MoveMedium: &ferryv1.MoveMediumOp{Library: lib, From: from, To: to, DmaAddress: testDMA}}}
}

func openCmd(step int, node, id, lib string, drive uint32, rw bool) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "open-" + id, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_OpenNdmpSession{OpenNdmpSession: &ferryv1.OpenNdmpSessionOp{JobId: id, Session: &ferryv1.NdmpSession{
			DmaAddress: testDMA, Library: lib, Drive: drive, ReadWrite: rw}}}}
}

func endCmd(step int, id string, epoch uint64, reason string) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "end-" + id, Time: stamp(step), Node: leader,
		Op: &ferryv1.Command_EndNdmpSession{EndNdmpSession: &ferryv1.EndNdmpSessionOp{JobId: id, Epoch: epoch, Reason: reason}}}
}

// ndmpFixture is deviceFixture with A00001L9 loaded by a DMA into drive 0
// of libA, and job j1 (a copy) running with A00002L9 in drive 1.
func ndmpFixture(t *testing.T) (*FSM, uint64) {
	t.Helper()
	f := deviceFixture(t)
	applyAll(t, f, moveCmd(1, "node-b", "libA", slotEl(1), driveEl(0)))
	epoch := runJob(t, f, 2, "node-a", "j1", tape("A00002L9", "libA", 1))
	return f, epoch
}

func TestMoveMedium(t *testing.T) {
	tests := []struct {
		name     string
		from, to *ferryv1.Element
		want     []error // nil: accepted
		where    string  // barcode@element after an accepted move
	}{
		{name: "slot to free slot", from: slotEl(3), to: slotEl(10), where: "A00003L9@slot 10"},
		{name: "slot to IE", from: slotEl(3), to: ieEl(1), where: "A00003L9@import/export slot 1"},
		{name: "DMA's cartridge out of its drive", from: driveEl(0), to: slotEl(1), where: "A00001L9@slot 1"},
		{name: "DMA's cartridge to another slot", from: driveEl(0), to: slotEl(7), where: "A00001L9@slot 7"},
		{name: "empty source", from: slotEl(9), to: slotEl(10), want: []error{library.ErrEmpty, ErrInvalid}},
		{name: "no such element", from: slotEl(99), to: slotEl(10), want: []error{library.ErrNoSuchElement, ErrInvalid}},
		{name: "full destination", from: slotEl(3), to: slotEl(2), want: []error{library.ErrOccupied, ErrBusy}},
		{name: "into the home of a loaded cartridge", from: slotEl(3), to: slotEl(1), want: []error{library.ErrOccupied, ErrBusy}},
		{name: "into a drive holding the DMA's cartridge", from: slotEl(3), to: driveEl(0), want: []error{library.ErrOccupied, ErrBusy}},
		{name: "a copy job's cartridge", from: driveEl(1), to: slotEl(10), want: []error{ErrHeld, ErrBusy}},
		{name: "into a copy job's drive", from: slotEl(3), to: driveEl(1), want: []error{ErrHeld, ErrBusy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := ndmpFixture(t)
			r := f.Apply(f.AppliedIndex()+1, moveCmd(5, "node-b", "libA", tt.from, tt.to))
			if tt.want != nil {
				for _, w := range tt.want {
					if !errors.Is(r.Err, w) {
						t.Fatalf("err = %v, want %v", r.Err, w)
					}
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			c := r.Cartridge
			at, _ := toLocation(c.GetLocation())
			if got := c.GetBarcode() + "@" + at.String(); got != tt.where {
				t.Fatalf("moved to %s, want %s", got, tt.where)
			}
			if (at.Kind == library.Drive) != (c.GetNdmpLoad() != nil) {
				t.Fatalf("ndmp_load = %v in %v", c.GetNdmpLoad(), at)
			}
			if at.Kind == library.Slot && c.GetHomeSlot() != uint32(at.Index) {
				t.Fatalf("home slot %d, in %v", c.GetHomeSlot(), at)
			}
			restored(t, f) // the state stays one a snapshot restores
		})
	}
}

func TestMoveMediumIntoDriveFromIE(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f,
		cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Naa, c.Path, c.Location = "A00009L9", testNAA(109), "/vtl/libA/A00009L9.tap", ieEl(1)
		})),
		moveCmd(2, "node-c", "libA", ieEl(1), driveEl(1)))
	c, _ := f.Cartridge("A00009L9")
	if c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE || c.GetHomeSlot() != 4 {
		t.Fatalf("cartridge %v home %d: want in drive 1 with home slot 4 (the first free)", c.GetLocation(), c.GetHomeSlot())
	}
	if got := c.GetLocation().GetNdmpLoad(); got.GetDmaAddress() != testDMA || got.GetNode() != "node-c" {
		t.Fatalf("location's ndmp_load = %v", got)
	}
	restored(t, f)
}

func TestOpenNdmpSession(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *FSM)
		drive uint32
		rw    bool
		want  error
	}{
		{name: "DMA-loaded cartridge", drive: 0, rw: true},
		{name: "read-only", drive: 0},
		{name: "empty drive", drive: 0, setup: func(t *testing.T, f *FSM) {
			applyAll(t, f, moveCmd(3, "node-b", "libA", driveEl(0), slotEl(1)))
		}, want: ErrNoTape},
		{name: "drive a copy job holds", drive: 1, want: ErrHeld},
		{name: "drive another session holds", drive: 0, setup: func(t *testing.T, f *FSM) {
			applyAll(t, f, openCmd(3, "node-c", "other", "libA", 0, false))
		}, want: ErrHeld},
		{name: "write-protected", drive: 0, rw: true, setup: func(t *testing.T, f *FSM) {
			applyAll(t, f, moveCmd(3, "node-b", "libA", driveEl(0), slotEl(1)),
				&ferryv1.Command{Time: stamp(3), Node: "node-b", Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{Barcode: "A00001L9", WriteProtected: true}}},
				moveCmd(3, "node-b", "libA", slotEl(1), driveEl(0)))
		}, want: ErrWriteProtected},
		{name: "no such drive", drive: 7, want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := ndmpFixture(t)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			idx := f.AppliedIndex() + 1
			r := f.Apply(idx, openCmd(5, "node-b", "s1", "libA", tt.drive, tt.rw))
			if tt.want != nil {
				if !errors.Is(r.Err, tt.want) {
					t.Fatalf("err = %v, want %v", r.Err, tt.want)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			j := r.Job
			if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || j.GetOwner() != "node-b" || j.GetEpoch() != idx ||
				len(j.GetTapes()) != 1 || j.GetTapes()[0].GetBarcode() != "A00001L9" || !IsNDMP(j) ||
				j.GetSpec().GetNdmp().GetBarcode() != "A00001L9" || j.GetSpec().GetNdmp().GetNode() != "node-b" {
				t.Fatalf("session job = %v", j)
			}
			// A retry of the same proposal is the same session.
			if again := f.Apply(idx+1, openCmd(5, "node-b", "s1", "libA", tt.drive, tt.rw)); again.Err != nil || !again.Existing {
				t.Fatalf("retry: %+v", again)
			}
			lib, _ := f.Library("libA")
			if d := lib.GetElements()[24]; d.GetJobId() != "s1" || d.GetNdmpLoad() == nil {
				t.Fatalf("drive 0 = %v, want held by s1, loaded through NDMP", d)
			}
			// The session holds the cartridge: no DMA moves it.
			if r := f.Apply(f.AppliedIndex()+1, moveCmd(6, "node-b", "libA", driveEl(0), slotEl(1))); !errors.Is(r.Err, ErrHeld) ||
				!strings.Contains(r.Err.Error(), "NDMP session s1 from "+testDMA) {
				t.Fatalf("move of the session's cartridge: %v", r.Err)
			}
			restored(t, f)
		})
	}
}

func TestNdmpSessionEnds(t *testing.T) {
	finish := func(step int, id string, epoch uint64) *ferryv1.Command {
		return finishCmd(step, "node-b", id, epoch, &ferryv1.FinishJobOp{
			State: ferryv1.JobState_JOB_STATE_SUCCEEDED,
			Result: &ferryv1.JobResult{Bytes: 3 << 20, TapeWrites: []*ferryv1.TapeWrite{{
				Barcode: "A00001L9", FromFile: 1, UsedBytes: 3<<20 + 4096,
				Files: []*ferryv1.TapeFile{{Number: 1, Bytes: 3 << 20, Records: 48, JobId: "s1"}},
			}}},
		})
	}
	tests := []struct {
		name     string
		end      func(epoch uint64) *ferryv1.Command
		state    ferryv1.JobState
		inDrive  bool
		catalog  int
		wantHist string
	}{
		{name: "finished by its node", end: func(e uint64) *ferryv1.Command { return finish(7, "s1", e) },
			state: ferryv1.JobState_JOB_STATE_SUCCEEDED, inDrive: true, catalog: 1, wantHist: "stays in drive libA/0"},
		{name: "node died", end: func(e uint64) *ferryv1.Command { return endCmd(7, "s1", e, "node node-b died; NDMP has no reconnect") },
			state: ferryv1.JobState_JOB_STATE_FAILED, wantHist: "A00001L9 back in slot 1 of libA"},
		{name: "cancelled", end: func(uint64) *ferryv1.Command { return cancelCmd(7, "s1", "") },
			state: ferryv1.JobState_JOB_STATE_CANCELLED, inDrive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := ndmpFixture(t)
			epoch := f.AppliedIndex() + 1
			applyAll(t, f, openCmd(5, "node-b", "s1", "libA", 0, true), tt.end(epoch))
			j, _ := f.Job("s1")
			if j.GetState() != tt.state || !strings.Contains(j.GetHistory()[len(j.GetHistory())-1].GetMessage(), tt.wantHist) {
				t.Fatalf("job %v: %v", j.GetState(), j.GetHistory())
			}
			c, _ := f.Cartridge("A00001L9")
			inDrive := c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE
			if inDrive != tt.inDrive || inDrive != (c.GetNdmpLoad() != nil) || c.GetLocation().GetJobId() != "" {
				t.Fatalf("cartridge at %v (ndmp_load %v), want in drive %v", c.GetLocation(), c.GetNdmpLoad(), tt.inDrive)
			}
			if len(c.GetFiles()) != tt.catalog {
				t.Fatalf("catalog %v", c.GetFiles())
			}
			g := restored(t, f)
			// A second session may open a cartridge left in the drive.
			if tt.inDrive {
				if r := g.Apply(g.AppliedIndex()+1, openCmd(9, "node-c", "s2", "libA", 0, false)); r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			// A stale end changes nothing.
			if r := f.Apply(f.AppliedIndex()+1, endCmd(9, "s1", epoch, "again")); !errors.Is(r.Err, ErrFenced) {
				t.Fatalf("second end: %v", r.Err)
			}
		})
	}
}

func TestCopyJobRefusedNdmpCartridge(t *testing.T) {
	f, _ := ndmpFixture(t)
	r := f.Apply(f.AppliedIndex()+1, placeCmd(5, "j2", "node-a", 0, tape("A00001L9", "libA", 0)))
	if !errors.Is(r.Err, ErrBusy) || !strings.Contains(r.Err.Error(), "loaded through NDMP by "+testDMA) {
		t.Fatalf("placing a copy on the DMA's cartridge: %v", r.Err)
	}
	// Removing or erasing it waits for the DMA too.
	rm := &ferryv1.Command{Time: stamp(5), Node: "node-a", Op: &ferryv1.Command_RemoveDevice{RemoveDevice: &ferryv1.RemoveDeviceOp{Cartridge: "A00001L9"}}}
	if r := f.Apply(f.AppliedIndex()+1, rm); !errors.Is(r.Err, ErrBusy) || !strings.Contains(r.Err.Error(), "a DMA must unload it") {
		t.Fatalf("removing the DMA's cartridge: %v", r.Err)
	}
	applyAll(t, f, moveCmd(6, "node-b", "libA", driveEl(0), slotEl(1)), placeCmd(7, "j2", "node-a", 0, tape("A00001L9", "libA", 0)))
}

func TestNdmpSnapshotRoundTrip(t *testing.T) {
	f, _ := ndmpFixture(t)
	applyAll(t, f, moveCmd(5, "node-b", "libB", slotEl(5), driveEl(1)), openCmd(6, "node-b", "s1", "libB", 1, true))
	g := restored(t, f)
	a, _, _ := f.Snapshot()
	b, _, _ := g.Snapshot()
	if string(a) != string(b) {
		t.Fatal("snapshot of the restored state differs")
	}
	for _, bc := range []string{"A00001L9", "B00001L9"} {
		c, _ := g.Cartridge(bc)
		if c.GetNdmpLoad().GetDmaAddress() != testDMA {
			t.Fatalf("%s lost its NDMP load: %v", bc, c)
		}
	}
	// A cartridge in a drive with neither a job nor a DMA's load is not a
	// state the machine can reach.
	var snap ferryv1.StateSnapshot
	mustUnmarshal(t, a, &snap)
	for _, c := range snap.GetCartridges() {
		c.NdmpLoad = nil
	}
	if err := New().Restore(mustMarshal(t, &snap), 9); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("restore without the NDMP load: %v", err)
	}
}

func mustUnmarshal(t *testing.T, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNdmpSessionNeverTakenOver(t *testing.T) {
	f, _ := ndmpFixture(t)
	epoch := f.AppliedIndex() + 1
	applyAll(t, f, openCmd(5, "node-b", "s1", "libA", 0, true))
	if r := f.Apply(f.AppliedIndex()+1, takeoverCmd(6, "s1", "node-c", epoch, "owner node-b lost", 0, tape("A00001L9", "libA", 0))); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("takeover of a session: %v", r.Err)
	}
	sub := submitCmd(6, "s2", "", &ferryv1.JobSpec{Ndmp: &ferryv1.NdmpSession{DmaAddress: testDMA, Library: "libA"}})
	if r := f.Apply(f.AppliedIndex()+1, sub); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("submitting a session: %v", r.Err)
	}
}

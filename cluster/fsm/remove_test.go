package fsm

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func removeCmd(step int, op *ferryv1.RemoveDeviceOp) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "remove", Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_RemoveDevice{RemoveDevice: op}}
}

func eraseCmd(step int, barcode string, used uint64) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "erase", Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_EraseCartridge{EraseCartridge: &ferryv1.EraseCartridgeOp{Barcode: barcode, UsedBytes: used}}}
}

func cancelAll(t *testing.T, f *FSM) {
	t.Helper()
	applyAll(t, f, cancelCmd(1, "j1", "test"), cancelCmd(1, "j2", "test"), cancelCmd(1, "j3", "test"))
}

// TestRemoveAndEraseRefusals: a device named by a job that has not ended, a
// cartridge in a drive, a library holding cartridges are refused, and a
// refused command changes nothing.
func TestRemoveAndEraseRefusals(t *testing.T) {
	tapeJob := func(t *testing.T, f *FSM) {
		spec := specWith(func(s *ferryv1.JobSpec) { s.Destination = tapeByNAA(testNAA(102)) })
		applyAll(t, f, submitCmd(2, "jt", "", spec))
	}
	inDrive := func(t *testing.T, f *FSM) {
		applyAll(t, f, cancelCmd(1, "j2", ""), cancelCmd(1, "j3", ""))
		runJob(t, f, 3, "node-a", "j1", tape("A00001L9", "libA", 1))
	}
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *FSM)
		cmd   *ferryv1.Command
		want  error
		says  string
	}{
		{"disk of queued jobs", nil, removeCmd(5, &ferryv1.RemoveDeviceOp{Disk: "db01"}), ErrBusy, "used by 3 jobs that have not ended: [j1 j2 j3]"},
		{"disk of a running job", func(t *testing.T, f *FSM) {
			applyAll(t, f, cancelCmd(1, "j2", ""), cancelCmd(1, "j3", ""))
			runJob(t, f, 2, "node-a", "j1")
		}, removeCmd(5, &ferryv1.RemoveDeviceOp{Disk: "db01"}), ErrBusy, "used by job j1"},
		{"cartridge named by NAA", tapeJob, removeCmd(5, &ferryv1.RemoveDeviceOp{Cartridge: "A00002L9"}), ErrBusy, "cartridge A00002L9 is used by job jt"},
		{"cartridge in a drive", inDrive, removeCmd(5, &ferryv1.RemoveDeviceOp{Cartridge: "A00001L9"}), ErrBusy, "loaded in drive 1"},
		{"library with a used cartridge", tapeJob, removeCmd(5, &ferryv1.RemoveDeviceOp{Library: "libA"}), ErrBusy, "library libA is used by job jt"},
		{"library with cartridges", nil, removeCmd(5, &ferryv1.RemoveDeviceOp{Library: "libB"}), ErrBusy, "still holds 1 cartridges"},
		{"erase in use", tapeJob, eraseCmd(5, "A00002L9", 92), ErrBusy, "used by job jt"},
		{"erase in a drive", inDrive, eraseCmd(5, "A00001L9", 92), ErrBusy, "loaded in drive 1"},
		{"erase protected", func(t *testing.T, f *FSM) {
			applyAll(t, f, &ferryv1.Command{Time: stamp(2), Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{Barcode: "A00003L9", WriteProtected: true}}})
		}, eraseCmd(5, "A00003L9", 92), ErrBusy, "write-protected"},
		{"nothing named", nil, removeCmd(5, &ferryv1.RemoveDeviceOp{}), ErrInvalid, "exactly one"},
		{"two named", nil, removeCmd(5, &ferryv1.RemoveDeviceOp{Disk: "db02", Library: "libB"}), ErrInvalid, "exactly one"},
		{"unknown disk", nil, removeCmd(5, &ferryv1.RemoveDeviceOp{Disk: "db09"}), ErrNotFound, "db09"},
		{"unknown cartridge", nil, eraseCmd(5, "Q00001L9", 92), ErrNotFound, "Q00001L9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := deviceFixture(t)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			before, _, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			res := f.Apply(f.AppliedIndex()+1, tc.cmd)
			if !errors.Is(res.Err, tc.want) || !strings.Contains(res.Err.Error(), tc.says) {
				t.Fatalf("err %v, want %v saying %q", res.Err, tc.want, tc.says)
			}
			if after, _, _ := f.Snapshot(); string(after) != string(before) {
				t.Fatal("a refused command changed the state")
			}
		})
	}
}

// TestRemoveAndErase: idle devices go, with their names, NAAs and files
// free again; a removed disk's LUN is never given again, across a
// snapshot; erase empties the catalog.
func TestRemoveAndErase(t *testing.T) {
	f := deviceFixture(t)
	cancelAll(t, f)
	// A catalog, then erased.
	c, _ := f.Cartridge("A00001L9")
	c.Files = []*ferryv1.TapeFile{{Number: 1}}
	f.st.cartridges["A00001L9"].Files, f.st.cartridges["A00001L9"].UsedBytes = c.Files, 1<<20
	res := f.Apply(f.AppliedIndex()+1, eraseCmd(2, "A00001L9", 92))
	if res.Err != nil || len(res.Cartridge.GetFiles()) != 0 || res.Cartridge.GetUsedBytes() != 92 {
		t.Fatalf("erase: %v %v", res.Cartridge, res.Err)
	}

	if res := f.Apply(f.AppliedIndex()+1, removeCmd(3, &ferryv1.RemoveDeviceOp{Disk: "db02"})); res.Err != nil || res.Disk.GetName() != "db02" {
		t.Fatalf("remove db02: %v %v", res.Disk, res.Err)
	}
	if res := f.Apply(f.AppliedIndex()+1, removeCmd(3, &ferryv1.RemoveDeviceOp{Cartridge: "B00001L9"})); res.Err != nil || res.Cartridge.GetBarcode() != "B00001L9" {
		t.Fatalf("remove B00001L9: %v %v", res.Cartridge, res.Err)
	}
	if res := f.Apply(f.AppliedIndex()+1, removeCmd(3, &ferryv1.RemoveDeviceOp{Library: "libB"})); res.Err != nil || res.Library.GetName() != "libB" {
		t.Fatalf("remove libB: %v %v", res.Library, res.Err)
	}
	if _, ok := f.Disk("db02"); ok {
		t.Fatal("db02 still registered")
	}
	if _, ok := f.Library("libB"); ok {
		t.Fatal("libB still registered")
	}
	// A restored replica agrees, and gives the next disk LUN 3, not 2.
	g := restored(t, f)
	data, _, _ := f.Snapshot()
	again, _, _ := g.Snapshot()
	if string(again) != string(data) {
		t.Fatal("the restored state differs")
	}
	for _, m := range []*FSM{f, g} {
		// The name, NAA and file of db02 are free again.
		res := m.Apply(m.AppliedIndex()+1, diskCmd(4, validDisk("db02", 2)))
		if res.Err != nil || res.Disk.GetLun() != 3 {
			t.Fatalf("disk registered again: LUN %d (%v), want 3", res.Disk.GetLun(), res.Err)
		}
		res = m.Apply(m.AppliedIndex()+1, cartridgeCmd(4, validCartridge("B00001L9", "libA", 9, 201)))
		if res.Err != nil {
			t.Fatalf("cartridge registered again: %v", res.Err)
		}
	}
	a, _ := f.Cartridge("B00001L9")
	b, _ := g.Cartridge("B00001L9")
	if !proto.Equal(a, b) {
		t.Fatalf("replicas differ: %v / %v", a, b)
	}
}

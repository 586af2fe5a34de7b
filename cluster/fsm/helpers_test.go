package fsm

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// baseTime is the proposer clock of the first command in every test; later
// commands add one second per step so events are distinguishable.
var baseTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func stamp(step int) *timestamppb.Timestamp {
	return timestamppb.New(baseTime.Add(time.Duration(step) * time.Second))
}

func diskByName(name string, lba, blocks uint64) *ferryv1.Endpoint {
	return &ferryv1.Endpoint{
		Kind:   ferryv1.DeviceKind_DEVICE_KIND_DISK,
		Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}},
		Lba:    lba,
		Blocks: blocks,
	}
}

func tapeByNAA(naa string) *ferryv1.Endpoint {
	return &ferryv1.Endpoint{
		Kind:   ferryv1.DeviceKind_DEVICE_KIND_TAPE,
		Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: naa}},
	}
}

func validSpec() *ferryv1.JobSpec {
	return &ferryv1.JobSpec{
		Name:        "nightly db01 to tape",
		Source:      diskByName("db01", 2048, 1<<20),
		Destination: tapeByNAA("6001405f3a1b2c3d"),
		Options:     &ferryv1.JobOptions{Priority: 5, Verify: true},
	}
}

// specWith returns a valid spec changed by edit, for violation tables.
func specWith(edit func(*ferryv1.JobSpec)) *ferryv1.JobSpec {
	s := validSpec()
	edit(s)
	return s
}

func submitCmd(step int, id, key string, spec *ferryv1.JobSpec) *ferryv1.Command {
	return &ferryv1.Command{
		RequestId: "req-" + id,
		Time:      stamp(step),
		Node:      "node-a",
		Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{
			JobId: id, IdempotencyKey: key, Spec: spec,
		}},
	}
}

func cancelCmd(step int, id, reason string) *ferryv1.Command {
	return &ferryv1.Command{
		RequestId: "cancel-" + id,
		Time:      stamp(step),
		Node:      "node-b",
		Op:        &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{JobId: id, Reason: reason}},
	}
}

// applyAll applies cmds at indexes 1, 2, ... and fails the test on any error.
func applyAll(t *testing.T, f *FSM, cmds ...*ferryv1.Command) {
	t.Helper()
	for _, c := range cmds {
		idx := f.AppliedIndex() + 1
		if r := f.Apply(idx, c); r.Err != nil {
			t.Fatalf("Apply(%d, %v): %v", idx, c, r.Err)
		}
	}
}

// setJobState forces a job into a state without going through its
// lifecycle (no owner, epoch or tapes), by editing a snapshot.
func setJobState(t *testing.T, f *FSM, id string, st ferryv1.JobState) {
	t.Helper()
	data, idx, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var snap ferryv1.StateSnapshot
	if err := proto.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, j := range snap.GetJobs() {
		if j.GetId() == id {
			j.State = st
			found = true
		}
	}
	if !found {
		t.Fatalf("no job %q to put in state %v", id, st)
	}
	data, err = proto.Marshal(&snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(data, idx); err != nil {
		t.Fatal(err)
	}
}

// testNAA returns a distinct valid NAA designator (type 6, registered).
func testNAA(n int) string {
	return fmt.Sprintf("6001405f%08x", n)
}

func validDisk(name string, n int) *ferryv1.Disk {
	return &ferryv1.Disk{
		Name: name, Naa: testNAA(n), Path: "/san/east/" + name + ".img",
		SizeBytes: 1 << 30, BlockSize: 512, Site: "east",
	}
}

func diskWith(edit func(*ferryv1.Disk)) *ferryv1.Disk {
	d := validDisk("db01", 1)
	edit(d)
	return d
}

func validLibrary(name string) *ferryv1.Library {
	return &ferryv1.Library{
		Name: name, Dir: "/vtl/" + name, Site: "east",
		Slots: 24, Drives: 2, IeSlots: 1, CartridgeCapacityBytes: 8 << 30,
	}
}

func libraryWith(edit func(*ferryv1.Library)) *ferryv1.Library {
	l := validLibrary("libA")
	edit(l)
	return l
}

// validCartridge is a cartridge for a storage slot of the library.
func validCartridge(barcode, lib string, slot uint32, n int) *ferryv1.Cartridge {
	return &ferryv1.Cartridge{
		Barcode: barcode, Library: lib, Naa: testNAA(n), Path: "/vtl/" + lib + "/" + barcode + ".tap",
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: slot},
	}
}

func cartridgeWith(edit func(*ferryv1.Cartridge)) *ferryv1.Cartridge {
	c := validCartridge("A00001L9", "libA", 1, 101)
	edit(c)
	return c
}

func diskCmd(step int, d *ferryv1.Disk) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "disk", Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: d}}}
}

func libraryCmd(step int, l *ferryv1.Library) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "library", Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: l}}}
}

func cartridgeCmd(step int, c *ferryv1.Cartridge) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "cartridge", Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: c}}}
}

func startCmd(step int, node, id string, cartridges ...string) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "start-" + id, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_StartJob{StartJob: &ferryv1.StartJobOp{
			JobId: id, BytesTotal: 1 << 20, SegmentsTotal: 4, Cartridges: cartridges,
		}}}
}

func checkpointCmd(step int, node, id string, epoch, done uint64) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "checkpoint-" + id, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_CheckpointJob{CheckpointJob: &ferryv1.CheckpointJobOp{
			JobId: id, Epoch: epoch, Checkpoint: []byte(fmt.Sprintf("cp@%d", done)),
			Progress: &ferryv1.JobProgress{BytesDone: done, SegmentsDone: uint32(done >> 18), CheckpointOffset: done},
		}}}
}

// testSHA256 is a well-formed job hash.
const testSHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func succeedCmd(step int, node, id string, epoch uint64) *ferryv1.Command {
	return finishCmd(step, node, id, epoch, &ferryv1.FinishJobOp{
		State:  ferryv1.JobState_JOB_STATE_SUCCEEDED,
		Result: &ferryv1.JobResult{Sha256: testSHA256, Bytes: 1 << 20, Segments: []*ferryv1.SegmentResult{{Sha256: testSHA256, Bytes: 1 << 20}}},
	})
}

func failCmd(step int, node, id string, epoch uint64, msg string) *ferryv1.Command {
	return finishCmd(step, node, id, epoch, &ferryv1.FinishJobOp{
		State: ferryv1.JobState_JOB_STATE_FAILED,
		Error: &ferryv1.JobError{Message: msg, Sense: []byte{0x70, 0, 0x03}, Segment: 1, SegmentBytesDone: 512},
	})
}

func finishCmd(step int, node, id string, epoch uint64, op *ferryv1.FinishJobOp) *ferryv1.Command {
	op.JobId, op.Epoch = id, epoch
	return &ferryv1.Command{RequestId: "finish-" + id, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_FinishJob{FinishJob: op}}
}

// deviceSetup registers disks db01 and db02, library libA (24 slots, 2
// drives, 1 import/export slot) with A00001L9..A00003L9 in slots 1..3,
// library libB (24 slots, 2 drives) with B00001L9 in slot 5, and submits
// jobs j1..j3 via node-a.
func deviceSetup() []*ferryv1.Command {
	return []*ferryv1.Command{
		diskCmd(0, validDisk("db01", 1)),
		diskCmd(0, validDisk("db02", 2)),
		libraryCmd(0, validLibrary("libA")),
		libraryCmd(0, validLibrary("libB")),
		cartridgeCmd(0, validCartridge("A00001L9", "libA", 1, 101)),
		cartridgeCmd(0, validCartridge("A00002L9", "libA", 2, 102)),
		cartridgeCmd(0, validCartridge("A00003L9", "libA", 3, 103)),
		cartridgeCmd(0, validCartridge("B00001L9", "libB", 5, 201)),
		submitCmd(0, "j1", "", validSpec()),
		submitCmd(0, "j2", "", validSpec()),
		submitCmd(0, "j3", "", validSpec()),
	}
}

func deviceFixture(t *testing.T) *FSM {
	t.Helper()
	f := New()
	applyAll(t, f, deviceSetup()...)
	return f
}

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
	editJob(t, f, id, func(j *ferryv1.Job) { j.State = st })
}

// editJob changes the stored job through a snapshot and its restore.
func editJob(t *testing.T, f *FSM, id string, edit func(*ferryv1.Job)) {
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
			edit(j)
			found = true
		}
	}
	if !found {
		t.Fatalf("no job %q to edit", id)
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

// validDisk is the nth disk registered: the state machine numbers LUNs in
// registration order, so the LUN it gets is n.
func validDisk(name string, n int) *ferryv1.Disk {
	return &ferryv1.Disk{
		Name: name, Naa: testNAA(n), Path: "/san/east/" + name + ".img",
		SizeBytes: 1 << 30, BlockSize: 512, Site: "east", Lun: uint32(n),
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

// leader is the node that proposes the scheduler's decisions.
const leader = "node-l"

// testNodes are the members every fixture starts with: placements may only
// name members.
func testNodes() []*ferryv1.NodeInfo {
	return []*ferryv1.NodeInfo{
		{Name: "node-a", RaftId: 1, Site: "east", GrpcAddr: "10.0.0.1:7000", Mover: true},
		{Name: "node-b", RaftId: 2, Site: "east", GrpcAddr: "10.0.0.2:7000", Mover: true},
		{Name: "node-c", RaftId: 3, Site: "west", GrpcAddr: "10.0.0.3:7000", Mover: true},
		{Name: leader, RaftId: 4, Site: "east", GrpcAddr: "10.0.0.4:7000"},
	}
}

// newWithNodes returns a state machine whose members are testNodes, added
// at indexes 1..len(testNodes()).
func newWithNodes() *FSM {
	f := New()
	for _, n := range testNodes() {
		f.AddNode(f.AppliedIndex()+1, n)
	}
	return f
}

func tape(barcode, lib string, drive uint32) *ferryv1.TapeAssignment {
	return &ferryv1.TapeAssignment{Barcode: barcode, Library: lib, Drive: drive}
}

// placeCmd is the leader's decision to run a job on node; fromEpoch 0
// places a queued job, anything else takes over a running one.
func placeCmd(step int, id, node string, fromEpoch uint64, tapes ...*ferryv1.TapeAssignment) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "place-" + id, Time: stamp(step), Node: leader,
		Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{
			JobId: id, Node: node, FromEpoch: fromEpoch, Tapes: tapes,
		}}}
}

// takeoverCmd moves a running job to node, saying why and how far the lost
// owner had got.
func takeoverCmd(step int, id, node string, fromEpoch uint64, reason string, lostBytes uint64, tapes ...*ferryv1.TapeAssignment) *ferryv1.Command {
	c := placeCmd(step, id, node, fromEpoch, tapes...)
	c.GetPlaceJob().Reason, c.GetPlaceJob().LostBytesDone = reason, lostBytes
	return c
}

func waitCmd(step int, id, reason string) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "wait-" + id, Time: stamp(step), Node: leader,
		Op: &ferryv1.Command_WaitJob{WaitJob: &ferryv1.WaitJobOp{JobId: id, Reason: reason}}}
}

// waitsCmd records, in one entry, why several queued jobs wait.
func waitsCmd(step int, waits ...*ferryv1.WaitJobOp) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "waits", Time: stamp(step), Node: leader,
		Op: &ferryv1.Command_WaitJobs{WaitJobs: &ferryv1.WaitJobsOp{Waits: waits}}}
}

// startCmd is the owner's report that it began the copy under epoch.
func startCmd(step int, node, id string, epoch uint64) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "start-" + id, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_StartJob{StartJob: &ferryv1.StartJobOp{
			JobId: id, Epoch: epoch, BytesTotal: 1 << 20, SegmentsTotal: 4,
		}}}
}

// resumeCmd is the owner's report that it resumed the copy at offset.
func resumeCmd(step int, node, id string, epoch, offset uint64) *ferryv1.Command {
	c := startCmd(step, node, id, epoch)
	c.GetStartJob().ResumeOffset = offset
	return c
}

// placeAndStart places a queued job and has its owner start it. The place
// must be applied at index epoch.
func placeAndStart(step int, node, id string, epoch uint64, tapes ...*ferryv1.TapeAssignment) []*ferryv1.Command {
	return []*ferryv1.Command{placeCmd(step, id, node, 0, tapes...), startCmd(step+1, node, id, epoch)}
}

// runJob places and starts a queued job at f's next indexes and returns its
// epoch.
func runJob(t *testing.T, f *FSM, step int, node, id string, tapes ...*ferryv1.TapeAssignment) uint64 {
	t.Helper()
	epoch := f.AppliedIndex() + 1
	applyAll(t, f, placeAndStart(step, node, id, epoch, tapes...)...)
	return epoch
}

func checkpointOp(id string, epoch, done uint64) *ferryv1.CheckpointJobOp {
	return &ferryv1.CheckpointJobOp{
		JobId: id, Epoch: epoch, Checkpoint: []byte(fmt.Sprintf("cp@%d", done)),
		Progress: &ferryv1.JobProgress{BytesDone: done, SegmentsDone: uint32(done >> 18), CheckpointOffset: done},
	}
}

func checkpointCmd(step int, node, id string, epoch, done uint64) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "checkpoint-" + id, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_CheckpointJob{CheckpointJob: checkpointOp(id, epoch, done)}}
}

// batchCmd carries several checkpoints of node's jobs in one entry.
func batchCmd(step int, node string, checkpoints ...*ferryv1.CheckpointJobOp) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "checkpoints-" + node, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_CheckpointJobs{CheckpointJobs: &ferryv1.CheckpointJobsOp{Checkpoints: checkpoints}}}
}

// setNodeCmd is node describing itself as info.
func setNodeCmd(step int, node string, info *ferryv1.NodeInfo) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "set-node-" + node, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_SetNode{SetNode: &ferryv1.SetNodeOp{Node: info}}}
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

// deviceFixture is deviceSetup applied after the members of testNodes.
func deviceFixture(t *testing.T) *FSM {
	t.Helper()
	f := newWithNodes()
	applyAll(t, f, deviceSetup()...)
	return f
}

// restored is a state machine restored from f's snapshot.
func restored(t *testing.T, f *FSM) *FSM {
	t.Helper()
	data, idx, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(data, idx); err != nil {
		t.Fatal(err)
	}
	return g
}

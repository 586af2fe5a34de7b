package fsm

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// fuzzBase is the state every fuzzed command meets, after the members of
// testNodes: the devices of deviceSetup, a job with an idempotency key, a
// cancelled one, and j3 placed on node-a with A00001L9 in libA drive 0,
// started and checkpointed once.
func fuzzBase() []*ferryv1.Command {
	return then(deviceSetup()[:8],
		submitCmd(0, "j1", "k1", validSpec()),
		submitCmd(0, "j2", "", validSpec()),
		cancelCmd(0, "j2", ""),
		submitCmd(0, "j3", "", validSpec()),
		placeCmd(0, "j3", "node-a", 0, tape("A00001L9", "libA", 0)),
		startCmd(0, "node-a", "j3", fuzzEpoch),
		checkpointCmd(0, "node-a", "j3", fuzzEpoch, 4096),
	)
}

// fuzzEpoch is j3's epoch in fuzzBase: the index of its place.
const fuzzEpoch uint64 = 17

// FuzzApply feeds arbitrary log entries to Apply. Whatever the bytes, Apply
// must not panic, two replicas must end up identical, and the state must
// survive a snapshot round trip (Restore's consistency checks must accept
// anything Apply can produce).
//
//	go test -run '^$' -fuzz FuzzApply -fuzztime 60s ./cluster/fsm/
func FuzzApply(f *testing.F) {
	if want := uint64(len(testNodes()) + len(fuzzBase()) - 2); fuzzEpoch != want {
		f.Fatalf("fuzzEpoch = %d, want the index of fuzzBase's place, %d", fuzzEpoch, want)
	}
	seeds := []*ferryv1.Command{
		submitCmd(1, "new", "", validSpec()),
		submitCmd(1, "new", "k1", validSpec()),
		submitCmd(1, "j1", "", validSpec()),
		submitCmd(1, "", "", nil),
		submitCmd(1, "x", "", &ferryv1.JobSpec{XcopyParameterList: []byte{1, 2, 3}}),
		submitCmd(1, "x", "", specWith(func(s *ferryv1.JobSpec) {
			s.Segments = []*ferryv1.Segment{{SourceOffset: 1, Length: 0}}
			s.Source.TapeFile = proto.Uint32(0)
		})),
		submitCmd(1, "x", strings.Repeat("k", maxIdempotencyKeyLen+1), validSpec()),
		// Specs the state machine refuses on the devices they name.
		submitCmd(1, "x", "", copySpec(diskEP("db01", 0, 1024), diskEP("db01", 8, 0))),
		submitCmd(1, "x", "", copySpec(diskEP("db01", 0, 0), diskEP("db02", 0, 0), seg(0, 4096, 512), seg(1<<29, 0, 1<<29))),
		submitCmd(1, "x", "", copySpec(tapeEP("A00001L9", 1), tapeEP("A00001L9"))),
		submitCmd(1, "x", "", copySpec(tapeEP("A00001L9"), tapeEP("A00002L9", 3))),
		submitCmd(1, "x", "", copySpec(diskEP("db01", 1<<21, 1<<63), tapeEP("B00001L9", 0))),
		cancelCmd(1, "j1", "because"),
		cancelCmd(1, "j2", ""),
		cancelCmd(1, "missing", ""),
		{Time: stamp(1), Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{}}},
		{},
		diskCmd(1, validDisk("db09", 9)),
		diskCmd(1, validDisk("db01", 9)),
		diskCmd(1, diskWith(func(d *ferryv1.Disk) { d.BlockSize = 4096; d.SizeBytes = 1000 })),
		libraryCmd(1, validLibrary("libC")),
		libraryCmd(1, libraryWith(func(l *ferryv1.Library) { l.Slots = 0 })),
		cartridgeCmd(1, validCartridge("A00009L9", "libA", 9, 109)),
		cartridgeCmd(1, validCartridge("A00009L9", "libA", 1, 109)),
		cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Naa, c.Path = "A00009L9", testNAA(109), "/vtl/libA/A00009L9.tap"
			c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
		})),
		placeCmd(1, "j1", "node-b", 0, tape("A00002L9", "libA", 1), tape("B00001L9", "libB", 0)),
		placeCmd(1, "j1", "node-b", 0, tape("A00002L9", "libA", 0)),
		placeCmd(1, "j1", "node-b", 0, tape("A00001L9", "libA", 1)),
		placeCmd(1, "j1", "node-b", 0, tape("A00002L9", "libA", 1), tape("A00003L9", "libA", 1)),
		placeCmd(1, "j1", "node-b", 0, tape("A00002L9", "libA", 1), tape("A00002L9", "libA", 1)),
		placeCmd(1, "j1", "node-b", 0, tape("A00002L9", "libA", 7)),
		placeCmd(1, "j1", "node-b", 0, tape("A00002L9", "libB", 0)),
		placeCmd(1, "j1", "node-z", 0),
		placeCmd(1, "j1", "node-b", 3),
		placeCmd(1, "j3", "node-b", 0),
		placeCmd(1, "j3", "node-b", fuzzEpoch-1),
		takeoverCmd(1, "j3", "node-b", fuzzEpoch, "owner node-a lost: lease expired", 8192, tape("A00001L9", "libA", 0)),
		takeoverCmd(1, "j3", "node-b", fuzzEpoch, "", 1, tape("A00001L9", "libA", 1), tape("A00002L9", "libA", 0)),
		takeoverCmd(1, "j3", "node-c", fuzzEpoch, "", 0),
		waitCmd(1, "j1", "no free drive in library libA"),
		waitCmd(1, "j3", "late"),
		waitCmd(1, "j1", ""),
		waitsCmd(1, &ferryv1.WaitJobOp{JobId: "j1", Reason: "no free drive"}, &ferryv1.WaitJobOp{JobId: "j3", Reason: "late"}, nil),
		waitsCmd(1),
		startCmd(0, "node-a", "j3", fuzzEpoch),
		resumeCmd(1, "node-a", "j3", fuzzEpoch, 4096),
		startCmd(1, "node-b", "j3", fuzzEpoch),
		startCmd(1, "node-a", "j1", fuzzEpoch),
		batchCmd(1, "node-a", checkpointOp("j3", fuzzEpoch, 8192), checkpointOp("j3", fuzzEpoch-1, 9000), checkpointOp("j1", 1, 1)),
		batchCmd(1, "node-a", checkpointOp("j3", fuzzEpoch, 1), nil),
		batchCmd(1, "node-a"),
		setNodeCmd(1, "node-a", &ferryv1.NodeInfo{Name: "node-a", Site: "west", Reach: []string{"db01", "libA/0"}, Mover: true}),
		setNodeCmd(1, "node-a", testNodes()[0]),
		setNodeCmd(1, "node-a", &ferryv1.NodeInfo{Name: "node-b"}),
		setNodeCmd(1, "node-z", &ferryv1.NodeInfo{Name: "node-z"}),
		setNodeCmd(1, "node-a", nil),
		checkpointCmd(1, "node-a", "j3", fuzzEpoch, 1<<20),
		checkpointCmd(1, "node-a", "j3", fuzzEpoch-1, 1<<20),
		checkpointCmd(1, "node-a", "j3", fuzzEpoch, 1),
		succeedCmd(1, "node-a", "j3", fuzzEpoch),
		failCmd(1, "node-a", "j3", fuzzEpoch, "end of medium"),
		succeedCmd(1, "node-b", "j3", fuzzEpoch),
		cancelCmd(1, "j3", ""),
		{Time: stamp(1), Op: &ferryv1.Command_RegisterDisk{}},
		{Time: stamp(1), Op: &ferryv1.Command_StartJob{StartJob: &ferryv1.StartJobOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_PlaceJob{}},
		{Time: stamp(1), Op: &ferryv1.Command_WaitJob{WaitJob: &ferryv1.WaitJobOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_WaitJob{}},
		{Time: stamp(1), Op: &ferryv1.Command_WaitJobs{WaitJobs: &ferryv1.WaitJobsOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_WaitJobs{}},
		{Time: stamp(1), Op: &ferryv1.Command_CheckpointJobs{CheckpointJobs: &ferryv1.CheckpointJobsOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_CheckpointJobs{}},
		{Time: stamp(1), Op: &ferryv1.Command_SetNode{SetNode: &ferryv1.SetNodeOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_SetNode{}},
		{Time: stamp(1), Op: &ferryv1.Command_FinishJob{FinishJob: &ferryv1.FinishJobOp{}}},
		{Time: stamp(1), Node: "node-a", Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{Barcode: "A00001L9", WriteProtected: true}}},
		{Time: stamp(1), Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_ProtectCartridge{}},
		removeCmd(1, &ferryv1.RemoveDeviceOp{Disk: "db02"}),
		removeCmd(1, &ferryv1.RemoveDeviceOp{Cartridge: "A00002L9"}),
		removeCmd(1, &ferryv1.RemoveDeviceOp{Library: "libB"}),
		removeCmd(1, &ferryv1.RemoveDeviceOp{Disk: "db01", Library: "libA"}),
		{Time: stamp(1), Op: &ferryv1.Command_RemoveDevice{}},
		eraseCmd(1, "A00003L9", 92),
		{Time: stamp(1), Op: &ferryv1.Command_EraseCartridge{}},
		auditCmd(1, auditRec(1, "token:ops", "OK"), auditRec(2, "anonymous", "PERMISSION_DENIED")),
		auditCmd(1, auditRec(1, "token:ops", "OK"), auditRec(1, "token:ops", "OK")),
		auditCmd(1, &ferryv1.AuditRecord{Id: []byte{1}}),
		auditCmd(1),
		{Time: stamp(1), Op: &ferryv1.Command_Audit{}},
		pruneAuditCmd(1, stamp(5)),
		pruneAuditCmd(1, nil),
		{Time: stamp(1), Op: &ferryv1.Command_PruneAudit{}},
		finishCmd(1, "node-a", "j3", fuzzEpoch, &ferryv1.FinishJobOp{State: ferryv1.JobState_JOB_STATE_FAILED, Error: &ferryv1.JobError{
			Message: "cut off", TapeWrites: []*ferryv1.TapeWrite{{Barcode: "A00001L9", FromFile: 3, Files: []*ferryv1.TapeFile{{Number: 3, Incomplete: true}}}}}}),
	}
	for _, c := range seeds {
		data, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xff, 0x00, 0x12})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		var cmd ferryv1.Command
		if err := proto.Unmarshal(data, &cmd); err != nil {
			t.Skip()
		}
		replicas := [2]*FSM{newWithNodes(), newWithNodes()}
		var results [2]Result
		for i, r := range replicas {
			applyAll(t, r, fuzzBase()...)
			results[i] = r.Apply(r.AppliedIndex()+1, &cmd)
		}
		res := results[0]
		set := 0
		for _, m := range []proto.Message{res.Job, res.Disk, res.Library, res.Cartridge, res.Pool, res.Token, res.Secret} {
			if !reflect.ValueOf(m).IsNil() {
				set++
			}
		}
		if res.Batch != nil {
			set++
		}
		wantSet := 1
		if cmd.GetSetNode() != nil || cmd.GetAudit() != nil || cmd.GetPruneAudit() != nil {
			wantSet = 0
		}
		switch {
		case res.Err == nil && set != wantSet:
			t.Fatalf("successful Result carries %d values, want %d: %+v", set, wantSet, res)
		case res.Err != nil && set != 0:
			t.Fatalf("failed Result carries a value: %+v", res)
		case res.Err == nil && res.Batch != nil && len(res.Batch) != len(cmd.GetCheckpointJobs().GetCheckpoints())+len(cmd.GetWaitJobs().GetWaits()):
			t.Fatalf("batch of %d entries has %d results", len(cmd.GetCheckpointJobs().GetCheckpoints())+len(cmd.GetWaitJobs().GetWaits()), len(res.Batch))
		}
		other := results[1]
		if !sameResult(res, other) {
			t.Fatalf("replicas returned different results:\n%+v\n%+v", res, other)
		}
		snapA, idxA, err := replicas[0].Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		snapB, _, err := replicas[1].Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(snapA, snapB) {
			t.Fatal("replicas diverged")
		}
		restored := New()
		if err := restored.Restore(snapA, idxA); err != nil {
			t.Fatalf("Restore of Apply's own state failed: %v", err)
		}
		again, _, err := restored.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, snapA) {
			t.Fatal("snapshot round trip changed the state")
		}
	})
}

func sameResult(a, b Result) bool {
	if fmt.Sprint(a.Err) != fmt.Sprint(b.Err) || a.Existing != b.Existing || !proto.Equal(a.Job, b.Job) ||
		!proto.Equal(a.Disk, b.Disk) || !proto.Equal(a.Library, b.Library) || !proto.Equal(a.Cartridge, b.Cartridge) ||
		len(a.Batch) != len(b.Batch) {
		return false
	}
	for i := range a.Batch {
		if !sameResult(a.Batch[i], b.Batch[i]) {
			return false
		}
	}
	return true
}

package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// fuzzBase is the state every fuzzed command meets: the devices of
// deviceSetup, a job with an idempotency key, a cancelled one, and j3
// running on node-a with A00001L9 loaded, checkpointed once.
func fuzzBase() []*ferryv1.Command {
	return then(deviceSetup()[:8],
		submitCmd(0, "j1", "k1", validSpec()),
		submitCmd(0, "j2", "", validSpec()),
		cancelCmd(0, "j2", ""),
		submitCmd(0, "j3", "", validSpec()),
		startCmd(0, "node-a", "j3", "A00001L9"),
		checkpointCmd(0, "node-a", "j3", fuzzEpoch, 4096),
	)
}

// fuzzEpoch is j3's epoch in fuzzBase: the index of its start.
const fuzzEpoch uint64 = 13

// FuzzApply feeds arbitrary log entries to Apply. Whatever the bytes, Apply
// must not panic, two replicas must end up identical, and the state must
// survive a snapshot round trip (Restore's consistency checks must accept
// anything Apply can produce).
//
//	go test -run '^$' -fuzz FuzzApply -fuzztime 60s ./cluster/fsm/
func FuzzApply(f *testing.F) {
	if got := fuzzEpoch; got != uint64(len(fuzzBase())-1) {
		f.Fatalf("fuzzEpoch = %d, want the index of fuzzBase's start, %d", got, len(fuzzBase())-1)
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
		startCmd(1, "node-a", "j1", "A00002L9", "B00001L9"),
		startCmd(1, "node-a", "j1", "A00001L9"),
		startCmd(1, "node-b", "j3", "A00002L9"),
		startCmd(1, "node-a", "j3", "A00002L9"),
		startCmd(1, "node-a", "j3", "A00001L9", "A00002L9", "A00003L9"),
		checkpointCmd(1, "node-a", "j3", fuzzEpoch, 1<<20),
		checkpointCmd(1, "node-a", "j3", fuzzEpoch-1, 1<<20),
		checkpointCmd(1, "node-a", "j3", fuzzEpoch, 1),
		succeedCmd(1, "node-a", "j3", fuzzEpoch),
		failCmd(1, "node-a", "j3", fuzzEpoch, "end of medium"),
		succeedCmd(1, "node-b", "j3", fuzzEpoch),
		cancelCmd(1, "j3", ""),
		{Time: stamp(1), Op: &ferryv1.Command_RegisterDisk{}},
		{Time: stamp(1), Op: &ferryv1.Command_StartJob{StartJob: &ferryv1.StartJobOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_FinishJob{FinishJob: &ferryv1.FinishJobOp{}}},
		{Time: stamp(1), Node: "node-a", Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{Barcode: "A00001L9", WriteProtected: true}}},
		{Time: stamp(1), Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_ProtectCartridge{}},
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
		replicas := [2]*FSM{New(), New()}
		var results [2]Result
		for i, r := range replicas {
			applyAll(t, r, fuzzBase()...)
			results[i] = r.Apply(r.AppliedIndex()+1, &cmd)
		}
		res := results[0]
		set := 0
		for _, m := range []proto.Message{res.Job, res.Disk, res.Library, res.Cartridge} {
			if !reflect.ValueOf(m).IsNil() {
				set++
			}
		}
		switch {
		case res.Err == nil && set != 1:
			t.Fatalf("successful Result carries %d values, want 1: %+v", set, res)
		case res.Err != nil && set != 0 && !(errors.Is(res.Err, ErrBusy) && set == 1 && res.Job != nil):
			t.Fatalf("failed Result carries a value: %+v", res)
		}
		other := results[1]
		if fmt.Sprint(res.Err) != fmt.Sprint(other.Err) || res.Existing != other.Existing || !proto.Equal(res.Job, other.Job) ||
			!proto.Equal(res.Disk, other.Disk) || !proto.Equal(res.Library, other.Library) || !proto.Equal(res.Cartridge, other.Cartridge) {
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

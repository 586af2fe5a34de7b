package fsm

import (
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

// setJobState forces a job into a state no command can reach yet (no mover
// exists), by going through a snapshot as a future release would.
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

package fsm

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestChangesSince(t *testing.T) {
	f := New()
	f.feed.size = 16 // small, so that overflowing it is quick
	ch, cur := f.ChangesSince(Cursor{})
	if !ch.All {
		t.Fatalf("the zero cursor: %+v, want All", ch)
	}
	f.Apply(1, diskCmd(1, validDisk("db01", 1)))
	ch, cur = f.ChangesSince(cur)
	if ch.All || ch.Tapes || !ch.Registry || len(ch.Jobs) != 0 || !slices.Equal(ch.Disks, []string{"db01"}) {
		t.Fatalf("after a registration: %+v", ch)
	}
	v := f.DisksVersion()
	f.Apply(2, submitCmd(2, "j1", "", validSpec()))
	if f.DisksVersion() != v {
		t.Fatalf("a submission changed DisksVersion")
	}
	f.Apply(3, submitCmd(3, "j2", "", validSpec()))
	f.Apply(4, cancelCmd(4, "j1", ""))
	f.Apply(5, cancelCmd(5, "nope", "")) // refused: no change
	ch, cur = f.ChangesSince(cur)
	if ch.All || ch.Registry || len(ch.Disks) != 0 || !slices.Equal(ch.Jobs, []string{"j1", "j2", "j1"}) {
		t.Fatalf("after submissions and a cancel: %+v", ch)
	}
	if !ch.Tapes {
		t.Fatalf("a cancel may send cartridges home: Tapes not set")
	}
	if ch, _ := f.ChangesSince(cur); ch.All || ch.Tapes || ch.Registry || len(ch.Jobs) != 0 || len(ch.Disks) != 0 {
		t.Fatalf("nothing changed: %+v", ch)
	}
	f.Apply(6, waitCmd(6, "j2", "no eligible node"))
	f.Apply(7, waitCmd(7, "j2", "no eligible node")) // the same reason: no change
	ch, cur = f.ChangesSince(cur)
	if ch.All || ch.Tapes || len(ch.Jobs) != 0 || !slices.Equal(ch.Reasons, []string{"j2"}) {
		t.Fatalf("after a wait reason: %+v", ch)
	}
	again := cur
	for i := range 17 {
		f.Apply(uint64(10+i), submitCmd(10+i, fmt.Sprintf("k%d", i), "", validSpec()))
	}
	if ch, _ := f.ChangesSince(again); !ch.All {
		t.Fatalf("more changes than the feed keeps: %d jobs listed, want All", len(ch.Jobs))
	}
	_, cur = f.ChangesSince(again)
	data, idx, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(data, idx); err != nil {
		t.Fatal(err)
	}
	if ch, _ := f.ChangesSince(cur); !ch.All {
		t.Fatalf("after a restore: %+v, want All", ch)
	}
}

// A PlaceJobsOp places each job on its own: one refused leaves the others
// placed, all under the entry's index as epoch.
func TestPlaceJobsOp(t *testing.T) {
	f := newWithNodes()
	applyAll(t, f, deviceSetup()...)
	cmd := placeCmd(1, "j1", "node-a", 0, tape("A00001L9", "libA", 0))
	one := cmd.GetPlaceJob()
	cmd.Op = &ferryv1.Command_PlaceJobs{PlaceJobs: &ferryv1.PlaceJobsOp{Places: []*ferryv1.PlaceJobOp{
		one,
		{JobId: "nope", Node: "node-a"},
		{JobId: "j2", Node: "node-b", Tapes: []*ferryv1.TapeAssignment{tape("A00002L9", "libA", 1)}},
	}}}
	idx := f.AppliedIndex() + 1
	r := f.Apply(idx, cmd)
	if r.Err != nil || len(r.Batch) != 3 {
		t.Fatalf("Err %v, %d results", r.Err, len(r.Batch))
	}
	if !errors.Is(r.Batch[1].Err, ErrNotFound) {
		t.Fatalf("unknown job: %v", r.Batch[1].Err)
	}
	for _, id := range []string{"j1", "j2"} {
		if j := mustJob(t, f, id); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || j.GetEpoch() != idx {
			t.Fatalf("%s %v epoch %d, want running under %d", id, j.GetState(), j.GetEpoch(), idx)
		}
	}
	empty := placeCmd(2, "j3", "node-a", 0)
	empty.Op = &ferryv1.Command_PlaceJobs{PlaceJobs: &ferryv1.PlaceJobsOp{}}
	if r := f.Apply(idx+1, empty); r.Err == nil {
		t.Fatal("an empty PlaceJobsOp was accepted")
	}
}

package fsm

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// buildHistory drives f through jobs, cancels, failures and membership
// changes, deliberately in an order that map iteration would not preserve.
func buildHistory(f *FSM) {
	idx := uint64(0)
	next := func() uint64 { idx++; return idx }
	for i := range 20 {
		f.AddNode(next(), &ferryv1.NodeInfo{Name: fmt.Sprintf("node-%02d", 19-i), RaftId: uint64(100 - i), Site: "east"})
	}
	for i := range 30 {
		key := ""
		if i%3 == 0 {
			key = fmt.Sprintf("key-%d", i)
		}
		f.Apply(next(), submitCmd(i, fmt.Sprintf("job-%02d", (i*7)%30), key, validSpec()))
	}
	f.Apply(next(), submitCmd(40, "dup", "key-0", validSpec()))
	f.Apply(next(), submitCmd(41, "", "", nil))
	f.Apply(next(), nil)
	for i := 0; i < 30; i += 4 {
		f.Apply(next(), cancelCmd(50+i, fmt.Sprintf("job-%02d", i), ""))
	}
	for _, id := range []uint64{95, 82, 99, 7} {
		f.RemoveNode(next(), id)
	}
}

func TestSnapshotIsDeterministic(t *testing.T) {
	a, b := New(), New()
	buildHistory(a)
	buildHistory(b)
	dataA, idxA, errA := a.Snapshot()
	dataB, idxB, errB := b.Snapshot()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !bytes.Equal(dataA, dataB) || idxA != idxB {
		t.Fatalf("replicas disagree: %d bytes at %d vs %d bytes at %d", len(dataA), idxA, len(dataB), idxB)
	}
	// Map iteration order changes from call to call, so repeating the
	// snapshot catches an order that leaks from a map.
	for range 20 {
		again, _, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, dataA) {
			t.Fatal("two snapshots of the same state differ")
		}
	}
}

func TestSnapshotOrder(t *testing.T) {
	f := New()
	buildHistory(f)
	data, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var snap ferryv1.StateSnapshot
	if err := proto.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.GetJobs()) != 30 || len(snap.GetNodes()) != 17 {
		t.Fatalf("snapshot has %d jobs and %d nodes, want 30 and 17", len(snap.GetJobs()), len(snap.GetNodes()))
	}
	if !slices.IsSortedFunc(snap.GetJobs(), compareJobs) {
		t.Error("jobs are not sorted by created_index")
	}
	if !slices.IsSortedFunc(snap.GetNodes(), func(a, b *ferryv1.NodeInfo) int { return cmp.Compare(a.GetRaftId(), b.GetRaftId()) }) {
		t.Error("nodes are not sorted by raft id")
	}
	if want := []uint64{7, 82, 95, 99}; !slices.Equal(snap.GetRemoved(), want) {
		t.Errorf("removed = %v, want %v", snap.GetRemoved(), want)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	src := New()
	buildHistory(src)
	data, idx, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	dst := New()
	// Restore must replace, not merge: this job and node must disappear.
	applyAll(t, dst, submitCmd(0, "stale", "key-stale", validSpec()))
	dst.AddNode(2, &ferryv1.NodeInfo{Name: "stale", RaftId: 5})
	if err := dst.Restore(data, idx); err != nil {
		t.Fatal(err)
	}

	again, againIdx, err := dst.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) || againIdx != idx || dst.AppliedIndex() != idx {
		t.Errorf("restored state differs: %d bytes at %d, want %d bytes at %d", len(again), againIdx, len(data), idx)
	}
	if _, ok := dst.Job("stale"); ok {
		t.Error("Restore kept a job that was not in the snapshot")
	}
	if _, ok := dst.Node(5); ok {
		t.Error("Restore kept a node that was not in the snapshot")
	}
	if !dst.IsRemoved(99) || dst.IsRemoved(100) {
		t.Error("removed ids not restored")
	}
	srcJobs, _ := src.Jobs(Query{})
	dstJobs, _ := dst.Jobs(Query{})
	if !slices.EqualFunc(srcJobs, dstJobs, func(a, b *ferryv1.Job) bool { return proto.Equal(a, b) }) {
		t.Error("restored jobs differ")
	}
	if !slices.EqualFunc(src.Nodes(), dst.Nodes(), func(a, b *ferryv1.NodeInfo) bool { return proto.Equal(a, b) }) {
		t.Error("restored nodes differ")
	}

	// The idempotency index is derived, not stored: it must be rebuilt.
	r := dst.Apply(idx+1, submitCmd(99, "job-new", "key-3", validSpec()))
	if r.Err != nil || !r.Existing {
		t.Errorf("submit with a restored key: existing=%v err=%v, want the existing job", r.Existing, r.Err)
	}
	r = dst.Apply(idx+2, submitCmd(99, "job-new", "key-stale", validSpec()))
	if r.Err != nil || r.Existing {
		t.Errorf("submit with a key from before Restore: existing=%v err=%v, want a new job", r.Existing, r.Err)
	}
}

func TestRestoreEmpty(t *testing.T) {
	f := New()
	applyAll(t, f, submitCmd(0, "j1", "", validSpec()))
	if err := f.Restore(nil, 7); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := f.Jobs(Query{}); len(jobs) != 0 || f.AppliedIndex() != 7 {
		t.Errorf("after restoring nothing: %d jobs at index %d, want 0 at 7", len(jobs), f.AppliedIndex())
	}
}

func TestRestoreSortsJobs(t *testing.T) {
	snap := &ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{
		{Id: "c", CreatedIndex: 30}, {Id: "a", CreatedIndex: 10}, {Id: "b", CreatedIndex: 20},
	}}
	data, err := proto.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Restore(data, 30); err != nil {
		t.Fatal(err)
	}
	jobs, next := f.Jobs(Query{Limit: 2})
	if len(jobs) != 2 || jobs[0].GetId() != "a" || jobs[1].GetId() != "b" || next != 20 {
		t.Errorf("Jobs = %v next %d, want a, b next 20", jobs, next)
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	marshal := func(s *ferryv1.StateSnapshot) []byte {
		b, err := proto.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"job without id", marshal(&ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{{CreatedIndex: 1}}})},
		{"duplicate job id", marshal(&ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{{Id: "a"}, {Id: "a"}}})},
		{"duplicate idempotency key", marshal(&ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{
			{Id: "a", IdempotencyKey: "k"}, {Id: "b", IdempotencyKey: "k"},
		}})},
		{"node without raft id", marshal(&ferryv1.StateSnapshot{Nodes: []*ferryv1.NodeInfo{{Name: "a"}}})},
		{"duplicate node", marshal(&ferryv1.StateSnapshot{Nodes: []*ferryv1.NodeInfo{{RaftId: 1}, {RaftId: 1}}})},
		{"node both member and removed", marshal(&ferryv1.StateSnapshot{
			Nodes: []*ferryv1.NodeInfo{{RaftId: 1}}, Removed: []uint64{1},
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			applyAll(t, f, submitCmd(0, "j1", "", validSpec()))
			before, idx, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Restore(tc.data, 100); !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("Restore = %v, want ErrBadSnapshot", err)
			}
			after, afterIdx, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) || idx != afterIdx {
				t.Error("a failed Restore changed the state")
			}
		})
	}
}

package fsm

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// pagingFixture holds jobs j1..j7 created at indexes 1..7, with j2, j4 and
// j5 cancelled at indexes 8..10.
func pagingFixture(t *testing.T) *FSM {
	t.Helper()
	f := New()
	for i := 1; i <= 7; i++ {
		applyAll(t, f, submitCmd(i, fmt.Sprintf("j%d", i), "", validSpec()))
	}
	applyAll(t, f, cancelCmd(8, "j2", ""), cancelCmd(9, "j4", ""), cancelCmd(10, "j5", ""))
	return f
}

func TestJobsPaging(t *testing.T) {
	const (
		queued    = ferryv1.JobState_JOB_STATE_QUEUED
		cancelled = ferryv1.JobState_JOB_STATE_CANCELLED
	)
	tests := []struct {
		name     string
		q        Query
		wantIDs  []string
		wantNext uint64
	}{
		{name: "all", q: Query{}, wantIDs: []string{"j1", "j2", "j3", "j4", "j5", "j6", "j7"}},
		{name: "first page", q: Query{Limit: 3}, wantIDs: []string{"j1", "j2", "j3"}, wantNext: 3},
		{name: "second page", q: Query{Limit: 3, AfterIndex: 3}, wantIDs: []string{"j4", "j5", "j6"}, wantNext: 6},
		{name: "last page", q: Query{Limit: 3, AfterIndex: 6}, wantIDs: []string{"j7"}},
		{name: "exactly full last page", q: Query{Limit: 2, AfterIndex: 5}, wantIDs: []string{"j6", "j7"}},
		{name: "past the end", q: Query{AfterIndex: 7}, wantIDs: nil},
		{name: "negative limit means all", q: Query{Limit: -1, AfterIndex: 5}, wantIDs: []string{"j6", "j7"}},
		{name: "queued", q: Query{State: queued}, wantIDs: []string{"j1", "j3", "j6", "j7"}},
		{name: "queued first page", q: Query{State: queued, Limit: 2}, wantIDs: []string{"j1", "j3"}, wantNext: 3},
		{name: "queued second page", q: Query{State: queued, Limit: 2, AfterIndex: 3}, wantIDs: []string{"j6", "j7"}},
		// No cancelled job follows j5, so next must be 0 rather than point
		// at a page that would come back empty.
		{name: "cancelled page ends at the last match", q: Query{State: cancelled, Limit: 3}, wantIDs: []string{"j2", "j4", "j5"}},
		{name: "cancelled after a cursor", q: Query{State: cancelled, AfterIndex: 2}, wantIDs: []string{"j4", "j5"}},
		{name: "no match", q: Query{State: ferryv1.JobState_JOB_STATE_RUNNING}, wantIDs: nil},
	}
	f := pagingFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs, next := f.Jobs(tc.q)
			var ids []string
			for _, j := range jobs {
				ids = append(ids, j.GetId())
			}
			if !slices.Equal(ids, tc.wantIDs) || next != tc.wantNext {
				t.Errorf("Jobs(%+v) = %q next %d, want %q next %d", tc.q, ids, next, tc.wantIDs, tc.wantNext)
			}
		})
	}
}

func TestJobsWalkAllPages(t *testing.T) {
	f := pagingFixture(t)
	var ids []string
	q := Query{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not terminate")
		}
		jobs, next := f.Jobs(q)
		for _, j := range jobs {
			ids = append(ids, j.GetId())
		}
		if next == 0 {
			break
		}
		q.AfterIndex = next
	}
	if want := []string{"j1", "j2", "j3", "j4", "j5", "j6", "j7"}; !slices.Equal(ids, want) {
		t.Errorf("walked %q, want %q", ids, want)
	}
}

func TestJobCounts(t *testing.T) {
	got := pagingFixture(t).JobCounts()
	want := map[ferryv1.JobState]int{
		ferryv1.JobState_JOB_STATE_QUEUED:    4,
		ferryv1.JobState_JOB_STATE_RUNNING:   0,
		ferryv1.JobState_JOB_STATE_SUCCEEDED: 0,
		ferryv1.JobState_JOB_STATE_FAILED:    0,
		ferryv1.JobState_JOB_STATE_CANCELLED: 3,
	}
	if len(got) != len(want) {
		t.Errorf("JobCounts = %v, want %v", got, want)
	}
	for st, n := range want {
		if got[st] != n {
			t.Errorf("JobCounts[%v] = %d, want %d", st, got[st], n)
		}
	}
}

func TestJobMissing(t *testing.T) {
	if j, ok := New().Job("nope"); ok || j != nil {
		t.Errorf("Job(nope) = %v, %v; want nil, false", j, ok)
	}
}

// TestReadsReturnCopies mutates everything the read methods hand out and
// checks the state did not move.
func TestReadsReturnCopies(t *testing.T) {
	f := pagingFixture(t)
	f.AddNode(11, &ferryv1.NodeInfo{Name: "node-a", RaftId: 1, GrpcAddr: "10.0.0.1:7000"})
	before, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	mutations := map[string]func(){
		"Job": func() {
			j, _ := f.Job("j1")
			j.State = ferryv1.JobState_JOB_STATE_FAILED
			j.Spec.Source.Lba = 99
			j.History[0].Message = "changed"
			j.CreatedAt.Seconds = 1
		},
		"Jobs": func() {
			jobs, _ := f.Jobs(Query{})
			for _, j := range jobs {
				j.Id = "changed"
				j.Spec.Name = "changed"
			}
		},
		"Node": func() {
			n, _ := f.Node(1)
			n.GrpcAddr = "changed"
		},
		"NodeByName": func() {
			n, _ := f.NodeByName("node-a")
			n.Name = "changed"
		},
		"Nodes": func() {
			for _, n := range f.Nodes() {
				n.RaftId = 77
			}
		},
		"JobCounts": func() {
			f.JobCounts()[ferryv1.JobState_JOB_STATE_QUEUED] = 100
		},
	}
	for name, mutate := range mutations {
		mutate()
		after, _, err := f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if string(before) != string(after) {
			t.Errorf("mutating what %s returned changed the state", name)
		}
	}
	if n := f.JobCounts()[ferryv1.JobState_JOB_STATE_QUEUED]; n != 4 {
		t.Errorf("queued count = %d after mutating a returned map, want 4", n)
	}
}

// JobBrief is Job without the history, checkpoint, result, error and
// volumes, and a copy but for the spec: changing it changes nothing
// stored.
func TestJobBrief(t *testing.T) {
	f := New()
	applyAll(t, f, submitCmd(1, "j1", "k1", validSpec()))
	editJob(t, f, "j1", func(j *ferryv1.Job) {
		j.State, j.Owner, j.Epoch = ferryv1.JobState_JOB_STATE_RUNNING, "n1", 7
		j.Checkpoint = []byte("state")
		j.Progress = &ferryv1.JobProgress{BytesDone: 5, BytesTotal: 10}
		j.Result = &ferryv1.JobResult{}
		j.Error = &ferryv1.JobError{Message: "x"}
		j.Volumes = []*ferryv1.TapeVolume{{Barcode: "A00001L9"}}
	})
	full, _ := f.Job("j1")
	brief, ok := f.JobBrief("j1")
	if !ok {
		t.Fatal("no brief of j1")
	}
	want := proto.Clone(full).(*ferryv1.Job)
	want.History, want.Checkpoint, want.Result, want.Error, want.Volumes = nil, nil, nil, nil, nil
	if len(full.GetHistory()) == 0 || !proto.Equal(brief, want) {
		t.Fatalf("JobBrief = %v\nwant %v", brief, want)
	}
	brief.Progress.BytesDone = 9
	brief.Tapes = append(brief.Tapes, &ferryv1.TapeAssignment{Barcode: "B00001L9"})
	if again, _ := f.JobBrief("j1"); !proto.Equal(again, want) {
		t.Fatalf("changing a brief changed the stored job: %v", again)
	}
	if _, ok := f.JobBrief("nope"); ok {
		t.Fatal("a brief of a job that does not exist")
	}
}

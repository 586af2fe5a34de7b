package fsm

import (
	"fmt"
	"sync"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestConcurrentApplyAndReads runs the apply loop against readers the way
// the Raft node and the gRPC server do; it proves nothing without -race.
func TestConcurrentApplyAndReads(t *testing.T) {
	f := New()
	const n = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= n; i++ {
			idx := uint64(i)
			switch i % 4 {
			case 0:
				f.Apply(idx, cancelCmd(i, fmt.Sprintf("j%d", i-1), ""))
			case 1:
				f.AddNode(idx, &ferryv1.NodeInfo{Name: fmt.Sprintf("n%d", i), RaftId: idx})
			case 2:
				f.RemoveNode(idx, idx-1)
			default:
				f.Apply(idx, submitCmd(i, fmt.Sprintf("j%d", i), "", validSpec()))
			}
		}
	})
	for range 3 {
		wg.Go(func() {
			for f.AppliedIndex() < n {
				if jobs, _ := f.Jobs(Query{Limit: 10}); len(jobs) > 0 {
					f.Job(jobs[0].GetId())
				}
				f.JobCounts()
				f.Nodes()
				f.NodeByName("n1")
				f.IsRemoved(1)
				if _, _, err := f.Snapshot(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	counts := f.JobCounts()
	if q, c := counts[ferryv1.JobState_JOB_STATE_QUEUED], counts[ferryv1.JobState_JOB_STATE_CANCELLED]; q != 0 || c != n/4 {
		t.Errorf("queued %d cancelled %d, want 0 and %d", q, c, n/4)
	}
}

package fsm

import (
	"fmt"
	"sync"
	"sync/atomic"
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

// TestConcurrentJobRunsAndDeviceReads moves cartridges in and out of
// drives, and jobs and node records change, while readers look at
// libraries, devices, jobs and nodes.
func TestConcurrentJobRunsAndDeviceReads(t *testing.T) {
	f := deviceFixture(t)
	const jobs = 60
	var (
		wg       sync.WaitGroup
		finished atomic.Bool
	)
	wg.Go(func() {
		defer finished.Store(true)
		apply := func(idx uint64, cmd *ferryv1.Command) {
			if r := f.Apply(idx, cmd); r.Err != nil {
				t.Errorf("Apply(%d): %v", idx, r.Err)
			}
		}
		next := func(cmd *ferryv1.Command) uint64 {
			idx := f.AppliedIndex() + 1
			apply(idx, cmd)
			return idx
		}
		for i := range jobs {
			id := fmt.Sprintf("r%d", i)
			next(submitCmd(i, id, "", validSpec()))
			epoch := next(placeCmd(i, id, "node-a", 0, tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 0)))
			next(startCmd(i, "node-a", id, epoch))
			next(batchCmd(i, "node-a", checkpointOp(id, epoch, 4096)))
			if i%10 == 0 {
				next(setNodeCmd(i, "node-b", &ferryv1.NodeInfo{Name: "node-b", Mover: true, Reach: []string{fmt.Sprintf("disk-%d", i)}}))
			}
			// Every third job loses its owner: its cartridges change drives.
			if i%3 == 0 {
				epoch = next(takeoverCmd(i, id, "node-b", epoch, "", 8192, tape("A00001L9", "libA", 1), tape("B00001L9", "libB", 0)))
				next(resumeCmd(i, "node-b", id, epoch, 4096))
			}
			if i%2 == 0 {
				owner, _ := f.Job(id)
				next(succeedCmd(i, owner.GetOwner(), id, epoch))
			} else {
				next(cancelCmd(i, id, ""))
			}
		}
	})
	for range 3 {
		wg.Go(func() {
			for !finished.Load() {
				f.Library("libA")
				f.Libraries()
				f.Cartridges("")
				f.Cartridge("B00001L9")
				f.Disks()
				if _, err := f.ResolveDevice(byName("A00001L9")); err != nil {
					t.Error(err)
					return
				}
				f.Jobs(Query{Owner: "node-a", State: ferryv1.JobState_JOB_STATE_RUNNING})
				f.NodeByName("node-b")
				if _, _, err := f.Snapshot(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantDrive(t, f, "libA", 0, "", "")
	wantDrive(t, f, "libA", 1, "", "")
	wantHome(t, f, "B00001L9", 5)
	if n := f.JobCounts()[ferryv1.JobState_JOB_STATE_SUCCEEDED]; n != jobs/2 {
		t.Errorf("%d jobs succeeded, want %d", n, jobs/2)
	}
}

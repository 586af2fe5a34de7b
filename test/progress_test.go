package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestLiveProgress checks, on three real nodes, that a running copy's
// progress moves between its checkpoints when read through any node: the
// owner's lease renewals reach the leader, and every node asks the leader
// (LeaseService.Progress) when it answers JobService.Get.
func TestLiveProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	// Checkpoints so rare that none comes while the test looks.
	rare := []string{"-checkpoint-bytes", "1GiB", "-checkpoint-every", "5m"}
	m := startMovers(t, 3, map[string][]string{"n1": rare, "n2": rare, "n3": rare})
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	const size = 32 << 20
	m.addDisk(ctx, "src", size)
	m.addEmptyDisk(ctx, "dst", size)
	job := m.submit(ctx, "live-1", &ferryv1.JobSpec{Name: "live", Source: diskEndpoint("src", 0, 0), Destination: diskEndpoint("dst", 0, 0),
		Options: &ferryv1.JobOptions{BwlimitBytesPerSecond: 2 << 20}})
	t.Cleanup(func() {
		cl, err := m.c.Client("n1")
		if err == nil {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cl.Jobs.Cancel(cctx, &ferryv1.CancelJobRequest{Id: job.GetId(), Reason: "test over"})
		}
	})
	for _, node := range nodeNames(3) {
		cl, err := m.c.Client(node)
		if err != nil {
			t.Fatal(err)
		}
		last := "not read yet"
		for {
			j, err := cl.Jobs.Get(ctx, &ferryv1.GetJobRequest{Id: job.GetId()})
			if err == nil {
				p := j.GetProgress()
				if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING && j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
					t.Fatalf("via %s: job %s before live progress showed (last: %s)", node, j.GetState(), last)
				}
				if p.GetLiveBytesDone() > p.GetBytesDone() && p.GetLiveAt() != nil {
					t.Logf("via %s: %d bytes reported, %d committed", node, p.GetLiveBytesDone(), p.GetBytesDone())
					break
				}
				last = fmt.Sprintf("%s, live %d, committed %d", j.GetState(), p.GetLiveBytesDone(), p.GetBytesDone())
			} else {
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				t.Fatalf("via %s: no live progress: %v (last: %s)", node, ctx.Err(), last)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

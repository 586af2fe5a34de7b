package grpcapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// liveNode is a fakeNode whose leader reports live progress.
type liveNode struct {
	*fakeNode
	mu      sync.Mutex
	reports []*ferryv1.JobLiveProgress
}

func (n *liveNode) LiveProgress(_ context.Context, ids []string) ([]*ferryv1.JobLiveProgress, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*ferryv1.JobLiveProgress
	for _, r := range n.reports {
		for _, id := range ids {
			if r.GetJobId() == id {
				out = append(out, proto.Clone(r).(*ferryv1.JobLiveProgress))
			}
		}
	}
	return out, nil
}

func (n *liveNode) report(id string, epoch, bytes uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reports = append(n.reports[:0], &ferryv1.JobLiveProgress{JobId: id, Epoch: epoch, BytesDone: bytes, ReportedAt: timestampNow()})
}

// newLiveNode holds the running job "run" (epoch 5, 1 MiB committed) and
// the queued job "wait".
func newLiveNode(t *testing.T) *liveNode {
	t.Helper()
	n := &liveNode{fakeNode: newFakeNode()}
	running := bigJob("run", 10, 1)
	running.State, running.Owner, running.Epoch = ferryv1.JobState_JOB_STATE_RUNNING, "n2", 5
	running.Progress = &ferryv1.JobProgress{BytesTotal: 8 << 20, BytesDone: 1 << 20}
	data, err := proto.Marshal(&ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{running, bigJob("wait", 11, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.fsm.Restore(data, 11); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGetLiveProgress checks that Get adds the owner's latest report to a
// running job, and only a report of the job's own epoch that is not behind
// its committed progress, unless the read is stale (no leader round trip).
func TestGetLiveProgress(t *testing.T) {
	tests := []struct {
		name        string
		job         string
		stale       bool
		epoch, live uint64
		want        uint64
	}{
		{"reported", "run", false, 5, 3 << 20, 3 << 20},
		{"stale read", "run", true, 5, 3 << 20, 0},
		{"previous owner's epoch", "run", false, 4, 3 << 20, 0},
		{"behind the checkpoint", "run", false, 5, 1 << 19, 0},
		{"not running", "wait", false, 0, 3 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newLiveNode(t)
			n.report(tt.job, tt.epoch, tt.live)
			c := serve(t, n)
			j, err := c.jobs.Get(context.Background(), &ferryv1.GetJobRequest{Id: tt.job, Stale: tt.stale})
			if err != nil {
				t.Fatal(err)
			}
			if got := j.GetProgress().GetLiveBytesDone(); got != tt.want {
				t.Errorf("live_bytes_done %d, want %d", got, tt.want)
			}
			if (j.GetProgress().GetLiveAt() != nil) != (tt.want != 0) {
				t.Errorf("live_at %v with live bytes %d", j.GetProgress().GetLiveAt(), tt.want)
			}
		})
	}
}

// TestWatchLiveProgress checks that Watch sends a running job again when
// its owner reports more bytes, with no Raft entry in between.
func TestWatchLiveProgress(t *testing.T) {
	n := newLiveNode(t)
	n.report("run", 5, 2<<20)
	c := serve(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := c.jobs.Watch(ctx, &ferryv1.WatchJobRequest{Id: "run"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := first.GetProgress().GetLiveBytesDone(); got != 2<<20 {
		t.Fatalf("first message: live bytes %d, want %d", got, 2<<20)
	}
	n.report("run", 5, 5<<20)
	next, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := next.GetProgress().GetLiveBytesDone(); got != 5<<20 || next.GetProgress().GetBytesDone() != 1<<20 {
		t.Errorf("next message: live %d, committed %d; want %d, %d", got, next.GetProgress().GetBytesDone(), 5<<20, 1<<20)
	}
}

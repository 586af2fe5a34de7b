package scheduler

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestProgress checks that the leader answers Progress from its lease
// table: the latest report of each job, with its epoch and arrival time,
// and that a follower refuses as Renew does.
func TestProgress(t *testing.T) {
	f, s := newFixture(t)
	renew(t, s, "n2", &ferryv1.JobLease{JobId: "j1", Epoch: 7, BytesDone: 1 << 20})
	f.advance(250 * time.Millisecond)
	renew(t, s, "n2", &ferryv1.JobLease{JobId: "j1", Epoch: 7, BytesDone: 3 << 20}, &ferryv1.JobLease{JobId: "j2", Epoch: 9, BytesDone: 5})
	at := f.now()

	tests := []struct {
		name string
		req  *ferryv1.ProgressRequest
		want map[string]uint64
		code codes.Code
	}{
		{"one job", &ferryv1.ProgressRequest{ClusterId: "c1", JobIds: []string{"j1"}}, map[string]uint64{"j1": 3 << 20}, codes.OK},
		{"every job", &ferryv1.ProgressRequest{ClusterId: "c1"}, map[string]uint64{"j1": 3 << 20, "j2": 5}, codes.OK},
		{"unknown job", &ferryv1.ProgressRequest{ClusterId: "c1", JobIds: []string{"nope"}}, map[string]uint64{}, codes.OK},
		{"other cluster", &ferryv1.ProgressRequest{ClusterId: "c2"}, nil, codes.PermissionDenied},
		{"too many ids", &ferryv1.ProgressRequest{ClusterId: "c1", JobIds: make([]string, maxProgressJobs+1)}, nil, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := s.Progress(context.Background(), tt.req)
			if status.Code(err) != tt.code {
				t.Fatalf("error %v, want code %v", err, tt.code)
			}
			if err != nil {
				return
			}
			got := map[string]uint64{}
			for _, j := range resp.GetJobs() {
				got[j.GetJobId()] = j.GetBytesDone()
				if j.GetJobId() == "j1" && (j.GetEpoch() != 7 || !j.GetReportedAt().AsTime().Equal(at)) {
					t.Errorf("j1: epoch %d at %v, want 7 at %v", j.GetEpoch(), j.GetReportedAt().AsTime(), at)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for id, b := range tt.want {
				if got[id] != b {
					t.Errorf("job %s: %d bytes, want %d", id, got[id], b)
				}
			}
		})
	}

	// A job its owner no longer reports is gone from the table.
	renew(t, s, "n2", &ferryv1.JobLease{JobId: "j1", Epoch: 7, BytesDone: 4 << 20})
	resp, err := s.Progress(context.Background(), &ferryv1.ProgressRequest{ClusterId: "c1"})
	if err != nil || len(resp.GetJobs()) != 1 || resp.GetJobs()[0].GetJobId() != "j1" || resp.GetJobs()[0].GetBytesDone() != 4<<20 {
		t.Errorf("after j2 ended: %v, %v; want j1 alone at 4 MiB", resp, err)
	}

	f.mu.Lock()
	f.leader = false
	f.mu.Unlock()
	if _, err := s.Progress(context.Background(), &ferryv1.ProgressRequest{ClusterId: "c1"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("follower: %v, want FailedPrecondition", err)
	}
}

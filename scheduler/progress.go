package scheduler

import (
	"context"
	"maps"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// maxProgressJobs bounds the job ids one Progress request may name.
const maxProgressJobs = 1000

// Progress answers LeaseService.Progress on the leader: what the owners of
// running jobs reported in their latest renewals (every -renew-interval),
// committed or not. It lets clients see a copy move between checkpoints
// without a Raft entry per report. Other nodes answer FAILED_PRECONDITION,
// as Renew does.
func (s *Scheduler) Progress(ctx context.Context, req *ferryv1.ProgressRequest) (*ferryv1.ProgressResponse, error) {
	if req.GetClusterId() != s.node.ClusterID() {
		return nil, status.Errorf(codes.PermissionDenied, "cluster_id %q is not this cluster's (%q)", req.GetClusterId(), s.node.ClusterID())
	}
	if n := len(req.GetJobIds()); n > maxProgressJobs {
		return nil, status.Errorf(codes.InvalidArgument, "job_ids: %d ids, at most %d", n, maxProgressJobs)
	}
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	leases := s.tableLocked(now)
	if leases == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not the leader", s.node.Name())
	}
	ids := req.GetJobIds()
	if len(ids) == 0 {
		ids = slices.Sorted(maps.Keys(leases.reported))
	}
	resp := &ferryv1.ProgressResponse{}
	for _, id := range ids {
		r, ok := leases.reported[id]
		if !ok {
			continue
		}
		resp.Jobs = append(resp.Jobs, &ferryv1.JobLiveProgress{
			JobId: id, Epoch: r.epoch, BytesDone: r.bytes, ReportedAt: timestamppb.New(r.at),
		})
	}
	return resp, nil
}

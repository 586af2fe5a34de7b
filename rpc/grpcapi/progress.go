package grpcapi

import (
	"context"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// liveProgress is what a Node offers when it can ask the leader for what
// job owners reported in their latest lease renewals; *cluster.Node does.
type liveProgress interface {
	LiveProgress(ctx context.Context, jobIDs []string) ([]*ferryv1.JobLiveProgress, error)
}

const (
	// liveTimeout bounds the leader round trip of Get and of each Watch
	// poll: without an answer in time the job goes out with its committed
	// progress only.
	liveTimeout = 300 * time.Millisecond
	// livePoll is how often Watch asks the leader while a job runs: about
	// as often as owners renew (executor.DefaultRenewInterval).
	livePoll = 250 * time.Millisecond
)

// withLive fills j's live_bytes_done and live_at from the leader's lease
// table when j runs, so clients see the copy move between checkpoints. A
// report from another epoch (a previous owner) or behind the committed
// progress is left out. j must be the caller's own copy.
func (s *Server) withLive(ctx context.Context, j *ferryv1.Job) {
	lp, ok := s.node.(liveProgress)
	if !ok || j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	reports, err := lp.LiveProgress(ctx, []string{j.GetId()})
	if err != nil {
		s.log.Debug("live progress unavailable", "job", j.GetId(), "err", err)
		return
	}
	for _, r := range reports {
		if r.GetJobId() != j.GetId() || r.GetEpoch() != j.GetEpoch() || r.GetBytesDone() < j.GetProgress().GetBytesDone() {
			continue
		}
		if j.Progress == nil {
			j.Progress = &ferryv1.JobProgress{}
		}
		j.Progress.LiveBytesDone = r.GetBytesDone()
		j.Progress.LiveAt = r.GetReportedAt()
	}
}

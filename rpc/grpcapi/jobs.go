package grpcapi

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// defaultWriteTimeout bounds a write whose caller set no deadline, so that a
// request to a cluster without quorum fails instead of hanging.
const defaultWriteTimeout = 30 * time.Second

func newJobID() string { return uuid.NewString() }

func (s *Server) Submit(ctx context.Context, req *ferryv1.SubmitJobRequest) (*ferryv1.SubmitJobResponse, error) {
	if bad := append(fsm.ValidateSpec(req.GetSpec()), fsm.ValidateIdempotencyKey(req.GetIdempotencyKey())...); len(bad) > 0 {
		return nil, invalid(bad...)
	}
	// A multi-stream job's streams are checked, each and together, by
	// the state machine, which completes them from the spec.
	if req.GetSpec().GetStreams() <= 1 {
		if err := s.checkDevices(ctx, req.GetSpec()); err != nil {
			return nil, err
		}
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	res, err := s.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{
		JobId:          s.newID(),
		IdempotencyKey: req.GetIdempotencyKey(),
		Spec:           req.GetSpec(),
		Streams:        req.GetStreams(),
	}}})
	if err != nil {
		return nil, toStatus(err)
	}
	if res.Err != nil {
		return nil, toStatus(res.Err)
	}
	return &ferryv1.SubmitJobResponse{Job: res.Job, Existing: res.Existing}, nil
}

func (s *Server) Get(ctx context.Context, req *ferryv1.GetJobRequest) (*ferryv1.Job, error) {
	if req.GetId() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "id", Description: "required"})
	}
	if err := s.read(ctx, req.GetStale()); err != nil {
		return nil, err
	}
	job, ok := s.node.FSM().Job(req.GetId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "job %q not found", req.GetId())
	}
	if !req.GetStale() {
		// A stale read skips the leader, live progress included.
		s.withLive(ctx, job)
	}
	return job, nil
}

// listPageBytes bounds the encoded jobs of one List page, well below gRPC's
// default 4 MiB message limit, so that a few jobs with huge specs cannot
// make every listing fail; the client follows next_page_token.
const listPageBytes = 1 << 20

// listChunkMax is the most jobs List takes from the state machine at a time
// while it fills a page. It starts with one and doubles, so that a page of
// a few huge jobs copies few more jobs than it sends.
const listChunkMax = 256

func (s *Server) List(ctx context.Context, req *ferryv1.ListJobsRequest) (*ferryv1.ListJobsResponse, error) {
	if _, ok := ferryv1.JobState_name[int32(req.GetState())]; !ok {
		return nil, invalid(fsm.FieldViolation{Field: "state", Description: "unknown job state"})
	}
	var after uint64
	if tok := req.GetPageToken(); tok != "" {
		v, err := strconv.ParseUint(tok, 10, 64)
		if err != nil {
			return nil, invalid(fsm.FieldViolation{Field: "page_token", Description: "not a token from a previous response"})
		}
		after = v
	}
	if err := s.read(ctx, req.GetStale()); err != nil {
		return nil, err
	}
	jobs, next := listPage(s.node.FSM(), req.GetState(), after, int(req.GetPageSize()), listPageBytes)
	resp := &ferryv1.ListJobsResponse{Jobs: jobs}
	if next != 0 {
		resp.NextPageToken = strconv.FormatUint(next, 10)
	}
	return resp, nil
}

// listPage returns the jobs in state created after index after, at most
// limit of them (0: no limit) and at most maxBytes encoded (but always at
// least one), and the index to continue after, 0 when none are left. Jobs
// are ordered by creation index, so a page boundary stays put while jobs
// are added.
func listPage(reg *fsm.FSM, state ferryv1.JobState, after uint64, limit, maxBytes int) ([]*ferryv1.Job, uint64) {
	var page []*ferryv1.Job
	size := 0
	for chunk := 1; ; chunk = min(2*chunk, listChunkMax) {
		want := chunk
		if limit > 0 {
			want = min(want, limit-len(page))
		}
		jobs, more := reg.Jobs(fsm.Query{State: state, AfterIndex: after, Limit: want})
		for _, j := range jobs {
			n := proto.Size(j)
			if len(page) > 0 && size+n > maxBytes {
				return page, page[len(page)-1].GetCreatedIndex()
			}
			page, size = append(page, j), size+n
		}
		if more == 0 {
			return page, 0
		}
		if limit > 0 && len(page) == limit {
			return page, more
		}
		after = more
	}
}

func (s *Server) Cancel(ctx context.Context, req *ferryv1.CancelJobRequest) (*ferryv1.Job, error) {
	if req.GetId() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "id", Description: "required"})
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	res, err := s.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{
		JobId: req.GetId(), Reason: req.GetReason(),
	}}})
	if err != nil {
		return nil, toStatus(err)
	}
	if res.Err != nil {
		return nil, toStatus(res.Err)
	}
	return res.Job, nil
}

func (s *Server) Watch(req *ferryv1.WatchJobRequest, stream grpc.ServerStreamingServer[ferryv1.Job]) error {
	if req.GetId() == "" {
		return invalid(fsm.FieldViolation{Field: "id", Description: "required"})
	}
	ctx := stream.Context()
	// Subscribe before the first read so no change can slip in between.
	changed, stop := s.node.WatchJob(req.GetId())
	defer stop()
	if err := s.read(ctx, false); err != nil {
		return err
	}
	var last *ferryv1.Job
	poll := time.NewTicker(livePoll)
	defer poll.Stop()
	for {
		job, ok := s.node.FSM().Job(req.GetId())
		if !ok {
			return status.Errorf(codes.NotFound, "job %q not found", req.GetId())
		}
		s.withLive(ctx, job)
		if last == nil || job.GetUpdatedAt().AsTime() != last.GetUpdatedAt().AsTime() || job.GetState() != last.GetState() ||
			len(job.GetHistory()) != len(last.GetHistory()) || job.GetProgress().GetLiveBytesDone() != last.GetProgress().GetLiveBytesDone() {
			if err := stream.Send(job); err != nil {
				return err
			}
			last = job
		}
		if terminal(job.GetState()) {
			return nil
		}
		// While the job runs, its owner's reports to the leader move
		// faster than its committed checkpoints: look at them every poll.
		var tick <-chan time.Time
		if job.GetState() == ferryv1.JobState_JOB_STATE_RUNNING {
			tick = poll.C
		}
		select {
		case <-changed:
		case <-tick:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

func terminal(s ferryv1.JobState) bool {
	switch s {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}

// read makes the node's state fresh enough for the caller: linearizable
// unless it accepted a stale read.
func (s *Server) read(ctx context.Context, stale bool) error { return linearize(ctx, s.node, stale) }

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultWriteTimeout)
}

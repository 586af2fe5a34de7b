package main

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// fakeServer answers JobService and ClusterService with canned data, and can
// be told to fail calls with Unavailable the way a leaderless node does.
type fakeServer struct {
	ferryv1.UnimplementedJobServiceServer
	ferryv1.UnimplementedClusterServiceServer

	mu sync.Mutex
	// unavailable is how many more unary calls fail with Unavailable;
	// negative means all of them.
	unavailable int
	calls       int
	submitKeys  []string
	// watchStreams are the jobs each successive Watch call sends; a stream
	// that ends with nil fails with Unavailable instead of ending cleanly.
	watchStreams [][]*ferryv1.Job
	watchCalls   int
	// stopAfterWatch stops the whole server at the second Watch call:
	// the agent goes away and nothing listens at its address any more.
	stopAfterWatch bool
	srv            *grpc.Server
}

// startFake serves f on a free loopback port until the test ends and returns
// its address.
func startFake(t *testing.T, f *fakeServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f.srv = srv
	ferryv1.RegisterJobServiceServer(srv, f)
	ferryv1.RegisterClusterServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// admit counts a unary call and decides whether it fails as unavailable.
func (f *fakeServer) admit() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.unavailable == 0 {
		return nil
	}
	if f.unavailable > 0 {
		f.unavailable--
	}
	return status.Error(codes.Unavailable, "no leader")
}

func ts(sec int64) *timestamppb.Timestamp {
	return timestamppb.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second))
}

func tapeFile(n uint32) *uint32 { return &n }

// fakeJobs are the cluster's jobs, oldest first.
func fakeJobs() []*ferryv1.Job {
	return []*ferryv1.Job{
		{
			Id:             "j-1",
			IdempotencyKey: "nightly-2026-11-25",
			Spec: &ferryv1.JobSpec{
				Name: "db01 to tape",
				Source: &ferryv1.Endpoint{
					Kind:   ferryv1.DeviceKind_DEVICE_KIND_DISK,
					Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}},
					Lba:    2048,
				},
				Destination: &ferryv1.Endpoint{
					Kind:   ferryv1.DeviceKind_DEVICE_KIND_TAPE,
					Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}},
				},
				Segments: []*ferryv1.Segment{
					{SourceOffset: 0, DestinationOffset: 0, Length: 1 << 20},
					{SourceOffset: 1 << 20, DestinationOffset: 1 << 20, Length: 3 << 20},
				},
				Options: &ferryv1.JobOptions{Priority: 5, BwlimitBytesPerSecond: 100 << 20, Verify: true},
			},
			State:       ferryv1.JobState_JOB_STATE_RUNNING,
			StateReason: "copying segment 2 of 2",
			Owner:       "node-2",
			Epoch:       3,
			Progress: &ferryv1.JobProgress{
				BytesTotal: 4 << 20, BytesDone: 1 << 20, SegmentsTotal: 2, SegmentsDone: 1, CheckpointOffset: 1 << 20,
			},
			History: []*ferryv1.JobEvent{
				{Time: ts(0), State: ferryv1.JobState_JOB_STATE_QUEUED, Node: "node-1", Message: "submitted", RaftIndex: 12},
				{Time: ts(5), State: ferryv1.JobState_JOB_STATE_RUNNING, Node: "node-2", Message: "lease granted, epoch 3", RaftIndex: 15},
			},
			CreatedAt:    ts(0),
			UpdatedAt:    ts(30),
			CreatedIndex: 12,
			SubmittedVia: "node-1",
		},
		{
			Id: "j-2",
			Spec: &ferryv1.JobSpec{
				Source: &ferryv1.Endpoint{
					Kind:     ferryv1.DeviceKind_DEVICE_KIND_TAPE,
					Device:   &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: "6001405f3a1b2c3d"}},
					TapeFile: tapeFile(2),
				},
				Destination: &ferryv1.Endpoint{
					Kind:   ferryv1.DeviceKind_DEVICE_KIND_DISK,
					Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "scratch"}},
					Blocks: 8,
				},
			},
			State:        ferryv1.JobState_JOB_STATE_SUCCEEDED,
			StateReason:  "done",
			Progress:     &ferryv1.JobProgress{BytesTotal: 4096, BytesDone: 4096},
			CreatedAt:    ts(60),
			UpdatedAt:    ts(90),
			CreatedIndex: 20,
			SubmittedVia: "node-3",
		},
		{
			// An NDMP tape session: a DMA holds drive 1 of libA through
			// node-2's NDMP server.
			Id: "s-3",
			Spec: &ferryv1.JobSpec{Name: "NDMP session from 10.0.0.5:41234", Ndmp: &ferryv1.NdmpSession{
				DmaAddress: "10.0.0.5:41234", Node: "node-2", Library: "libA", Drive: 1, Barcode: "A00001L9", ReadWrite: true}},
			State:       ferryv1.JobState_JOB_STATE_RUNNING,
			StateReason: "NDMP session from 10.0.0.5:41234 on node-2",
			Owner:       "node-2",
			Epoch:       31,
			Progress:    &ferryv1.JobProgress{BytesDone: 0, LiveBytesDone: 96 << 20},
			Tapes:       []*ferryv1.TapeAssignment{{Barcode: "A00001L9", Library: "libA", Drive: 1}},
			History: []*ferryv1.JobEvent{{Time: ts(100), State: ferryv1.JobState_JOB_STATE_RUNNING, Node: "node-2",
				Message: "NDMP tape open of libA/1 (A00001L9, read-write) by 10.0.0.5:41234 on node-2 (epoch 31)", RaftIndex: 31}},
			CreatedAt:    ts(100),
			UpdatedAt:    ts(100),
			CreatedIndex: 31,
			SubmittedVia: "node-2",
		},
	}
}

func (f *fakeServer) findJob(id string) (*ferryv1.Job, error) {
	for _, j := range append(fakeJobs(), landedJobs()...) {
		if j.GetId() == id {
			return j, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "job %q not found", id)
}

func (f *fakeServer) Submit(_ context.Context, req *ferryv1.SubmitJobRequest) (*ferryv1.SubmitJobResponse, error) {
	f.mu.Lock()
	f.submitKeys = append(f.submitKeys, req.GetIdempotencyKey())
	f.mu.Unlock()
	if err := f.admit(); err != nil {
		return nil, err
	}
	if req.GetSpec().GetSource().GetDevice() == nil {
		st, err := status.New(codes.InvalidArgument, "invalid argument: spec.source.device: required").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "spec.source.device", Description: "required"},
			},
		})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	job := &ferryv1.Job{Id: "j-9", IdempotencyKey: req.GetIdempotencyKey(), Spec: req.GetSpec(), State: ferryv1.JobState_JOB_STATE_QUEUED}
	return &ferryv1.SubmitJobResponse{Job: job, Existing: req.GetIdempotencyKey() == "seen"}, nil
}

func (f *fakeServer) Get(_ context.Context, req *ferryv1.GetJobRequest) (*ferryv1.Job, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	return f.findJob(req.GetId())
}

// List serves one job per page, to exercise the client's paging.
func (f *fakeServer) List(_ context.Context, req *ferryv1.ListJobsRequest) (*ferryv1.ListJobsResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	var jobs []*ferryv1.Job
	for _, j := range fakeJobs() {
		if req.GetState() == ferryv1.JobState_JOB_STATE_UNSPECIFIED || req.GetState() == j.GetState() {
			jobs = append(jobs, j)
		}
	}
	start := 0
	if req.GetPageToken() != "" {
		n, err := strconv.Atoi(req.GetPageToken())
		if err != nil || n > len(jobs) {
			return nil, status.Errorf(codes.InvalidArgument, "bad page token %q", req.GetPageToken())
		}
		start = n
	}
	resp := &ferryv1.ListJobsResponse{Jobs: jobs[start:min(start+1, len(jobs))]}
	if start+1 < len(jobs) {
		resp.NextPageToken = strconv.Itoa(start + 1)
	}
	return resp, nil
}

func (f *fakeServer) Cancel(_ context.Context, req *ferryv1.CancelJobRequest) (*ferryv1.Job, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	j, err := f.findJob(req.GetId())
	if err != nil {
		return nil, err
	}
	if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		return nil, status.Errorf(codes.FailedPrecondition, "job %s already ended", j.GetId())
	}
	j.State = ferryv1.JobState_JOB_STATE_CANCELLED
	j.StateReason = req.GetReason()
	return j, nil
}

func (f *fakeServer) Watch(req *ferryv1.WatchJobRequest, stream grpc.ServerStreamingServer[ferryv1.Job]) error {
	f.mu.Lock()
	n := f.watchCalls
	f.watchCalls++
	f.mu.Unlock()
	if f.stopAfterWatch && n > 0 {
		// The reconnect finds the agent stopping: its listener is closed
		// before its connections, so the next dial is refused.
		go f.srv.Stop()
		return status.Error(codes.Unavailable, "node shutting down")
	}
	if n >= len(f.watchStreams) {
		return status.Errorf(codes.NotFound, "job %q not found", req.GetId())
	}
	for _, j := range f.watchStreams[n] {
		if j == nil {
			return status.Error(codes.Unavailable, "node shutting down")
		}
		if err := stream.Send(j); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeServer) Members(context.Context, *ferryv1.MembersRequest) (*ferryv1.MembersResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	return &ferryv1.MembersResponse{
		AnsweredBy: "node-1",
		Members: []*ferryv1.Member{
			{Node: "node-3", RaftId: 3, Site: "b", GossipState: ferryv1.GossipState_GOSSIP_STATE_SUSPECT,
				RaftRole: ferryv1.RaftRole_RAFT_ROLE_LEARNER, GrpcAddr: "10.0.0.3:7101", GossipAddr: "10.0.0.3:7102",
				Transport: ferryv1.Transport_TRANSPORT_PLAINTEXT},
			{Node: "node-1", RaftId: 1, Site: "a", GossipState: ferryv1.GossipState_GOSSIP_STATE_ALIVE,
				RaftRole: ferryv1.RaftRole_RAFT_ROLE_LEADER, GrpcAddr: "10.0.0.1:7101", HttpAddr: "10.0.0.1:7180", GossipAddr: "10.0.0.1:7102",
				Transport: ferryv1.Transport_TRANSPORT_MTLS},
			{Node: "node-4", GossipState: ferryv1.GossipState_GOSSIP_STATE_ALIVE, RaftRole: ferryv1.RaftRole_RAFT_ROLE_NONE},
		},
	}, nil
}

func (f *fakeServer) RaftStatus(context.Context, *ferryv1.RaftStatusRequest) (*ferryv1.RaftStatusResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	return &ferryv1.RaftStatusResponse{
		Node: "node-1", RaftId: 1, ClusterId: "c-7f3a", Role: ferryv1.RaftRole_RAFT_ROLE_LEADER, Term: 4,
		Leader: "node-1", LeaderId: 1, CommitIndex: 120, AppliedIndex: 119,
		Voters: []string{"node-1", "node-2"}, Learners: []string{"node-3"},
		SnapshotIndex: 100, FirstIndex: 101, LastIndex: 120,
	}, nil
}

func (f *fakeServer) RemoveMember(_ context.Context, req *ferryv1.RemoveMemberRequest) (*ferryv1.RemoveMemberResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	if req.GetNode() != "node-3" {
		return nil, status.Errorf(codes.NotFound, "node %q is not a member", req.GetNode())
	}
	return &ferryv1.RemoveMemberResponse{Voters: []string{"node-1", "node-2"}}, nil
}

// watchJobAt returns j-1 as it looks in state s with done bytes copied.
func watchJobAt(s ferryv1.JobState, done uint64, reason string, sec int64) *ferryv1.Job {
	j := proto.Clone(fakeJobs()[0]).(*ferryv1.Job)
	j.State, j.StateReason, j.UpdatedAt = s, reason, ts(sec)
	j.Progress.BytesDone = done
	j.History = nil
	return j
}

// brokenStreams are Watch streams of a node that sends first and then goes
// away: its stream breaks, and the next retries streams find it unavailable.
func brokenStreams(first *ferryv1.Job, retries int) [][]*ferryv1.Job {
	streams := [][]*ferryv1.Job{{first, nil}}
	for range retries {
		streams = append(streams, []*ferryv1.Job{nil})
	}
	return streams
}

package grpcapi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// testClusterID is the fake node's cluster.
const testClusterID = "test-cluster"

// fakeNode applies proposals straight to a state machine, as a one-node
// cluster would, so the API is tested without Raft or sockets between nodes.
type fakeNode struct {
	mu       sync.Mutex
	fsm      *fsm.FSM
	index    uint64
	noQuorum bool
	subs     map[string][]chan struct{}
}

// newFakeNode returns a node whose registry holds the disk db01 and the
// cartridge A00001L9 that diskToTape names.
func newFakeNode() *fakeNode {
	f := &fakeNode{fsm: fsm.New(), subs: map[string][]chan struct{}{}}
	for _, op := range []*ferryv1.Command{
		{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: "db01", Naa: "3000000000000001", Path: "/san/db01.img", SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}},
		{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
			Name: "libA", Dir: "/vtl/libA", Site: "east", Slots: 4, Drives: 1, IeSlots: 1, CartridgeCapacityBytes: 1 << 30}}}},
		{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
			Barcode: "A00001L9", Library: "libA", Naa: "3000000000000002", Path: "/vtl/libA/A00001L9.tap", HomeSlot: 1,
			Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1}, CapacityBytes: 1 << 30}}}},
	} {
		if res, err := f.Propose(context.Background(), op); err != nil || res.Err != nil {
			panic(fmt.Sprintf("register sample devices: %v %v", err, res.Err))
		}
	}
	return f
}

func (f *fakeNode) Name() string { return "n1" }

func (f *fakeNode) Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	if f.noQuorum {
		return fsm.Result{}, fmt.Errorf("%w: %w", cluster.ErrNoLeader, context.DeadlineExceeded)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	cmd.Time = timestampNow()
	cmd.Node = "n1"
	res := f.fsm.Apply(f.index, cmd)
	if res.Job != nil {
		for _, ch := range f.subs[res.Job.GetId()] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	return res, nil
}

func (f *fakeNode) LinearizableRead(ctx context.Context) error {
	if f.noQuorum {
		return fmt.Errorf("%w: %w", cluster.ErrNoLeader, context.DeadlineExceeded)
	}
	return nil
}
func (f *fakeNode) FSM() *fsm.FSM { return f.fsm }
func (f *fakeNode) WatchJob(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	f.subs[id] = append(f.subs[id], ch)
	f.mu.Unlock()
	return ch, func() {}
}
func (f *fakeNode) Members() []*ferryv1.Member { return []*ferryv1.Member{{Node: "n1"}} }
func (f *fakeNode) RaftStatus() *ferryv1.RaftStatusResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &ferryv1.RaftStatusResponse{Node: "n1", Voters: []string{"n1"}, ClusterId: testClusterID, AppliedIndex: f.index, CommitIndex: f.index}
}
func (f *fakeNode) RemoveMember(ctx context.Context, name string) error {
	if name == "n1" {
		return fmt.Errorf("%w: %q", cluster.ErrLastVoter, name)
	}
	return fmt.Errorf("%w: %q", cluster.ErrUnknownMember, name)
}

type clients struct {
	jobs    ferryv1.JobServiceClient
	cluster ferryv1.ClusterServiceClient
}

func serve(t *testing.T, node Node) clients {
	t.Helper()
	s := New(node, slog.New(slog.NewTextHandler(io.Discard, nil)))
	conn := serveGRPC(t, func(gs *grpc.Server) {
		ferryv1.RegisterJobServiceServer(gs, s)
		ferryv1.RegisterClusterServiceServer(gs, s)
	})
	return clients{ferryv1.NewJobServiceClient(conn), ferryv1.NewClusterServiceClient(conn)}
}

// serveGRPC serves what register registers over loopback and returns a
// connection to it.
func serveGRPC(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	register(gs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func diskToTape() *ferryv1.JobSpec {
	return &ferryv1.JobSpec{
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}},
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}}},
	}
}

func fieldViolations(t *testing.T, err error) []string {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status: %v", err)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func TestSubmitValidationNamesTheField(t *testing.T) {
	c := serve(t, newFakeNode())
	ctx := context.Background()
	tests := []struct {
		name  string
		req   *ferryv1.SubmitJobRequest
		field string
	}{
		{"no spec", &ferryv1.SubmitJobRequest{}, "spec"},
		{"no source device", &ferryv1.SubmitJobRequest{Spec: func() *ferryv1.JobSpec {
			s := diskToTape()
			s.Source.Device = nil
			return s
		}()}, "spec.source.device"},
		{"key too long", &ferryv1.SubmitJobRequest{Spec: diskToTape(), IdempotencyKey: string(make([]byte, 300))}, "idempotency_key"},
		{"unregistered device", &ferryv1.SubmitJobRequest{Spec: func() *ferryv1.JobSpec {
			s := diskToTape()
			s.Source.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "nope"}}
			return s
		}()}, "spec.source.device"},
		{"tape named as a disk", &ferryv1.SubmitJobRequest{Spec: func() *ferryv1.JobSpec {
			s := diskToTape()
			s.Source.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}}
			return s
		}()}, "spec.source.kind"},
		{"malformed parameter list", &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{XcopyParameterList: []byte{1, 2, 3}}}, "spec.xcopy_parameter_list"},
		// The state machine's rules on devices (fsm.FSM.JobAccess).
		{"same cartridge", &ferryv1.SubmitJobRequest{Spec: func() *ferryv1.JobSpec {
			s := diskToTape()
			s.Source = s.Destination
			return s
		}()}, "spec.destination.device"},
		{"overlapping ranges", &ferryv1.SubmitJobRequest{Spec: func() *ferryv1.JobSpec {
			s := diskToTape()
			s.Source.Blocks = 1024
			s.Destination = &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: s.Source.Device, Lba: 8}
			return s
		}()}, "spec.destination.lba"},
		{"past the end", &ferryv1.SubmitJobRequest{Spec: func() *ferryv1.JobSpec {
			s := diskToTape()
			s.Source.Lba, s.Source.Blocks = 2040, 100
			return s
		}()}, "spec.source.blocks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.jobs.Submit(ctx, tc.req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", status.Code(err), err)
			}
			fields := fieldViolations(t, err)
			found := false
			for _, f := range fields {
				found = found || f == tc.field
			}
			if !found {
				t.Fatalf("violations %v do not name %q", fields, tc.field)
			}
		})
	}
}

func TestSubmitGetListCancelWatch(t *testing.T) {
	c := serve(t, newFakeNode())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first, err := c.jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: diskToTape(), IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: diskToTape(), IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.GetExisting() || again.GetJob().GetId() != first.GetJob().GetId() {
		t.Fatalf("same key gave job %s (existing=%v), want %s", again.GetJob().GetId(), again.GetExisting(), first.GetJob().GetId())
	}
	for range 4 {
		if _, err := c.jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: diskToTape()}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.jobs.Get(ctx, &ferryv1.GetJobRequest{Id: first.GetJob().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, first.GetJob()) {
		t.Fatalf("get returned %v, want %v", got, first.GetJob())
	}
	if got.GetState() != ferryv1.JobState_JOB_STATE_QUEUED || got.GetStateReason() == "" {
		t.Fatalf("new job is %v with reason %q; want queued with a reason", got.GetState(), got.GetStateReason())
	}

	// Paging walks every job once.
	var ids []string
	token := ""
	for {
		page, err := c.jobs.List(ctx, &ferryv1.ListJobsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.GetJobs() {
			ids = append(ids, j.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(ids) != 5 {
		t.Fatalf("paging found %d jobs, want 5", len(ids))
	}
	if _, err := c.jobs.List(ctx, &ferryv1.ListJobsRequest{PageToken: "x"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad page token: %v", err)
	}

	stream, err := c.jobs.Watch(ctx, &ferryv1.WatchJobRequest{Id: first.GetJob().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := stream.Recv(); err != nil || j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
		t.Fatalf("first watch message: %v, %v", j, err)
	}
	if _, err := c.jobs.Cancel(ctx, &ferryv1.CancelJobRequest{Id: first.GetJob().GetId(), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if j, err := stream.Recv(); err != nil || j.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("watch after cancel: %v, %v", j, err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("watch did not end after a terminal state: %v", err)
	}
}

func TestErrorCodes(t *testing.T) {
	ctx := context.Background()
	c := serve(t, newFakeNode())
	if _, err := c.jobs.Get(ctx, &ferryv1.GetJobRequest{Id: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("get unknown: %v", err)
	}
	if _, err := c.jobs.Get(ctx, &ferryv1.GetJobRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("get without id: %v", err)
	}
	if _, err := c.jobs.Cancel(ctx, &ferryv1.CancelJobRequest{Id: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("cancel unknown: %v", err)
	}
	if _, err := c.cluster.RemoveMember(ctx, &ferryv1.RemoveMemberRequest{Node: "n1"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("remove last voter: %v", err)
	}
	if _, err := c.cluster.RemoveMember(ctx, &ferryv1.RemoveMemberRequest{Node: "zz"}); status.Code(err) != codes.NotFound {
		t.Errorf("remove unknown: %v", err)
	}

	down := newFakeNode()
	down.noQuorum = true
	if _, err := serve(t, down).jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "nope"}}},
		Destination: diskToTape().GetDestination(),
	}}); status.Code(err) != codes.Unavailable {
		t.Errorf("submit naming a device unknown here, without a leader to ask: %v, want Unavailable", err)
	}
	c = serve(t, down)
	if _, err := c.jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: diskToTape()}); status.Code(err) != codes.Unavailable {
		t.Errorf("submit without a leader: %v, want Unavailable", err)
	}
	if _, err := c.jobs.List(ctx, &ferryv1.ListJobsRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("linearizable list without a leader: %v, want Unavailable", err)
	}
	if _, err := c.jobs.List(ctx, &ferryv1.ListJobsRequest{Stale: true}); err != nil {
		t.Errorf("stale list without a leader: %v", err)
	}
}

// TestSubmitRefusedListCarriesSense: a parameter list the state machine
// refuses on its devices comes back INVALID_ARGUMENT with the SPC-4 sense
// in the SCSI_SENSE detail, as a malformed list does.
func TestSubmitRefusedListCarriesSense(t *testing.T) {
	c := serve(t, newFakeNode())
	pl := &xcopy.ParameterList{
		Targets:  []xcopy.TargetDescriptor{{DeviceType: xcopy.DeviceBlock, NAA: []byte{0x30, 0, 0, 0, 0, 0, 0, 1}, BlockLength: 512}},
		Segments: []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 0, Blocks: 8, DstLBA: 2045}},
	}
	list, err := pl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.jobs.Submit(context.Background(), &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{XcopyParameterList: list}})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code %v (%v), want InvalidArgument", st.Code(), err)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "SCSI_SENSE" {
			b, err := hex.DecodeString(info.GetMetadata()["sense"])
			if err != nil {
				t.Fatal(err)
			}
			sd, err := sense.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if sd.Key != sense.CopyAborted || sd.Code() != sense.NoAdditionalSense || sd.CommandInfo != 0 {
				t.Fatalf("sense %v, want COPY ABORTED of segment 0", &sd)
			}
			return
		}
	}
	t.Fatalf("no SCSI_SENSE detail in %v", err)
}

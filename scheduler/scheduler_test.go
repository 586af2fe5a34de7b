package scheduler

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// fakeNode applies proposals straight to a state machine, as the leader of
// a cluster whose members' gossip states the test sets.
type fakeNode struct {
	mu      sync.Mutex
	fsm     *fsm.FSM
	index   uint64
	leader  bool
	gossip  map[string]ferryv1.GossipState
	clock   time.Time
	changes chan struct{}
}

func (f *fakeNode) Name() string      { return "n1" }
func (f *fakeNode) ClusterID() string { return "c1" }
func (f *fakeNode) FSM() *fsm.FSM     { return f.fsm }

func (f *fakeNode) IsLeader() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader
}

func (f *fakeNode) Members() []*ferryv1.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*ferryv1.Member
	for name, st := range f.gossip {
		out = append(out, &ferryv1.Member{Node: name, GossipState: st})
	}
	return out
}

func (f *fakeNode) WatchJobs() (<-chan struct{}, func()) { return f.changes, func() {} }

func (f *fakeNode) Propose(_ context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	if cmd.Node == "" {
		cmd.Node = "n1"
	}
	cmd.Time = timestamppb.New(f.clock)
	return f.fsm.Apply(f.index, cmd), nil
}

func (f *fakeNode) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fakeNode) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

func (f *fakeNode) must(t *testing.T, cmd *ferryv1.Command) fsm.Result {
	t.Helper()
	res, _ := f.Propose(context.Background(), cmd)
	if res.Err != nil {
		t.Fatalf("%v: %v", cmd.GetOp(), res.Err)
	}
	return res
}

// newFixture is a leader n1 with movers n2 and n3 (all alive), disk db01,
// library lib1 (2 drives) with cartridge A00001L9, and a queued job j1
// copying db01 to the cartridge.
func newFixture(t *testing.T) (*fakeNode, *Scheduler) {
	t.Helper()
	f := &fakeNode{fsm: fsm.New(), leader: true, clock: time.Unix(1_000_000, 0), changes: make(chan struct{}),
		gossip: map[string]ferryv1.GossipState{}}
	for i, name := range []string{"n1", "n2", "n3"} {
		f.index++
		f.fsm.AddNode(f.index, &ferryv1.NodeInfo{Name: name, RaftId: uint64(i + 1), Site: "east", Mover: name != "n1"})
		f.gossip[name] = ferryv1.GossipState_GOSSIP_STATE_ALIVE
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
		Name: "db01", Naa: "3000000000000001", Path: "/luns/db01.img", SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "lib1", Dir: "/vtl/lib1", Site: "east", Slots: 4, Drives: 2, IeSlots: 1, CartridgeCapacityBytes: 1 << 30}}}})
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
		Barcode: "A00001L9", Library: "lib1", Naa: "3000000000000009", Path: "/vtl/lib1/A00001L9.tap", HomeSlot: 1, CapacityBytes: 1 << 30,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1}}}}})
	submit(t, f, "j1")
	s := New(f, Config{Logger: slog.New(slog.DiscardHandler), now: f.now})
	return f, s
}

func submit(t *testing.T, f *fakeNode, id string) {
	t.Helper()
	ref := func(name string) *ferryv1.DeviceRef {
		return &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: id, Spec: &ferryv1.JobSpec{
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: ref("db01")},
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: ref("A00001L9")},
	}}}})
}

func renew(t *testing.T, s *Scheduler, node string, jobs ...*ferryv1.JobLease) *ferryv1.RenewLeaseResponse {
	t.Helper()
	resp, err := s.Renew(context.Background(), &ferryv1.RenewLeaseRequest{ClusterId: "c1", Node: node, Jobs: jobs})
	if err != nil {
		t.Fatalf("renew %s: %v", node, err)
	}
	return resp
}

func job(t *testing.T, f *fakeNode, id string) *ferryv1.Job {
	t.Helper()
	j, ok := f.fsm.Job(id)
	if !ok {
		t.Fatalf("no job %s", id)
	}
	return j
}

func TestPlacesAQueuedJobOnAMoverWithALease(t *testing.T) {
	f, s := newFixture(t)
	renew(t, s, "n2")
	renew(t, s, "n3")
	s.tick(context.Background())
	j := job(t, f, "j1")
	if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || (j.GetOwner() != "n2" && j.GetOwner() != "n3") {
		t.Fatalf("job %v on %q, want running on a mover", j.GetState(), j.GetOwner())
	}
	if len(j.GetTapes()) != 1 || j.GetTapes()[0].GetBarcode() != "A00001L9" {
		t.Fatalf("tapes %v, want A00001L9 in a drive", j.GetTapes())
	}
}

func TestAJobWaitsWithTheReasonWhenNoMoverIsEligible(t *testing.T) {
	f, s := newFixture(t)
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	s.tick(context.Background())
	j := job(t, f, "j1")
	if j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED || !strings.Contains(j.GetStateReason(), "no eligible node") {
		t.Fatalf("job %v (%q), want queued saying no node is eligible", j.GetState(), j.GetStateReason())
	}
}

func TestTakeoverAfterTheOwnersLeaseExpires(t *testing.T) {
	f, s := newFixture(t)
	renew(t, s, "n2")
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD // place on n2
	s.tick(context.Background())
	placed := job(t, f, "j1")
	if placed.GetOwner() != "n2" {
		t.Fatalf("placed on %q, want n2", placed.GetOwner())
	}
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_ALIVE
	lease := &ferryv1.JobLease{JobId: "j1", Epoch: placed.GetEpoch(), BytesDone: 5 << 20}

	// Renewals keep the job where it is.
	for range 5 {
		f.advance(time.Second)
		if resp := renew(t, s, "n2", lease); len(resp.GetLostJobs()) > 0 {
			t.Fatalf("n2 told it lost %v while renewing", resp.GetLostJobs())
		}
		renew(t, s, "n3")
		s.tick(context.Background())
		if j := job(t, f, "j1"); j.GetOwner() != "n2" || j.GetEpoch() != placed.GetEpoch() {
			t.Fatalf("job moved to %s while its owner renewed", j.GetOwner())
		}
	}
	// n2 falls silent: nothing moves until the full lease has passed.
	f.advance(DefaultLease)
	renew(t, s, "n3")
	s.tick(context.Background())
	if j := job(t, f, "j1"); j.GetOwner() != "n2" {
		t.Fatalf("job moved to %s before the lease ran out", j.GetOwner())
	}
	f.advance(time.Millisecond)
	s.tick(context.Background())
	j := job(t, f, "j1")
	if j.GetOwner() != "n3" || j.GetEpoch() <= placed.GetEpoch() {
		t.Fatalf("after the lease: owner %s epoch %d, want n3 with an epoch above %d", j.GetOwner(), j.GetEpoch(), placed.GetEpoch())
	}
	var lost bool
	for _, e := range j.GetHistory() {
		lost = lost || strings.Contains(e.GetMessage(), "owner n2 lost: lease expired") && strings.Contains(e.GetMessage(), "5242880 past its last checkpoint")
	}
	if !lost {
		t.Fatalf("history does not say why n2 lost the job and what it had copied: %v", j.GetHistory())
	}
	// The old owner, renewing again, hears it lost the job.
	if resp := renew(t, s, "n2", lease); len(resp.GetLostJobs()) != 1 || resp.GetLostJobs()[0] != "j1" {
		t.Fatalf("old owner's renewal answered lost %v, want [j1]", resp.GetLostJobs())
	}
}

func TestTakeoverWhenGossipSaysTheOwnerIsDead(t *testing.T) {
	f, s := newFixture(t)
	renew(t, s, "n2")
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	s.tick(context.Background())
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_ALIVE
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	renew(t, s, "n3")
	s.tick(context.Background())
	if j := job(t, f, "j1"); j.GetOwner() != "n3" {
		t.Fatalf("owner %s, want n3 once gossip says n2 is dead", j.GetOwner())
	}
}

func TestANewLeaderGrantsEveryoneAFullLease(t *testing.T) {
	f, s := newFixture(t)
	renew(t, s, "n2")
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	s.tick(context.Background())
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_ALIVE

	// Leadership moves away and back: the renewals the other leader got
	// are unknown here, so the new term starts every lease afresh.
	f.leader = false
	s.tick(context.Background())
	f.advance(10 * time.Second)
	f.leader = true
	s.tick(context.Background())
	renew(t, s, "n3")
	f.advance(DefaultLease)
	s.tick(context.Background())
	if j := job(t, f, "j1"); j.GetOwner() != "n2" {
		t.Fatalf("a new leader took the job from n2 (to %s) before a full lease", j.GetOwner())
	}
	f.advance(time.Millisecond)
	renew(t, s, "n3")
	s.tick(context.Background())
	if j := job(t, f, "j1"); j.GetOwner() != "n3" {
		t.Fatalf("owner %s, want n3 once the new leader's lease for n2 ran out", j.GetOwner())
	}
}

func TestRenewRefusals(t *testing.T) {
	_, s := newFixture(t)
	tests := []struct {
		name string
		req  *ferryv1.RenewLeaseRequest
		code codes.Code
	}{
		{"another cluster", &ferryv1.RenewLeaseRequest{ClusterId: "other", Node: "n2"}, codes.PermissionDenied},
		{"no node", &ferryv1.RenewLeaseRequest{ClusterId: "c1"}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Renew(context.Background(), tt.req); status.Code(err) != tt.code {
				t.Fatalf("got %v, want %v", err, tt.code)
			}
		})
	}
	t.Run("not the leader", func(t *testing.T) {
		f, s := newFixture(t)
		f.leader = false
		if _, err := s.Renew(context.Background(), &ferryv1.RenewLeaseRequest{ClusterId: "c1", Node: "n2"}); status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("got %v, want FailedPrecondition", err)
		}
	})
}

// A session whose node's lease lapses is ended FAILED with its cartridge
// home, within the lease; the copy that waited for the cartridge is placed.
func TestLostNdmpSessionEndsAndFreesItsCartridge(t *testing.T) {
	f, s := newFixture(t)
	f.must(t, &ferryv1.Command{Node: "n2", Op: &ferryv1.Command_MoveMedium{MoveMedium: &ferryv1.MoveMediumOp{Library: "lib1",
		From: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1},
		To:   &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 0}, DmaAddress: "10.0.0.5:1"}}})
	open := f.must(t, &ferryv1.Command{Node: "n2", Op: &ferryv1.Command_OpenNdmpSession{OpenNdmpSession: &ferryv1.OpenNdmpSessionOp{
		JobId: "s1", Session: &ferryv1.NdmpSession{DmaAddress: "10.0.0.5:1", Library: "lib1", Drive: 0, ReadWrite: true}}}})
	renew(t, s, "n2", &ferryv1.JobLease{JobId: "s1", Epoch: open.Job.GetEpoch()})
	renew(t, s, "n3")
	s.tick(context.Background())
	if j := job(t, f, "j1"); j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED ||
		!strings.Contains(j.GetStateReason(), "in use by NDMP session s1 from 10.0.0.5:1 on n2") {
		t.Fatalf("j1 %v: %q", j.GetState(), j.GetStateReason())
	}
	// n2 stops renewing; n3 goes on.
	f.advance(DefaultLease + time.Millisecond)
	renew(t, s, "n3")
	s.tick(context.Background())
	sess := job(t, f, "s1")
	if sess.GetState() != ferryv1.JobState_JOB_STATE_FAILED || !strings.HasPrefix(sess.GetStateReason(), "node n2 died; NDMP has no reconnect") {
		t.Fatalf("session %v: %q", sess.GetState(), sess.GetStateReason())
	}
	s.tick(context.Background())
	if j := job(t, f, "j1"); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || j.GetOwner() != "n3" {
		t.Fatalf("j1 after the session ended: %v on %q (%q)", j.GetState(), j.GetOwner(), j.GetStateReason())
	}
}

package iscsitarget

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/pr/prtest"
	"github.com/ferry-san/ferry/scsi/sbc"
	"github.com/ferry-san/ferry/scsi/sense"
)

// The target's tests run without reservations: fakeNode observes nothing.
func (f *fakeNode) OnApply(func(cluster.Applied)) func()                { return func() {} }
func (f *fakeNode) PeerApplied(context.Context, string) (uint64, error) { return 0, nil }
func (f *fakeNode) Name() string                                        { return "n1" }
func (f *fakeNode) Leader() uint64                                      { return 1 }
func (f *fakeNode) IsLeader() bool                                      { return true }
func (f *fakeNode) Members() []*ferryv1.Member                          { return nil }

// raftless is a cluster node without Raft: a command is applied at once,
// observers called as the apply loop calls them. Other nodes' commands are
// applied with from; their applied indexes are set with setPeer.
type raftless struct {
	mu      sync.Mutex
	fsm     *fsm.FSM
	obs     func(cluster.Applied)
	leader  uint64
	members []*ferryv1.Member
	peers   map[string]uint64
}

func newRaftless(t *testing.T) *raftless {
	t.Helper()
	n := &raftless{fsm: fsm.New(), leader: 1, peers: map[string]uint64{}}
	n.fsm.AddNode(1, &ferryv1.NodeInfo{Name: "n1", RaftId: 1, Site: "east"})
	for _, d := range []string{"db01", "db02"} {
		res, _ := n.from("n1", &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: d, Naa: naaOf(d), Path: "/san/" + d + ".img", SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	return n
}

func naaOf(disk string) string { return "30000000000000" + hex.EncodeToString([]byte(disk[3:])) }

func identity(disk string) sbc.Identity {
	naa, _ := hex.DecodeString(naaOf(disk))
	return sbc.Identity{NAA: naa, Serial: disk}
}

func (n *raftless) from(node string, cmd *ferryv1.Command) (fsm.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cmd.Time, cmd.Node = timestamppb.Now(), node
	idx := n.fsm.AppliedIndex() + 1
	res := n.fsm.Apply(idx, cmd)
	if n.obs != nil {
		n.obs(cluster.Applied{Index: idx, Command: cmd, Result: res})
	}
	return res, nil
}

func (n *raftless) Propose(_ context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	return n.from("n1", cmd)
}
func (n *raftless) FSM() *fsm.FSM                          { return n.fsm }
func (n *raftless) LinearizableRead(context.Context) error { return nil }
func (n *raftless) OnApply(fn func(cluster.Applied)) func() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.obs = fn
	return func() {}
}
func (n *raftless) Name() string { return "n1" }
func (n *raftless) Leader() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}
func (n *raftless) IsLeader() bool { return n.Leader() == 1 }
func (n *raftless) Members() []*ferryv1.Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.members
}
func (n *raftless) PeerApplied(_ context.Context, addr string) (uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peers[addr], nil
}

func (n *raftless) setPeer(addr string, applied uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.peers[addr] = applied
}

// deliveries records what the store hands the device server.
type deliveries struct {
	mu  sync.Mutex
	got []pr.Effect
	ids []string
}

func (d *deliveries) Deliver(id sbc.Identity, e pr.Effect) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, e)
	d.ids = append(d.ids, id.Serial)
}

func (d *deliveries) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got)
}

var (
	nexusA = pr.Nexus{Initiator: "iqn.1994-05.com.example:a,i,0x230000000001", TargetPort: 2}
	nexusB = pr.Nexus{Initiator: "iqn.1994-05.com.example:b,i,0x230000000002", TargetPort: 3}
)

var (
	prout = prtest.OutCDB
	keys  = prtest.Keys
)

func startReservations(t *testing.T, n *raftless, port uint16) (*reservations, *deliveries) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := newReservations(n, port, slog.New(slog.DiscardHandler))
	r.fenceWait = 300 * time.Millisecond
	d := &deliveries{}
	r.start(ctx, d)
	t.Cleanup(func() { r.close(); cancel() })
	return r, d
}

// reserveOp is a reservation command as another node proposes it.
func reserveOp(disk string, n pr.Nexus, cdb, params []byte) *ferryv1.Command {
	return &ferryv1.Command{Op: &ferryv1.Command_Reserve{Reserve: &ferryv1.ReserveOp{
		Disk: disk, Nexus: &ferryv1.PRNexus{Initiator: n.Initiator, TargetPort: uint32(n.TargetPort)}, Cdb: cdb, Parameters: params}}}
}

func TestReservationsFollowTheLog(t *testing.T) {
	n := newRaftless(t)
	r, d := startReservations(t, n, 2)
	ctx := context.Background()
	db01 := identity("db01")

	// A registers and reserves through this node.
	for _, c := range []struct{ cdb, params []byte }{{prout(0, 0), keys(0, 0xA)}, {prout(1, byte(pr.WriteExclusive)), keys(0xA, 0)}} {
		if eff, err := r.Apply(ctx, db01, nexusA, c.cdb, c.params); err != nil || len(eff.Abort)+len(eff.Attention) > 0 {
			t.Fatalf("Apply: %v, %v", eff, err)
		}
	}
	if st := r.State(db01); !st.Reserved || st.Holder != nexusA || st.Type != pr.WriteExclusive {
		t.Fatalf("state after reserve = %+v", st)
	}
	if st := r.State(identity("db02")); st.Reserved || len(st.Registrations) > 0 {
		t.Errorf("db02 = %+v, want nothing", st)
	}

	// A conflict comes back as pr.ErrConflict, a bad CDB as its sense,
	// an unknown LUN as LOGICAL UNIT NOT SUPPORTED.
	if _, err := r.Apply(ctx, db01, nexusB, prout(1, byte(pr.WriteExclusive)), keys(0xB, 0)); !errors.Is(err, pr.ErrConflict) {
		t.Errorf("unregistered reserve: %v, want a conflict", err)
	}
	var s *sense.Sense
	if _, err := r.Apply(ctx, db01, nexusA, prout(0x1F, 0), keys(0xA, 0)); !errors.As(err, &s) || s.Key != sense.IllegalRequest {
		t.Errorf("bad service action: %v, want ILLEGAL REQUEST", err)
	}
	unknown := sbc.Identity{NAA: []byte{0x30, 0, 0, 0, 0, 0, 0, 9}}
	if _, err := r.Apply(ctx, unknown, nexusA, prout(0, 0), keys(0, 1)); !errors.As(err, &s) || s.Code() != sense.LUNotSupported {
		t.Errorf("unknown LUN: %v", err)
	}

	// B registers and preempts A through another node: this node's cache
	// follows, and the Effect is delivered here for A's tasks.
	for _, c := range []struct{ cdb, params []byte }{{prout(0, 0), keys(0, 0xB)}, {prout(5, byte(pr.WriteExclusive)), keys(0xB, 0xA)}} {
		if res, _ := n.from("n2", reserveOp("db01", nexusB, c.cdb, c.params)); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if st := r.State(db01); st.Holder != nexusB {
		t.Errorf("holder after B's preempt elsewhere = %+v", st.Holder)
	}
	waitFor(t, "the preempt's effect delivered", func() bool { return d.count() == 1 })
	if got := d.got[0]; len(got.Abort) != 1 || got.Abort[0] != nexusA || d.ids[0] != "db01" {
		t.Errorf("delivered %+v to %v, want A's tasks aborted on db01", got, d.ids)
	}

	// A snapshot replaces the state: the cache reloads it.
	data, idx, err := n.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	other := newRaftless(t)
	if err := n.fsm.Restore(mustSnapshot(t, other.fsm), other.fsm.AppliedIndex()); err != nil {
		t.Fatal(err)
	}
	n.obs(cluster.Applied{Index: n.fsm.AppliedIndex()})
	if st := r.State(db01); st.Reserved || len(st.Registrations) > 0 {
		t.Errorf("after a snapshot without reservations: %+v", st)
	}
	if err := n.fsm.Restore(data, idx); err != nil {
		t.Fatal(err)
	}
	n.obs(cluster.Applied{Index: idx})
	if st := r.State(db01); st.Holder != nexusB {
		t.Errorf("after a snapshot with B's reservation: %+v", st)
	}
}

func mustSnapshot(t *testing.T, f *fsm.FSM) []byte {
	t.Helper()
	data, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReservationWaitsForPeers: a reservation command is answered once
// every live node serving iSCSI has applied it, or after fenceWait.
func TestReservationWaitsForPeers(t *testing.T) {
	n := newRaftless(t)
	n.members = []*ferryv1.Member{
		{Node: "n1", GrpcAddr: "n1:7000", IscsiPortal: "n1:3260", GossipState: ferryv1.GossipState_GOSSIP_STATE_ALIVE},
		{Node: "n2", GrpcAddr: "n2:7000", IscsiPortal: "n2:3260", GossipState: ferryv1.GossipState_GOSSIP_STATE_ALIVE},
		{Node: "n3", GrpcAddr: "n3:7000", IscsiPortal: "n3:3260", GossipState: ferryv1.GossipState_GOSSIP_STATE_DEAD},
		{Node: "n4", GrpcAddr: "n4:7000", GossipState: ferryv1.GossipState_GOSSIP_STATE_ALIVE}, // no portal
	}
	r, _ := startReservations(t, n, 2)
	r.fenceWait = 5 * time.Second
	db01 := identity("db01")
	target := n.fsm.AppliedIndex() + 1
	go func() {
		time.Sleep(200 * time.Millisecond)
		n.setPeer("n2:7000", target)
	}()
	start := time.Now()
	if _, err := r.Apply(context.Background(), db01, nexusA, prout(0, 0), keys(0, 0xA)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 4*time.Second {
		t.Errorf("answered after %v: before n2 applied it, or waited for the dead n3", took)
	}

	// A node that never applies it holds the answer back fenceWait only.
	r.fenceWait = 300 * time.Millisecond
	start = time.Now()
	if _, err := r.Apply(context.Background(), db01, nexusA, prout(1, byte(pr.WriteExclusive)), keys(0xA, 0)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("answered after %v, before fenceWait", took)
	}
}

// TestBusy: an iSCSI write is refused while a copy job writes the disk,
// and on a LUN with reservations while this node has no leader.
func TestBusy(t *testing.T) {
	n := newRaftless(t)
	n.fsm.AddNode(n.fsm.AppliedIndex()+1, &ferryv1.NodeInfo{Name: "m1", RaftId: 5, Site: "east", Mover: true})
	r, _ := startReservations(t, n, 2)
	db01, db02 := identity("db01"), identity("db02")
	spec := &ferryv1.JobSpec{Name: "db01 to db02",
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}, Blocks: 8},
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db02"}}, Blocks: 8}}
	mustApply(t, n, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: "j1", Spec: spec}}})
	if err := r.Busy(db02); err != nil {
		t.Errorf("queued copy: %v", err)
	}
	placed := mustApply(t, n, &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{JobId: "j1", Node: "m1"}}})
	if err := r.Busy(db02); !errors.Is(err, pr.ErrConflict) {
		t.Errorf("write to a copy's destination: %v, want a conflict", err)
	}
	if err := r.Busy(db01); err != nil {
		t.Errorf("write to a copy's source: %v", err)
	}
	mustApply(t, n, &ferryv1.Command{Op: &ferryv1.Command_FinishJob{FinishJob: &ferryv1.FinishJobOp{
		JobId: "j1", Epoch: placed.Job.GetEpoch(), State: ferryv1.JobState_JOB_STATE_FAILED, Error: &ferryv1.JobError{Message: "test"}}}})
	if err := r.Busy(db02); err != nil {
		t.Errorf("after the copy: %v", err)
	}

	if _, err := r.Apply(context.Background(), db01, nexusA, prout(0, 0), keys(0, 0xA)); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.leader = 0
	n.mu.Unlock()
	if err := r.Busy(db01); !errors.Is(err, pr.ErrConflict) {
		t.Errorf("registered LUN without a leader: %v", err)
	}
	if err := r.Busy(db02); err != nil {
		t.Errorf("LUN without reservations, no leader: %v", err)
	}
}

func mustApply(t *testing.T, n *raftless, cmd *ferryv1.Command) fsm.Result {
	t.Helper()
	res, _ := n.from("m1", cmd)
	if res.Err != nil {
		t.Fatalf("%v: %v", cmd, res.Err)
	}
	return res
}

// TestRESERVE6OfLostNexusReleased: at start a node releases the SPC-2
// reservations held through its own port; the leader those held through a
// dead node's port.
func TestRESERVE6OfLostNexusReleased(t *testing.T) {
	n := newRaftless(t)
	reserve6 := []byte{0x16, 0, 0, 0, 0, 0}
	through := func(port uint16) pr.Nexus { return pr.Nexus{Initiator: "iqn.c,i,0x1", TargetPort: port} }
	mustApply(t, n, reserveOp("db01", through(2), reserve6, nil))
	mustApply(t, n, reserveOp("db02", through(PortID(7)), reserve6, nil))
	n.members = []*ferryv1.Member{
		{Node: "n1", RaftId: 1, GossipState: ferryv1.GossipState_GOSSIP_STATE_ALIVE},
		{Node: "n7", RaftId: 7, GossipState: ferryv1.GossipState_GOSSIP_STATE_ALIVE},
	}
	r, _ := startReservations(t, n, 2)
	if st := r.State(identity("db01")); st.Legacy != nil {
		t.Errorf("db01's RESERVE(6) through this node's port outlived its restart: %+v", st.Legacy)
	}
	if st := r.State(identity("db02")); st.Legacy == nil {
		t.Fatal("db02's RESERVE(6) through a live node was released")
	}
	n.mu.Lock()
	n.members[1].GossipState = ferryv1.GossipState_GOSSIP_STATE_DEAD
	n.mu.Unlock()
	waitFor(t, "the dead node's RESERVE(6) released", func() bool { return r.State(identity("db02")).Legacy == nil })
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"

	"github.com/ferry-san/ferry/internal/freeport"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// testNode is a node with its gRPC server, run in-process on loopback.
type testNode struct {
	*Node
	cfg Config
	gs  *grpc.Server
}

// freePort returns a port free for both TCP and UDP, as memberlist needs.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := freeport.TCPAndUDP()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func testConfig(t *testing.T, name string) Config {
	return Config{
		NodeName:     name,
		DataDir:      filepath.Join(t.TempDir(), name),
		GossipPort:   freePort(t),
		TickInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// startNode starts a node on cfg (reusing its data dir and ports on a
// restart) and stops it when the test ends.
func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", cfg.GRPCAddr)
	if cfg.GRPCAddr == "" {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg.GRPCAddr = ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("start %s: %v", cfg.NodeName, err)
	}
	gs := grpc.NewServer(ServerOptions()...)
	ferryv1.RegisterRaftTransportServer(gs, n.Transport())
	go gs.Serve(ln)
	tn := &testNode{Node: n, cfg: cfg, gs: gs}
	t.Cleanup(tn.stop)
	return tn
}

var stopMu sync.Mutex

func (tn *testNode) stop() {
	stopMu.Lock()
	defer stopMu.Unlock()
	tn.gs.Stop()
	tn.Node.Stop()
}

func gossipAddr(n *testNode) string { return fmt.Sprintf("127.0.0.1:%d", n.cfg.GossipPort) }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startCluster(t *testing.T, size int, edit func(*Config)) []*testNode {
	t.Helper()
	var nodes []*testNode
	for i := range size {
		cfg := testConfig(t, fmt.Sprintf("n%d", i+1))
		if i > 0 {
			cfg.Join = []string{gossipAddr(nodes[0])}
		}
		if edit != nil {
			edit(&cfg)
		}
		nodes = append(nodes, startNode(t, cfg))
	}
	waitVoters(t, nodes[0], min(size, 5)-(1-min(size, 5)%2))
	return nodes
}

func waitVoters(t *testing.T, n *testNode, voters int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%d voters", voters), func() bool {
		return len(n.ConfState().GetVoters()) == voters
	})
}

func leaderOf(t *testing.T, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	eventually(t, 10*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.IsLeader() {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

func submit(ctx context.Context, n *testNode, key string) (*ferryv1.Job, error) {
	res, err := n.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{
		JobId:          uuid.NewString(),
		IdempotencyKey: key,
		Spec: &ferryv1.JobSpec{
			Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}},
			Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}}},
		},
	}}})
	if err != nil {
		return nil, err
	}
	return res.Job, res.Err
}

func TestMembershipGrowsToFiveVotersAndShrinksOnRemove(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	if got := len(nodes[0].ConfState().GetVoters()); got != 3 {
		t.Fatalf("3 nodes: %d voters, want 3", got)
	}
	cfg4 := testConfig(t, "n4")
	cfg4.Join = []string{gossipAddr(nodes[1])}
	n4 := startNode(t, cfg4)
	eventually(t, 30*time.Second, "n4 as a learner", func() bool {
		return slices.Contains(nodes[0].ConfState().GetLearners(), n4.ID())
	})
	if got := len(nodes[0].ConfState().GetVoters()); got != 3 {
		t.Fatalf("4 nodes: %d voters, want 3 (the fourth stays a learner)", got)
	}
	cfg5 := testConfig(t, "n5")
	cfg5.Join = []string{gossipAddr(nodes[2])}
	n5 := startNode(t, cfg5)
	waitVoters(t, nodes[0], 5)
	all := append(nodes, n4, n5)
	st := leaderOf(t, all).RaftStatus()
	if len(st.GetVoters()) != 5 || len(st.GetLearners()) != 0 {
		t.Fatalf("voters %v learners %v, want 5 voters", st.GetVoters(), st.GetLearners())
	}

	n5.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nodes[1].RemoveMember(ctx, "n5"); err != nil {
		t.Fatalf("remove n5: %v", err)
	}
	waitVoters(t, nodes[0], 4)
	eventually(t, 10*time.Second, "n5 gone from every member list", func() bool {
		for _, m := range nodes[0].Members() {
			if m.GetNode() == "n5" {
				return false
			}
		}
		return true
	})
	if err := nodes[0].RemoveMember(ctx, "nope"); err == nil {
		t.Fatal("removing an unknown member succeeded")
	}
}

func TestLaggingNodeCatchesUpFromSnapshot(t *testing.T) {
	nodes := startCluster(t, 3, func(c *Config) {
		c.SnapshotEntries = 40
		c.CatchUpEntries = 10
	})
	lagging := nodes[2]
	if lagging.IsLeader() {
		lagging = nodes[1]
	}
	lagging.stop()

	leader := leaderOf(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 200 {
		if _, err := submit(ctx, leader, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	first, _ := leader.store.FirstIndex()
	if first <= 2 {
		t.Fatalf("leader's log was not compacted (first index %d)", first)
	}

	back := startNode(t, lagging.cfg)
	eventually(t, 30*time.Second, "the restarted node to catch up", func() bool {
		return back.FSM().AppliedIndex() >= leader.FSM().AppliedIndex() && len(jobsOf(back)) == 200
	})
	if back.RaftStatus().GetSnapshotIndex() == 0 {
		t.Fatal("the lagging node caught up without installing a snapshot")
	}
}

func jobsOf(n *testNode) []*ferryv1.Job {
	jobs, _ := n.FSM().Jobs(fsmQueryAll)
	return jobs
}

func TestLeaderLossElectsAnotherAndKeepsCommittedJobs(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	leader := leaderOf(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		if _, err := submit(ctx, nodes[i%3], fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	leader.stop()
	var rest []*testNode
	for _, n := range nodes {
		if n != leader {
			rest = append(rest, n)
		}
	}
	next := leaderOf(t, rest)
	if next.ID() == leader.ID() {
		t.Fatal("the stopped leader is still the leader")
	}
	if _, err := submit(ctx, rest[0], "after"); err != nil {
		t.Fatalf("submit after leader loss: %v", err)
	}
	for _, n := range rest {
		if err := n.LinearizableRead(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(jobsOf(n)); got != 21 {
			t.Fatalf("%s has %d jobs, want 21", n.Name(), got)
		}
	}
}

func TestDataDirOfAnotherClusterIsRefused(t *testing.T) {
	a := startCluster(t, 1, nil)[0]
	b := startCluster(t, 1, func(c *Config) { c.NodeName = "b1" })[0]
	cfg := a.cfg
	a.stop()
	cfg.Join = []string{gossipAddr(b)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err == nil {
		n.Stop()
		t.Fatal("a node of cluster A started by joining cluster B")
	}
	if !errors.Is(err, ErrForeignCluster) {
		t.Fatalf("err = %v, want ErrForeignCluster", err)
	}

	cfg.Join = nil
	cfg.ClusterName = "other"
	if n, err := Start(ctx, cfg); !errors.Is(err, ErrForeignCluster) {
		if n != nil {
			n.Stop()
		}
		t.Fatalf("renamed cluster: err = %v, want ErrForeignCluster", err)
	}
}

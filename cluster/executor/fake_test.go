package executor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scheduler"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// leaderName is the proposer of the scheduler's decisions. It is not a
// registered node, so it never gets work.
const leaderName = "leader"

// errRenewalsFail is what a fake node's lease renewal returns while the
// test cuts it off from the leader.
var errRenewalsFail = errors.New("fake: the leader is unreachable")

// errPartitioned is what a partitioned node's proposals return.
var errPartitioned = errors.New("fake: partitioned from the cluster")

// fakeCluster is the replicated state every fake node sees: proposals are
// applied to one state machine, in order, as a Raft log would apply them,
// and a real scheduler leads it (placing jobs and answering renewals).
type fakeCluster struct {
	fsm   *fsm.FSM
	sched *scheduler.Scheduler

	// hook, if set, runs before a proposal is applied; an error fails the
	// proposal as an unreachable leader would. It may block.
	hook atomic.Pointer[func(node string, cmd *ferryv1.Command) error]

	mu    sync.Mutex
	index uint64
	subs  map[int]subscriber
	next  int
	// gossip is what gossip says of each node; a node it does not list is
	// unknown to it.
	gossip map[string]ferryv1.GossipState
	// proposed counts applied proposals by the type of their op.
	proposed map[string]int
}

// clusterOptions shape a fake cluster.
type clusterOptions struct {
	// nodes are registered, in order, on site "east" as movers. Default n1.
	nodes []string
	// alive are the nodes gossip reports alive, the ones the scheduler
	// places on. Default: all.
	alive []string
	// noScheduler leaves jobs queued until a test places them; renewals
	// are still answered.
	noScheduler bool
	// drive is libA's drive model (setup).
	drive *ferryv1.Library
}

func newCluster(t *testing.T, opt clusterOptions) *fakeCluster {
	t.Helper()
	if len(opt.nodes) == 0 {
		opt.nodes = []string{"n1"}
	}
	if opt.alive == nil {
		opt.alive = opt.nodes
	}
	c := &fakeCluster{fsm: fsm.New(), subs: map[int]subscriber{}, gossip: map[string]ferryv1.GossipState{}, proposed: map[string]int{}}
	for _, n := range opt.alive {
		c.gossip[n] = ferryv1.GossipState_GOSSIP_STATE_ALIVE
	}
	for i, name := range opt.nodes {
		c.mu.Lock()
		c.index++
		c.fsm.AddNode(c.index, &ferryv1.NodeInfo{Name: name, RaftId: uint64(i + 1), Site: "east", Mover: true})
		c.mu.Unlock()
	}
	// The lease is long: takeovers in these tests are the tests' own
	// doing, never the scheduler's.
	c.sched = scheduler.New(c.leader(), scheduler.Config{Interval: 20 * time.Millisecond, Lease: time.Minute,
		Logger: slog.New(slog.DiscardHandler)})
	if !opt.noScheduler {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.sched.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return c
}

// setGossip changes what gossip says of a node.
func (c *fakeCluster) setGossip(node string, g ferryv1.GossipState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gossip[node] = g
}

// node returns the view of the cluster from the named node.
func (c *fakeCluster) node(name string) *fakeNode { return &fakeNode{c: c, name: name} }

// leader returns the view the scheduler runs on.
func (c *fakeCluster) leader() *fakeNode { return &fakeNode{c: c, name: leaderName, leads: true} }

func (c *fakeCluster) propose(node string, cmd *ferryv1.Command) (fsm.Result, error) {
	if h := c.hook.Load(); h != nil {
		if err := (*h)(node, cmd); err != nil {
			return fsm.Result{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	cmd.Time, cmd.Node = timestamppb.Now(), node
	res := c.fsm.Apply(c.index, cmd)
	c.proposed[fmt.Sprintf("%T", cmd.GetOp())]++
	for _, s := range c.subs {
		if s.node.frozen.Load() == nil {
			s.notify()
		}
	}
	return res, nil
}

// subscriber is a node's WatchJobs channel.
type subscriber struct {
	node *fakeNode
	ch   chan struct{}
}

func (s subscriber) notify() {
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// proposals returns how many proposals of the op's type were applied.
func (c *fakeCluster) proposals(op any) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proposed[fmt.Sprintf("%T", op)]
}

func (c *fakeCluster) setHook(h func(node string, cmd *ferryv1.Command) error) {
	if h == nil {
		c.hook.Store(nil)
		return
	}
	c.hook.Store(&h)
}

// must proposes cmd as the leader and fails the test if it is refused.
func (c *fakeCluster) must(t *testing.T, cmd *ferryv1.Command) fsm.Result {
	t.Helper()
	res, err := c.propose(leaderName, cmd)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("%T: %v", cmd.GetOp(), err)
	}
	return res
}

func (c *fakeCluster) job(t *testing.T, id string) *ferryv1.Job {
	t.Helper()
	j, ok := c.fsm.Job(id)
	if !ok {
		t.Fatalf("no job %s", id)
	}
	return j
}

// fakeNode is one node's view of a fake cluster: what the executor (and,
// for the leader's view, the scheduler) needs of *cluster.Node.
type fakeNode struct {
	c     *fakeCluster
	name  string
	leads bool
	// failRenewals cuts the node off from the leader's lease service.
	failRenewals atomic.Bool
	// catchingUp makes the node report that it has not applied the whole
	// log yet.
	catchingUp atomic.Bool
	// frozen, while the node lags (or is partitioned), is the state it
	// last saw.
	frozen atomic.Pointer[fsm.FSM]
	// cut, while the node is partitioned, fails its proposals and renewals.
	cut atomic.Bool
}

// partition cuts the node off: it keeps the state it has, hears of no
// change, and can neither propose nor renew its lease.
func (n *fakeNode) partition(t *testing.T) {
	t.Helper()
	n.lag(t)
	n.cut.Store(true)
}

// lag stops the node applying the log: it keeps the state it has and hears
// of no change, but still reaches the leader.
func (n *fakeNode) lag(t *testing.T) {
	t.Helper()
	data, index, err := n.c.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	seen := fsm.New()
	if err := seen.Restore(data, index); err != nil {
		t.Fatal(err)
	}
	n.frozen.Store(seen)
}

// heal reconnects a partitioned or lagging node, which catches up at once.
func (n *fakeNode) heal() {
	n.cut.Store(false)
	n.frozen.Store(nil)
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	for _, s := range n.c.subs {
		if s.node == n {
			s.notify()
		}
	}
}

func (n *fakeNode) Name() string      { return n.name }
func (n *fakeNode) ClusterID() string { return "test-cluster" }
func (n *fakeNode) IsLeader() bool    { return n.leads }
func (n *fakeNode) FSM() *fsm.FSM {
	if seen := n.frozen.Load(); seen != nil {
		return seen
	}
	return n.c.fsm
}
func (n *fakeNode) Ready() bool { return !n.catchingUp.Load() }

// LinearizableRead fails while the node is partitioned, as Raft's
// ReadIndex cannot reach a quorum then.
func (n *fakeNode) LinearizableRead(context.Context) error {
	if n.cut.Load() {
		return errPartitioned
	}
	return nil
}

func (n *fakeNode) Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	if err := ctx.Err(); err != nil {
		return fsm.Result{}, err
	}
	if n.cut.Load() {
		return fsm.Result{}, errPartitioned
	}
	return n.c.propose(n.name, cmd)
}

func (n *fakeNode) Members() []*ferryv1.Member {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	var out []*ferryv1.Member
	for name, g := range n.c.gossip {
		out = append(out, &ferryv1.Member{Node: name, GossipState: g})
	}
	return out
}

func (n *fakeNode) WatchJobs() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	id := n.c.next
	n.c.next++
	n.c.subs[id] = subscriber{node: n, ch: ch}
	return ch, func() {
		n.c.mu.Lock()
		defer n.c.mu.Unlock()
		delete(n.c.subs, id)
	}
}

// RenewLease asks the scheduler directly, as the leader's LeaseService
// would be asked over gRPC.
func (n *fakeNode) RenewLease(ctx context.Context, jobs []*ferryv1.JobLease) (*ferryv1.RenewLeaseResponse, error) {
	if n.failRenewals.Load() || n.cut.Load() {
		return nil, errRenewalsFail
	}
	return n.c.sched.Renew(ctx, &ferryv1.RenewLeaseRequest{ClusterId: n.ClusterID(), Node: n.name, Jobs: jobs})
}

// fixture is a cluster with a 4 MiB disk of random bytes (db01), an empty
// one (db02) and a labelled cartridge in a two-drive library.
type fixture struct {
	*fakeCluster
	data []byte
	dir  string
	tape string // the cartridge image
}

const (
	barcode  = "A00001L9"
	diskSize = 4 << 20
)

func setup(t *testing.T, opt clusterOptions) *fixture {
	t.Helper()
	f := &fixture{fakeCluster: newCluster(t, opt), dir: t.TempDir(), data: make([]byte, diskSize)}
	rand.Read(f.data)
	for i, name := range []string{"db01", "db02"} {
		path := filepath.Join(f.dir, name+".img")
		if err := disk.Create(path, diskSize, 512); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := os.WriteFile(path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: name, Naa: "300000000000000" + string(rune('1'+i)), Path: path, SizeBytes: diskSize, BlockSize: 512, Site: "east"}}}})
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "libA", Dir: f.dir, Slots: 2, Drives: 2, IeSlots: 1, CartridgeCapacityBytes: 1 << 30,
		DriveRateBytesPerSecond: opt.drive.GetDriveRateBytesPerSecond(), LoadTimeMillis: opt.drive.GetLoadTimeMillis(),
		LocateRateBytesPerSecond: opt.drive.GetLocateRateBytesPerSecond()}}}})
	f.tape = f.addCartridge(t, barcode, "3000000000000009", 1)
	return f
}

// addCartridge labels a new cartridge and adds it to the library in the
// slot, returning its image's path.
func (f *fixture) addCartridge(t *testing.T, barcode, naa string, slot uint32) string {
	t.Helper()
	return f.addCartridgeTo(t, "libA", f.dir, barcode, naa, slot, 1<<30)
}

// addCartridgeTo labels a new cartridge of a capacity in dir and adds it
// to the library's slot (a pool listing its barcode takes it).
func (f *fixture) addCartridgeTo(t *testing.T, library, dir, barcode, naa string, slot uint32, capacity uint64) string {
	t.Helper()
	path := filepath.Join(dir, barcode+".tap")
	c, err := tape.Create(path, tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.WriteLabel(c, barcode); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
		Barcode: barcode, Library: library, Naa: naa, Path: path, HomeSlot: slot, CapacityBytes: capacity,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: slot}}}}})
	return path
}

func endpoint(kind ferryv1.DeviceKind, name string) *ferryv1.Endpoint {
	return &ferryv1.Endpoint{Kind: kind, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}}
}

func diskEP(name string) *ferryv1.Endpoint {
	return endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, name)
}
func tapeEP() *ferryv1.Endpoint { return endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, barcode) }

// submit submits a copy from src to dst that verifies what it wrote.
func (f *fixture) submit(t *testing.T, id string, src, dst *ferryv1.Endpoint) {
	t.Helper()
	f.submitSpec(t, id, &ferryv1.JobSpec{Source: src, Destination: dst, Options: &ferryv1.JobOptions{Verify: true}})
}

func (f *fixture) submitSpec(t *testing.T, id string, spec *ferryv1.JobSpec) {
	t.Helper()
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: id, Spec: spec}}})
}

// eventually polls cond until it holds, failing the test after a generous
// deadline with what describe says.
func eventually(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			msg := what
			if describe != nil {
				msg += ": " + describe()
			}
			t.Fatalf("timed out waiting: %s", msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) waitState(t *testing.T, id string, want ferryv1.JobState) *ferryv1.Job {
	t.Helper()
	var j *ferryv1.Job
	eventually(t, fmt.Sprintf("job %s %v", id, want), func() bool {
		j, _ = f.fsm.Job(id)
		if j.GetState() != want && ended(j) {
			t.Fatalf("job %s ended %v (%s), want %v", id, j.GetState(), j.GetError().GetMessage(), want)
		}
		return j.GetState() == want
	}, func() string { return fmt.Sprintf("it is %v (%s)", j.GetState(), j.GetError().GetMessage()) })
	return j
}

func ended(j *ferryv1.Job) bool {
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}

// waitCheckpoint waits until the running job has a checkpoint past its
// start.
func (f *fixture) waitCheckpoint(t *testing.T, id string) *ferryv1.Job {
	t.Helper()
	var j *ferryv1.Job
	eventually(t, "a checkpoint of "+id, func() bool {
		j, _ = f.fsm.Job(id)
		if ended(j) {
			t.Fatalf("job %s ended before a checkpoint: %v (%s)", id, j.GetState(), j.GetError().GetMessage())
		}
		return j.GetProgress().GetCheckpointOffset() > 0
	}, nil)
	return j
}

// runner is an executor running under a test.
type runner struct {
	*Executor
	reg  *prometheus.Registry
	stop func()
}

func run(t *testing.T, n *fakeNode, cfg Config) *runner {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Rescan == 0 {
		cfg.Rescan = 20 * time.Millisecond
	}
	if cfg.RenewInterval == 0 {
		cfg.RenewInterval = 20 * time.Millisecond
	}
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	e := New(n, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return &runner{Executor: e, reg: reg, stop: stop}
}

// isRunning reports whether a copy of the job is under way here.
func (e *Executor) isRunning(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.running[id]
	return ok
}

// counter returns the sum of the series of the metric family that carry
// the label pairs given (name, value, ...); for a histogram, the number of
// observations.
func (r *runner) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m.GetLabel(), labels) {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				sum += float64(h.GetSampleCount())
				continue
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabels(have []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if !slices.ContainsFunc(have, func(lp *dto.LabelPair) bool { return lp.GetName() == want[i] && lp.GetValue() == want[i+1] }) {
			return false
		}
	}
	return true
}

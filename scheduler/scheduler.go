package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Node is what the scheduler needs of its cluster node; *cluster.Node has it.
type Node interface {
	Name() string
	ClusterID() string
	IsLeader() bool
	FSM() *fsm.FSM
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	// Members is every node with its gossip state.
	Members() []*ferryv1.Member
	// WatchJobs signals after any job changes.
	WatchJobs() (<-chan struct{}, func())
}

// Defaults of Config.
const (
	// DefaultLease is how long a lease lasts on the leader's clock after it
	// received a renewal. It bounds how long a job stalls when its owner
	// dies without gossip noticing first.
	DefaultLease = 1500 * time.Millisecond
	// DefaultInterval is how often the leader re-plans without being told
	// that a job changed.
	DefaultInterval = 100 * time.Millisecond
	proposeTimeout  = 5 * time.Second
	// minGap spaces rounds triggered by job changes: under a burst of
	// submissions one round covers many of them.
	minGap = 20 * time.Millisecond
)

// Config tunes the scheduler. Zero values take the defaults. Every node
// should run with the same settings: any of them may become the leader.
type Config struct {
	Place PlaceConfig
	// Lease is DefaultLease by default. Owners stop writing well before
	// it runs out (see executor.Config.RenewDeadline).
	Lease time.Duration
	// Interval is DefaultInterval by default.
	Interval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the scheduler's metrics; nil keeps them unexported.
	Metrics *Metrics
	// now is the clock; tests replace it.
	now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Scheduler places jobs and takes over lost ones while its node leads, and
// answers lease renewals (it is the LeaseService).
type Scheduler struct {
	ferryv1.UnimplementedLeaseServiceServer

	node Node
	cfg  Config
	log  *slog.Logger

	mu sync.Mutex
	// leases is nil while this node does not lead.
	leases *leaseTable
	// takingOver are jobs whose takeover is being proposed: their owner's
	// renewals already hear they are lost.
	takingOver map[string]bool
	// stuck remembers the last reason logged for a lost job that cannot be
	// taken over, so that the log says it once, not every round.
	stuck map[string]string

	// The rest belongs to the goroutine that runs rounds (tick).
	// track keeps the jobs and devices while this node leads.
	track *tracker
	// last is what the last round decided on, beside the tracked state.
	last roundInputs
	// retry asks for a round although nothing changed: a proposal of the
	// last one failed without the state changing.
	retry bool
	// planned counts the rounds that ran Place, and decided the queued
	// jobs they decided, for tests.
	planned, decided int
}

// New returns a scheduler for node; Run starts it.
func New(node Node, cfg Config) *Scheduler {
	cfg = cfg.withDefaults()
	return &Scheduler{node: node, cfg: cfg, log: cfg.Logger.With("component", "scheduler"), takingOver: map[string]bool{}, stuck: map[string]string{}}
}

// Run plans until ctx ends: after every job change, and every Interval.
func (s *Scheduler) Run(ctx context.Context) {
	changed, stop := s.node.WatchJobs()
	defer stop()
	ticker := time.NewTicker(s.cfg.Interval)
	defer ticker.Stop()
	for {
		s.tick(ctx)
		last := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-ticker.C:
		}
		if wait := minGap - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// table returns the lease table while this node leads, starting a new one
// when leadership began; nil otherwise.
func (s *Scheduler) tableLocked(now time.Time) *leaseTable {
	if !s.node.IsLeader() {
		if s.leases != nil {
			s.log.Info("no longer the leader: scheduling stops here")
		}
		s.leases = nil
		return nil
	}
	if s.leases == nil {
		s.log.Info("leading: every node holds a lease from now", "lease", s.cfg.Lease)
		s.leases = newLeaseTable(s.cfg.Lease, now)
	}
	return s.leases
}

func (s *Scheduler) tick(ctx context.Context) {
	now := s.cfg.now()
	s.mu.Lock()
	leases := s.tableLocked(now)
	if leases == nil {
		s.mu.Unlock()
		// What the tracker keeps is the leader's: a follower holds nothing.
		s.track, s.last = nil, roundInputs{}
		s.cfg.Metrics.leader.Set(0)
		return
	}
	s.cfg.Metrics.leader.Set(1)
	if s.track == nil {
		s.track = newTracker(s.node.FSM())
	}
	changed := s.track.update()
	in := s.inputs(leases, now)
	s.mu.Unlock()
	retry := s.retry
	if s.last.nodes == nil || !in.equal(s.last) {
		// The nodes or the lost jobs changed: any wait may end.
		s.track.wakeAll()
		changed = true
	}
	if !changed && !retry || len(s.track.candidates) == 0 && len(in.lost) == 0 && !retry {
		// Nothing placement decides on changed, or nothing woke: the
		// same round would make the same decisions, all of them waits
		// already recorded.
		s.last = in
		s.cfg.Metrics.rounds.WithLabelValues("skipped").Inc()
		return
	}
	s.last, s.retry = in, false
	s.planned++
	s.cfg.Metrics.rounds.WithLabelValues("planned").Inc()
	v := s.view(in)
	for id := range s.stuck {
		if _, open := v.jobs[id]; !open {
			delete(s.stuck, id) // ended, or cancelled, while it could not be taken over
		}
	}
	for _, jv := range v.Jobs {
		if jv.Lost && fsm.IsNDMP(jv.Job) {
			s.endSession(ctx, jv)
		}
	}
	var waits []*ferryv1.WaitJobOp
	var places []Decision
	decisions := Place(s.cfg.Place, v.View)
	s.decided += len(decisions)
	for _, d := range decisions {
		if d.Node == "" {
			if w := s.waitFor(d, v); w != nil {
				waits = append(waits, w)
			}
			continue
		}
		places = append(places, d)
	}
	// After waitFor, which reads the jobs that settle drops as it parks
	// them; the placed stay.
	s.track.settle(decisions)
	// The decisions of one round never contend with each other (the
	// planner booked what each takes), and the state machine re-checks
	// each: they go in batches of one entry each, several batches at once.
	sem := make(chan struct{}, maxProposing)
	var wg sync.WaitGroup
	for len(places) > 0 && ctx.Err() == nil {
		batch := places[:min(len(places), maxPlacesPerOp)]
		places = places[len(batch):]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.carryOut(ctx, batch, v)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		s.retry = true
		return
	}
	if s.track.bulk >= bigRebuild {
		// Reading a large backlog at once (this node just became the
		// leader, or every parked job woke) copied every job once: give
		// that memory back now rather than keep the peak for as long as
		// the node leads.
		s.track.bulk = 0
		defer debug.FreeOSMemory()
	}
	for len(waits) > 0 {
		batch := waits[:min(len(waits), maxWaitsPerOp)]
		waits = waits[len(batch):]
		pctx, cancel := context.WithTimeout(ctx, proposeTimeout)
		_, err := s.node.Propose(pctx, &ferryv1.Command{Op: &ferryv1.Command_WaitJobs{WaitJobs: &ferryv1.WaitJobsOp{Waits: batch}}})
		cancel()
		if err != nil {
			s.retry = true
			// Their reasons are not recorded: decide them again.
			for _, w := range batch {
				s.track.unpark(w.GetJobId())
			}
			s.log.Debug("recording why jobs wait", "jobs", len(batch), "err", err)
		}
	}
}

// bigRebuild is the backlog above which a rebuild's garbage is handed back
// to the operating system at once.
const bigRebuild = 10000

// maxPlacesPerOp is the most placements one PlaceJobsOp carries, and
// maxProposing the most such entries of one round proposed at once.
const (
	maxPlacesPerOp = 256
	maxProposing   = 4
)

// maxWaitsPerOp is the most wait reasons one WaitJobsOp carries (the state
// machine's limit).
const maxWaitsPerOp = 4096

// waitFor turns a decision to leave a job waiting into a reason to record,
// if the reason changed. A lost running job that cannot be taken over yet
// stays as it is: only a queued job has a wait reason.
func (s *Scheduler) waitFor(d Decision, v builtView) *ferryv1.WaitJobOp {
	j := v.jobs[d.JobID].Job
	if j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
		if s.stuck[d.JobID] != d.Reason {
			s.stuck[d.JobID] = d.Reason
			s.log.Warn("lost job cannot be taken over yet", "job", d.JobID, "reason", d.Reason)
		}
		return nil
	}
	if d.Reason == j.GetStateReason() {
		return nil
	}
	return &ferryv1.WaitJobOp{JobId: d.JobID, Reason: d.Reason}
}

// builtView is a View with what carrying out its decisions needs.
type builtView struct {
	View
	jobs map[string]JobView
	// lostKind says why each lost job is lost: "lease", "gossip" or "removed".
	lostKind map[string]string
}

// roundInputs is what a round decides on beside the tracked state: the
// nodes as gossip and the leases show them, and which running jobs are
// lost and why.
type roundInputs struct {
	nodes []NodeView
	lost  map[string]lostJob
	// live is what the owners of running jobs last reported copying. It
	// weighs in a round but does not start one: renewals come four times
	// a second from every mover.
	live map[string]uint64
}

type lostJob struct{ reason, kind string }

func (a roundInputs) equal(b roundInputs) bool {
	return slices.EqualFunc(a.nodes, b.nodes, sameToPlacement) && maps.Equal(a.lost, b.lost)
}

// inputs reads the nodes from the state machine, gossip and the lease
// table, and finds the lost running jobs. Called with s.mu held.
func (s *Scheduler) inputs(leases *leaseTable, now time.Time) roundInputs {
	gossip := map[string]ferryv1.GossipState{}
	for _, m := range s.node.Members() {
		gossip[m.GetNode()] = m.GetGossipState()
	}
	in := roundInputs{nodes: []NodeView{}, lost: map[string]lostJob{}, live: map[string]uint64{}}
	known := map[string]bool{}
	for _, n := range s.node.FSM().Nodes() {
		known[n.GetName()] = true
		g := gossip[n.GetName()]
		alive := g == ferryv1.GossipState_GOSSIP_STATE_ALIVE || g == ferryv1.GossipState_GOSSIP_STATE_SUSPECT
		in.nodes = append(in.nodes, NodeView{
			Name: n.GetName(), Site: n.GetSite(), Reach: n.GetReach(), Mover: n.GetMover(),
			Eligible: alive && !leases.expired(n.GetName(), now),
		})
	}
	for id := range s.track.running {
		j := s.track.jobs[id].Job
		owner := j.GetOwner()
		if r, ok := leases.reported[id]; ok && r.epoch == j.GetEpoch() && r.node == owner {
			in.live[id] = r.bytes
		}
		switch g := gossip[owner]; {
		case !known[owner]:
			in.lost[id] = lostJob{fmt.Sprintf("owner %s lost: removed from the cluster", owner), "removed"}
		case g == ferryv1.GossipState_GOSSIP_STATE_DEAD || g == ferryv1.GossipState_GOSSIP_STATE_LEFT:
			in.lost[id] = lostJob{fmt.Sprintf("owner %s lost: gossip says %s", owner, gossipWord(g)), "gossip"}
		case leases.expired(owner, now):
			in.lost[id] = lostJob{fmt.Sprintf("owner %s lost: lease expired (no renewal for %v)", owner, s.cfg.Lease), "lease"}
		}
	}
	return in
}

// view puts the tracked state and the round's inputs together for Place:
// the running jobs (they hold what they use) and the queued jobs the round
// decides (the tracker's candidates), not the parked backlog.
func (s *Scheduler) view(in roundInputs) builtView {
	t := s.track
	v := builtView{jobs: t.jobs, lostKind: map[string]string{}}
	v.Nodes = in.nodes
	v.Jobs = make([]JobView, 0, len(t.running)+len(t.candidates))
	add := func(id string) {
		jv := t.jobs[id]
		if l, ok := in.lost[id]; ok {
			jv.Lost, jv.LostReason = true, l.reason
			v.lostKind[id] = l.kind
		}
		jv.LiveBytesDone = in.live[id]
		v.Jobs = append(v.Jobs, jv)
	}
	for id := range t.running {
		add(id)
	}
	for id := range t.candidates {
		add(id)
	}
	v.DiskIndex, v.Libraries, v.Cartridges = t.disks, t.libraries, t.cartridges
	v.DriveRates = t.driveRates
	return v
}

func gossipWord(g ferryv1.GossipState) string {
	if g == ferryv1.GossipState_GOSSIP_STATE_LEFT {
		return "it left"
	}
	return "dead"
}

// endSession ends an NDMP session whose node is gone and sends its
// cartridge home: the DMA's connection died with the node, and NDMP has no
// reconnect, so no other node can carry it on. A copy that waits for the
// cartridge or drive is placed in the next round.
func (s *Scheduler) endSession(ctx context.Context, jv JobView) {
	j := jv.Job
	pctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	reason := fmt.Sprintf("node %s died; NDMP has no reconnect (%s)", j.GetOwner(), jv.LostReason)
	err := s.propose(pctx, &ferryv1.Command{Op: &ferryv1.Command_EndNdmpSession{EndNdmpSession: &ferryv1.EndNdmpSessionOp{
		JobId: j.GetId(), Epoch: j.GetEpoch(), Reason: reason}}})
	switch {
	case err != nil && errors.Is(err, fsm.ErrFenced):
		s.log.Debug("ending NDMP session overtaken by events", "job", j.GetId(), "err", err)
	case err != nil:
		s.retry = true
		s.log.Warn("could not end the NDMP session of a lost node", "job", j.GetId(), "node", j.GetOwner(), "err", err)
	default:
		s.log.Warn("NDMP session ended: its node is gone", "job", j.GetId(), "node", j.GetOwner(), "reason", jv.LostReason)
	}
}

// carryOut proposes a batch of placements and takeovers in one entry
// (PlaceJobsOp). The state machine re-checks each on its own, so a
// decision overtaken by events is refused and re-planned on the next tick
// while the others stand.
func (s *Scheduler) carryOut(ctx context.Context, ds []Decision, v builtView) {
	ops := make([]*ferryv1.PlaceJobOp, len(ds))
	s.mu.Lock()
	for i, d := range ds {
		ops[i] = &ferryv1.PlaceJobOp{JobId: d.JobID, Node: d.Node, FromEpoch: d.FromEpoch, Tapes: d.Tapes, Reason: d.Reason}
		if d.FromEpoch != 0 {
			// The owner's renewals hear it lost the job from now on.
			s.takingOver[d.JobID] = true
			if s.leases != nil {
				ops[i].LostBytesDone = s.leases.reportedBytes(d.JobID)
			}
		}
	}
	s.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	res, err := s.node.Propose(pctx, &ferryv1.Command{Op: &ferryv1.Command_PlaceJobs{PlaceJobs: &ferryv1.PlaceJobsOp{Places: ops}}})
	if err == nil {
		err = res.Err
	}
	for i, d := range ds {
		e := err
		if e == nil && i < len(res.Batch) {
			e = res.Batch[i].Err
		}
		s.outcome(d, ops[i], v, e)
	}
	s.mu.Lock()
	for _, d := range ds {
		if d.FromEpoch != 0 {
			delete(s.takingOver, d.JobID)
			if s.leases != nil {
				s.leases.forget(d.JobID)
			}
		}
	}
	s.mu.Unlock()
}

// outcome records what became of one placement or takeover.
func (s *Scheduler) outcome(d Decision, op *ferryv1.PlaceJobOp, v builtView, err error) {
	j := v.jobs[d.JobID].Job
	log := s.log.With("job", d.JobID)
	switch {
	case err != nil && errors.Is(err, fsm.ErrFenced):
		log.Debug("placement overtaken by events", "err", err)
	case err != nil && errors.Is(err, fsm.ErrBusy):
		// The state machine saw a conflict placement did not: try again
		// next round even if nothing changes.
		s.mu.Lock()
		s.retry = true
		s.mu.Unlock()
		log.Debug("placement overtaken by events", "err", err)
	case err != nil:
		s.mu.Lock()
		s.retry = true
		s.mu.Unlock()
		log.Warn("could not place job", "node", d.Node, "err", err)
	case d.FromEpoch != 0:
		s.mu.Lock()
		delete(s.stuck, d.JobID)
		s.mu.Unlock()
		s.cfg.Metrics.failovers.WithLabelValues(v.lostKind[d.JobID]).Inc()
		if b, cp := op.GetLostBytesDone(), j.GetProgress().GetCheckpointOffset(); b > cp {
			s.cfg.Metrics.recopy.Observe(float64(b - cp))
		} else {
			s.cfg.Metrics.recopy.Observe(0)
		}
		log.Info("job taken over", "from", j.GetOwner(), "to", d.Node, "reason", d.Reason,
			"checkpoint", j.GetProgress().GetCheckpointOffset(), "reported", op.GetLostBytesDone())
	default:
		s.cfg.Metrics.placements.Inc()
		log.Info("job placed", "node", d.Node, "tapes", len(d.Tapes))
	}
}

func (s *Scheduler) propose(ctx context.Context, cmd *ferryv1.Command) error {
	res, err := s.node.Propose(ctx, cmd)
	if err != nil {
		return err
	}
	return res.Err
}

// Renew is the LeaseService: an owner renews its lease and hears which of
// its jobs it lost.
func (s *Scheduler) Renew(ctx context.Context, req *ferryv1.RenewLeaseRequest) (*ferryv1.RenewLeaseResponse, error) {
	if req.GetClusterId() != s.node.ClusterID() {
		return nil, status.Errorf(codes.PermissionDenied, "cluster_id %q is not this cluster's (%q)", req.GetClusterId(), s.node.ClusterID())
	}
	if req.GetNode() == "" {
		return nil, status.Error(codes.InvalidArgument, "node: required")
	}
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	leases := s.tableLocked(now)
	if leases == nil {
		s.cfg.Metrics.renewals.WithLabelValues("not_leader").Inc()
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not the leader", s.node.Name())
	}
	leases.renew(req.GetNode(), now, req.GetJobs())
	resp := &ferryv1.RenewLeaseResponse{LeaseMillis: uint32(s.cfg.Lease.Milliseconds()), Leader: s.node.Name()}
	reg := s.node.FSM()
	for _, l := range req.GetJobs() {
		j, ok := reg.Job(l.GetJobId())
		if !ok || j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || j.GetOwner() != req.GetNode() ||
			j.GetEpoch() != l.GetEpoch() || s.takingOver[l.GetJobId()] {
			resp.LostJobs = append(resp.LostJobs, l.GetJobId())
		}
	}
	s.cfg.Metrics.renewals.WithLabelValues("granted").Inc()
	return resp, nil
}

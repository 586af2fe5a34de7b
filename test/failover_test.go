package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// maxElection is how soon after the leader's death a successor must lead.
const maxElection = 3 * time.Second

// TestLeaderKilledDuringSubmissions submits 1,000 jobs from 32 clients,
// SIGKILLs the leader part way, and checks that a new leader comes within
// maxElection, that every acknowledged job is held exactly once by both
// survivors, and that the killed node catches up after a restart.
func TestLeaderKilledDuringSubmissions(t *testing.T) {
	const (
		jobs    = 1000
		workers = 32
		killAt  = 300 // acknowledgements before the kill
	)
	began := time.Now()
	c := startCluster(t, 3)
	t.Logf("cluster ready in %v", time.Since(began).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := nodeNames(3)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	survivors := others(names, leader)

	var (
		mu    sync.Mutex
		acked = map[string]string{} // idempotency key → job id
		acks  atomic.Int64
		retry atomic.Int64
		kill  = make(chan struct{})
	)
	work := make(chan int, jobs)
	for i := range jobs {
		work <- i
	}
	close(work)

	type electionResult struct {
		leader  string
		elapsed time.Duration
		err     error
	}
	election := make(chan electionResult, 1)
	go func() {
		select {
		case <-kill:
		case <-ctx.Done():
			election <- electionResult{err: ctx.Err()}
			return
		}
		if err := c.Kill(leader); err != nil {
			election <- electionResult{err: err}
			return
		}
		killed := time.Now()
		lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
		defer lcancel()
		next, err := c.Leader(lctx)
		election <- electionResult{leader: next, elapsed: time.Since(killed), err: err}
	}()

	sub := submitter{c: c, nodes: names}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range work {
				key := fmt.Sprintf("failover-%04d", i)
				job, attempts, err := sub.submit(ctx, w+i, key, localcluster.SampleSpec(i))
				if err != nil {
					errs <- err
					return
				}
				retry.Add(int64(attempts - 1))
				mu.Lock()
				acked[key] = job.GetId()
				mu.Unlock()
				if acks.Add(1) == killAt {
					close(kill)
				}
			}
		})
	}
	submitting := time.Now()
	wg.Wait()
	t.Logf("submissions took %v", time.Since(submitting).Round(time.Millisecond))
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	res := <-election
	if res.err != nil {
		t.Fatalf("no new leader after killing %s: %v", leader, res.err)
	}
	t.Logf("killed leader %s after %d acks; %s leads %v later; %d jobs acknowledged with %d retries",
		leader, killAt, res.leader, res.elapsed.Round(time.Millisecond), len(acked), retry.Load())
	if res.elapsed > maxElection {
		t.Errorf("new leader %s took %v after the kill, want at most %v", res.leader, res.elapsed, maxElection)
	}
	if len(acked) != jobs {
		t.Fatalf("%d of %d jobs acknowledged", len(acked), jobs)
	}

	var sets []jobSet
	for _, node := range survivors {
		list, err := listJobs(ctx, c, node, false)
		if err != nil {
			t.Fatal(err)
		}
		set := newJobSet(list)
		if err := set.checkAcked(acked, false); err != nil {
			t.Errorf("%s: %v", node, err)
		}
		sets = append(sets, set)
	}
	if !slices.Equal(sets[0].ids, sets[1].ids) {
		t.Errorf("survivors disagree: %s holds %d jobs, %s holds %d", survivors[0], len(sets[0].ids), survivors[1], len(sets[1].ids))
	}

	// The restarted node must be ready and hold everything within
	// catchUpTimeout: a thousand small jobs take about a second on loopback.
	restarted := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, catchUpTimeout)
	defer rcancel()
	if err := c.Restart(rctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(rctx, leader); err != nil {
		t.Fatalf("%s not ready %v after its restart: %v", leader, time.Since(restarted).Round(time.Millisecond), err)
	}
	t.Logf("%s ready %v after restart", leader, time.Since(restarted).Round(time.Millisecond))
	if err := waitCaughtUp(rctx, c, leader, sets[0].ids); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s restarted and caught up in %v", leader, time.Since(restarted).Round(time.Millisecond))
}

// catchUpTimeout bounds how long a restarted node may take to be ready and
// hold what the others hold.
const catchUpTimeout = 30 * time.Second

// waitCaughtUp polls the node's stale listing until it holds exactly ids or
// ctx ends.
func waitCaughtUp(ctx context.Context, c *localcluster.Cluster, node string, ids []string) error {
	last := "never listed"
	for {
		list, err := listJobs(ctx, c, node, true)
		if err == nil {
			got := newJobSet(list).ids
			if slices.Equal(got, ids) {
				return nil
			}
			last = fmt.Sprintf("holds %d jobs, want %d", len(got), len(ids))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not catch up: %w (last: %s)", node, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tapeA is the cartridge the copy failover tests write.
const tapeA = "T00001L9"

// TestFailoverKillOwnerRepeatedly SIGKILLs the owner of a 256 MiB disk to
// tape copy at ten random points, one after another, restarting each killed
// node so that three remain. Each time another node must take the job over
// under a higher epoch; in the end the job's SHA-256, the tape file's and
// `ferry verify` all equal the source's, and the tape holds exactly the
// label and one 256 MiB file: nothing was written twice.
func TestFailoverKillOwnerRepeatedly(t *testing.T) {
	const (
		size  = 256 << 20
		kills = 10
		// Slow enough that ten rounds of kill, takeover and restart (a
		// few seconds each under the race detector) fit in the copy.
		rate = 6 << 20
		// Each kill comes when the last checkpoint is at least minGap and
		// at most maxGap past where it was when the previous takeover was
		// seen, and before last, so that the copy is still running.
		minGap = 2 << 20
		maxGap = 16 << 20
		last   = 248 << 20
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	want := sum(m.addDisk(ctx, "src", size))
	m.addLibrary(ctx, "lib", 2, 1<<30, tapeA)
	id := m.submit(ctx, "kill-owner", copySpec("kill the owner ten times", diskEndpoint("src", 0, 0), tapeEndpoint(tapeA, -1), rate)).GetId()

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill points drawn with seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var from uint64      // the checkpoint when the last takeover was seen
	var restarted string // the node killed last, restarting
	for i := range kills {
		span := min(maxGap, (last-from)/uint64(kills-i))
		if span <= minGap {
			t.Fatalf("kill %d: the checkpoint is at %d already, no room left for %d kills before %d", i+1, from, kills-i, last)
		}
		point := from + minGap + rng.Uint64N(span-minGap)
		if restarted != "" {
			// Back to three nodes before the next kill, so that a
			// quorum survives it.
			rctx, rcancel := context.WithTimeout(ctx, catchUpTimeout)
			if err := m.c.WaitReady(rctx, restarted); err != nil {
				t.Fatal(err)
			}
			rcancel()
		}
		j := m.waitJob(ctx, id, fmt.Sprintf("a checkpoint past %d bytes", point), func(j *ferryv1.Job) (bool, string) { return running(j, point) })
		owner, epoch, cp := j.GetOwner(), j.GetEpoch(), j.GetProgress().GetCheckpointOffset()
		if err := m.c.Kill(owner); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		tctx, tcancel := context.WithTimeout(ctx, takeoverTimeout)
		j = m.waitJob(tctx, id, "a takeover from "+owner, func(j *ferryv1.Job) (bool, string) {
			return j.GetOwner() != owner && j.GetEpoch() > epoch, fmt.Sprintf("owner %s, epoch %d (%s)", j.GetOwner(), j.GetEpoch(), j.GetStateReason())
		})
		tcancel()
		from = j.GetProgress().GetCheckpointOffset()
		t.Logf("kill %d: %s (epoch %d, checkpoint %d) killed; %s took over under epoch %d from %d after %v",
			i+1, owner, epoch, cp, j.GetOwner(), j.GetEpoch(), from, time.Since(killed).Round(time.Millisecond))
		if err := m.c.Restart(ctx, owner); err != nil {
			t.Fatal(err)
		}
		restarted = owner
	}
	if err := m.c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	j := m.waitSucceeded(ctx, id, want, size)
	takeovers := events(j, "taken over by ")
	if len(takeovers) != kills {
		t.Errorf("%d takeovers in the history, want %d\n%s", len(takeovers), kills, history(j))
	}
	var lastOffset uint64
	for _, ev := range takeovers {
		var node string
		var epoch, offset uint64
		if _, err := fmt.Sscanf(ev.GetMessage(), "taken over by %s (epoch %d)", &node, &epoch); err != nil || epoch != ev.GetRaftIndex() {
			t.Errorf("takeover event %q at index %d: want the epoch to be its index (%v)", ev.GetMessage(), ev.GetRaftIndex(), err)
		}
		_, from, _ := strings.Cut(ev.GetMessage(), " from checkpoint at ")
		if _, err := fmt.Sscanf(from, "%d bytes", &offset); err != nil || offset < lastOffset {
			t.Errorf("takeover event %q: want a checkpoint offset not below the previous one, %d (%v)", ev.GetMessage(), lastOffset, err)
		}
		lastOffset = offset
	}
	m.checkTape(ctx, tapeA, []string{want}, []int{size})
	node, err := m.c.Node("n1")
	if err != nil {
		t.Fatal(err)
	}
	nodeCLI(t, m.c, node).verified(want, "disk:src", "tape:"+tapeA+"#1")
}

// isolate is how a test cuts an owner off: it returns the undo.
type isolate func(t *testing.T, m *moverCluster, node string) (undo func())

// heldBack is a copy whose owner a test cut off.
type heldBack struct {
	id, owner string
	want      string // the source's SHA-256
	size      int
	undo      func()
}

// isolatedSize and isolatedRate make the copy ownerHeldBack runs last about
// ten seconds.
const (
	isolatedSize = 128 << 20
	isolatedRate = 12 << 20
)

// ownerHeldBack runs a disk to tape copy, isolates its owner once it has
// checkpointed, and waits until the other nodes report the job taken over.
func ownerHeldBack(t *testing.T, ctx context.Context, m *moverCluster, cut isolate) heldBack {
	t.Helper()
	h := heldBack{size: isolatedSize, want: sum(m.addDisk(ctx, "src", isolatedSize))}
	m.addLibrary(ctx, "lib", 2, 1<<30, tapeA)
	h.id = m.submit(ctx, "isolated-owner", copySpec("isolate the owner", diskEndpoint("src", 0, 0), tapeEndpoint(tapeA, -1), isolatedRate)).GetId()
	j := m.waitJob(ctx, h.id, "a checkpoint past 16 MiB", func(j *ferryv1.Job) (bool, string) { return running(j, 16<<20) })
	owner, epoch := j.GetOwner(), j.GetEpoch()
	h.owner = owner
	m.shun(owner, true)
	h.undo = cut(t, m, owner)
	cutAt := time.Now()
	tctx, tcancel := context.WithTimeout(ctx, takeoverTimeout)
	defer tcancel()
	j = m.waitJob(tctx, h.id, "the others to report a takeover from "+owner, func(j *ferryv1.Job) (bool, string) {
		return j.GetOwner() != owner && j.GetEpoch() > epoch, fmt.Sprintf("owner %s, epoch %d (%s)", j.GetOwner(), j.GetEpoch(), j.GetStateReason())
	})
	t.Logf("%s (epoch %d) cut off at checkpoint %d; %v later the others report %s as owner under epoch %d",
		owner, epoch, j.GetProgress().GetCheckpointOffset(), time.Since(cutAt).Round(time.Millisecond), j.GetOwner(), j.GetEpoch())
	if lost := events(j, "owner "+owner+" lost"); len(lost) != 1 {
		t.Errorf("want one event saying %s was lost\n%s", owner, history(j))
	}
	return h
}

// waitWritesNothing waits until the old owner's counters show it was held
// back (its writes fenced or held for a lapsed lease, or the leader refused
// its lease on the job) and its mover has stopped; it returns the mover's
// byte count, which must not grow again.
func waitWritesNothing(t *testing.T, ctx context.Context, m *moverCluster, owner string) float64 {
	t.Helper()
	waitFor(t, ctx, owner+" held back", func() (bool, string) {
		fenced, err := m.metric(ctx, owner, "ferry_fenced_writes_total")
		if err != nil {
			return false, err.Error()
		}
		refused, err := m.metric(ctx, owner, "ferry_lease_refusals_total")
		if err != nil {
			return false, err.Error()
		}
		return fenced+refused > 0, fmt.Sprintf("%v writes fenced, %v leases refused", fenced, refused)
	})
	moved := m.waitSteady(ctx, owner, "ferry_mover_bytes_total", time.Second)
	t.Logf("%s held back: %v writes fenced, %v leases refused; its mover stopped at %v bytes", owner,
		m.mustMetric(ctx, owner, "ferry_fenced_writes_total"), m.mustMetric(ctx, owner, "ferry_lease_refusals_total"), moved)
	return moved
}

// ownerRoles are the two cases of an isolated owner: it leads (its
// isolation also costs the cluster its leader), or a non-mover leads and
// the owner follows (it loses the leader, then its lease).
var ownerRoles = []struct {
	name     string
	nodeArgs map[string][]string
	leads    bool
}{
	{"owner leads", nil, true},
	{"owner follows", map[string][]string{"n1": {"-run-jobs=false"}}, false},
}

// checkRole logs whether the owner had the role the case meant it to have:
// leadership may move while a cluster starts, which changes the case but
// does not make it wrong.
func checkRole(t *testing.T, ctx context.Context, m *moverCluster, owner string, leads bool) {
	t.Helper()
	st, err := m.c.RaftStatus(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if isLeader := st.GetRole() == ferryv1.RaftRole_RAFT_ROLE_LEADER; isLeader != leads {
		t.Logf("note: the owner %s is %s, not as this case intended", owner, st.GetRole())
	}
}

// TestFailoverPausedOwner freezes a copy's owner (SIGSTOP) for longer than
// its lease. Once the others report another owner it is resumed: it must
// write nothing more — its writes are fenced or held back and the leader
// refuses its lease on the job, its mover's byte count stops — and the copy
// must end exact. The new owner is not required to progress while the old
// one is frozen: a write frozen inside the device's fence delays its claim.
func TestFailoverPausedOwner(t *testing.T) {
	for _, role := range ownerRoles {
		t.Run(role.name, func(t *testing.T) {
			m := startMovers(t, 3, role.nodeArgs)
			ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
			defer cancel()
			h := ownerHeldBack(t, ctx, m, func(t *testing.T, m *moverCluster, node string) func() {
				checkRole(t, ctx, m, node, role.leads)
				if err := m.c.Pause(node); err != nil {
					t.Fatal(err)
				}
				return func() {
					if err := m.c.Resume(node); err != nil {
						t.Fatal(err)
					}
				}
			})
			h.undo()
			m.shun(h.owner, false)
			moved := waitWritesNothing(t, ctx, m, h.owner)
			j := m.waitSucceeded(ctx, h.id, h.want, h.size)
			if j.GetOwner() == h.owner {
				t.Errorf("the paused owner %s ended the job\n%s", h.owner, history(j))
			}
			if now := m.mustMetric(ctx, h.owner, "ferry_mover_bytes_total"); now != moved {
				t.Errorf("the old owner %s moved %v bytes after it was held back", h.owner, now-moved)
			}
			m.checkTape(ctx, tapeA, []string{h.want}, []int{h.size})
		})
	}
}

// TestFailoverPartitionedOwner cuts a copy's owner off the network with
// fault-injecting proxies in front of its gRPC and gossip ports (every
// node advertises its proxies, so peers reach it only through them). The
// owner keeps running; another node must take the job over and end it
// exact while the old owner's counters show it was held back. Healed, the
// old owner must rejoin as a follower of the current term and run no copy
// of the job.
func TestFailoverPartitionedOwner(t *testing.T) {
	for _, role := range ownerRoles {
		t.Run(role.name, func(t *testing.T) {
			m, proxies := startProxiedMovers(t, 3, role.nodeArgs)
			ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
			defer cancel()
			h := ownerHeldBack(t, ctx, m, func(t *testing.T, m *moverCluster, node string) func() {
				checkRole(t, ctx, m, node, role.leads)
				proxies[node].cut()
				return proxies[node].heal
			})
			owner := h.owner
			moved := waitWritesNothing(t, ctx, m, owner)
			j := m.waitSucceeded(ctx, h.id, h.want, h.size)
			m.checkTape(ctx, tapeA, []string{h.want}, []int{h.size})
			t.Logf("while cut off, %s's proxies: %v", owner, proxies[owner])

			h.undo()
			healed := time.Now()
			waitFollows(t, ctx, m, owner)
			waitFor(t, ctx, owner+" to learn the job's end", func() (bool, string) {
				cl, err := m.c.Client(owner)
				if err != nil {
					return false, err.Error()
				}
				gctx, gcancel := context.WithTimeout(ctx, attemptTimeout)
				defer gcancel()
				seen, err := cl.Jobs.Get(gctx, &ferryv1.GetJobRequest{Id: h.id, Stale: true})
				if err != nil {
					return false, err.Error()
				}
				return seen.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, seen.GetState().String()
			})
			t.Logf("%s follows again %v after the heal", owner, time.Since(healed).Round(time.Millisecond))
			if now := m.mustMetric(ctx, owner, "ferry_mover_bytes_total"); now != moved {
				t.Errorf("the old owner %s moved %v bytes after it was held back", owner, now-moved)
			}
			takeover := events(j, "taken over by ")
			for _, prefix := range []string{"started on " + owner, "resumed on " + owner} {
				for _, ev := range events(j, prefix) {
					if len(takeover) > 0 && ev.GetRaftIndex() > takeover[0].GetRaftIndex() {
						t.Errorf("%s ran the job again after it was taken over\n%s", owner, history(j))
					}
				}
			}
			m.checkTape(ctx, tapeA, []string{h.want}, []int{h.size})
		})
	}
}

// waitFollows waits until node is a follower of a leader that leads in the
// same term.
func waitFollows(t *testing.T, ctx context.Context, m *moverCluster, node string) {
	t.Helper()
	waitFor(t, ctx, node+" to follow the current leader", func() (bool, string) {
		st, err := m.c.RaftStatus(ctx, node)
		if err != nil {
			return false, err.Error()
		}
		if st.GetRole() != ferryv1.RaftRole_RAFT_ROLE_FOLLOWER || st.GetLeader() == "" || st.GetLeader() == node {
			return false, fmt.Sprintf("%s is %s in term %d, sees leader %q", node, st.GetRole(), st.GetTerm(), st.GetLeader())
		}
		lst, err := m.c.RaftStatus(ctx, st.GetLeader())
		if err != nil {
			return false, err.Error()
		}
		if lst.GetRole() != ferryv1.RaftRole_RAFT_ROLE_LEADER || lst.GetTerm() != st.GetTerm() {
			return false, fmt.Sprintf("%s follows %s in term %d, which is %s in term %d", node, st.GetLeader(), st.GetTerm(), lst.GetRole(), lst.GetTerm())
		}
		return true, ""
	})
}

// extentJobs registers a random source disk of n extents of size bytes and
// n empty destination disks, submits one throttled copy per extent, and
// returns the job ids and each extent's SHA-256.
func extentJobs(t *testing.T, ctx context.Context, m *moverCluster, n, size int, rate uint64) (ids, sums []string) {
	t.Helper()
	data := m.addDisk(ctx, "src", n*size)
	for i := range n {
		m.addEmptyDisk(ctx, fmt.Sprintf("dst%02d", i), size)
		sums = append(sums, sum(data[i*size:(i+1)*size]))
	}
	// Submitted together, so that they run together.
	blocks := uint64(size / blockSize)
	for i := range n {
		dst := fmt.Sprintf("dst%02d", i)
		spec := copySpec(fmt.Sprintf("extent %d", i), diskEndpoint("src", uint64(i)*blocks, blocks), diskEndpoint(dst, 0, 0), rate)
		ids = append(ids, m.submit(ctx, "extent-"+dst, spec).GetId())
	}
	return ids, sums
}

// waitAllRunning waits until every job runs past offset and returns the
// jobs each node owns.
func waitAllRunning(t *testing.T, ctx context.Context, m *moverCluster, ids []string, offset uint64) map[string][]string {
	t.Helper()
	owned := map[string][]string{}
	for _, id := range ids {
		j := m.waitJob(ctx, id, fmt.Sprintf("a checkpoint past %d", offset), func(j *ferryv1.Job) (bool, string) { return running(j, offset) })
		owned[j.GetOwner()] = append(owned[j.GetOwner()], id)
	}
	return owned
}

// checkExtents waits for every job to succeed with its extent's SHA-256 and
// checks each destination disk.
func checkExtents(t *testing.T, ctx context.Context, m *moverCluster, ids, sums []string, size int) map[string]*ferryv1.Job {
	t.Helper()
	jobs := map[string]*ferryv1.Job{}
	for i, id := range ids {
		jobs[id] = m.waitSucceeded(ctx, id, sums[i], size)
		m.checkDisk(ctx, fmt.Sprintf("dst%02d", i), 0, 0, sums[i])
	}
	return jobs
}

// TestFailoverLeaderKilledUnderLoad kills the leader while 20 copies run on
// all three nodes: the leader's copies are taken over by the survivors (and
// counted in their ferry_failovers_total), and all 20 end with the SHA-256
// of their source extent.
func TestFailoverLeaderKilledUnderLoad(t *testing.T) {
	const (
		jobs = 20
		// Four 4 MiB mover buffers per copy (checkpoints fall between
		// them), about eight seconds each.
		size = 16 << 20
		rate = 2 << 20
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	ids, sums := extentJobs(t, ctx, m, jobs, size, rate)
	owned := waitAllRunning(t, ctx, m, ids, 1)
	if len(owned) != 3 {
		t.Errorf("the %d copies run on %d nodes, want all 3 (per node: %v)", jobs, len(owned), owned)
	}
	leader, err := m.c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Waiting for all 20 to run can take long enough on a loaded machine
	// for the first ones to finish: only the leader's copies that still run
	// just before the kill must be taken over.
	var victims []string
	for _, id := range owned[leader] {
		j, err := m.job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && j.GetOwner() == leader {
			victims = append(victims, id)
		}
	}
	if len(victims) == 0 {
		t.Fatalf("none of the leader %s's copies still runs (per node: %v)", leader, owned)
	}
	if err := m.c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Logf("killed the leader %s, which ran %d of the %d copies (per node: %v)", leader, len(victims), jobs, owned)
	done := checkExtents(t, ctx, m, ids, sums, size)
	t.Logf("all %d copies ended %v after the kill", jobs, time.Since(killed).Round(time.Millisecond))
	for _, id := range victims {
		if j := done[id]; len(events(j, "owner "+leader+" lost")) == 0 {
			t.Errorf("job %s of the killed leader ended without a takeover\n%s", id, history(j))
		}
	}
	var failovers float64
	for _, n := range m.c.Running() {
		failovers += m.mustMetric(ctx, n, "ferry_failovers_total")
	}
	if failovers < float64(len(victims)) {
		t.Errorf("survivors count %v failovers, want at least the %d jobs of %s", failovers, len(victims), leader)
	}
}

// TestFailoverWholeClusterKilledMidCopy SIGKILLs every node while six copies
// run, restarts them all, and checks that every copy ends exact.
func TestFailoverWholeClusterKilledMidCopy(t *testing.T) {
	const (
		jobs = 6
		size = 16 << 20
		rate = 3 << 20
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	ids, sums := extentJobs(t, ctx, m, jobs, size, rate)
	owned := waitAllRunning(t, ctx, m, ids, 2<<20)
	if len(owned) != 3 {
		t.Errorf("the %d copies run on %d nodes, want all 3 (per node: %v)", jobs, len(owned), owned)
	}
	for _, n := range nodeNames(3) {
		if err := m.c.Kill(n); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("killed every node; copies per node: %v", owned)
	for _, n := range nodeNames(3) {
		if err := m.c.Restart(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, startTimeout)
	defer rcancel()
	if err := m.c.WaitReady(rctx); err != nil {
		t.Fatal(err)
	}
	done := checkExtents(t, ctx, m, ids, sums, size)
	var resumed, takenOver int
	for _, j := range done {
		resumed += len(events(j, "resumed on "))
		takenOver += len(events(j, "taken over by "))
	}
	t.Logf("after the restart: %d resumptions, %d takeovers", resumed, takenOver)
}

// TestFailoverCartridgeJobsSerialized submits two copies to one cartridge
// (in a library with two drives): they must run one after the other — the
// second waits, queued with a reason naming the cartridge, and is placed
// only after the first ended — and the tape holds both files in order.
func TestFailoverCartridgeJobsSerialized(t *testing.T) {
	const (
		size = 24 << 20
		rate = 8 << 20
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	sums := map[string]string{}
	var ids []string
	for _, src := range []string{"a", "b"} {
		sums[src] = sum(m.addDisk(ctx, src, size))
	}
	m.addLibrary(ctx, "lib", 2, 1<<30, tapeA)
	byID := map[string]string{}
	for _, src := range []string{"a", "b"} {
		id := m.submit(ctx, "to-"+tapeA+"-"+src, copySpec("disk "+src+" to "+tapeA, diskEndpoint(src, 0, 0), tapeEndpoint(tapeA, -1), rate)).GetId()
		ids = append(ids, id)
		byID[id] = src
	}
	var first, second string
	waitFor(t, ctx, "one copy running and the other queued for the cartridge", func() (bool, string) {
		var js []*ferryv1.Job
		for _, id := range ids {
			j, err := m.job(ctx, id)
			if err != nil {
				return false, err.Error()
			}
			js = append(js, j)
		}
		for i, j := range js {
			other := js[1-i]
			if j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && other.GetState() == ferryv1.JobState_JOB_STATE_QUEUED &&
				strings.Contains(other.GetStateReason(), tapeA) {
				first, second = j.GetId(), other.GetId()
				t.Logf("%s runs on %s; %s waits: %q", byID[first], j.GetOwner(), byID[second], other.GetStateReason())
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s: %s (%s); %s: %s (%s)", byID[ids[0]], js[0].GetState(), js[0].GetStateReason(), byID[ids[1]], js[1].GetState(), js[1].GetStateReason())
	})
	j1 := m.waitSucceeded(ctx, first, sums[byID[first]], size)
	j2 := m.waitSucceeded(ctx, second, sums[byID[second]], size)
	end1, placed2 := events(j1, "succeeded"), events(j2, "placed on ")
	if len(end1) != 1 || len(placed2) != 1 || placed2[0].GetRaftIndex() <= end1[0].GetRaftIndex() {
		t.Errorf("the second copy was not placed after the first ended\n%s%s", history(j1), history(j2))
	}
	m.checkTape(ctx, tapeA, []string{sums[byID[first]], sums[byID[second]]}, []int{size, size})
}

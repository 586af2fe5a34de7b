package test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
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

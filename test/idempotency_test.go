package test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
)

// TestIdempotencyAcrossLeaderKill has two clients submit the same keys at
// the same time through two different nodes while the leader is killed:
// each key must end up as exactly one job, the same one for both clients.
func TestIdempotencyAcrossLeaderKill(t *testing.T) {
	const (
		keys   = 40
		killAt = 10 // keys acknowledged to both clients before the kill
	)
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := nodeNames(3)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	followers := others(names, leader)

	// Each client starts at a different follower and falls back to the
	// other nodes in turn, as a client with a list of endpoints would.
	clients := []submitter{
		{c: c, nodes: []string{followers[0], followers[1], leader}},
		{c: c, nodes: []string{followers[1], followers[0], leader}},
	}
	ids := make([][]string, len(clients))
	for i := range ids {
		ids[i] = make([]string, keys)
	}
	var (
		done     atomic.Int64
		killOnce sync.Once
		killErr  = make(chan error, 1)
		wg       sync.WaitGroup
		errs     = make(chan error, len(clients)*keys)
	)
	for k := range keys {
		key := fmt.Sprintf("same-key-%02d", k)
		var pair sync.WaitGroup
		start := make(chan struct{})
		for ci, sub := range clients {
			pair.Add(1)
			wg.Go(func() {
				defer pair.Done()
				<-start
				job, _, err := sub.submit(ctx, 0, key, localcluster.SampleSpec(k))
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", ci, err)
					return
				}
				ids[ci][k] = job.GetId()
			})
		}
		close(start)
		pair.Wait()
		if done.Add(1) == killAt {
			// Kill in the background so the next keys are in flight while
			// the leader dies and its successor is elected.
			killOnce.Do(func() { go func() { killErr <- c.Kill(leader) }() })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-killErr; err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	acked := map[string]string{}
	for k := range keys {
		key := fmt.Sprintf("same-key-%02d", k)
		if ids[0][k] != ids[1][k] {
			t.Errorf("key %s: client 0 got job %s, client 1 got job %s", key, ids[0][k], ids[1][k])
		}
		acked[key] = ids[0][k]
	}
	for _, node := range followers {
		list, err := listJobs(ctx, c, node, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := newJobSet(list).checkAcked(acked, false); err != nil {
			t.Errorf("%s: %v", node, err)
		}
	}
}

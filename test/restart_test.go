package test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
)

// TestWholeClusterKilled SIGKILLs every node after jobs were acknowledged,
// starts them all again from their data dirs, and checks that every
// acknowledged job is still there and the cluster takes new writes.
func TestWholeClusterKilled(t *testing.T) {
	const jobs = 200
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := nodeNames(3)
	acked := submitMany(t, ctx, submitter{c: c, nodes: names}, "crash", jobs, 16)

	for _, name := range names {
		if err := c.Kill(name); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if err := c.Restart(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		list, err := listJobs(ctx, c, name, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := newJobSet(list).checkAcked(acked, false); err != nil {
			t.Errorf("%s after restart: %v", name, err)
		}
	}

	job, _, err := submitter{c: c, nodes: names}.submit(ctx, 0, "crash-after", localcluster.SampleSpec(jobs))
	if err != nil {
		t.Fatalf("submit after restart: %v", err)
	}
	acked["crash-after"] = job.GetId()
	list, err := listJobs(ctx, c, names[2], false)
	if err != nil {
		t.Fatal(err)
	}
	if err := newJobSet(list).checkAcked(acked, false); err != nil {
		t.Errorf("after a new submit: %v", err)
	}
}

// submitMany submits n jobs keyed prefix-NNNN from workers goroutines and
// returns key → acknowledged job id. Any failure fails the test.
func submitMany(t *testing.T, ctx context.Context, sub submitter, prefix string, n, workers int) map[string]string {
	t.Helper()
	var (
		mu    sync.Mutex
		acked = map[string]string{}
		wg    sync.WaitGroup
	)
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range work {
				key := fmt.Sprintf("%s-%04d", prefix, i)
				job, _, err := sub.submit(ctx, w+i, key, localcluster.SampleSpec(i))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				acked[key] = job.GetId()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return acked
}

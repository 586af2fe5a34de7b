package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// op is one request of a benchmark: run numbers the measurement (keys and
// idempotency keys stay unique across runs), worker is the client's
// number, seq counts that client's requests.
type op func(ctx context.Context, run, worker, seq int) error

// system is one cluster under test, started and ready for its op.
type system struct {
	name  string
	do    op
	close func()
}

// result is what one concurrency level measured.
type result struct {
	clients  int
	ops      int
	errors   int
	firstErr error
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r result) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// opTimeout bounds one request so that a stuck one shows up as an error
// instead of stalling the run.
const opTimeout = 10 * time.Second

// drive runs clients goroutines calling do back to back for d, and measures
// the latency of every successful call. Calls that fail count as errors and
// are left out of the latencies.
func drive(ctx context.Context, run, clients int, d time.Duration, do op) result {
	type workerResult struct {
		latencies []time.Duration
		errors    int
		firstErr  error
	}
	results := make([]workerResult, clients)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			r := &results[w]
			for seq := 0; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				octx, cancel := context.WithTimeout(ctx, opTimeout)
				t0 := time.Now()
				err := do(octx, run, w, seq)
				lat := time.Since(t0)
				cancel()
				if err != nil {
					r.errors++
					if r.firstErr == nil {
						r.firstErr = err
					}
					continue
				}
				r.latencies = append(r.latencies, lat)
			}
		})
	}
	wg.Wait()
	res := result{clients: clients, elapsed: time.Since(start)}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		res.errors += r.errors
		if res.firstErr == nil {
			res.firstErr = r.firstErr
		}
	}
	res.ops = len(all)
	slices.Sort(all)
	res.p50 = percentile(all, 0.50)
	res.p99 = percentile(all, 0.99)
	return res
}

// percentile of sorted latencies, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

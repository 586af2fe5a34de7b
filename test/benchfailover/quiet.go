package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// quiet is the outcome of the run without faults.
type quiet struct {
	elapsed time.Duration
	copies  int
	bytes   int64
	// failovers is ferry_failovers_total summed over the nodes, which all
	// ran from the start: every takeover any leader made.
	failovers float64
	// historyTakeovers counts "taken over" events in the copies' histories.
	historyTakeovers int
	fenced           float64
	// renewFailed counts the lease renewals that failed during the run
	// (not while the nodes started).
	renewFailed float64
	termBefore  uint64
	termAfter   uint64
}

// runQuiet starts a fresh cluster in dir and runs o.quietJobs copies at a
// time, back to back, for o.quietMinutes, each verified; then it sums the
// takeovers.
func runQuiet(ctx context.Context, o options, dir string, log *slog.Logger) (*quiet, error) {
	b, err := startCluster(ctx, o, dir, o.quietJobs, log)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	out := &quiet{}
	if out.termBefore, err = b.term(ctx); err != nil {
		return nil, err
	}
	// Renewals fail while the nodes start (no leader yet): count from here.
	before := b.scrapeAll(ctx)
	window := time.Duration(o.quietMinutes * float64(time.Minute))
	log.Info("quiet run: copies without faults", "for", window, "at_once", o.quietJobs)
	started := time.Now()
	stop := started.Add(window)
	copyWithin := time.Duration(float64(o.size)/float64(o.bwlimit)*float64(time.Second)) + copySlack

	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range o.quietJobs {
		wg.Go(func() {
			tape := tapeName(w)
			for n := 0; time.Now().Before(stop) && wctx.Err() == nil; n++ {
				j, err := b.runCopy(wctx, o, fmt.Sprintf("bench-quiet-%d-%d", w, n), tape, copyWithin)
				if err != nil {
					cancel(fmt.Errorf("worker %d, copy %d: %w", w, n+1, err))
					return
				}
				mu.Lock()
				out.copies++
				out.bytes += o.size
				out.historyTakeovers += takeoverCount(j)
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	b.progress(ctx, done, &mu, out)
	out.elapsed = time.Since(started)
	if err := context.Cause(wctx); err != nil && ctx.Err() == nil {
		fmt.Fprint(os.Stderr, b.c.Tails(40))
		return out, err
	}
	if running := b.c.Running(); len(running) != len(b.names) {
		return out, fmt.Errorf("only %v of %v still run", running, b.names)
	}
	all := b.scrapeAll(ctx)
	if len(all) != len(b.names) {
		return out, fmt.Errorf("scraped %d of %d nodes", len(all), len(b.names))
	}
	for n, m := range all {
		out.failovers += m.sum(failoverMetric)
		out.fenced += m.sum("ferry_fenced_writes_total")
		out.renewFailed += m.sumLabel("ferry_lease_renewals_total", `result="failed"`) -
			before[n].sumLabel("ferry_lease_renewals_total", `result="failed"`)
	}
	if out.termAfter, err = b.term(ctx); err != nil {
		return out, err
	}
	return out, ctx.Err()
}

// quietProgress is how often a long quiet run reports how it goes.
const quietProgress = time.Minute

// progress logs the copies done and the takeovers so far every
// quietProgress until done is closed.
func (b *benchCluster) progress(ctx context.Context, done <-chan struct{}, mu *sync.Mutex, out *quiet) {
	ticker := time.NewTicker(quietProgress)
	defer ticker.Stop()
	for {
		select {
		case <-done:
			return
		case <-ticker.C:
		}
		var failovers float64
		for _, m := range b.scrapeAll(ctx) {
			failovers += m.sum(failoverMetric)
		}
		mu.Lock()
		copies, takeovers := out.copies, out.historyTakeovers
		mu.Unlock()
		b.log.Info("quiet run", "copies", copies, "ferry_failovers_total", failovers, "takeovers_in_histories", takeovers)
	}
}

// runCopy runs one copy to its end and verifies it.
func (b *benchCluster) runCopy(ctx context.Context, o options, key, tape string, within time.Duration) (*ferryv1.Job, error) {
	id, err := b.submit(ctx, o, key, tape)
	if err != nil {
		return nil, err
	}
	j, err := b.waitJob(ctx, id, within, "the copy to end", func(j *ferryv1.Job) (bool, error) { return isEnded(j), nil })
	if err != nil {
		return nil, err
	}
	return j, b.verifyCopy(ctx, j, tape)
}

// term is the Raft term the leader reports: it grows with every election.
func (b *benchCluster) term(ctx context.Context) (uint64, error) {
	leader, err := b.leader(ctx)
	if err != nil {
		return 0, err
	}
	st, err := b.c.RaftStatus(ctx, leader)
	if err != nil {
		return 0, err
	}
	return st.GetTerm(), nil
}

package executor

import (
	"context"
	"errors"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// errLost is the cause a copy stops with when the leader says another node
// owns its job now.
var errLost = errors.New("the leader gave the job to another node")

// renewLoop renews this node's lease every RenewInterval, whether or not it
// runs jobs: a node without a lease gets no work. A job the leader says is
// lost stops at once.
func (e *Executor) renewLoop(ctx context.Context) {
	ticker := time.NewTicker(e.cfg.RenewInterval)
	defer ticker.Stop()
	for {
		e.renew(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (e *Executor) renew(ctx context.Context) {
	jobs := e.leaseReport()
	sent := time.Now()
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RenewDeadline/2)
	resp, err := e.node.RenewLease(rctx, jobs)
	cancel()
	if err != nil {
		e.metrics.renewals.WithLabelValues("failed").Inc()
		if ctx.Err() == nil {
			e.log.Debug("lease renewal failed", "err", err, "valid", e.lease.valid())
		}
		return
	}
	// Lost jobs stop before the lease is extended: a write held back by a
	// lapsed lease must not slip through for a job that moved.
	for _, id := range resp.GetLostJobs() {
		if !e.stopJob(id, errLost) {
			// Ended here since the report was made (an NDMP session
			// the DMA closed meanwhile): nothing was lost.
			continue
		}
		e.metrics.lostJobs.Inc()
		e.log.Warn("lost the job: the leader refused its lease", "job", id, "leader", resp.GetLeader())
	}
	deadline := e.cfg.RenewDeadline
	if granted := time.Duration(resp.GetLeaseMillis()) * time.Millisecond * 2 / 3; granted < deadline {
		deadline = granted
	}
	e.lease.extend(sent.Add(deadline))
	e.metrics.renewals.WithLabelValues("granted").Inc()
}

// leaseReport lists the jobs this node runs, for the renewal.
func (e *Executor) leaseReport() []*ferryv1.JobLease {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*ferryv1.JobLease, 0, len(e.running))
	for id, r := range e.running {
		out = append(out, &ferryv1.JobLease{JobId: id, Epoch: r.epoch, BytesDone: uint64(r.bytes.Load())})
	}
	return out
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Where in a copy the kills fall: the range is cut into one part per kill
// and each kill lands at a random position of its part, so that kills
// spread over the copy and the last leaves time for the takeover before
// the copy ends.
const (
	killFrom = 0.10
	killTo   = 0.75
)

// Deadlines of the kill runs.
const (
	takeoverWithin = time.Minute      // kill to the new owner's first write
	restartWithin  = time.Minute      // restart to ready
	copySlack      = 3 * time.Minute  // beyond the copy's time at the limit
	metricWithin   = 10 * time.Second // first write to the metric's update
	firstWriteLog  = "first write after the takeover"
	latencyMetric  = "ferry_takeover_latency_seconds"
	recopyMetric   = "ferry_takeover_recopy_bytes"
	failoverMetric = "ferry_failovers_total"
)

// killResult is one kill and the takeover that followed.
type killResult struct {
	copy      int
	killed    string
	wasLeader bool
	newOwner  string
	// toPlaced is the kill to the leader's takeover decision committed
	// ("taken over by", the leader's clock): the lease expiring.
	toPlaced time.Duration
	// toResumed is the kill to the new owner's "resumed on" event (its
	// clock; every node runs on this host).
	toResumed time.Duration
	// toFirstWrite is the kill to the new owner's first write, from its
	// log; 0 if it logged none.
	toFirstWrite time.Duration
	// metric is what the new owner's ferry_takeover_latency_seconds
	// observed (last checkpoint to first write); -1 if nothing.
	metric float64
	// fromOffset is where the new owner resumed: the old owner's last
	// committed checkpoint.
	fromOffset int64
	// reported is "Y past its last checkpoint" of the owner-lost event,
	// -1 when the event says nothing (the last lease report was not
	// beyond the checkpoint).
	reported int64
	// leaderRecopy is what the leader's ferry_takeover_recopy_bytes
	// observed; -1 if nothing.
	leaderRecopy float64
	// estimated is the bandwidth limit times the time from the old
	// owner's last checkpoint (or start) to the kill.
	estimated int64
	lostEvent string
}

// kills is the outcome of the kill runs.
type kills struct {
	results  []killResult
	copies   int
	verified int
}

// runKills starts a cluster in dir and runs copies, killing their owners,
// until o.kills kills are done.
func runKills(ctx context.Context, o options, dir string, log *slog.Logger) (*kills, error) {
	b, err := startCluster(ctx, o, dir, 1, log)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(o.seed, o.seed>>1|1))
	out := &kills{}
	for len(out.results) < o.kills {
		n := min(o.killsPerCopy, o.kills-len(out.results))
		out.copies++
		err := b.killedCopy(ctx, o, rng, out, n)
		if err != nil {
			fmt.Fprint(os.Stderr, b.c.Tails(40))
			return out, fmt.Errorf("copy %d: %w", out.copies, err)
		}
	}
	return out, nil
}

// killedCopy runs one copy, kills its owner n times, and verifies it.
func (b *benchCluster) killedCopy(ctx context.Context, o options, rng *rand.Rand, out *kills, n int) error {
	tape := tapeName(0)
	id, err := b.submit(ctx, o, fmt.Sprintf("bench-kills-%d", out.copies), tape)
	if err != nil {
		return err
	}
	copyWithin := time.Duration(float64(o.size)/float64(o.bwlimit)*float64(time.Second)) + copySlack
	part := (killTo - killFrom) / float64(n)
	for k := range n {
		target := int64((killFrom + part*(float64(k)+rng.Float64())) * float64(o.size))
		r, err := b.killAt(ctx, o, rng, id, target, copyWithin)
		if err != nil {
			return fmt.Errorf("kill %d: %w", len(out.results)+1, err)
		}
		r.copy = out.copies
		out.results = append(out.results, r)
		b.log.Info("takeover", "kill", len(out.results), "killed", r.killed, "leader", r.wasLeader, "new_owner", r.newOwner,
			"to_resumed", r.toResumed, "to_first_write", r.toFirstWrite, "metric_s", r.metric, "estimated_recopy", r.estimated)
		rctx, cancel := context.WithTimeout(ctx, restartWithin)
		err = b.c.Restart(rctx, r.killed)
		if err == nil {
			err = b.c.WaitReady(rctx, r.killed)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("restart %s: %w", r.killed, err)
		}
	}
	j, err := b.waitJob(ctx, id, copyWithin, "the copy to end", func(j *ferryv1.Job) (bool, error) {
		return isEnded(j), nil
	})
	if err != nil {
		return err
	}
	if err := b.verifyCopy(ctx, j, tape); err != nil {
		return err
	}
	out.verified++
	return nil
}

// killAt waits until the job's owner runs it and has checkpointed target
// bytes, waits a random fraction of a checkpoint period, kills the owner
// and measures the takeover.
func (b *benchCluster) killAt(ctx context.Context, o options, rng *rand.Rand, id string, target int64, within time.Duration) (killResult, error) {
	_, err := b.waitJob(ctx, id, within, fmt.Sprintf("a checkpoint at %d bytes", target), func(j *ferryv1.Job) (bool, error) {
		if isEnded(j) {
			return false, fmt.Errorf("the copy ended before the kill: %s", jobText(j))
		}
		return runsUnderEpoch(j) && int64(j.GetProgress().GetCheckpointOffset()) >= target, nil
	})
	if err != nil {
		return killResult{}, err
	}
	// A random phase against the checkpoint cadence: the kill must not
	// always fall just after a checkpoint.
	period := time.Duration(float64(o.checkpointInterval()) / float64(o.bwlimit) * float64(time.Second))
	select {
	case <-ctx.Done():
		return killResult{}, ctx.Err()
	case <-time.After(time.Duration(rng.Float64() * float64(period))):
	}
	j, err := b.getJob(ctx, id)
	if err != nil {
		return killResult{}, err
	}
	if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || !runsUnderEpoch(j) {
		return killResult{}, fmt.Errorf("the copy is not running at the kill: %s", jobText(j))
	}
	owner, epoch := j.GetOwner(), j.GetEpoch()
	leader, err := b.leader(ctx)
	if err != nil {
		return killResult{}, err
	}
	before := b.scrapeAll(ctx)
	killed := time.Now()
	if err := b.c.Kill(owner); err != nil {
		return killResult{}, err
	}
	r, err := b.measureTakeover(ctx, o, id, owner, epoch, killed, before)
	r.killed, r.wasLeader = owner, owner == leader
	return r, err
}

// measureTakeover waits for another node to resume the job after the kill
// and collects the takeover's times and bytes.
func (b *benchCluster) measureTakeover(ctx context.Context, o options, id, owner string, epoch uint64, killed time.Time, before map[string]metrics) (killResult, error) {
	r := killResult{metric: -1, reported: -1, leaderRecopy: -1}
	j, err := b.waitJob(ctx, id, takeoverWithin, fmt.Sprintf("a takeover after killing %s", owner), func(j *ferryv1.Job) (bool, error) {
		if isEnded(j) {
			return false, fmt.Errorf("the copy ended instead of being taken over: %s", jobText(j))
		}
		t, ok := findTakeover(j, epoch)
		return ok && t.resumed != nil, nil
	})
	if err != nil {
		return r, err
	}
	t, _ := findTakeover(j, epoch)
	if t.newOwner == owner {
		return r, fmt.Errorf("the job was given back to %s, the killed node", owner)
	}
	r.newOwner = t.newOwner
	r.toPlaced = eventTime(t.taken).Sub(killed)
	r.toResumed = eventTime(t.resumed).Sub(killed)
	r.fromOffset, _ = resumedOffset(t.resumed.GetMessage())
	if t.lost != nil {
		r.lostEvent = t.lost.GetMessage()
		if _, past, ok := fsm.LostProgress(r.lostEvent); ok {
			r.reported = int64(past)
		}
	}
	if t.since != nil {
		r.estimated = int64(killed.Sub(eventTime(t.since)).Seconds() * float64(o.bwlimit))
	}

	words := []string{firstWriteLog, "job=" + id, "epoch=" + strconv.FormatUint(t.newEpoch, 10) + " "}
	line, err := b.pollLog(ctx, t.newOwner, words...)
	if err != nil {
		return r, err
	}
	first, err := localcluster.LogTime(line)
	if err != nil {
		return r, err
	}
	r.toFirstWrite = first.Sub(killed)

	after, err := b.waitMetric(ctx, t.newOwner, latencyMetric+"_count", before[t.newOwner].sum(latencyMetric+"_count")+1)
	if err == nil {
		r.metric = after.sum(latencyMetric+"_sum") - before[t.newOwner].sum(latencyMetric+"_sum")
	}
	all := b.scrapeAll(ctx)
	if delta(before, all, recopyMetric+"_count") > 0 {
		r.leaderRecopy = delta(before, all, recopyMetric+"_sum")
	}
	return r, nil
}

// pollLog waits for a line holding every word in the node's log.
func (b *benchCluster) pollLog(ctx context.Context, node string, words ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, takeoverWithin)
	defer cancel()
	for {
		if line, ok := b.logLine(node, words...); ok {
			return line, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s logged no line with %q: %w", node, words, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// waitMetric waits until the node's metric reaches want.
func (b *benchCluster) waitMetric(ctx context.Context, node, name string, want float64) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, metricWithin)
	defer cancel()
	for {
		m, err := scrape(ctx, b.httpAddr(node))
		if err == nil && m.sum(name) >= want {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s's %s did not reach %v: %w", node, name, want, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// runsUnderEpoch reports whether the job's owner has started (or resumed)
// it under its current epoch: it holds the devices and copies.
func runsUnderEpoch(j *ferryv1.Job) bool {
	for _, ev := range j.GetHistory() {
		if ev.GetRaftIndex() > j.GetEpoch() && ev.GetNode() == j.GetOwner() &&
			(strings.HasPrefix(ev.GetMessage(), eventStarted) || strings.HasPrefix(ev.GetMessage(), eventResumed)) {
			return true
		}
	}
	return false
}

func isEnded(j *ferryv1.Job) bool {
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}

package cluster

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Memberlist never probes a member it has declared dead, and forgets it
// after half a minute, so two sides of a healed partition would each keep
// the other dead for good. Like Serf's reconnect, this node keeps reaching
// out: every interval it joins one failed member at random, and when it sees
// no other live member at all it joins every address it knows. Unlike Serf
// it does not skip rounds when few members failed: Ferry's clusters are
// small, and a refused or unanswered dial once per interval costs little.

// ReconnectConfig says how a node reaches out to failed members.
type ReconnectConfig struct {
	// Interval is the time between two attempts. Default 10s.
	Interval time.Duration
	// Timeout is how long a failed member is tried after it failed. Default
	// the node's DeadNodeTimeout: after it, the leader removes the member
	// from Raft anyway.
	Timeout time.Duration
}

// firstRejoinWait is the first wait of a node that sees itself alone: on a
// whole-cluster restart the peers come up within seconds, so the waits start
// short and double up to Interval.
const firstRejoinWait = 200 * time.Millisecond

// reconnectView is what the decision of whom to try is made from.
type reconnectView struct {
	self     uint64 // this node's Raft id
	selfName string
	selfAddr string // this node's advertised gossip address
	// clusterID is this node's cluster: members of another never count.
	clusterID string
	// members is gossip's view, this node included.
	members []GossipMember
	// known are the members of the Raft state; removed ones are not there.
	known []*ferryv1.NodeInfo
	join  []string
	// started is when reconnecting began: a member known only to Raft has
	// been failing at least since then.
	started time.Time
	now     time.Time
	timeout time.Duration
}

// reconnectPlan is one attempt: the addresses to join now, and whether this
// node sees itself alone (then they are every address it knows).
type reconnectPlan struct {
	addrs []string
	alone bool
}

// planReconnect decides which gossip addresses to join now. pick(n) chooses
// one of n failed members (rand.IntN in the node, fixed in tests).
//
// Failed members are members of the Raft state that gossip saw die or has
// not seen at all; each is tried for the timeout after it failed. A node
// that sees no other live member tries its join addresses and all of them,
// however long ago they failed: it has nobody else to learn the cluster
// from. Members that left gracefully, members removed from Raft, and gossip
// members Raft never knew, are never tried: a member that left said so, and
// when it starts again it joins by itself, through its join addresses and
// the members its Raft state knows.
func planReconnect(v reconnectView, pick func(n int) int) reconnectPlan {
	known := map[uint64]bool{}
	for _, ni := range v.known {
		known[ni.GetRaftId()] = true
	}
	alone := true
	seenID, seenName, aliveAddr := map[uint64]bool{}, map[string]bool{}, map[string]bool{}
	// failed are the addresses of failed members still within the timeout,
	// all those of every failed member.
	var failed, all []string
	for _, m := range v.members {
		if m.RaftID == v.self || m.Name == v.selfName || m.ClusterID != "" && m.ClusterID != v.clusterID {
			continue
		}
		seenID[m.RaftID], seenName[m.Name] = true, true
		switch m.State {
		case ferryv1.GossipState_GOSSIP_STATE_ALIVE:
			alone = false
			aliveAddr[m.GossipAddr] = true
		case ferryv1.GossipState_GOSSIP_STATE_DEAD:
			if known[m.RaftID] {
				all = append(all, m.GossipAddr)
				if v.now.Sub(m.Since) <= v.timeout {
					failed = append(failed, m.GossipAddr)
				}
			}
		}
	}
	for _, ni := range v.known {
		if ni.GetRaftId() != v.self && !seenID[ni.GetRaftId()] && !seenName[ni.GetName()] {
			all = append(all, ni.GetGossipAddr())
			if v.now.Sub(v.started) <= v.timeout {
				failed = append(failed, ni.GetGossipAddr())
			}
		}
	}
	if alone {
		// The join addresses come first: the operator named them.
		return reconnectPlan{addrs: joinable(append(slices.Clone(v.join), all...), v.selfAddr, nil), alone: true}
	}
	// An address a live member answers on now heals nothing: joining it
	// would "succeed" at every attempt.
	failed = joinable(failed, v.selfAddr, aliveAddr)
	if len(failed) == 0 {
		return reconnectPlan{}
	}
	return reconnectPlan{addrs: []string{failed[pick(len(failed))]}}
}

// joinable drops from addrs the empty ones, this node's own (joining oneself
// "succeeds" and heals nothing), those in skip and repeats.
func joinable(addrs []string, self string, skip map[string]bool) []string {
	var out []string
	for _, a := range addrs {
		if a != "" && a != self && !skip[a] && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// reconnector runs the attempts planReconnect decides.
type reconnector struct {
	cfg ReconnectConfig
	// view returns the current state to decide from; now and started are
	// filled in by run.
	view func() reconnectView
	// join contacts the addresses and returns how many answered.
	join func(addrs []string) (int, error)
	// wake makes the next attempt now: the gossip keyring changed, so a
	// member this node could not hear before may answer.
	wake     <-chan struct{}
	attempts *prometheus.CounterVec
	log      *slog.Logger
}

// run tries to reconnect until ctx ends. A join in flight when ctx ends is
// left to finish on its own (memberlist bounds it by its TCP timeout); run
// returns at once and nothing is recorded of that attempt.
func (r *reconnector) run(ctx context.Context) {
	started := time.Now()
	// While alone the waits grow from firstRejoinWait to the interval.
	var backoff time.Duration
	for {
		v := r.view()
		v.started, v.now = started, time.Now()
		plan := planReconnect(v, rand.IntN)
		wait := r.cfg.Interval
		if plan.alone {
			backoff = min(max(firstRejoinWait, 2*backoff), r.cfg.Interval)
			wait = backoff
		} else {
			backoff = 0
		}
		if len(plan.addrs) > 0 && !r.attempt(ctx, plan) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			backoff = 0
		case <-time.After(wait):
		}
	}
}

// attempt joins the plan's addresses; it returns false if ctx ended first.
func (r *reconnector) attempt(ctx context.Context, plan reconnectPlan) bool {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := r.join(plan.addrs)
		done <- result{n, err}
	}()
	var res result
	select {
	case <-ctx.Done():
		return false
	case res = <-done:
	}
	if res.n == 0 {
		r.attempts.WithLabelValues("error").Inc()
		r.log.Debug("gossip reconnect failed", "addrs", strings.Join(plan.addrs, ","), "err", res.err)
		return true
	}
	r.attempts.WithLabelValues("ok").Inc()
	r.log.Info("rejoined gossip", "addrs", strings.Join(plan.addrs, ","), "answered", res.n, "was_alone", plan.alone)
	return true
}

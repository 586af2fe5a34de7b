package cluster

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

type metrics struct {
	term            prometheus.Gauge
	isLeader        prometheus.Gauge
	commitIndex     prometheus.Gauge
	appliedIndex    prometheus.Gauge
	leaderChanges   prometheus.Counter
	proposals       *prometheus.CounterVec
	proposalSeconds prometheus.Histogram
	fsyncSeconds    prometheus.Histogram
	snapshots       *prometheus.CounterVec
	peerFailures    prometheus.Counter
	peerDrops       prometheus.Counter
	// gossipReconnects counts attempts to rejoin failed members, by result.
	gossipReconnects *prometheus.CounterVec
}

func newMetrics(n *Node) *metrics {
	m := &metrics{
		term:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferry_raft_term", Help: "Current Raft term."}),
		isLeader:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferry_raft_is_leader", Help: "1 on the Raft leader, 0 elsewhere."}),
		commitIndex:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferry_raft_commit_index", Help: "Highest Raft log index known committed."}),
		appliedIndex:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferry_raft_applied_index", Help: "Highest Raft log index applied to the state machine."}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_raft_leader_changes_total", Help: "Leader changes seen by this node."}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_raft_proposals_total", Help: "Proposals made through this node, by result (ok, error, timeout)."},
			[]string{"result"}),
		proposalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ferry_raft_proposal_duration_seconds", Help: "Time from proposal to applied result on this node.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ferry_raft_log_fsync_duration_seconds", Help: "Time to make one Ready durable in the bbolt log.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_raft_snapshots_total", Help: "Snapshots created, installed from the leader, and sent to followers."},
			[]string{"kind"}),
		peerFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_raft_peer_stream_failures_total", Help: "Raft streams to peers that broke and were reconnected."}),
		peerDrops:    prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_raft_peer_dropped_messages_total", Help: "Raft messages dropped because a peer's queue was full."}),
		gossipReconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_gossip_reconnects_total", Help: "Attempts to rejoin failed gossip members, by result (ok: one answered, error: none did)."},
			[]string{"result"}),
	}
	for _, k := range []string{"created", "installed", "sent"} {
		m.snapshots.WithLabelValues(k)
	}
	for _, r := range []string{"ok", "error", "timeout"} {
		m.proposals.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.gossipReconnects.WithLabelValues(r)
	}
	if r := n.cfg.Registerer; r != nil {
		r.MustRegister(m.term, m.isLeader, m.commitIndex, m.appliedIndex, m.leaderChanges, m.proposals,
			m.proposalSeconds, m.fsyncSeconds, m.snapshots, m.peerFailures, m.peerDrops, m.gossipReconnects, &stateCollector{n: n})
	}
	return m
}

// stateCollector reports gauges computed from the node's state at scrape time.
type stateCollector struct{ n *Node }

var (
	membersDesc = prometheus.NewDesc("ferry_cluster_members", "Cluster members by gossip state and Raft role, as this node sees them.", []string{"state", "role"}, nil)
	jobsDesc    = prometheus.NewDesc("ferry_jobs", "Jobs in the replicated state, by state.", []string{"state"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- membersDesc
	ch <- jobsDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ state, role string }
	counts := map[key]int{}
	for _, m := range c.n.Members() {
		counts[key{lower(m.GetGossipState().String(), "GOSSIP_STATE_"), lower(m.GetRaftRole().String(), "RAFT_ROLE_")}]++
	}
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(v), k.state, k.role)
	}
	jc := c.n.fsm.JobCounts()
	for s := range ferryv1.JobState_name {
		st := ferryv1.JobState(s)
		if st == ferryv1.JobState_JOB_STATE_UNSPECIFIED {
			continue
		}
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(jc[st]), lower(st.String(), "JOB_STATE_"))
	}
}

func lower(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

package scheduler

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the scheduler's Prometheus metrics, kept on the leader.
type Metrics struct {
	leader     prometheus.Gauge
	placements prometheus.Counter
	failovers  *prometheus.CounterVec
	recopy     prometheus.Histogram
	renewals   *prometheus.CounterVec
	rounds     *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them with reg, if not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferry_scheduler_leading", Help: "1 while this node's scheduler leads (places jobs and grants leases)."}),
		placements: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_scheduler_placements_total",
			Help: "Queued jobs this node's scheduler placed on a node."}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_failovers_total",
			Help: "Running jobs taken over from a lost owner, by why it was lost: lease (expired), gossip (dead) or removed."}, []string{"reason"}),
		recopy: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ferry_takeover_recopy_bytes",
			Help:    "Per takeover, the bytes the lost owner had reported beyond its last checkpoint: the new owner copies them again.",
			Buckets: prometheus.ExponentialBuckets(1<<20, 2, 12)}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_lease_renewals_received_total",
			Help: "Lease renewals this node received: granted, or refused because it does not lead."}, []string{"result"}),
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_scheduler_rounds_total",
			Help: "Scheduling rounds on the leader: planned (something changed), or skipped (nothing placement decides on changed)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.leader, m.placements, m.failovers, m.recopy, m.renewals, m.rounds)
	}
	return m
}

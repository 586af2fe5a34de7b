package executor

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	jobs        *prometheus.CounterVec
	checkpoints *prometheus.CounterVec
	bytes       prometheus.Counter
	renewals    *prometheus.CounterVec
	lostJobs    prometheus.Counter
	fenced      *prometheus.CounterVec
	takeover    prometheus.Histogram
	driveStalls *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_executor_jobs_total", Help: "Jobs this node ran to an end and recorded the end of, by outcome."}, []string{"outcome"}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_executor_checkpoints_total", Help: "Checkpoints proposed by this node, committed or refused (fenced)."},
			[]string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_mover_bytes_total", Help: "Bytes the mover on this node copied."}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_lease_renewals_total",
			Help: "Lease renewals this node sent: granted by the leader, or failed (no leader, unreachable, timed out)."}, []string{"result"}),
		lostJobs: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_lease_refusals_total",
			Help: "Jobs whose lease the leader refused to renew for this node because another node owns them now."}),
		fenced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_fenced_writes_total",
			Help: "Device writes held back because this node's lease had lapsed (lease), or refused because a newer epoch claimed the device (epoch) or another cluster fences it (cluster)."}, []string{"reason"}),
		takeover: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ferry_takeover_latency_seconds",
			Help:    "For jobs this node took over: from the lost owner's last committed checkpoint to this node's first write (wall clocks of both nodes).",
			Buckets: []float64{0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 20, 60}}),
		driveStalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_drive_stalls_total",
			Help: "Stalls of the modelled tape drives this node used (library --drive-rate): the drive's buffer ran empty writing, or filled reading, because the host could not keep up, and a real drive would stop and reposition (shoe-shine)."},
			[]string{"library", "drive"}),
	}
	if reg != nil {
		reg.MustRegister(m.jobs, m.checkpoints, m.bytes, m.renewals, m.lostJobs, m.fenced, m.takeover, m.driveStalls)
	}
	return m
}

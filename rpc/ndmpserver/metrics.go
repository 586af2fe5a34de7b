package ndmpserver

import "github.com/prometheus/client_golang/prometheus"

// metrics are the server's Prometheus series.
type metrics struct {
	sessions prometheus.Gauge
	bytes    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_ndmp_sessions",
			Help: "NDMP control connections open on this node.",
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_ndmp_bytes_total",
			Help: "Bytes NDMP sessions on this node moved to or from tape (direction: write, read).",
		}, []string{"direction"}),
	}
	if reg != nil {
		reg.MustRegister(m.sessions, m.bytes)
	}
	return m
}

// countTape adds n bytes written to (or read from) a tape.
func (s *session) countTape(written bool, n int) {
	dir := "read"
	if written {
		dir = "write"
	}
	s.srv.metrics.bytes.WithLabelValues(dir).Add(float64(n))
}

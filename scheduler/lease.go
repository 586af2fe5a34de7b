package scheduler

import (
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// leaseTable is the leader's record of when each node last renewed its
// lease, on the leader's own monotonic clock. It holds no state that must
// survive a leader change: a new leader starts a new table in which every
// node holds a lease from the moment leadership began, so an owner whose
// renewals went to the old leader is never cut short.
type leaseTable struct {
	lease time.Duration
	since time.Time
	nodes map[string]nodeLease
	// reported is each job's progress as its owner last reported it.
	reported map[string]jobReport
}

// jobReport is one job's progress in a renewal: the epoch its sender runs
// it under, its bytes copied (committed or not), and when it arrived.
type jobReport struct {
	epoch uint64
	bytes uint64
	at    time.Time
}

type nodeLease struct {
	renewed time.Time
}

func newLeaseTable(lease time.Duration, since time.Time) *leaseTable {
	return &leaseTable{lease: lease, since: since, nodes: map[string]nodeLease{}, reported: map[string]jobReport{}}
}

// renew records a renewal received at now.
func (t *leaseTable) renew(node string, now time.Time, jobs []*ferryv1.JobLease) {
	t.nodes[node] = nodeLease{renewed: now}
	for _, j := range jobs {
		t.reported[j.GetJobId()] = jobReport{epoch: j.GetEpoch(), bytes: j.GetBytesDone(), at: now}
	}
}

// expired reports whether node's lease has run out at now: no renewal for
// longer than the lease, counting from leadership start at the earliest.
func (t *leaseTable) expired(node string, now time.Time) bool {
	last := t.since
	if l, ok := t.nodes[node]; ok && l.renewed.After(last) {
		last = l.renewed
	}
	return now.Sub(last) > t.lease
}

// reportedBytes is the job's progress as its owner last reported it.
func (t *leaseTable) reportedBytes(job string) uint64 { return t.reported[job].bytes }

// forget drops what is known of a job that ended or moved.
func (t *leaseTable) forget(job string) { delete(t.reported, job) }

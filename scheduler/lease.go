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

// jobReport is one job's progress in a renewal: the node that sent it, the
// epoch it runs the job under, its bytes copied (committed or not), and
// when it arrived.
type jobReport struct {
	node  string
	epoch uint64
	bytes uint64
	at    time.Time
}

type nodeLease struct {
	renewed time.Time
	// jobs are the jobs of the node's latest renewal.
	jobs map[string]struct{}
}

func newLeaseTable(lease time.Duration, since time.Time) *leaseTable {
	return &leaseTable{lease: lease, since: since, nodes: map[string]nodeLease{}, reported: map[string]jobReport{}}
}

// renew records a renewal received at now. A job the node reported last
// time and not now is no longer its (it ended, or stopped because it
// moved): the node's report of it is dropped, so the table holds only
// running jobs.
func (t *leaseTable) renew(node string, now time.Time, jobs []*ferryv1.JobLease) {
	running := make(map[string]struct{}, len(jobs))
	for _, j := range jobs {
		running[j.GetJobId()] = struct{}{}
		t.reported[j.GetJobId()] = jobReport{node: node, epoch: j.GetEpoch(), bytes: j.GetBytesDone(), at: now}
	}
	for id := range t.nodes[node].jobs {
		if _, still := running[id]; !still && t.reported[id].node == node {
			delete(t.reported, id)
		}
	}
	t.nodes[node] = nodeLease{renewed: now, jobs: running}
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

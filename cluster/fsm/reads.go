package fsm

import (
	"slices"
	"strings"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Query selects jobs for Jobs.
type Query struct {
	// State keeps only jobs in this state; JOB_STATE_UNSPECIFIED keeps all.
	State ferryv1.JobState
	// Owner keeps only jobs owned by this node (running ones, and ended
	// ones that it ran); "" keeps all.
	Owner string
	// SubmittedVia keeps only jobs accepted by this node; "" keeps all.
	SubmittedVia string
	// KeyPrefix keeps only jobs whose idempotency key starts with it; ""
	// keeps all.
	KeyPrefix string
	// AfterIndex keeps only jobs created after this Raft index: 0 for the
	// first page, then the next value a previous call returned.
	AfterIndex uint64
	// Limit caps the number of jobs returned; 0 or less means no cap.
	Limit int
}

// Job returns a copy of the job with the id.
func (f *FSM) Job(id string) (*ferryv1.Job, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	j, ok := f.st.jobs[id]
	if !ok {
		return nil, false
	}
	return cloneJob(j), true
}

// JobBrief returns a copy of the job without its history, checkpoint,
// result, error and tape volumes, and with its spec shared, not copied:
// what a reader that keeps many jobs has no use for, and what costs the
// most to copy (the leader's scheduler reads a waiting job again each time
// what it waits for changes, 100,000 of them when a mover comes). A stored
// spec is never changed, only replaced (a pool bound at placement, a span
// to the next cartridge): the caller reads it and must not change it.
func (f *FSM) JobBrief(id string) (*ferryv1.Job, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	j, ok := f.st.jobs[id]
	if !ok {
		return nil, false
	}
	brief := cloneJob(&ferryv1.Job{
		Id: j.GetId(), IdempotencyKey: j.GetIdempotencyKey(), State: j.GetState(), StateReason: j.GetStateReason(),
		Owner: j.GetOwner(), Epoch: j.GetEpoch(), Progress: j.GetProgress(), CreatedAt: j.GetCreatedAt(), UpdatedAt: j.GetUpdatedAt(),
		CreatedIndex: j.GetCreatedIndex(), SubmittedVia: j.GetSubmittedVia(), Tapes: j.GetTapes(), Streams: j.GetStreams(), Parent: j.GetParent(),
	})
	brief.Spec = j.GetSpec()
	return brief, true
}

// Jobs returns copies of the jobs matching q, ordered by created_index. When
// more matching jobs remain after the page, next is the cursor to pass as
// AfterIndex for the following page; otherwise next is 0. The cursor is a
// Raft index rather than a position, so pages stay consistent while jobs are
// being added.
func (f *FSM) Jobs(q Query) (jobs []*ferryv1.Job, next uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	start, _ := slices.BinarySearchFunc(f.st.order, q.AfterIndex, func(j *ferryv1.Job, after uint64) int {
		if j.GetCreatedIndex() <= after {
			return -1
		}
		return 1
	})
	for _, j := range f.st.order[start:] {
		if !q.matches(j) {
			continue
		}
		if q.Limit > 0 && len(jobs) == q.Limit {
			return jobs, jobs[len(jobs)-1].GetCreatedIndex()
		}
		jobs = append(jobs, cloneJob(j))
	}
	return jobs, 0
}

func (q Query) matches(j *ferryv1.Job) bool {
	return (q.State == ferryv1.JobState_JOB_STATE_UNSPECIFIED || j.GetState() == q.State) &&
		(q.Owner == "" || j.GetOwner() == q.Owner) &&
		(q.SubmittedVia == "" || j.GetSubmittedVia() == q.SubmittedVia) &&
		(q.KeyPrefix == "" || strings.HasPrefix(j.GetIdempotencyKey(), q.KeyPrefix))
}

// JobCounts returns how many jobs are in each state. Every state a job can
// be in has an entry, zero or not, so that gauges built from it drop back to
// zero instead of keeping a stale value.
func (f *FSM) JobCounts() map[ferryv1.JobState]int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	counts := make(map[ferryv1.JobState]int, len(ferryv1.JobState_name))
	for v := range ferryv1.JobState_name {
		if st := ferryv1.JobState(v); st != ferryv1.JobState_JOB_STATE_UNSPECIFIED {
			counts[st] = 0
		}
	}
	for _, j := range f.st.order {
		counts[j.GetState()]++
	}
	return counts
}

// JobIDs returns the ids of the jobs in the state (every job for
// JOB_STATE_UNSPECIFIED), ordered by created_index: a reader that keeps
// some of them reads each one (Job) without copying all at once.
func (f *FSM) JobIDs(state ferryv1.JobState) []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var ids []string
	for _, j := range f.st.order {
		if state == ferryv1.JobState_JOB_STATE_UNSPECIFIED || j.GetState() == state {
			ids = append(ids, j.GetId())
		}
	}
	return ids
}

// JobStateReason returns the job's state reason without copying the job.
func (f *FSM) JobStateReason(id string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	j, ok := f.st.jobs[id]
	return j.GetStateReason(), ok
}

package test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// attemptTimeout bounds one RPC so that a call stuck on a dead or leaderless
// node gives way to a retry elsewhere.
const attemptTimeout = 2 * time.Second

// retryable reports whether a failed call may be retried, possibly on
// another node: the node was unreachable, had no leader, or lost it.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}

// submitter submits jobs the way a careful client does: with an idempotency
// key, retrying retryable failures against the next node in turn.
type submitter struct {
	c     *localcluster.Cluster
	nodes []string
}

// submit returns the acknowledged job and how many attempts it took.
// first picks the node tried first.
func (s submitter) submit(ctx context.Context, first int, key string, spec *ferryv1.JobSpec) (*ferryv1.Job, int, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, attempt, fmt.Errorf("submit %s: gave up after %d attempts: %w (last: %v)", key, attempt, err, lastErr)
		}
		node := s.nodes[(first+attempt)%len(s.nodes)]
		cl, err := s.c.Client(node)
		if err != nil {
			return nil, attempt, err
		}
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		resp, err := cl.Jobs.Submit(actx, &ferryv1.SubmitJobRequest{Spec: spec, IdempotencyKey: key})
		cancel()
		if err == nil {
			return resp.GetJob(), attempt + 1, nil
		}
		if !retryable(err) {
			return nil, attempt + 1, fmt.Errorf("submit %s via %s: %w", key, node, err)
		}
		lastErr = fmt.Errorf("via %s: %w", node, err)
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listJobs returns every job the node holds, following pages; stale reads
// the node's applied state, otherwise the read is linearizable. Retryable
// failures are retried on the same node until ctx ends.
func listJobs(ctx context.Context, c *localcluster.Cluster, node string, stale bool) ([]*ferryv1.Job, error) {
	cl, err := c.Client(node)
	if err != nil {
		return nil, err
	}
	var jobs []*ferryv1.Job
	token := ""
	for {
		var resp *ferryv1.ListJobsResponse
		for {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			resp, err = cl.Jobs.List(actx, &ferryv1.ListJobsRequest{Stale: stale, PageToken: token})
			cancel()
			if err == nil || !retryable(err) || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("list jobs on %s (stale=%v): %w", node, stale, err)
		}
		jobs = append(jobs, resp.GetJobs()...)
		token = resp.GetNextPageToken()
		if token == "" {
			return jobs, nil
		}
	}
}

// jobSet is a listing reduced to what the tests compare: idempotency key to
// job id, and every key seen more than once.
type jobSet struct {
	byKey      map[string]string
	duplicates []string
	ids        []string // sorted
}

func newJobSet(jobs []*ferryv1.Job) jobSet {
	s := jobSet{byKey: map[string]string{}}
	for _, j := range jobs {
		if _, ok := s.byKey[j.GetIdempotencyKey()]; ok {
			s.duplicates = append(s.duplicates, j.GetIdempotencyKey())
		}
		s.byKey[j.GetIdempotencyKey()] = j.GetId()
		s.ids = append(s.ids, j.GetId())
	}
	sort.Strings(s.ids)
	return s
}

// checkAcked returns what is wrong with a listing given the acknowledged
// key→id pairs: acknowledged jobs missing or with another id, keys held
// twice, and jobs nobody acknowledged (allowed only if extraOK).
func (s jobSet) checkAcked(acked map[string]string, extraOK bool) error {
	var errs []error
	if len(s.duplicates) > 0 {
		errs = append(errs, fmt.Errorf("%d idempotency keys held by more than one job, e.g. %q", len(s.duplicates), s.duplicates[0]))
	}
	var missing []string
	for key, id := range acked {
		got, ok := s.byKey[key]
		switch {
		case !ok:
			missing = append(missing, key)
		case got != id:
			errs = append(errs, fmt.Errorf("key %q acknowledged as job %s but held as job %s", key, id, got))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		errs = append(errs, fmt.Errorf("%d acknowledged jobs missing, e.g. %q", len(missing), missing[0]))
	}
	if !extraOK && len(s.byKey) != len(acked) {
		errs = append(errs, fmt.Errorf("holds %d keys, %d acknowledged", len(s.byKey), len(acked)))
	}
	return errors.Join(errs...)
}

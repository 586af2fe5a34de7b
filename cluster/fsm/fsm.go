package fsm

import (
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// FSM holds the replicated state. The Raft apply loop writes it through
// Apply, AddNode, RemoveNode and Restore; any number of readers may call the
// read methods at the same time. Nothing it returns aliases its state.
type FSM struct {
	mu sync.RWMutex
	st *state
}

// state is everything a snapshot carries, plus indexes derived from it.
// Restore builds a whole new state and swaps it in, so a bad snapshot never
// leaves a half-restored machine behind.
type state struct {
	applied uint64
	jobs    map[string]*ferryv1.Job
	// order holds the jobs sorted by (created_index, id) for paging.
	order   []*ferryv1.Job
	byKey   map[string]string // idempotency key → job id
	nodes   map[uint64]*ferryv1.NodeInfo
	removed map[uint64]struct{}
}

func newState() *state {
	return &state{
		jobs:    make(map[string]*ferryv1.Job),
		byKey:   make(map[string]string),
		nodes:   make(map[uint64]*ferryv1.NodeInfo),
		removed: make(map[uint64]struct{}),
	}
}

// New returns an empty state machine at applied index 0.
func New() *FSM {
	return &FSM{st: newState()}
}

// Result is the outcome of applying one command.
type Result struct {
	// Job is a copy of the job after the command; nil when Err is set.
	Job *ferryv1.Job
	// Existing reports that a submit matched a job that already existed, by
	// idempotency key or because the same job id was proposed again (as
	// happens when a proposal is retried across a leader change).
	Existing bool
	// Err wraps ErrNotFound, ErrInvalid, ErrJobEnded or ErrUnknownCommand.
	Err error
}

// Apply applies the command committed at the Raft index. Given the same
// state and the same arguments it always produces the same state and Result.
// The index is recorded as applied even when the command fails, because the
// failure itself is the entry's deterministic outcome.
//
// Indexes must increase from call to call, as Raft delivers them; the
// applied index never moves backwards.
func (f *FSM) Apply(index uint64, cmd *ferryv1.Command) Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.advance(index)

	var (
		job      *ferryv1.Job
		existing bool
		err      error
	)
	switch op := cmd.GetOp().(type) {
	case *ferryv1.Command_SubmitJob:
		if op.SubmitJob == nil {
			err = fmt.Errorf("%w: submit_job without a body", ErrUnknownCommand)
			break
		}
		job, existing, err = f.st.submitJob(index, cmd, op.SubmitJob)
	case *ferryv1.Command_CancelJob:
		if op.CancelJob == nil {
			err = fmt.Errorf("%w: cancel_job without a body", ErrUnknownCommand)
			break
		}
		job, err = f.st.cancelJob(index, cmd, op.CancelJob)
	default:
		// A nil command, no op, or an op from a newer version that this
		// binary cannot interpret.
		err = fmt.Errorf("%w: entry %d carries no known operation", ErrUnknownCommand, index)
	}
	if err != nil {
		return Result{Err: err}
	}
	return Result{Job: cloneJob(job), Existing: existing}
}

// AppliedIndex returns the highest index passed to Apply, AddNode or
// RemoveNode, or the index given to the last Restore.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.applied
}

func (s *state) advance(index uint64) {
	if index > s.applied {
		s.applied = index
	}
}

func cloneJob(j *ferryv1.Job) *ferryv1.Job {
	return proto.Clone(j).(*ferryv1.Job)
}

func cloneNode(n *ferryv1.NodeInfo) *ferryv1.NodeInfo {
	return proto.Clone(n).(*ferryv1.NodeInfo)
}

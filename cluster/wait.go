package cluster

import (
	"context"
	"sync"

	"go.etcd.io/raft/v3"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// waitSet hands one result to the goroutine waiting on a key: a proposal's
// outcome to its proposer, a read index to its reader.
type waitSet[T any] struct {
	mu sync.Mutex
	m  map[string]chan T
}

func newWaitSet[T any]() *waitSet[T] { return &waitSet[T]{m: make(map[string]chan T)} }

func (w *waitSet[T]) register(key string) <-chan T {
	ch := make(chan T, 1)
	w.mu.Lock()
	w.m[key] = ch
	w.mu.Unlock()
	return ch
}

func (w *waitSet[T]) cancel(key string) {
	w.mu.Lock()
	delete(w.m, key)
	w.mu.Unlock()
}

func (w *waitSet[T]) complete(key string, v T) {
	w.mu.Lock()
	ch, ok := w.m[key]
	delete(w.m, key)
	w.mu.Unlock()
	if ok {
		ch <- v
	}
}

// watched is a value that goroutines wait on: every change closes the
// channel that wait returned before it.
type watched[T comparable] struct {
	mu      sync.Mutex
	v       T
	changed chan struct{}
}

func newWatched[T comparable]() *watched[T] { return &watched[T]{changed: make(chan struct{})} }

func (w *watched[T]) get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.v
}

// set stores v and wakes the waiters, unless v is what was there.
func (w *watched[T]) set(v T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v == w.v {
		return
	}
	w.v = v
	w.wakeLocked()
}

// notify wakes the waiters without a change of value.
func (w *watched[T]) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wakeLocked()
}

func (w *watched[T]) wakeLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// wait returns a channel closed at the next change, and the value now.
func (w *watched[T]) wait() (<-chan struct{}, T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed, w.v
}

// appliedIndex is the state machine's applied index, with waiters for it to
// reach a given index.
type appliedIndex struct{ *watched[uint64] }

func newAppliedIndex() appliedIndex { return appliedIndex{newWatched[uint64]()} }

func (a appliedIndex) waitFor(ctx context.Context, i uint64) error {
	for {
		ch, idx := a.wait()
		if idx >= i {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// leaderState is what this node last heard of the leader and its own role.
type leaderState struct {
	lead  uint64
	state raft.StateType
}

// jobBroker tells watchers that a job changed; they read the new state from
// the state machine themselves, so a slow watcher never blocks the apply loop.
type jobBroker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newJobBroker() *jobBroker { return &jobBroker{subs: make(map[string]map[chan struct{}]struct{})} }

// subscribe returns a channel that receives a signal after each change of job
// id (changes in between may coalesce), and a function to unsubscribe.
func (b *jobBroker) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs[id] == nil {
		b.subs[id] = make(map[chan struct{}]struct{})
	}
	b.subs[id][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[id], ch)
		if len(b.subs[id]) == 0 {
			delete(b.subs, id)
		}
		b.mu.Unlock()
	}
}

// anyJob is the subscription key that hears about every job.
const anyJob = "*"

func (b *jobBroker) publish(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[id] {
		signal(ch)
	}
	for ch := range b.subs[anyJob] {
		signal(ch)
	}
}

// publishRelated wakes the watchers of the jobs that change with j: its
// multi-stream job, or its streams.
func (b *jobBroker) publishRelated(j *ferryv1.Job) {
	if p := j.GetParent(); p != "" {
		b.publish(p)
	}
	for _, id := range j.GetStreams() {
		b.publish(id)
	}
}

// publishAll wakes every watcher, after a snapshot replaced the whole state.
func (b *jobBroker) publishAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, set := range b.subs {
		for ch := range set {
			signal(ch)
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

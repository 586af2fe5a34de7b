package cluster

import (
	"context"
	"sync"

	"go.etcd.io/raft/v3"
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

// appliedIndex is the state machine's applied index, with waiters for it to
// reach a given index.
type appliedIndex struct {
	mu      sync.Mutex
	index   uint64
	changed chan struct{}
}

func newAppliedIndex() *appliedIndex { return &appliedIndex{changed: make(chan struct{})} }

func (a *appliedIndex) get() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index
}

func (a *appliedIndex) set(i uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i == a.index {
		return
	}
	a.index = i
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *appliedIndex) wait(ctx context.Context, i uint64) error {
	for {
		a.mu.Lock()
		idx, ch := a.index, a.changed
		a.mu.Unlock()
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

// leaderWatch publishes leader changes (and membership changes) to waiters
// that must retry when either happens.
type leaderWatch struct {
	mu      sync.Mutex
	cur     leaderState
	changed chan struct{}
}

func newLeaderWatch() *leaderWatch { return &leaderWatch{changed: make(chan struct{})} }

func (l *leaderWatch) get() leaderState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

func (l *leaderWatch) set(s leaderState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == l.cur {
		return
	}
	l.cur = s
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *leaderWatch) notify() {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
}

// wait returns a channel closed at the next change.
func (l *leaderWatch) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
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

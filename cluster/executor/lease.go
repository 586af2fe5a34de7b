package executor

import (
	"context"
	"sync"
	"time"
)

// ownerLease is this node's side of its lease: the time until which it may
// write, measured on its own monotonic clock from when it SENT the renewal
// the leader granted. The leader measures the same lease from when it
// RECEIVED that renewal, which is later, and gives jobs away only once the
// full lease has passed; the owner stops after the shorter RenewDeadline.
// So no job has two writers as long as the two clocks' rates differ by
// less than the margin between the two (a third, by default). Wall clocks
// need not agree.
type ownerLease struct {
	mu      sync.Mutex
	until   time.Time
	changed chan struct{}
}

func newOwnerLease() *ownerLease { return &ownerLease{changed: make(chan struct{})} }

// extend moves the end of the lease to until, if that is later.
func (l *ownerLease) extend(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.until) {
		l.until = until
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// valid reports whether the node may write now.
func (l *ownerLease) valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.until)
}

// wait returns once the lease is valid. If it is not at first, held is
// called before waiting: the caller counts the write it holds back while
// the lapse lasts, not after.
func (l *ownerLease) wait(ctx context.Context, held func()) error {
	for first := true; ; first = false {
		l.mu.Lock()
		if time.Now().Before(l.until) {
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		if first && held != nil {
			held()
		}
		select {
		case <-ch:
			// A renewal that extends the lease first stops the jobs it
			// found lost; this one may be among them.
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

package rangelock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrRange is returned for a negative offset or length, or a range past
// the largest int64.
var ErrRange = errors.New("rangelock: invalid byte range")

// Backend extends a Table's locks beyond the process, to other processes
// sharing the same file. The Table calls it only for ranges it has already
// granted in the process, so a backend sees no conflict between two of the
// process's own holders; it must tolerate locking a range again that the
// process holds shared already, and unlocking only part of what it locked.
type Backend interface {
	// Lock takes [off, off+n) shared or exclusive, returning once it holds
	// it or with ctx's error once ctx ends; on failure nothing is held.
	Lock(ctx context.Context, off, n int64, exclusive bool) error
	// Unlock releases [off, off+n). The Table calls it with its mutex held,
	// so it must not block for long.
	Unlock(off, n int64)
}

// Table is a set of byte-range locks on one file: shared ranges may
// overlap each other, an exclusive range overlaps nothing else held. A
// waiter is served in arrival order among those it conflicts with, so a
// stream of shared holders cannot starve an exclusive one. The zero value
// is not usable; see New.
type Table struct {
	backend Backend

	mu      sync.Mutex
	held    []*span
	waiting []*span
}

// New returns an empty table whose grants backend extends beyond the
// process; a nil backend keeps them in the process.
func New(backend Backend) *Table { return &Table{backend: backend} }

// span is one lock, held or waited for: bytes [off, end).
type span struct {
	off, end  int64
	exclusive bool
	// ready is closed when a waiting span is granted.
	ready chan struct{}
}

func (s *span) conflicts(o *span) bool {
	return s.off < o.end && o.off < s.end && (s.exclusive || o.exclusive)
}

func conflictsAny(s *span, with []*span) bool {
	for _, o := range with {
		if s.conflicts(o) {
			return true
		}
	}
	return false
}

// Lock takes [off, off+n) shared or exclusive, waiting until no
// conflicting lock is held or ctx ends (then it returns ctx's error and
// holds nothing). unlock releases the range; call it exactly once. An
// empty range locks nothing.
func (t *Table) Lock(ctx context.Context, off, n int64, exclusive bool) (unlock func(), err error) {
	if off < 0 || n < 0 || off > 1<<63-1-n {
		return nil, fmt.Errorf("%w: %d bytes at %d", ErrRange, n, off)
	}
	if n == 0 {
		return func() {}, nil
	}
	s := &span{off: off, end: off + n, exclusive: exclusive}
	t.mu.Lock()
	if conflictsAny(s, t.held) || conflictsAny(s, t.waiting) {
		s.ready = make(chan struct{})
		t.waiting = append(t.waiting, s)
		t.mu.Unlock()
		if err := t.wait(ctx, s); err != nil {
			return nil, err
		}
	} else {
		t.held = append(t.held, s)
		t.mu.Unlock()
	}
	if t.backend != nil {
		if err := t.backend.Lock(ctx, off, n, exclusive); err != nil {
			t.release(s)
			return nil, err
		}
	}
	return func() { t.release(s) }, nil
}

// wait blocks until s, queued, is granted, or ctx ends and s leaves the
// queue.
func (t *Table) wait(ctx context.Context, s *span) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	select {
	case <-s.ready:
		// Granted as ctx ended: hand it back.
		t.mu.Unlock()
		t.release(s)
	default:
		t.waiting = slices.DeleteFunc(t.waiting, func(w *span) bool { return w == s })
		// Waiters queued behind s may now go ahead.
		t.grant()
		t.mu.Unlock()
	}
	return ctx.Err()
}

// release drops s, hands the backend back the part of s no other holder
// in the process covers, and grants the waiters that no longer conflict.
func (t *Table) release(s *span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.held = slices.DeleteFunc(t.held, func(h *span) bool { return h == s })
	if t.backend != nil {
		// A backend lock belongs to the whole process (one open file
		// description): another shared holder overlapping s still needs
		// its part locked.
		for _, r := range uncovered(s.off, s.end, t.held) {
			t.backend.Unlock(r[0], r[1]-r[0])
		}
	}
	t.grant()
}

// grant moves to held, in arrival order, every waiter that conflicts
// neither with a holder nor with a waiter that arrived before it.
func (t *Table) grant() {
	kept := t.waiting[:0]
	for _, w := range t.waiting {
		if conflictsAny(w, t.held) || conflictsAny(w, kept) {
			kept = append(kept, w)
			continue
		}
		t.held = append(t.held, w)
		close(w.ready)
	}
	clear(t.waiting[len(kept):])
	t.waiting = kept
}

// uncovered returns the parts of [off, end) that no span of others
// overlaps, in ascending order.
func uncovered(off, end int64, others []*span) [][2]int64 {
	var cover [][2]int64
	for _, o := range others {
		if o.off < end && off < o.end {
			cover = append(cover, [2]int64{max(o.off, off), min(o.end, end)})
		}
	}
	if len(cover) == 0 {
		return [][2]int64{{off, end}}
	}
	slices.SortFunc(cover, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]int64
	at := off
	for _, c := range cover {
		if c[0] > at {
			out = append(out, [2]int64{at, c[0]})
		}
		at = max(at, c[1])
	}
	if at < end {
		out = append(out, [2]int64{at, end})
	}
	return out
}

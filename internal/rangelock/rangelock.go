package rangelock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrRange is returned for a negative offset or length, or a range past
// the largest int64.
var ErrRange = errors.New("rangelock: invalid byte range")

// Backend extends a Table's locks to other processes sharing the file
// (storage/disk's open file description locks). Its locks belong to the
// whole Table: the Table calls it only for ranges it has granted in the
// process, keeps track of what the backend holds, and never asks it to
// lock a range against the Table's own. Every method returns at once.
type Backend interface {
	// TryLock takes [off, off+n) shared or exclusive if no other process
	// holds a conflicting lock (ok false if one does). Locking a range the
	// Table holds shared exclusively converts it.
	TryLock(off, n int64, exclusive bool) (ok bool, err error)
	// Unlock releases [off, off+n).
	Unlock(off, n int64)
	// Intent announces (on) or withdraws that this Table waits for an
	// exclusive lock another process holds off.
	Intent(on bool) error
	// Contended reports whether another process announced Intent.
	Contended() (bool, error)
}

// Timing of the backend. A lock another process holds is polled, first
// soon (a COMPARE AND WRITE holds its range for a read and a write), then
// backing off. Shared ranges stay locked in the backend after their
// holders leave (see Table), until the janitor, which looks every
// janitorPeriod, finds another process waiting or the table idle for
// idleRelease.
const (
	firstRetry    = 20 * time.Microsecond
	maxRetry      = 2 * time.Millisecond
	janitorPeriod = time.Millisecond
	idleRelease   = 100 * time.Millisecond
	// cacheChunk is the alignment a shared range is widened to when it
	// is locked in the backend, so that the next writes nearby find it
	// locked already.
	cacheChunk = 1 << 20
)

// Table is a set of byte-range locks on one file: shared ranges may
// overlap each other, an exclusive range overlaps nothing else held. A
// waiter is served in arrival order among those it conflicts with, so a
// stream of shared holders cannot starve an exclusive one.
//
// With a backend, a shared range stays locked there after its holder
// leaves, widened to cacheChunk, so that a stream of writes costs no
// system call per write: a backend lock is two system calls, as dear as
// the write itself. Another process that needs an exclusive lock across
// such a range announces its intent, and the janitor then releases every
// range no holder needs and stops caching until the intent is withdrawn.
type Table struct {
	backend Backend

	mu      sync.Mutex
	held    []*span
	waiting []*span
	// shared is what the backend holds shared for the table: every held
	// shared span's bytes, and cached ones no holder needs.
	shared ranges
	// contended: another process waits for an exclusive lock, so shared
	// ranges are released in the backend as soon as their holders leave.
	contended bool
	janitor   bool // the janitor goroutine runs
	lastUse   time.Time
	intents   int // this table's waiters announcing intent
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
// conflicting lock is held, in this process or another, or ctx ends (then
// it returns ctx's error and holds nothing). unlock releases the range;
// call it exactly once. An empty range locks nothing.
func (t *Table) Lock(ctx context.Context, off, n int64, exclusive bool) (unlock func(), err error) {
	if off < 0 || n < 0 || off > 1<<62-n {
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
		if err := t.lockBackend(ctx, s); err != nil {
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

// lockBackend extends s, granted in the process, to the backend.
func (t *Table) lockBackend(ctx context.Context, s *span) error {
	if ok, err := t.lockCached(s); ok || err != nil {
		return err
	}
	if ok, err := t.try(s); ok || err != nil {
		return err
	}
	if s.exclusive {
		if err := t.intent(true); err != nil {
			return err
		}
		defer t.intent(false)
	}
	timer := time.NewTimer(firstRetry)
	defer timer.Stop()
	for delay := firstRetry; ; delay = min(2*delay, maxRetry) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if ok, err := t.try(s); ok || err != nil {
			return err
		}
		timer.Reset(delay)
	}
}

// try locks s in the backend if no other process holds it off, and
// records what the backend then holds. t.mu is held through the system
// call (which does not block), so that the janitor never sees the backend
// and the record disagree.
func (t *Table) try(s *span) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ok, err := t.backend.TryLock(s.off, s.end-s.off, s.exclusive)
	if !ok || err != nil {
		return false, err
	}
	if s.exclusive {
		// Converted from shared where the table cached it.
		t.shared = t.shared.remove(s.off, s.end)
	} else {
		t.shared = t.shared.add(s.off, s.end)
		t.startJanitor()
	}
	return true, nil
}

// lockCached takes a shared s from the cache of shared ranges, or locks
// its chunk in the backend and caches that; ok false when s must be
// locked by itself (exclusive, contended, or another process holds part
// of the chunk).
func (t *Table) lockCached(s *span) (ok bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastUse = time.Now()
	if s.exclusive {
		return false, nil
	}
	if t.shared.covers(s.off, s.end) {
		return true, nil
	}
	if t.contended {
		return false, nil
	}
	off := s.off / cacheChunk * cacheChunk
	end := min((s.end+cacheChunk-1)/cacheChunk*cacheChunk, 1<<62)
	// A shared lock over the table's own exclusive range would convert it
	// back to shared in the backend. t.mu is held through the system call
	// so that no exclusive span is granted meanwhile.
	for _, h := range t.held {
		if h.exclusive && h.off < end && off < h.end {
			return false, nil
		}
	}
	if ok, err := t.backend.TryLock(off, end-off, false); !ok || err != nil {
		return false, err
	}
	t.shared = t.shared.add(off, end)
	t.startJanitor()
	return true, nil
}

// intent counts this table's exclusive waiters, announcing intent while
// there is one.
func (t *Table) intent(on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if on {
		t.intents++
		if t.intents > 1 {
			return nil
		}
		if err := t.backend.Intent(true); err != nil {
			t.intents--
			return err
		}
		return nil
	}
	t.intents--
	if t.intents == 0 {
		t.backend.Intent(false)
	}
	return nil
}

// release drops s and grants the waiters that no longer conflict. In the
// backend, an exclusive range is released at once; a shared one stays
// cached unless another process waits.
func (t *Table) release(s *span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.held = slices.DeleteFunc(t.held, func(h *span) bool { return h == s })
	if t.backend != nil && (s.exclusive || t.contended) {
		for _, r := range uncovered(s.off, s.end, t.held) {
			t.backend.Unlock(r[0], r[1]-r[0])
			t.shared = t.shared.remove(r[0], r[1])
		}
	}
	t.grant()
}

// startJanitor starts the janitor unless it runs; t.mu is held.
func (t *Table) startJanitor() {
	if t.janitor || len(t.shared) == 0 {
		return
	}
	t.janitor = true
	go t.sweep()
}

// sweep is the janitor: while the backend holds shared ranges for the
// table, it looks every janitorPeriod whether another process waits for
// an exclusive lock, and then, or once the table has been idle for
// idleRelease, releases every range no holder needs.
func (t *Table) sweep() {
	tick := time.NewTicker(janitorPeriod)
	defer tick.Stop()
	for range tick.C {
		t.mu.Lock()
		contended, err := t.backend.Contended()
		t.contended = contended || err != nil
		if t.contended || time.Since(t.lastUse) > idleRelease {
			t.dropCached()
		}
		if len(t.shared) == 0 {
			t.janitor = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
}

// dropCached releases in the backend every shared range no held shared
// span needs (an exclusive span still waiting for the backend needs none:
// its own table's cache in its range would hold off another process's
// exclusive waiter, which in turn holds off this one); t.mu is held.
func (t *Table) dropCached() {
	for _, r := range slices.Clone(t.shared) {
		for _, u := range uncovered(r[0], r[1], t.held) {
			t.backend.Unlock(u[0], u[1]-u[0])
			t.shared = t.shared.remove(u[0], u[1])
		}
	}
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

// uncovered returns the parts of [off, end) that no shared span of
// others overlaps, in ascending order: the backend's shared lock there is
// needed by no holder. (An exclusive span never overlaps another held
// span; its own lock in the backend is not in the shared set.)
func uncovered(off, end int64, others []*span) [][2]int64 {
	var cover [][2]int64
	for _, o := range others {
		if !o.exclusive && o.off < end && off < o.end {
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

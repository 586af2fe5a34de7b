package rangelock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// blocks reports whether Lock waits: it tries with a context that ends
// after a short while (a wait that would end on its own would have to be
// granted within it, which the tests rule out by holding the conflict).
func blocks(t *testing.T, tb *Table, off, n int64, excl bool) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	unlock, err := tb.Lock(ctx, off, n, excl)
	if err == nil {
		unlock()
		return false
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock: %v", err)
	}
	return true
}

func TestConflicts(t *testing.T) {
	tests := []struct {
		name       string
		off, n     int64
		excl       bool
		off2, n2   int64
		excl2      bool
		wantBlocks bool
	}{
		{"shared over shared", 0, 4096, false, 0, 4096, false, false},
		{"exclusive over shared", 0, 4096, false, 1024, 512, true, true},
		{"shared over exclusive", 0, 4096, true, 4095, 2, false, true},
		{"exclusive over exclusive", 0, 4096, true, 0, 1, true, true},
		{"adjacent exclusive", 0, 4096, true, 4096, 4096, true, false},
		{"before exclusive", 4096, 4096, true, 0, 4096, false, false},
		{"empty inside exclusive", 0, 4096, true, 100, 0, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := New(nil)
			unlock, err := tb.Lock(context.Background(), tc.off, tc.n, tc.excl)
			if err != nil {
				t.Fatal(err)
			}
			if got := blocks(t, tb, tc.off2, tc.n2, tc.excl2); got != tc.wantBlocks {
				t.Fatalf("second lock blocks = %v, want %v", got, tc.wantBlocks)
			}
			unlock()
			if blocks(t, tb, tc.off2, tc.n2, tc.excl2) {
				t.Fatal("second lock blocks after the first is released")
			}
		})
	}
}

func TestInvalidRange(t *testing.T) {
	tb := New(nil)
	for _, r := range [][2]int64{{-1, 1}, {0, -1}, {1<<63 - 1, 1}} {
		if _, err := tb.Lock(context.Background(), r[0], r[1], false); !errors.Is(err, ErrRange) {
			t.Errorf("Lock(%d, %d) = %v, want ErrRange", r[0], r[1], err)
		}
	}
}

// TestExclusiveNotStarved: once an exclusive waiter queues, later shared
// lockers of its range wait behind it.
func TestExclusiveNotStarved(t *testing.T) {
	tb := New(nil)
	unlockS, _ := tb.Lock(context.Background(), 0, 4096, false)
	got := make(chan func(), 1)
	go func() {
		u, err := tb.Lock(context.Background(), 0, 4096, true)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	waitFor(t, func() bool { tb.mu.Lock(); defer tb.mu.Unlock(); return len(tb.waiting) == 1 })
	if !blocks(t, tb, 0, 512, false) {
		t.Fatal("a shared lock went ahead of a waiting exclusive one")
	}
	if blocks(t, tb, 8192, 512, false) {
		t.Fatal("a shared lock of another range waited")
	}
	unlockS()
	(<-got)()
}

// TestCancelWhileWaiting: a waiter whose context ends leaves the queue,
// and those behind it go ahead.
func TestCancelWhileWaiting(t *testing.T) {
	tb := New(nil)
	unlockS, _ := tb.Lock(context.Background(), 0, 4096, false)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := tb.Lock(ctx, 0, 4096, true)
		errc <- err
	}()
	waitFor(t, func() bool { tb.mu.Lock(); defer tb.mu.Unlock(); return len(tb.waiting) == 1 })
	shared := make(chan func(), 1)
	go func() {
		u, _ := tb.Lock(context.Background(), 0, 512, false)
		shared <- u
	}()
	waitFor(t, func() bool { tb.mu.Lock(); defer tb.mu.Unlock(); return len(tb.waiting) == 2 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Lock = %v", err)
	}
	(<-shared)()
	unlockS()
	if blocks(t, tb, 0, 4096, true) {
		t.Fatal("table not empty after every holder left")
	}
}

// recorder is a Backend that records the bytes the process holds in it.
type recorder struct {
	mu    sync.Mutex
	bytes map[int64]int // byte -> 1 shared, 2 exclusive
	fail  error
}

func (r *recorder) Lock(_ context.Context, off, n int64, excl bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	for b := off; b < off+n; b++ {
		if r.bytes[b] == 2 || (excl && r.bytes[b] != 0) {
			return fmt.Errorf("backend: byte %d already held", b)
		}
		r.bytes[b] = 1
		if excl {
			r.bytes[b] = 2
		}
	}
	return nil
}

func (r *recorder) Unlock(off, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for b := off; b < off+n; b++ {
		delete(r.bytes, b)
	}
}

func (r *recorder) held() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var bs []int64
	for b := range r.bytes {
		bs = append(bs, b)
	}
	slices.Sort(bs)
	return bs
}

func span64(off, end int64) []int64 {
	var bs []int64
	for b := off; b < end; b++ {
		bs = append(bs, b)
	}
	return bs
}

// TestBackendPartialUnlock: releasing one of two overlapping shared
// holders leaves the other's bytes locked in the backend.
func TestBackendPartialUnlock(t *testing.T) {
	rec := &recorder{bytes: map[int64]int{}}
	tb := New(rec)
	u1, err := tb.Lock(context.Background(), 0, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := tb.Lock(context.Background(), 4, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	u1()
	if got, want := rec.held(), span64(4, 12); !slices.Equal(got, want) {
		t.Fatalf("backend holds %v, want %v", got, want)
	}
	u3, err := tb.Lock(context.Background(), 0, 4, true)
	if err != nil {
		t.Fatal(err)
	}
	u2()
	if got, want := rec.held(), span64(0, 4); !slices.Equal(got, want) {
		t.Fatalf("backend holds %v, want %v", got, want)
	}
	u3()
	if got := rec.held(); len(got) != 0 {
		t.Fatalf("backend still holds %v", got)
	}
	rec.fail = errors.New("no locks here")
	if _, err := tb.Lock(context.Background(), 0, 4, true); !errors.Is(err, rec.fail) {
		t.Fatalf("Lock with a failing backend = %v", err)
	}
	rec.fail = nil
	if blocks(t, tb, 0, 4, true) {
		t.Fatal("a failed Lock left its range held")
	}
}

// TestExclusion: goroutines incrementing a counter under exclusive locks,
// with shared holders around them, lose no update (run with -race).
func TestExclusion(t *testing.T) {
	tb := New(&recorder{bytes: map[int64]int{}})
	const workers, rounds = 8, 200
	var counter, inShared int
	var mu sync.Mutex // guards inShared only
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				excl := w%2 == 0
				unlock, err := tb.Lock(context.Background(), int64(w%3), 4, excl)
				if err != nil {
					t.Error(err)
					return
				}
				if excl {
					mu.Lock()
					if inShared != 0 {
						t.Error("exclusive holder overlaps a shared one")
					}
					mu.Unlock()
					counter++
				} else {
					mu.Lock()
					inShared++
					mu.Unlock()
					mu.Lock()
					inShared--
					mu.Unlock()
				}
				unlock()
			}
		}()
	}
	wg.Wait()
	if want := workers / 2 * rounds; counter != want {
		t.Fatalf("counter = %d, want %d", counter, want)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

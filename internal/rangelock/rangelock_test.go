package rangelock

import (
	"context"
	"errors"
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

// kernel is a fake of the kernel's open file description locks: each
// owner (a Table's backend) holds shared and exclusive ranges, which
// exclude other owners' and convert its own.
type kernel struct {
	mu     sync.Mutex
	rd, wr map[int]ranges
	intent map[int]bool
	fail   error
	calls  int
}

func newKernel() *kernel {
	return &kernel{rd: map[int]ranges{}, wr: map[int]ranges{}, intent: map[int]bool{}}
}

// owner is one open file description of the kernel.
type owner struct {
	k  *kernel
	id int
}

func overlaps(rs ranges, off, end int64) bool {
	for _, r := range rs {
		if r[0] < end && off < r[1] {
			return true
		}
	}
	return false
}

func (o owner) TryLock(off, n int64, excl bool) (bool, error) {
	k := o.k
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	if k.fail != nil {
		return false, k.fail
	}
	end := off + n
	for id := range k.rd {
		if id != o.id && (overlaps(k.wr[id], off, end) || excl && overlaps(k.rd[id], off, end)) {
			return false, nil
		}
	}
	for id := range k.wr {
		if id != o.id && overlaps(k.wr[id], off, end) {
			return false, nil
		}
	}
	if excl {
		k.rd[o.id] = k.rd[o.id].remove(off, end)
		k.wr[o.id] = k.wr[o.id].add(off, end)
	} else {
		k.wr[o.id] = k.wr[o.id].remove(off, end)
		k.rd[o.id] = k.rd[o.id].add(off, end)
	}
	return true, nil
}

func (o owner) Unlock(off, n int64) {
	k := o.k
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	k.rd[o.id] = k.rd[o.id].remove(off, off+n)
	k.wr[o.id] = k.wr[o.id].remove(off, off+n)
}

func (o owner) Intent(on bool) error {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()
	o.k.intent[o.id] = on
	return nil
}

func (o owner) Contended() (bool, error) {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()
	for id, on := range o.k.intent {
		if on && id != o.id {
			return true, nil
		}
	}
	return false, nil
}

// holds reports whether owner id holds [off, end) in the kernel,
// exclusively or at least shared, and no other owner conflicts.
func (k *kernel) holds(id int, off, end int64, excl bool) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	mine := k.wr[id].covers(off, end) || !excl && k.rd[id].covers(off, end)
	for other := range k.rd {
		if other != id && (overlaps(k.wr[other], off, end) || excl && overlaps(k.rd[other], off, end)) {
			return false
		}
	}
	return mine
}

func (k *kernel) empty() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id := range k.rd {
		if len(k.rd[id]) > 0 || len(k.wr[id]) > 0 {
			return false
		}
	}
	return true
}

// TestBackendCache: a shared range stays locked in the backend, widened
// to its chunk, after its holder leaves, so the next shared locks nearby
// cost no call; it is released when another owner waits for an exclusive
// lock, or when the table falls idle.
func TestBackendCache(t *testing.T) {
	k := newKernel()
	a, b := New(owner{k, 1}), New(owner{k, 2})
	u, err := a.Lock(context.Background(), 4096, 4096, false)
	if err != nil {
		t.Fatal(err)
	}
	u()
	if !k.holds(1, 0, cacheChunk, false) {
		t.Fatal("the chunk of a released shared range is not cached")
	}
	calls := k.calls
	for i := range int64(8) {
		u, err := a.Lock(context.Background(), i*4096, 4096, false)
		if err != nil {
			t.Fatal(err)
		}
		u()
	}
	if k.calls != calls {
		t.Fatalf("%d backend calls for shared locks inside a cached chunk", k.calls-calls)
	}
	// b waits for an exclusive lock inside a's cache: a's janitor lets go.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ub, err := b.Lock(ctx, 512, 512, true)
	if err != nil {
		t.Fatalf("exclusive lock against another owner's cache: %v", err)
	}
	if !k.holds(2, 512, 1024, true) {
		t.Fatal("b holds no exclusive lock in the kernel")
	}
	// While b holds it, a shared lock of a waits.
	if !blocks(t, a, 0, 1024, false) {
		t.Fatal("a shared lock was granted over another owner's exclusive range")
	}
	ub()
	waitFor(t, func() bool { return k.empty() })
}

// TestNoWidenOverOwnExclusive: widening a shared range to its chunk must
// not turn the table's own exclusive range in it back to shared.
func TestNoWidenOverOwnExclusive(t *testing.T) {
	k := newKernel()
	a := New(owner{k, 1})
	ue, err := a.Lock(context.Background(), 8192, 512, true)
	if err != nil {
		t.Fatal(err)
	}
	us, err := a.Lock(context.Background(), 0, 512, false)
	if err != nil {
		t.Fatal(err)
	}
	if !k.holds(1, 8192, 8192+512, true) {
		t.Fatal("the exclusive range lost its exclusive lock when a shared range nearby was locked")
	}
	us()
	ue()
}

func TestBackendFailure(t *testing.T) {
	k := newKernel()
	tb := New(owner{k, 1})
	k.fail = errors.New("no locks here")
	if _, err := tb.Lock(context.Background(), 0, 4, true); !errors.Is(err, k.fail) {
		t.Fatalf("Lock with a failing backend = %v", err)
	}
	if _, err := tb.Lock(context.Background(), 0, 4, false); !errors.Is(err, k.fail) {
		t.Fatalf("Lock with a failing backend = %v", err)
	}
	k.fail = nil
	if blocks(t, tb, 0, 4, true) {
		t.Fatal("a failed Lock left its range held")
	}
}

// TestExclusion: goroutines on two tables sharing a kernel (two
// processes) increment a counter under exclusive locks, with shared
// holders around them; no update is lost, and each exclusive holder holds
// its range in the kernel against the other table (run with -race).
func TestExclusion(t *testing.T) {
	k := newKernel()
	tables := []*Table{New(owner{k, 1}), New(owner{k, 2})}
	const workers, rounds = 8, 100
	var counter, inShared int
	var mu sync.Mutex // guards inShared only
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tb, id := tables[w%2], w%2+1
			for i := range rounds {
				excl := (w+i)%3 == 0
				off := int64(w%3) * 512
				unlock, err := tb.Lock(context.Background(), off, 1536, excl)
				if err != nil {
					t.Error(err)
					return
				}
				if !k.holds(id, off, off+1536, excl) {
					t.Errorf("table %d holds [%d, %d) exclusive=%v in the process but not in the kernel", id, off, off+1536, excl)
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
	want := 0
	for w := range workers {
		for i := range rounds {
			if (w+i)%3 == 0 {
				want++
			}
		}
	}
	if counter != want {
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

package fence

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestClaim(t *testing.T) {
	type step struct {
		epoch  uint64
		fenced bool
		after  uint64 // stored epoch after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "raise", steps: []step{{epoch: 3, after: 3}, {epoch: 7, after: 7}}},
		{name: "lower refused", steps: []step{{epoch: 7, after: 7}, {epoch: 6, fenced: true, after: 7}, {epoch: 1, fenced: true, after: 7}}},
		{name: "equal again", steps: []step{{epoch: 5, after: 5}, {epoch: 5, after: 5}}},
		{name: "zero on fresh fence", steps: []step{{epoch: 0, after: 0}, {epoch: 1, after: 1}}},
		{name: "max", steps: []step{{epoch: ^uint64(0), after: ^uint64(0)}, {epoch: 1 << 62, fenced: true, after: ^uint64(0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := newDevice(t)
			f := openFence(t, dev)
			if e, err := f.Epoch(); err != nil || e != 0 {
				t.Fatalf("fresh Epoch = %d, %v; want 0", e, err)
			}
			for _, s := range tt.steps {
				err := f.Claim(context.Background(), s.epoch)
				if s.fenced != errors.Is(err, ErrFenced) || (!s.fenced && err != nil) {
					t.Fatalf("Claim(%d) = %v; fenced want %v", s.epoch, err, s.fenced)
				}
				if e, err := f.Epoch(); err != nil || e != s.after {
					t.Fatalf("after Claim(%d): Epoch = %d, %v; want %d", s.epoch, e, err, s.after)
				}
				if e := storedEpoch(t, dev); e != s.after {
					t.Fatalf("after Claim(%d): file holds %d; want %d", s.epoch, e, s.after)
				}
			}
		})
	}
}

func TestClaimSurvivesReopen(t *testing.T) {
	dev := newDevice(t)
	f := openFence(t, dev)
	if err := f.Claim(context.Background(), 9); err != nil {
		t.Fatal(err)
	}
	g := openFence(t, dev)
	if e, err := g.Epoch(); err != nil || e != 9 {
		t.Fatalf("reopened Epoch = %d, %v; want 9", e, err)
	}
	info, err := os.Stat(dev + ".fence")
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644&^umask() {
		t.Errorf("fence file mode %v, want 0644 less umask", info.Mode().Perm())
	}
}

func umask() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name    string
		claimed uint64 // 0: never claimed
		epoch   uint64
		fenced  bool
	}{
		{name: "fresh fence, epoch 0", epoch: 0},
		{name: "fresh fence, any epoch", epoch: 4},
		{name: "current epoch", claimed: 4, epoch: 4},
		{name: "newer than stored", claimed: 4, epoch: 5},
		{name: "older epoch", claimed: 4, epoch: 3, fenced: true},
		{name: "zero after a claim", claimed: 1, epoch: 0, fenced: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := newDevice(t)
			f := openFence(t, dev)
			if tt.claimed > 0 {
				if err := f.Claim(context.Background(), tt.claimed); err != nil {
					t.Fatal(err)
				}
			}
			called := false
			err := f.Write(tt.epoch, func() error { called = true; return nil })
			if tt.fenced {
				if !errors.Is(err, ErrFenced) || called {
					t.Fatalf("Write(%d) = %v, fn called %v; want ErrFenced, fn not called", tt.epoch, err, called)
				}
				return
			}
			if err != nil || !called {
				t.Fatalf("Write(%d) = %v, fn called %v; want nil, called", tt.epoch, err, called)
			}
		})
	}
}

func TestWriteReturnsFnError(t *testing.T) {
	f := openFence(t, newDevice(t))
	want := errors.New("medium error")
	if err := f.Write(0, func() error { return want }); err != want {
		t.Fatalf("Write = %v, want fn's error itself", err)
	}
	// The lock was released: a claim gets through.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.Claim(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReleasesLockOnPanic(t *testing.T) {
	f := openFence(t, newDevice(t))
	func() {
		defer func() { _ = recover() }()
		_ = f.Write(0, func() error { panic("device driver bug") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.Claim(ctx, 1); err != nil {
		t.Fatalf("Claim after a panicking write: %v", err)
	}
}

// Two Fences in one process hold different open file descriptions, so their
// locks conflict as two processes' would.
func TestClaimWaitsForWriteInFlight(t *testing.T) {
	dev := newDevice(t)
	old := openFence(t, dev)
	newer := openFence(t, dev)
	if err := old.Claim(context.Background(), 5); err != nil {
		t.Fatal(err)
	}

	entered := make(chan struct{})
	release := make(chan struct{})
	var epochAtEnd atomic.Uint64
	writeErr := make(chan error, 1)
	go func() {
		writeErr <- old.Write(5, func() error {
			close(entered)
			<-release
			epochAtEnd.Store(storedEpoch(t, dev))
			return nil
		})
	}()
	<-entered

	// A claim times out while the write is in flight...
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := newer.Claim(ctx, 6)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim during a write = %v, want DeadlineExceeded", err)
	}
	// ...and gives up when cancelled.
	ctx, cancel = context.WithCancel(context.Background())
	claimErr := make(chan error, 1)
	go func() { claimErr <- newer.Claim(ctx, 6) }()
	waitFor(t, "the claim to wait", func() bool { return claimWaiting(t, dev) })
	cancel()
	if err := <-claimErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Claim = %v, want Canceled", err)
	}

	// An uncancelled claim completes once the write returns, not before.
	go func() { claimErr <- newer.Claim(context.Background(), 6) }()
	waitFor(t, "the claim to wait", func() bool { return claimWaiting(t, dev) })
	select {
	case err := <-claimErr:
		t.Fatalf("Claim returned %v while a write was in flight", err)
	default:
	}
	close(release)
	if err := <-writeErr; err != nil {
		t.Fatalf("Write in flight: %v", err)
	}
	if err := <-claimErr; err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if e := epochAtEnd.Load(); e != 5 {
		t.Fatalf("epoch at the end of the write in flight = %d, want 5", e)
	}
	called := false
	if err := old.Write(5, func() error { called = true; return nil }); !errors.Is(err, ErrFenced) || called {
		t.Fatalf("old owner's Write after the claim = %v, fn called %v; want ErrFenced", err, called)
	}
}

// The same Fence's Claim conflicts with its own Writes too.
func TestClaimOnWritingFence(t *testing.T) {
	dev := newDevice(t)
	f := openFence(t, dev)
	entered := make(chan struct{})
	release := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		writeErr <- f.Write(0, func() error { close(entered); <-release; return nil })
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.Claim(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim on the writing fence = %v, want DeadlineExceeded", err)
	}
	close(release)
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if err := f.Claim(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

func TestClaimCancelledBeforeStart(t *testing.T) {
	f := openFence(t, newDevice(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Claim(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Claim = %v, want Canceled", err)
	}
	if e, err := f.Epoch(); err != nil || e != 0 {
		t.Fatalf("Epoch = %d, %v; want 0", e, err)
	}
}

// Writes that overlap without pause (several goroutines, each staying in fn
// until the next is in) must not starve a Claim: the turnstile holds new
// writes back. Without it this claim times out.
func TestClaimNotStarvedByOverlappingWrites(t *testing.T) {
	dev := newDevice(t)
	old := openFence(t, dev)
	newer := openFence(t, dev)
	if err := old.Claim(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	disk, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()

	const writers = 4
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		entered atomic.Int64
		inside  atomic.Int64
		overlap atomic.Bool // two writes were in fn at once
	)
	buf := make([]byte, 64<<10)
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			for !stop.Load() {
				err := old.Write(1, func() error {
					me := entered.Add(1)
					if inside.Add(1) > 1 {
						overlap.Store(true)
					}
					defer inside.Add(-1)
					// Hand over: stay until a later write is in too, so the
					// shared lock is never free — but not for long, as when
					// a claim holds new writes back there is none to come.
					for end := time.Now().Add(100 * time.Millisecond); entered.Load() == me && time.Now().Before(end); {
						runtime.Gosched()
					}
					_, err := disk.WriteAt(buf, int64(i)*int64(len(buf)))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	waitFor(t, "writes to overlap", func() bool { return entered.Load() > 100 && overlap.Load() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := newer.Claim(ctx, 2); err != nil {
		t.Errorf("Claim amid overlapping writes: %v", err)
		stop.Store(true)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrFenced) {
			t.Errorf("writer stopped by %v, want ErrFenced", err)
		}
	}
}

// While a claim waits for a write in flight, new writes wait behind it —
// from the same Fence as the write in flight or another — and are then
// refused.
func TestWritesWaitBehindWaitingClaim(t *testing.T) {
	dev := newDevice(t)
	old := openFence(t, dev)
	oldToo := openFence(t, dev)
	newer := openFence(t, dev)
	if err := old.Claim(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	inFlight := make(chan error, 1)
	go func() {
		inFlight <- old.Write(1, func() error { close(entered); <-release; return nil })
	}()
	<-entered
	claimErr := make(chan error, 1)
	go func() { claimErr <- newer.Claim(context.Background(), 2) }()
	waitFor(t, "the claim to wait", func() bool { return claimWaiting(t, dev) })

	called := make(chan string, 2)
	late := make(chan error, 2)
	for name, f := range map[string]*Fence{"same fence": old, "other fence": oldToo} {
		go func() { late <- f.Write(1, func() error { called <- name; return nil }) }()
	}
	// Give the late writes a moment in which they must not get in.
	select {
	case name := <-called:
		t.Fatalf("a write from the %s ran while a claim was waiting", name)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-inFlight; err != nil {
		t.Fatal(err)
	}
	if err := <-claimErr; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-late; !errors.Is(err, ErrFenced) {
			t.Errorf("late write = %v, want ErrFenced", err)
		}
	}
	select {
	case name := <-called:
		t.Fatalf("a late write from the %s ran", name)
	default:
	}
}

func TestConcurrentWritesOneFence(t *testing.T) {
	dev := newDevice(t)
	f := openFence(t, dev)
	if err := f.Claim(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var calls atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := f.Write(3, func() error { calls.Add(1); return nil }); err != nil {
					t.Error(err)
					return
				}
				if _, err := f.Epoch(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 8*200 {
		t.Fatalf("%d writes ran, want %d", n, 8*200)
	}
	// All shared locks were dropped.
	other := openFence(t, dev)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := other.Claim(ctx, 4); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedFenceFile(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{name: "garbage", content: []byte("this is not a fence record")},
		{name: "short", content: []byte("FNC1\x00\x00")},
		{name: "bad checksum", content: func() []byte { r := encode(Record{Cluster: testCluster, Epoch: 8}); r[13]++; return r }()},
		{name: "trailing bytes", content: func() []byte { return append(encode(Record{Cluster: testCluster, Epoch: 8}), '\n') }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := newDevice(t)
			if err := os.WriteFile(dev+".fence", tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			f := openFence(t, dev)
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFenced) {
					t.Errorf("%s = %v, want ErrCorrupt and not ErrFenced", op, err)
				}
			}
			_, err := f.Epoch()
			check("Epoch", err)
			check("Claim", f.Claim(context.Background(), 100))
			called := false
			check("Write", f.Write(100, func() error { called = true; return nil }))
			if called {
				t.Error("Write ran fn over a damaged fence")
			}
			// Claim must not have "repaired" it.
			if b, _ := os.ReadFile(dev + ".fence"); string(b) != string(tt.content) {
				t.Errorf("damaged fence file rewritten to %x", b)
			}
		})
	}
}

func TestOpenUnsupported(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{name: "directory", path: dir},
		{name: "fifo", path: fifo},
		{name: "symlink to directory", path: link},
		{name: "character device", path: os.DevNull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Open(tt.path, testCluster)
			if !errors.Is(err, ErrUnsupported) {
				if f != nil {
					f.Close()
				}
				t.Fatalf("Open(%s) = %v, want ErrUnsupported", tt.path, err)
			}
		})
	}
	if _, err := os.Stat(dir + ".fence"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open left a fence file beside an unsupported device: %v", err)
	}
}

func TestOpenMissingDevice(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.tap"), testCluster)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrUnsupported) {
		t.Fatalf("Open of a missing device = %v, want ErrNotExist", err)
	}
}

func TestFenceFileReplaced(t *testing.T) {
	tests := []struct {
		name    string
		replace func(t *testing.T, fencePath string)
	}{
		{name: "removed", replace: func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "renamed over", replace: func(t *testing.T, p string) {
			r := encode(Record{Cluster: testCluster, Epoch: 1})
			if err := os.WriteFile(p+".new", r, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p+".new", p); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := newDevice(t)
			f := openFence(t, dev)
			if err := f.Claim(context.Background(), 7); err != nil {
				t.Fatal(err)
			}
			tt.replace(t, dev+".fence")
			called := false
			if err := f.Write(7, func() error { called = true; return nil }); !errors.Is(err, ErrReplaced) || called {
				t.Errorf("Write = %v, fn called %v; want ErrReplaced", err, called)
			}
			if err := f.Claim(context.Background(), 8); !errors.Is(err, ErrReplaced) {
				t.Errorf("Claim = %v, want ErrReplaced", err)
			}
			if _, err := f.Epoch(); !errors.Is(err, ErrReplaced) {
				t.Errorf("Epoch = %v, want ErrReplaced", err)
			}
		})
	}
}

func TestBadUse(t *testing.T) {
	tests := []struct {
		name string
		use  func(f *Fence) error
	}{
		{name: "nil write function", use: func(f *Fence) error { return f.Write(0, nil) }},
		{name: "write after close", use: func(f *Fence) error {
			if err := f.Close(); err != nil {
				return err
			}
			return f.Write(0, func() error { t.Error("fn ran on a closed fence"); return nil })
		}},
		{name: "epoch after close", use: func(f *Fence) error {
			if err := f.Close(); err != nil {
				return err
			}
			_, err := f.Epoch()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Open(newDevice(t), testCluster)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.use(f); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// A device created anew starts unfenced: Remove drops the old fence, and a
// Fence still open on it notices.
func TestRemoveForANewDevice(t *testing.T) {
	dev := newDevice(t)
	old, err := Open(dev, testCluster)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Claim(context.Background(), 900); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dev); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dev); err != nil {
		t.Fatalf("removing a missing fence: %v", err)
	}
	f, err := Open(dev, testCluster)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Claim(context.Background(), 5); err != nil {
		t.Fatalf("a low epoch on the new device: %v", err)
	}
	if err := old.Write(900, func() error { return nil }); !errors.Is(err, ErrReplaced) {
		t.Fatalf("old fence after Remove: %v, want ErrReplaced", err)
	}
}

// TestClusters: a fence counts one cluster's epochs. Another cluster's
// claims and writes are refused, whatever their epoch, until it takes the
// device over; a fence of the first format (no cluster) counts as the
// claimer's own and is rewritten with its id.
func TestClusters(t *testing.T) {
	const other = "99999999-8888-7777-6666-555555555555"
	dev := newDevice(t)
	mine := openFence(t, dev)
	if err := mine.Claim(context.Background(), 936); err != nil {
		t.Fatal(err)
	}
	theirs, err := Open(dev, other)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	for _, epoch := range []uint64{20, 936, 5000} {
		err := theirs.Claim(context.Background(), epoch)
		var oc *OtherClusterError
		if !errors.Is(err, ErrOtherCluster) || errors.Is(err, ErrFenced) || !errors.As(err, &oc) || oc.Cluster != testCluster || oc.Epoch != 936 {
			t.Fatalf("other cluster's claim at %d = %v, want ErrOtherCluster naming %s at 936", epoch, err, testCluster)
		}
		if !strings.Contains(err.Error(), "fenced by cluster "+testCluster) {
			t.Errorf("error %q does not name the cluster", err)
		}
		wrote := false
		if err := theirs.Write(epoch, func() error { wrote = true; return nil }); !errors.Is(err, ErrOtherCluster) || wrote {
			t.Fatalf("other cluster's write at %d = %v (wrote %v), want ErrOtherCluster", epoch, err, wrote)
		}
	}
	if r, err := Read(dev); err != nil || r != (Record{Cluster: testCluster, Epoch: 936}) {
		t.Fatalf("Read = %+v, %v", r, err)
	}
	// The other cluster takes the device over at a lower epoch: from then
	// on it is the one that writes, and this cluster is refused.
	if err := theirs.TakeOver(context.Background(), 20); err != nil {
		t.Fatal(err)
	}
	if r, err := Read(dev); err != nil || r != (Record{Cluster: other, Epoch: 20}) {
		t.Fatalf("after the takeover Read = %+v, %v", r, err)
	}
	if err := theirs.Write(20, func() error { return nil }); err != nil {
		t.Fatalf("write after the takeover: %v", err)
	}
	if err := mine.Write(5000, func() error { return nil }); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("the old cluster's write after the takeover = %v, want ErrOtherCluster", err)
	}
}

// TestFirstFormatFences: fences written before they carried a cluster
// are kept: their epoch still holds, and the first claim records its
// cluster.
func TestFirstFormatFences(t *testing.T) {
	dev := newDevice(t)
	if err := os.WriteFile(dev+".fence", encodeV1(50), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Read(dev); err != nil || r != (Record{Epoch: 50}) {
		t.Fatalf("Read = %+v, %v", r, err)
	}
	f := openFence(t, dev)
	if err := f.Claim(context.Background(), 49); !errors.Is(err, ErrFenced) {
		t.Fatalf("claim below the old epoch = %v, want ErrFenced", err)
	}
	if err := f.Claim(context.Background(), 51); err != nil {
		t.Fatal(err)
	}
	if r, err := Read(dev); err != nil || r != (Record{Cluster: testCluster, Epoch: 51}) {
		t.Fatalf("after the claim Read = %+v, %v", r, err)
	}
	if r, err := Read(filepath.Join(t.TempDir(), "never.img")); err != nil || r != (Record{}) {
		t.Fatalf("Read of a device without a fence = %+v, %v", r, err)
	}
	if _, err := Open(dev, ""); err == nil {
		t.Fatal("Open without a cluster id succeeded")
	}
}

// A Hold checks the epoch once and keeps a Claim out until released: the
// run's writes all land before the new owner's claim, none after.
func TestHold(t *testing.T) {
	dev := newDevice(t)
	old := openFence(t, dev)
	newer := openFence(t, dev)
	if err := old.Claim(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	release, err := old.Hold(5)
	if err != nil {
		t.Fatal(err)
	}
	claimErr := make(chan error, 1)
	go func() { claimErr <- newer.Claim(context.Background(), 6) }()
	waitFor(t, "the claim to wait", func() bool { return claimWaiting(t, dev) })
	select {
	case err := <-claimErr:
		t.Fatalf("Claim returned %v during a hold", err)
	default:
	}
	if e := storedEpoch(t, dev); e != 5 {
		t.Fatalf("epoch during the hold = %d, want 5", e)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil { // a second release does nothing
		t.Fatal(err)
	}
	if err := <-claimErr; err != nil {
		t.Fatalf("Claim after the hold: %v", err)
	}
	if _, err := old.Hold(5); !errors.Is(err, ErrFenced) {
		t.Fatalf("Hold of the old epoch after the claim: %v, want ErrFenced", err)
	}
	release, err = newer.Hold(6)
	if err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
}

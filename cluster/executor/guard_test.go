package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ferry-san/ferry/mover"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// value reads a counter.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// deviceLog records which writes reached a device.
type deviceLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *deviceLog) add(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, op)
}

func (l *deviceLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// logTape is a tape drive that only logs its writes; nothing else of it is
// called.
type logTape struct {
	mover.TapeDrive
	log *deviceLog
}

func (t logTape) WriteRecord([]byte) (bool, error)  { t.log.add("record"); return false, nil }
func (t logTape) WriteFilemarks(int) (bool, error)  { t.log.add("filemarks"); return false, nil }
func (t logTape) Flush() error                      { t.log.add("flush"); return nil }
func (t logTape) Locate(uint64) error               { t.log.add("locate"); return nil }
func (t logTape) Space(tape.SpaceUnit, int64) error { t.log.add("space"); return nil }

type logBlock struct {
	mover.BlockDevice
	log *deviceLog
}

func (b logBlock) WriteAt(p []byte, _ int64) (int, error) { b.log.add("write at"); return len(p), nil }
func (b logBlock) WriteStream(p []byte, _ int64) (int, error) {
	b.log.add("write stream")
	return len(p), nil
}
func (b logBlock) ReadStream(p []byte, _ int64) (int, error) { return len(p), nil }

// guardedOps are the writes a guard must hold back, each on the device it
// wraps.
var guardedOps = []struct {
	name string
	do   func(d mover.Device) error
}{
	{"record", func(d mover.Device) error { _, err := d.Tape.WriteRecord([]byte{1}); return err }},
	{"filemarks", func(d mover.Device) error { _, err := d.Tape.WriteFilemarks(1); return err }},
	{"flush", func(d mover.Device) error { return d.Tape.Flush() }},
	{"locate", func(d mover.Device) error { return d.Tape.Locate(3) }},
	{"space", func(d mover.Device) error { return d.Tape.Space(tape.SpaceEndOfData, 0) }},
	{"write at", func(d mover.Device) error { _, err := d.Block.WriteAt([]byte{1}, 0); return err }},
	{"write stream", func(d mover.Device) error {
		_, err := d.Block.(blockStreams).WriteStream([]byte{1}, 0)
		return err
	}},
}

// guarded returns a guard of epoch 5 over a device file it claimed, and
// the device (tape or disk, as op needs) wrapped by it.
func guarded(t *testing.T, ctx context.Context, op string) (*writeGuard, mover.Device, *deviceLog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dev.img")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	g := &writeGuard{ctx: ctx, cluster: "test-cluster", epoch: 5, lease: newOwnerLease(), metrics: newMetrics(nil)}
	t.Cleanup(func() {
		if err := g.close(); err != nil {
			t.Error(err)
		}
	})
	f, err := g.claim(path)
	if err != nil {
		t.Fatal(err)
	}
	log := &deviceLog{}
	d := mover.Device{Tape: logTape{log: log}}
	if op == "write at" || op == "write stream" {
		d = mover.Device{Block: logBlock{log: log}}
	}
	return g, g.guard(d, f), log, path
}

func TestGuardPassesWritesWhileTheLeaseHolds(t *testing.T) {
	for _, op := range guardedOps {
		t.Run(op.name, func(t *testing.T) {
			g, d, log, _ := guarded(t, context.Background(), op.name)
			g.lease.extend(time.Now().Add(time.Hour))
			if err := op.do(d); err != nil {
				t.Fatal(err)
			}
			if got := log.got(); !slices.Equal(got, []string{op.name}) {
				t.Fatalf("device saw %v, want [%s]", got, op.name)
			}
		})
	}
}

func TestGuardHoldsWritesWhileTheLeaseLapsed(t *testing.T) {
	for _, op := range guardedOps {
		t.Run(op.name, func(t *testing.T) {
			g, d, log, _ := guarded(t, context.Background(), op.name)
			done := make(chan error, 1)
			go func() { done <- op.do(d) }()
			held := g.metrics.fenced.WithLabelValues("lease")
			eventually(t, "the write held back", func() bool { return value(t, held) == 1 }, nil)
			if got := log.got(); len(got) != 0 {
				t.Fatalf("device saw %v without a lease", got)
			}
			g.lease.extend(time.Now().Add(time.Hour))
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := log.got(); !slices.Equal(got, []string{op.name}) {
				t.Fatalf("device saw %v after the renewal, want [%s]", got, op.name)
			}
		})
	}
}

func TestGuardGivesUpAHeldWriteWhenStopped(t *testing.T) {
	for _, op := range guardedOps {
		t.Run(op.name, func(t *testing.T) {
			stopped := errors.New("taken over")
			ctx, cancel := context.WithCancelCause(context.Background())
			g, d, log, _ := guarded(t, ctx, op.name)
			done := make(chan error, 1)
			go func() { done <- op.do(d) }()
			eventually(t, "the write held back", func() bool { return value(t, g.metrics.fenced.WithLabelValues("lease")) == 1 }, nil)
			cancel(stopped)
			if err := <-done; !errors.Is(err, stopped) {
				t.Fatalf("held write returned %v, want the stop's cause", err)
			}
			if got := log.got(); len(got) != 0 {
				t.Fatalf("device saw %v", got)
			}
		})
	}
}

func TestGuardRefusesWritesOnceANewerEpochClaimed(t *testing.T) {
	for _, op := range guardedOps {
		t.Run(op.name, func(t *testing.T) {
			g, d, log, path := guarded(t, context.Background(), op.name)
			g.lease.extend(time.Now().Add(time.Hour))
			newer, err := fence.Open(path, "test-cluster")
			if err != nil {
				t.Fatal(err)
			}
			defer newer.Close()
			if err := newer.Claim(context.Background(), 6); err != nil {
				t.Fatal(err)
			}
			if err := op.do(d); !errors.Is(err, fence.ErrFenced) {
				t.Fatalf("write after a newer claim returned %v, want ErrFenced", err)
			}
			if got := log.got(); len(got) != 0 {
				t.Fatalf("device saw %v after a newer epoch claimed it", got)
			}
			if n := value(t, g.metrics.fenced.WithLabelValues("epoch")); n != 1 {
				t.Fatalf("fenced{reason=epoch} = %v, want 1", n)
			}
		})
	}
}

func TestGuardClaimRefusedByANewerEpoch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.img")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	newer, err := fence.Open(path, "test-cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	if err := newer.Claim(context.Background(), 9); err != nil {
		t.Fatal(err)
	}
	g := &writeGuard{ctx: context.Background(), cluster: "test-cluster", epoch: 5, lease: newOwnerLease(), metrics: newMetrics(nil)}
	if _, err := g.claim(path); !errors.Is(err, fence.ErrFenced) {
		t.Fatalf("claim under a newer epoch returned %v, want ErrFenced", err)
	}
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
	// The same epoch claims again: an owner restarted keeps its epoch.
	g = &writeGuard{ctx: context.Background(), cluster: "test-cluster", epoch: 9, lease: newOwnerLease(), metrics: newMetrics(nil)}
	if _, err := g.claim(path); err != nil {
		t.Fatalf("claim by the epoch holding the fence: %v", err)
	}
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
}

// Two streams of one job write one disk through guards of their own
// ranges: both write; once stream 1 is taken over, its old guard is
// refused while stream 2's keeps writing; and no guard writes outside
// its range.
func TestGuardRangesOfStreams(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dev.img")
	if err := os.WriteFile(path, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	stream := func(epoch uint64, r fence.Range) (*writeGuard, mover.Device, *deviceLog) {
		g := &writeGuard{ctx: ctx, cluster: "test-cluster", epoch: epoch, ranges: map[string]fence.Range{path: r},
			lease: newOwnerLease(), metrics: newMetrics(nil)}
		g.lease.extend(time.Now().Add(time.Hour))
		t.Cleanup(func() {
			if err := g.close(); err != nil {
				t.Error(err)
			}
		})
		f, err := g.claim(path)
		if err != nil {
			t.Fatal(err)
		}
		log := &deviceLog{}
		return g, g.guard(mover.Device{Block: logBlock{log: log}}, f), log
	}
	first, second := fence.Range{Offset: 0, Length: 4096}, fence.Range{Offset: 4096, Length: 4096}
	_, s1, log1 := stream(5, first)
	_, s2, log2 := stream(6, second)
	write := func(d mover.Device, off int64, n int) error {
		_, err := d.Block.WriteAt(make([]byte, n), off)
		return err
	}
	if err := write(s1, 0, 4096); err != nil {
		t.Fatalf("stream 1: %v", err)
	}
	if err := write(s2, 4096, 4096); err != nil {
		t.Fatalf("stream 2 beside stream 1: %v", err)
	}
	for _, w := range []struct {
		off int64
		n   int
	}{{4096, 1}, {4095, 2}, {-1, 1}} {
		if err := write(s1, w.off, w.n); err == nil {
			t.Errorf("stream 1 wrote %d bytes at %d, outside %v", w.n, w.off, first)
		}
	}
	_, s1new, _ := stream(7, first)
	if err := write(s1, 0, 512); !errors.Is(err, fence.ErrFenced) {
		t.Fatalf("stream 1's old owner after the takeover: %v, want ErrFenced", err)
	}
	if err := write(s1new, 0, 512); err != nil {
		t.Fatalf("stream 1's new owner: %v", err)
	}
	if err := write(s2, 4096, 512); err != nil {
		t.Fatalf("stream 2 after stream 1's takeover: %v", err)
	}
	if got1, got2 := len(log1.got()), len(log2.got()); got1 != 1 || got2 != 2 {
		t.Fatalf("writes that reached the device: stream 1's old owner %d, stream 2 %d; want 1 and 2", got1, got2)
	}
}

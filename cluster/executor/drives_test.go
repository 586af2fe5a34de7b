package executor

import (
	"context"
	"sync"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/tape"
)

// sleepClock moves only when slept on, or when a test advances it: the
// host is infinitely fast, and what the drives make it wait adds up
// exactly.
type sleepClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newSleepClock() *sleepClock { return &sleepClock{now: time.Unix(1_700_000_000, 0)} }

func (c *sleepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *sleepClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		c.mu.Lock()
		c.now, c.slept = c.now.Add(d), c.slept+d
		c.mu.Unlock()
	}
	return ctx.Err()
}

func (c *sleepClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *sleepClock) total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

func nearly(got, want time.Duration) bool {
	d := got - want
	return d > -10*time.Millisecond && d < 10*time.Millisecond
}

// TestDriveModelPacesCopies: a copy to a cartridge of a library with a
// drive model waits the load time and streams at the drive's rate.
func TestDriveModelPacesCopies(t *testing.T) {
	clk := newSleepClock()
	f := setup(t, clusterOptions{drive: &ferryv1.Library{DriveRateBytesPerSecond: 4_000_000, LoadTimeMillis: 15_000}})
	run(t, f.node("n1"), Config{DriveClock: clk})
	f.submit(t, "to-tape", diskEP("db01"), tapeEP())
	f.waitState(t, "to-tape", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	want := 15*time.Second + time.Duration(float64(diskSize)/4e6*float64(time.Second))
	if got := clk.total(); !nearly(got, want) {
		t.Errorf("the copy of %d bytes waited %v for its drive, want %v (15 s load, 4 MB/s)", diskSize, got, want)
	}
}

// TestDriveModelPacesSessions: an NDMP session's drive loads, streams,
// locates and stalls as its library's model says.
func TestDriveModelPacesSessions(t *testing.T) {
	clk := newSleepClock()
	f := setup(t, clusterOptions{drive: &ferryv1.Library{DriveRateBytesPerSecond: 1_000_000, LoadTimeMillis: 2_000, LocateRateBytesPerSecond: 10_000_000}})
	r := run(t, f.node("n1"), Config{DriveClock: clk})
	s := openSession(t, f, r, "s1")
	defer s.End(context.Background())
	if got := clk.total(); got != 2*time.Second {
		t.Errorf("opening the session waited %v, want the 2 s load", got)
	}
	step := func(what string, want time.Duration, do func() error) {
		t.Helper()
		before := clk.total()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := clk.total() - before; !nearly(got, want) {
			t.Errorf("%s waited %v, want %v", what, got, want)
		}
	}
	recs := make([][]byte, 10)
	for i := range recs {
		recs[i] = make([]byte, 100_000)
	}
	step("writing 1 MB at 1 MB/s", time.Second, func() error {
		if _, _, err := s.WriteRecords(recs); err != nil {
			return err
		}
		if _, err := s.WriteFilemarks(1); err != nil {
			return err
		}
		return s.Flush()
	})
	from, before := s.t.Offset(), clk.total()
	if err := s.Rewind(); err != nil {
		t.Fatal(err)
	}
	if got, want := clk.total()-before, time.Duration(float64(from-s.t.Offset())/1e7*float64(time.Second)); want <= 0 || !nearly(got, want) {
		t.Errorf("rewinding %d bytes at 10 MB/s waited %v, want %v", from-s.t.Offset(), got, want)
	}
	step("locating where the tape is", 0, func() error { return s.Locate(0) })
	step("reading 1 MB at 1 MB/s", time.Second, func() error {
		buf := make([]byte, 200_000)
		for range recs {
			if _, err := s.ReadRecord(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if n := r.counter(t, "ferry_drive_stalls_total"); n != 0 {
		t.Errorf("%v stalls of a drive the host kept streaming", n)
	}
	// A host at a tenth of the drive's rate: the 1 MiB buffer fills to
	// half (the drive starts), drains, and runs empty mid-stream.
	if err := s.Space(tape.SpaceFilemarks, 1); err != nil { // to end of data
		t.Fatal(err)
	}
	for range 20 {
		clk.advance(time.Second)
		if _, err := s.WriteRecord(recs[0]); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.counter(t, "ferry_drive_stalls_total", "library", "libA", "drive", "0"); n < 1 {
		t.Errorf("ferry_drive_stalls_total{library=libA,drive=0} = %v: a starved drive did not stall", n)
	}
}

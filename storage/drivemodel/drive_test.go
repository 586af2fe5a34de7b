package drivemodel

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-san/ferry/storage/tape"
)

// fakeClock moves only when slept on, or when a test advances it.
type fakeClock struct{ now time.Time }

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return ctx.Err()
}

const (
	mb  = 1_000_000
	mib = 1 << 20
)

// near reports got within 1 ms of want: the model's float arithmetic
// rounds each step to the nanosecond.
func near(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

func TestStreamingRate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		rate   int64
		record int
		total  int
	}{
		{"LTO-9 at 400MB/s, 256KiB records", 400 * mb, 256 << 10, 1 << 30},
		{"40MB/s, 64KiB records", 40 * mb, 64 << 10, 100 * mib},
		{"records larger than the buffer", 2 * mb, 4 * mib, 64 * mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := time.Duration(float64(tc.total) / float64(tc.rate) * float64(time.Second))
			c := newFakeClock()
			d := NewDrive(Model{Rate: tc.rate}, c, nil)
			start := c.now
			for n := 0; n < tc.total; n += tc.record {
				if err := d.Write(ctx, tc.record); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if got := c.now.Sub(start); !near(got, want) {
				t.Errorf("writing %d bytes at %d B/s took %v, want %v", tc.total, tc.rate, got, want)
			}
			start = c.now
			for n := 0; n < tc.total; n += tc.record {
				if err := d.Read(ctx, tc.record); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.now.Sub(start); !near(got, want) {
				t.Errorf("reading %d bytes at %d B/s took %v, want %v", tc.total, tc.rate, got, want)
			}
			if s := d.Stalls(); s != 0 {
				t.Errorf("a host faster than the drive stalled it %d times", s)
			}
		})
	}
}

func TestWriterAheadByABuffer(t *testing.T) {
	c := newFakeClock()
	d := NewDrive(Model{Rate: 40 * mb}, c, nil)
	start := c.now
	// The first half buffer is taken without a wait; so is the rest of
	// the buffer once the tape moves.
	for n := int64(1 << 16); n <= d.buffer; n += 1 << 16 {
		if err := d.Write(context.Background(), 1<<16); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.now.Sub(start); got != 0 {
		t.Errorf("filling the buffer waited %v", got)
	}
	if err := d.Write(context.Background(), 1<<20); err != nil {
		t.Fatal(err)
	}
	if got := c.now.Sub(start); got <= 0 {
		t.Error("a write into a full buffer did not wait")
	}
}

func TestOffIsFree(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	d := NewDrive(Model{}, c, nil)
	start := c.now
	for range 100 {
		if err := d.Write(ctx, 1<<20); err != nil {
			t.Fatal(err)
		}
		if err := d.Read(ctx, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Locate(ctx, 1<<40); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.now.Sub(start); got != 0 {
		t.Errorf("a drive without a model took %v", got)
	}
}

func TestLoadAndLocate(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	d := NewDrive(Model{LoadTime: 15 * time.Second, LocateRate: 10_000 * mb}, c, nil)
	start := c.now
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.now.Sub(start); got != 15*time.Second {
		t.Errorf("load took %v, want 15s", got)
	}
	for _, tc := range []struct {
		distance int64
		want     time.Duration
	}{
		{20_000 * mb, 2 * time.Second},
		{-5_000 * mb, 500 * time.Millisecond}, // backwards as fast
		{0, 0},
	} {
		start = c.now
		if err := d.Locate(ctx, tc.distance); err != nil {
			t.Fatal(err)
		}
		if got := c.now.Sub(start); !near(got, tc.want) {
			t.Errorf("locate over %d bytes took %v, want %v", tc.distance, got, tc.want)
		}
	}
}

// TestLocateWritesOutTheBuffer: a motion waits for the buffered writes.
func TestLocateWritesOutTheBuffer(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	d := NewDrive(Model{Rate: 40 * mb, LocateRate: 1000 * mb}, c, nil)
	start := c.now
	if err := d.Write(ctx, 4*mb); err != nil { // held, the tape still
		t.Fatal(err)
	}
	if err := d.Locate(ctx, 1000*mb); err != nil {
		t.Fatal(err)
	}
	if got, want := c.now.Sub(start), 100*time.Millisecond+time.Second; !near(got, want) {
		t.Errorf("write then locate took %v, want %v", got, want)
	}
}

// slowHost moves records between the drive and a host that takes
// record/hostRate for each, and returns the stalls counted.
func slowHost(t *testing.T, read bool, rate, hostRate int64, record, total int) (stalls int64, hooked int) {
	ctx := context.Background()
	c := newFakeClock()
	d := NewDrive(Model{Rate: rate}, c, func() { hooked++ })
	gap := bytesTime(int64(record), hostRate)
	for n := 0; n < total; n += record {
		c.now = c.now.Add(gap)
		var err error
		if read {
			err = d.Read(ctx, record)
		} else {
			err = d.Write(ctx, record)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return d.Stalls(), hooked
}

func TestStalls(t *testing.T) {
	const total = 200 * mib
	for _, read := range []bool{false, true} {
		for _, tc := range []struct {
			name         string
			host         int64
			fewest, most int64
		}{
			// 40 MB/s drive: a 10 MB buffer, starting again at 5 MB.
			// A host at 10 MB/s gives it a cycle of 5 MB while still,
			// then 5 MB drained at 30 MB/s while 1.7 MB more arrive: a
			// stall per ~6.7 MB, 31 in 210 MB.
			{"host at a quarter of the drive", 10 * mb, 25, 35},
			// At 30 MB/s a cycle is 5 MB + 15 MB: a stall per 20 MB.
			{"host at three quarters", 30 * mb, 8, 12},
			{"host as fast as the drive", 40 * mb, 0, 0},
			{"host faster", 400 * mb, 0, 0},
		} {
			name := "write/" + tc.name
			if read {
				name = "read/" + tc.name
			}
			t.Run(name, func(t *testing.T) {
				stalls, hooked := slowHost(t, read, 40*mb, tc.host, 256<<10, total)
				if stalls < tc.fewest || stalls > tc.most {
					t.Errorf("%d stalls, want %d to %d", stalls, tc.fewest, tc.most)
				}
				if int64(hooked) != stalls {
					t.Errorf("onStall ran %d times for %d stalls", hooked, stalls)
				}
			})
		}
	}
}

// TestSyncIsNoStall: a stop the host asks for is not counted.
func TestSyncIsNoStall(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	d := NewDrive(Model{Rate: 40 * mb}, c, nil)
	for range 10 {
		for range 100 {
			if err := d.Write(ctx, 256<<10); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		c.now = c.now.Add(time.Second) // a checkpoint's commit, say
	}
	if s := d.Stalls(); s != 0 {
		t.Errorf("syncs counted as %d stalls", s)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		rate, locate uint64
		load         uint32
		fields       []string
	}{
		{0, 0, 0, nil},
		{400 * mb, 10_000 * mb, 15_000, nil},
		{MaxRate, MaxRate, uint32(MaxLoadTime.Milliseconds()), nil},
		{MaxRate + 1, 0, 0, []string{"drive_rate_bytes_per_second"}},
		{0, MaxRate + 1, 0, []string{"locate_rate_bytes_per_second"}},
		{0, 0, uint32(MaxLoadTime.Milliseconds()) + 1, []string{"load_time_millis"}},
		{1 << 63, 1 << 63, 1 << 31, []string{"drive_rate_bytes_per_second", "load_time_millis", "locate_rate_bytes_per_second"}},
	} {
		v := Check(tc.rate, tc.load, tc.locate)
		var fields []string
		for _, x := range v {
			fields = append(fields, x.Field)
			if x.Description == "" {
				t.Errorf("%s: no description", x.Field)
			}
		}
		if len(fields) != len(tc.fields) {
			t.Errorf("Check(%d, %d, %d) = %v, want fields %v", tc.rate, tc.load, tc.locate, v, tc.fields)
			continue
		}
		for i := range fields {
			if fields[i] != tc.fields[i] {
				t.Errorf("Check(%d, %d, %d) = %v, want fields %v", tc.rate, tc.load, tc.locate, v, tc.fields)
			}
		}
	}
}

// TestTapeOnACartridge: the wrapper paces a real cartridge's records and
// turns its motions into locate times over the bytes passed.
func TestTapeOnACartridge(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	cart, err := tape.Create(filepath.Join(t.TempDir(), "a.tap"), tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cart.Close()
	d := NewDrive(Model{Rate: 10 * mb, LocateRate: 100 * mb}, c, nil)
	tp := d.Tape(ctx, cart)
	rec := make([]byte, 1_000_000)
	start := c.now
	for range 20 {
		if _, err := tp.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tp.WriteFilemarks(1); err != nil {
		t.Fatal(err)
	}
	if err := tp.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.now.Sub(start), 2*time.Second; !near(got, want) {
		t.Errorf("20 MB at 10 MB/s took %v, want %v", got, want)
	}
	end := cart.Offset()
	start = c.now
	if err := tp.Rewind(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.now.Sub(start), bytesTime(end, 100*mb); !near(got, want) {
		t.Errorf("rewinding %d bytes at 100 MB/s took %v, want %v", end, got, want)
	}
	start = c.now
	if err := tp.Space(tape.SpaceRecords, 10); err != nil {
		t.Fatal(err)
	}
	if got, want := c.now.Sub(start), bytesTime(cart.Offset(), 100*mb); got <= 0 || !near(got, want) {
		t.Errorf("spacing 10 records took %v, want %v", got, want)
	}
	start = c.now
	for range 10 {
		if _, err := tp.ReadRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := c.now.Sub(start), time.Second; !near(got, want) {
		t.Errorf("reading 10 MB at 10 MB/s took %v, want %v", got, want)
	}
}

func TestSetSharesADrive(t *testing.T) {
	var stalls []string
	s := NewSet(newFakeClock(), func(lib string, drive uint32) { stalls = append(stalls, lib) })
	m := Model{Rate: 40 * mb}
	a := s.Drive("libA", 0, m)
	if s.Drive("libA", 0, m) != a {
		t.Error("one drive, two states")
	}
	if s.Drive("libA", 1, m) == a || s.Drive("libB", 0, m) == a {
		t.Error("two drives, one state")
	}
	if b := s.Drive("libA", 0, Model{Rate: 80 * mb}); b == a || b.Model().Rate != 80*mb {
		t.Error("a new model kept the old drive")
	}
	a.stallLocked()
	if len(stalls) != 1 || stalls[0] != "libA" {
		t.Errorf("stall hook: %v", stalls)
	}
}

package drivemodel

import (
	"context"
	"sync"
	"time"
)

// The drive's buffer: BufferTime of streaming at its rate, at least
// MinBuffer (LTO-9 holds 1 GB, about 2.5 s at 400 MB/s; a quarter of a
// second keeps the model's bursts short).
const (
	BufferTime = 250 * time.Millisecond
	MinBuffer  = 1 << 20
)

// mode is what a drive is doing.
type mode int

const (
	// stopped: nothing buffered, the tape still (after a load, a locate,
	// a sync, or a change of direction).
	stopped mode = iota
	// filling: writing, the tape still, the buffer filling until it holds
	// half its size (after a stall, or when writing starts).
	filling
	// writing: streaming from the buffer to tape.
	writing
	// reading: streaming from tape into the buffer.
	reading
	// full: reading, the tape still, the buffer full after a stall,
	// draining until it holds half its size.
	full
)

// Drive is the timing of one tape drive. Its methods wait as long as the
// drive takes; they are safe for concurrent use, though a drive serves
// one job at a time.
type Drive struct {
	model   Model
	clock   Clock
	buffer  int64
	onStall func()

	mu   sync.Mutex
	mode mode
	// tape is, writing, when the tape will have written everything given
	// to it; reading, when it delivered the last byte the host took.
	tape time.Time
	// held is what the buffer holds while the tape is still (filling,
	// full).
	held   int64
	stalls int64
}

// NewDrive returns a stopped drive of the model; onStall, if set, runs at
// each stall (see the package documentation).
func NewDrive(m Model, c Clock, onStall func()) *Drive {
	if c == nil {
		c = RealClock{}
	}
	return &Drive{model: m, clock: c, onStall: onStall, buffer: max(MinBuffer, int64(float64(m.Rate)*BufferTime.Seconds()))}
}

// Model is the drive's.
func (d *Drive) Model() Model { return d.model }

// Stalls is how many times the drive stalled.
func (d *Drive) Stalls() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stalls
}

// stallLocked counts a stall.
func (d *Drive) stallLocked() {
	d.stalls++
	if d.onStall != nil {
		d.onStall()
	}
}

// Load takes the load time; the drive is stopped after it.
func (d *Drive) Load(ctx context.Context) error {
	d.mu.Lock()
	d.mode, d.held = stopped, 0
	d.mu.Unlock()
	return d.clock.Sleep(ctx, d.model.LoadTime)
}

// Write waits until the buffer has room for n more bytes.
func (d *Drive) Write(ctx context.Context, n int) error {
	if d.model.Rate <= 0 {
		return nil
	}
	d.mu.Lock()
	now := d.clock.Now()
	switch d.mode {
	case writing:
		if d.tape.Before(now) {
			// The buffer ran empty mid-stream: the drive stopped.
			d.stallLocked()
			d.mode, d.held = filling, 0
		}
	case filling:
	default:
		d.mode, d.held = filling, 0
	}
	if d.mode == filling {
		d.held += int64(n)
		if d.held < d.buffer/2 {
			d.mu.Unlock()
			return nil
		}
		d.mode, d.tape, d.held = writing, now.Add(bytesTime(d.held, d.model.Rate)), 0
	} else {
		d.tape = d.tape.Add(bytesTime(int64(n), d.model.Rate))
	}
	// The host may be ahead of the tape by a buffer.
	wait := d.tape.Sub(now) - bytesTime(d.buffer, d.model.Rate)
	d.mu.Unlock()
	return d.clock.Sleep(ctx, wait)
}

// Read waits until the drive has delivered n more bytes.
func (d *Drive) Read(ctx context.Context, n int) error {
	if d.model.Rate <= 0 {
		return nil
	}
	d.mu.Lock()
	if d.mode == writing || d.mode == filling {
		// Turning round: what was written goes to tape first.
		d.mu.Unlock()
		if err := d.Sync(ctx); err != nil {
			return err
		}
		d.mu.Lock()
	}
	now := d.clock.Now()
	switch d.mode {
	case reading:
		if now.After(d.tape.Add(bytesTime(d.buffer, d.model.Rate))) {
			// The buffer filled while the host was away: the drive stopped.
			d.stallLocked()
			d.mode, d.held = full, d.buffer
		}
	case full:
	default:
		d.mode, d.tape = reading, now
	}
	if d.mode == full {
		if int64(n) <= d.held {
			d.held -= int64(n)
			if d.held <= d.buffer/2 {
				// Drained to half: the drive starts again, with what
				// the buffer holds read "before now".
				d.mode, d.tape, d.held = reading, now.Add(-bytesTime(d.held, d.model.Rate)), 0
			}
			d.mu.Unlock()
			return nil
		}
		// More than the buffer holds: the drive starts again now.
		n -= int(d.held)
		d.mode, d.tape, d.held = reading, now, 0
	}
	d.tape = d.tape.Add(bytesTime(int64(n), d.model.Rate))
	wait := d.tape.Sub(now)
	d.mu.Unlock()
	return d.clock.Sleep(ctx, wait)
}

// Sync writes out what the buffer holds and waits for it: the drive is
// stopped after it, on purpose (not a stall).
func (d *Drive) Sync(ctx context.Context) error {
	if d.model.Rate <= 0 {
		return nil
	}
	now := d.clock.Now()
	d.mu.Lock()
	var wait time.Duration
	switch d.mode {
	case writing:
		wait = d.tape.Sub(now)
	case filling:
		wait = bytesTime(d.held, d.model.Rate)
	}
	d.mode, d.held = stopped, 0
	d.mu.Unlock()
	return d.clock.Sleep(ctx, wait)
}

// Locate writes out the buffer (Sync) and then moves distance bytes of
// tape (either way) at the locate rate.
func (d *Drive) Locate(ctx context.Context, distance int64) error {
	if err := d.Sync(ctx); err != nil {
		return err
	}
	return d.clock.Sleep(ctx, bytesTime(max(distance, -distance), d.model.LocateRate))
}

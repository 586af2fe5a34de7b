package mover

import (
	"context"
	"time"
)

// limiter paces the reader to a byte rate. It lets at most one chunk run
// ahead of the schedule and gives no credit for idle time, so a slow
// destination does not earn a burst later.
type limiter struct {
	rate  int64 // bytes per second; 0 = unlimited
	next  time.Time
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newLimiter(rate int64) *limiter {
	return &limiter{rate: rate, now: time.Now, sleep: sleepCtx}
}

// wait blocks until n more bytes may go.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l.rate <= 0 || n == 0 {
		return nil
	}
	now := l.now()
	if l.next.Before(now) {
		l.next = now
	}
	d := l.next.Sub(now)
	l.next = l.next.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	if d <= 0 {
		return nil
	}
	return l.sleep(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package sbc

import (
	"context"

	"github.com/ferry-san/ferry/internal/rangelock"
)

// RangeLocker is implemented by a Volume that other processes may write
// too, such as a *disk.LUN whose image file every node's agent opens: it
// locks a byte range against every writer of the backing store, shared or
// exclusive, giving up with ctx's error when ctx ends. The server takes a
// shared lock for every write to the medium and an exclusive one for the
// read-modify-write commands (COMPARE AND WRITE, ORWRITE), so that these
// are atomic with respect to every write through any node. A Volume
// without it gets a lock that holds within this server only.
type RangeLocker interface {
	LockRange(ctx context.Context, off, n int64, exclusive bool) (unlock func(), err error)
}

// localLocker is the RangeLocker of a Volume that has none.
type localLocker struct{ t *rangelock.Table }

func (l localLocker) LockRange(ctx context.Context, off, n int64, exclusive bool) (func(), error) {
	return l.t.Lock(ctx, off, n, exclusive)
}

// volume is the Volume behind l: NewLUN's wrapping hides the optional
// interfaces (RangeLocker) of the Volume it wraps.
func volume(l LUN) Volume {
	if id, ok := l.(identified); ok {
		return id.Volume
	}
	return l
}

// newLocker is the range locker of l: its own, or one of the server's.
func newLocker(l LUN) RangeLocker {
	if rl, ok := volume(l).(RangeLocker); ok {
		return rl
	}
	return localLocker{rangelock.New(nil)}
}

// lockRange locks n bytes of the LUN from byte off, shared or exclusive.
// The range is on the LUN: the caller checked it.
func (r *request) lockRange(ctx context.Context, off, n uint64, exclusive bool) (unlock func(), err error) {
	return r.locker.LockRange(ctx, int64(off), int64(n), exclusive)
}

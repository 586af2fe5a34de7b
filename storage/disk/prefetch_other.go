//go:build !linux

package disk

// Prefetch has no portable equivalent: it does nothing.
func (l *LUN) Prefetch(off, n int64) {}

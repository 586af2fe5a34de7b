package iscsi

import "sync"

// budget bounds the bytes of data buffers the target's commands hold at
// once, across every session: a write's data-out buffer from its SCSI
// Command PDU to its response, a read's data-in from the moment it runs.
// A command that does not fit ends at once with BUSY, which initiators
// retry, rather than waiting: a waiting reader could not take in the
// Data-Out that would let the commands holding the budget finish.
type budget struct {
	mu         sync.Mutex
	used, size uint64
}

// take reserves n bytes if they fit.
func (b *budget) take(n uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.size-b.used {
		return false
	}
	b.used += n
	return true
}

// give returns n bytes taken before.
func (b *budget) give(n uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// inUse is how many bytes are taken.
func (b *budget) inUse() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

package iscsi

import "sync"

// dataInPiece is the most data-in a command holds at once: a READ's data
// is read this much at a time, each piece sent before the next is read,
// so that an initiator that stops reading its socket holds no more than
// this per command (a burst at the default MaxBurstLength).
const dataInPiece = 256 << 10

// budget bounds the bytes of data buffers the target's commands hold at
// once, across every session: a write's data-out buffer from its SCSI
// Command PDU to its response, a read's data-in piece from the moment it
// runs. A command that does not fit ends at once with BUSY, which
// initiators retry, rather than waiting: a waiting reader could not take in
// the Data-Out that would let the commands holding the budget finish.
type budget struct {
	mu         sync.Mutex
	used, size uint64

	// pieces recycles the buffers of whole data-in pieces, which every
	// large READ uses, so that reads make no garbage for the collector to
	// let pile up.
	pieces sync.Pool
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

// piece returns a buffer of n bytes (n <= dataInPiece) for data-in that
// the caller overwrites whole before sending it; put hands it back.
func (b *budget) piece(n int) []byte {
	if n == dataInPiece {
		if p, ok := b.pieces.Get().(*[]byte); ok {
			return *p
		}
	}
	return make([]byte, n)
}

// put recycles a buffer piece returned.
func (b *budget) put(p []byte) {
	if len(p) == dataInPiece {
		b.pieces.Put(&p)
	}
}

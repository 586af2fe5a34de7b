package mover

import (
	"sync/atomic"
	"unsafe"
)

// bufferAlign is the alignment of every buffer: a page, which also suits
// O_DIRECT on 4Kn devices.
const bufferAlign = 4096

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// alignedBuffer returns n bytes starting on a bufferAlign boundary.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+bufferAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (bufferAlign - 1))
	if off != 0 {
		off = bufferAlign - off
	}
	return b[off : off+n : off+n]
}

// chunk is one buffer's worth of a segment travelling from the reader to
// the writer and the hasher. It returns to the pool when both are done.
type chunk struct {
	buf  []byte
	data []byte // the bytes to write: a prefix of buf, or Inline data
	// recs are the tape records in data, in order, with -1 for a filemark;
	// nil when data is a plain run of bytes.
	recs []int
	// last: the segment's source is exhausted after this chunk.
	last bool
	// The source's state after this chunk, cumulative in the segment.
	records, files int64
	srcPos         TapePos
	hasSrcPos      bool

	refs atomic.Int32
	// mapped is the memory mapping buf was cut from, unmapped by the
	// pool's close; nil for a buffer on the Go heap.
	mapped []byte
}

// pool circulates a fixed set of chunks.
type pool struct {
	free   chan *chunk
	chunks []*chunk
}

// newPool allocates the chunks' buffers as huge-page mappings where the
// system allows (see mapBuffer), on the Go heap otherwise.
func newPool(buffers, size int) *pool {
	p := &pool{free: make(chan *chunk, buffers)}
	for range buffers {
		c := &chunk{}
		if b, m, err := mapBuffer(size); err == nil {
			c.buf, c.mapped = b, m
		} else {
			c.buf = alignedBuffer(size)
		}
		p.chunks = append(p.chunks, c)
		p.free <- c
	}
	return p
}

// release drops one reference and returns the chunk once nobody holds it.
func (p *pool) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		p.free <- c
	}
}

// close unmaps the buffers. No chunk may be in use.
func (p *pool) close() {
	for _, c := range p.chunks {
		if c.mapped != nil {
			unmapBuffer(c.mapped)
			c.mapped, c.buf, c.data = nil, nil, nil
		}
	}
}

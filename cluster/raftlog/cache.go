package raftlog

import (
	pb "go.etcd.io/raft/v3/raftpb"
)

// entryCache holds the most recent log entries in memory. A leader re-reads the
// entries it has just appended to replicate them to followers, so serving the
// tail of the log from memory saves a decode per entry per follower.
//
// The cached entries are contiguous and always end at the store's last index;
// the cache is empty or holds [first, first+len(ents)-1].
type entryCache struct {
	maxEntries int
	maxBytes   uint64

	first uint64
	ents  []cachedEntry
	bytes uint64
}

type cachedEntry struct {
	e    *pb.Entry
	size uint64 // proto.Size(e), the unit of raft's maxSize limits
}

func newEntryCache(maxEntries int, maxBytes uint64) entryCache {
	return entryCache{maxEntries: maxEntries, maxBytes: maxBytes}
}

func (c *entryCache) last() uint64 { return c.first + uint64(len(c.ents)) - 1 }

// append records contiguous entries just made durable; they replace any cached
// entries at or after their first index.
func (c *entryCache) append(ents []cachedEntry) {
	if c.maxEntries <= 0 || len(ents) == 0 {
		return
	}
	f := ents[0].e.GetIndex()
	if len(c.ents) == 0 || f <= c.first || f > c.last()+1 {
		c.reset()
		c.first = f
	} else {
		c.truncateFrom(f)
	}
	for _, ce := range ents {
		c.ents = append(c.ents, ce)
		c.bytes += ce.size
	}
	c.trim()
}

// truncateFrom drops cached entries with index >= i, for
// c.first < i <= c.last()+1.
func (c *entryCache) truncateFrom(i uint64) {
	keep := int(i - c.first)
	for j := keep; j < len(c.ents); j++ {
		c.bytes -= c.ents[j].size
		c.ents[j] = cachedEntry{}
	}
	c.ents = c.ents[:keep]
}

// dropThrough drops cached entries with index <= i (after a compaction).
func (c *entryCache) dropThrough(i uint64) {
	if len(c.ents) == 0 || i < c.first {
		return
	}
	if i >= c.last() {
		c.reset()
		return
	}
	c.dropFront(int(i - c.first + 1))
}

func (c *entryCache) trim() {
	n := 0
	bytes := c.bytes
	for n < len(c.ents) && (len(c.ents)-n > c.maxEntries || bytes > c.maxBytes) {
		bytes -= c.ents[n].size
		n++
	}
	c.dropFront(n)
}

func (c *entryCache) dropFront(n int) {
	if n == 0 {
		return
	}
	if n >= len(c.ents) {
		c.reset()
		return
	}
	for j := range n {
		c.bytes -= c.ents[j].size
		// Release the entry now; the backing array is only reallocated by a later append.
		c.ents[j] = cachedEntry{}
	}
	c.ents = c.ents[n:]
	c.first += uint64(n)
}

func (c *entryCache) reset() {
	clear(c.ents)
	c.ents = c.ents[:0]
	c.bytes = 0
	c.first = 0
}

// entries returns [lo, hi) limited by maxSize if the cache covers the range.
func (c *entryCache) entries(lo, hi, maxSize uint64) ([]*pb.Entry, bool) {
	if len(c.ents) == 0 || lo < c.first || hi > c.last()+1 || lo >= hi {
		return nil, false
	}
	src := c.ents[lo-c.first : hi-c.first]
	out := make([]*pb.Entry, 0, len(src))
	var size uint64
	for _, ce := range src {
		size += ce.size
		if len(out) > 0 && size > maxSize {
			break
		}
		out = append(out, ce.e)
	}
	return out, true
}

func (c *entryCache) term(i uint64) (uint64, bool) {
	if len(c.ents) == 0 || i < c.first || i > c.last() {
		return 0, false
	}
	return c.ents[i-c.first].e.GetTerm(), true
}

package iscsi

import (
	"bytes"
	"slices"
)

// span is the byte range [off, end) of a command's data-out buffer.
type span struct{ off, end uint32 }

// coverage is what a write's data-out buffer holds so far: sorted,
// disjoint, non-adjacent spans. The target tracks what arrived by range,
// never by a count of bytes, so that data that overlaps what came before
// cannot leave a hole that the command then writes as zeros.
type coverage []span

// fill copies data into buf at off and records it. Data that overlaps
// what buf already holds is accepted only when it agrees with it (an
// initiator sending its first burst again from offset 0 after immediate
// data); disagreeing data changes nothing and fill reports false.
func (c *coverage) fill(buf []byte, off uint32, data []byte) bool {
	end := off + uint32(len(data))
	for _, s := range *c {
		lo, hi := max(s.off, off), min(s.end, end)
		if lo < hi && !bytes.Equal(buf[lo:hi], data[lo-off:hi-off]) {
			return false
		}
	}
	copy(buf[off:], data)
	c.add(off, end)
	return true
}

// add records [off, end), merging it with the spans it touches.
func (c *coverage) add(off, end uint32) {
	if off >= end {
		return
	}
	s := *c
	i := 0
	for i < len(s) && s[i].end < off {
		i++
	}
	j := i
	for j < len(s) && s[j].off <= end {
		off, end = min(off, s[j].off), max(end, s[j].end)
		j++
	}
	*c = slices.Replace(s, i, j, span{off, end})
}

// covers reports whether [off, end) is wholly filled.
func (c coverage) covers(off, end uint32) bool {
	if off >= end {
		return true
	}
	for _, s := range c {
		if s.off <= off && end <= s.end {
			return true
		}
	}
	return false
}

// hole returns the first unfilled range of [from, limit), if any.
func (c coverage) hole(from, limit uint32) (span, bool) {
	for _, s := range c {
		if s.end <= from {
			continue
		}
		if s.off > from {
			break
		}
		from = s.end
	}
	if from >= limit {
		return span{}, false
	}
	end := limit
	for _, s := range c {
		if s.off > from {
			end = min(end, s.off)
			break
		}
	}
	return span{from, end}, true
}

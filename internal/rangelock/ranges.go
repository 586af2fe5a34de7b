package rangelock

import (
	"cmp"
	"slices"
)

// ranges is a set of bytes as sorted, disjoint, non-adjacent [off, end)
// intervals.
type ranges [][2]int64

// covers reports whether every byte of [off, end) is in the set.
func (rs ranges) covers(off, end int64) bool {
	i, _ := slices.BinarySearchFunc(rs, off, func(r [2]int64, off int64) int {
		switch {
		case r[1] <= off:
			return -1
		case r[0] > off:
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i][0] <= off && end <= rs[i][1]
}

// add puts [off, end) in the set, merging what it touches.
func (rs ranges) add(off, end int64) ranges {
	out := make(ranges, 0, len(rs)+1)
	for _, r := range rs {
		if r[1] < off || end < r[0] {
			out = append(out, r)
			continue
		}
		off, end = min(off, r[0]), max(end, r[1])
	}
	out = append(out, [2]int64{off, end})
	slices.SortFunc(out, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	return out
}

// remove takes [off, end) out of the set.
func (rs ranges) remove(off, end int64) ranges {
	out := make(ranges, 0, len(rs)+1)
	for _, r := range rs {
		if r[1] <= off || end <= r[0] {
			out = append(out, r)
			continue
		}
		if r[0] < off {
			out = append(out, [2]int64{r[0], off})
		}
		if end < r[1] {
			out = append(out, [2]int64{end, r[1]})
		}
	}
	return out
}

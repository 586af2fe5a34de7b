package rangelock

import (
	"slices"
	"testing"
)

func TestRanges(t *testing.T) {
	tests := []struct {
		name   string
		start  ranges
		add    bool
		off    int64
		end    int64
		want   ranges
		covers [][2]int64 // ranges the result covers
		misses [][2]int64 // ranges it does not
	}{
		{"add to empty", nil, true, 10, 20, ranges{{10, 20}}, [][2]int64{{10, 20}, {15, 16}}, [][2]int64{{9, 10}, {19, 21}}},
		{"add disjoint before", ranges{{10, 20}}, true, 0, 5, ranges{{0, 5}, {10, 20}}, [][2]int64{{0, 5}}, [][2]int64{{4, 11}}},
		{"add adjacent merges", ranges{{10, 20}}, true, 20, 30, ranges{{10, 30}}, [][2]int64{{15, 25}}, nil},
		{"add bridging", ranges{{0, 5}, {10, 20}, {30, 40}}, true, 4, 31, ranges{{0, 40}}, [][2]int64{{0, 40}}, [][2]int64{{39, 41}}},
		{"remove middle splits", ranges{{0, 40}}, false, 10, 20, ranges{{0, 10}, {20, 40}}, [][2]int64{{0, 10}, {20, 40}}, [][2]int64{{9, 11}, {10, 20}}},
		{"remove across", ranges{{0, 5}, {10, 20}, {30, 40}}, false, 3, 35, ranges{{0, 3}, {35, 40}}, nil, [][2]int64{{10, 20}}},
		{"remove nothing", ranges{{10, 20}}, false, 0, 10, ranges{{10, 20}}, [][2]int64{{10, 20}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.start.remove(tc.off, tc.end)
			if tc.add {
				got = tc.start.add(tc.off, tc.end)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for _, c := range tc.covers {
				if !got.covers(c[0], c[1]) {
					t.Errorf("%v does not cover %v", got, c)
				}
			}
			for _, m := range tc.misses {
				if got.covers(m[0], m[1]) {
					t.Errorf("%v covers %v", got, m)
				}
			}
		})
	}
}

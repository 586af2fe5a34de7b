package iscsi

import (
	"bytes"
	"slices"
	"testing"
)

func TestCoverage(t *testing.T) {
	type put struct {
		off  uint32
		data []byte
		ok   bool
	}
	a, b := bytes.Repeat([]byte{'a'}, 8), bytes.Repeat([]byte{'b'}, 8)
	tests := []struct {
		name  string
		puts  []put
		want  coverage
		holes []span // every hole of [0, 32)
	}{
		{"empty", nil, nil, []span{{0, 32}}},
		{"disjoint", []put{{0, a, true}, {16, a, true}}, coverage{{0, 8}, {16, 24}}, []span{{8, 16}, {24, 32}}},
		{"adjacent merge", []put{{8, a, true}, {0, a, true}}, coverage{{0, 16}}, []span{{16, 32}}},
		{"agreeing overlap", []put{{0, a[:4], true}, {0, a, true}}, coverage{{0, 8}}, []span{{8, 32}}},
		{"disagreeing overlap", []put{{0, a, true}, {4, b, false}}, coverage{{0, 8}}, []span{{8, 32}}},
		{"bridge", []put{{0, a, true}, {16, a, true}, {8, a, true}}, coverage{{0, 24}}, []span{{24, 32}}},
		{"full", []put{{0, a, true}, {8, a, true}, {16, a, true}, {24, a, true}}, coverage{{0, 32}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 32)
			var c coverage
			for _, p := range tc.puts {
				if ok := c.fill(buf, p.off, p.data); ok != p.ok {
					t.Fatalf("fill(%d, %q) = %v, want %v", p.off, p.data, ok, p.ok)
				}
			}
			if !slices.Equal(c, tc.want) {
				t.Fatalf("coverage %v, want %v", c, tc.want)
			}
			var holes []span
			for from := uint32(0); ; {
				h, ok := c.hole(from, 32)
				if !ok {
					break
				}
				holes = append(holes, h)
				from = h.end
			}
			if !slices.Equal(holes, tc.holes) {
				t.Fatalf("holes %v, want %v", holes, tc.holes)
			}
			if c.covers(0, 32) != (len(tc.holes) == 0) {
				t.Fatalf("covers(0, 32) = %v with holes %v", c.covers(0, 32), holes)
			}
		})
	}
}

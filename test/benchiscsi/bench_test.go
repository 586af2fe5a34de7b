package main

import (
	"io"
	"testing"

	"github.com/ferry-san/ferry/iscsi/initiator"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		size    int64
	}{
		{nil, false, 1 << 30},
		{[]string{"-size", "64MiB"}, false, 64 << 20},
		{[]string{"-size", "1000"}, true, 0},
		{[]string{"-size", "lots"}, true, 0},
		{[]string{"-rounds", "0"}, true, 0},
		{[]string{"-run", "10ms"}, true, 0},
		{[]string{"extra"}, true, 0},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if (err != nil) != tt.wantErr || (err == nil && o.size != tt.size) {
			t.Errorf("parseFlags(%q) = size %d, %v; want %d, error %v", tt.args, o.size, err, tt.size, tt.wantErr)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestShowsAll(t *testing.T) {
	ls := "Target:iqn.x:t Portal:127.0.0.1:3260,1\nLun:0    Type:STORAGE_ARRAY_CONTROLLER\nLun:1    Type:DIRECT_ACCESS (Size:63M)\nLun:2    Type:DIRECT_ACCESS (Size:63M)\n"
	tests := []struct {
		luns []uint32
		want bool
	}{
		{[]uint32{1, 2}, true},
		{[]uint32{1, 3}, false},
		{[]uint32{0}, false},
	}
	for _, tt := range tests {
		if got := showsAll(ls, tt.luns); got != tt.want {
			t.Errorf("showsAll(%v) = %v, want %v", tt.luns, got, tt.want)
		}
	}
}

func TestUnitAttention(t *testing.T) {
	tests := []struct {
		name string
		res  initiator.Result
		want bool
	}{
		{"fixed", initiator.Result{Status: 2, Sense: []byte{0x70, 0, 0x06, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x29}}, true},
		{"descriptor", initiator.Result{Status: 2, Sense: []byte{0x72, 0x06, 0x29, 0}}, true},
		{"not ready", initiator.Result{Status: 2, Sense: []byte{0x70, 0, 0x02, 0}}, false},
		{"good", initiator.Result{}, false},
		{"short sense", initiator.Result{Status: 2, Sense: []byte{0x70}}, false},
	}
	for _, tt := range tests {
		if got := unitAttention(tt.res); got != tt.want {
			t.Errorf("%s: unitAttention = %v, want %v", tt.name, got, tt.want)
		}
	}
}

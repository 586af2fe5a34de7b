package fence

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	rec := Record{Cluster: testCluster, Epoch: 0x0102030405060708}
	valid := encode(rec)
	flip := func(b []byte, i int, bit byte) []byte {
		c := bytes.Clone(b)
		c[i] ^= bit
		return c
	}
	v1 := encodeV1(936)

	tests := []struct {
		name    string
		in      []byte
		want    Record
		corrupt bool
	}{
		{name: "empty file", in: nil},
		{name: "valid", in: valid, want: rec},
		{name: "epoch zero", in: encode(Record{Cluster: "c"}), want: Record{Cluster: "c"}},
		{name: "no cluster id in the second format", in: encode(Record{Epoch: 4}), corrupt: true},
		{name: "max epoch", in: encode(Record{Cluster: "c", Epoch: ^uint64(0)}), want: Record{Cluster: "c", Epoch: ^uint64(0)}},
		{name: "longest cluster id", in: encode(Record{Cluster: strings.Repeat("x", MaxClusterIDLen), Epoch: 3}),
			want: Record{Cluster: strings.Repeat("x", MaxClusterIDLen), Epoch: 3}},
		{name: "all zeros, an uncommitted first claim", in: make([]byte, recordSize)},
		{name: "all zeros of the first format", in: make([]byte, recordV1Size)},
		{name: "first format: no cluster", in: v1, want: Record{Epoch: 936}},
		{name: "first format padded with zeros: a rewrite the crash cut short", in: append(bytes.Clone(v1), make([]byte, recordSize-recordV1Size)...),
			want: Record{Epoch: 936}},
		{name: "first format padded with something else", in: append(bytes.Clone(v1), bytes.Repeat([]byte{1}, recordSize-recordV1Size)...), corrupt: true},
		{name: "first format with a bad checksum", in: flip(v1, 15, 1), corrupt: true},
		{name: "short", in: valid[:5], corrupt: true},
		{name: "long", in: append(bytes.Clone(valid), 0), corrupt: true},
		{name: "bad magic", in: flip(valid, 0, 'X'^'F'), corrupt: true},
		{name: "bad checksum", in: flip(valid, recordSize-1, 1), corrupt: true},
		{name: "flipped epoch bit", in: flip(valid, 11, 0x80), corrupt: true},
		{name: "flipped cluster bit", in: flip(valid, 20, 1), corrupt: true},
		{name: "text", in: []byte("epoch=12\n_______"), corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.in)
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFenced) {
					t.Fatalf("decode = %+v, %v; want an ErrCorrupt", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("decode = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range []Record{{Cluster: "c", Epoch: 0}, {Cluster: testCluster, Epoch: 42}, {Cluster: "x", Epoch: 1 << 40},
		{Cluster: strings.Repeat("y", MaxClusterIDLen), Epoch: ^uint64(0)}} {
		f.Add(encode(r))
	}
	f.Add(encodeV1(7))
	f.Add([]byte{})
	f.Add(make([]byte, recordSize))
	f.Add([]byte("FNC2"))
	f.Add([]byte("FNC1\x00\x00\x00\x00\x00\x00\x00\x07\xde\xad\xbe\xef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode(%x): error %v is not ErrCorrupt", b, err)
			}
			return
		}
		switch {
		case len(b) == 0 || allZero(b):
			if r != (Record{}) {
				t.Fatalf("decode(%x) = %+v, want the zero record", b, r)
			}
		case r.Cluster == "":
			// The first format, possibly followed by the zeros of a cut
			// rewrite: exactly the record of its epoch.
			if v1 := encodeV1(r.Epoch); !bytes.Equal(v1, b[:min(len(b), recordV1Size)]) || !allZero(b[recordV1Size:]) {
				t.Fatalf("decode(%x) = %+v, but that epoch encodes as %x", b, r, v1)
			}
		default:
			// Anything else accepted must be exactly the record it
			// decodes to.
			if e := encode(r); !bytes.Equal(e, b) {
				t.Fatalf("decode(%x) = %+v, but that record encodes as %x", b, r, e)
			}
		}
	})
}

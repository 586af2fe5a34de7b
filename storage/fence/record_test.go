package fence

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	valid := encode(0x0102030405060708)
	badCRC := valid
	badCRC[15] ^= 1
	badMagic := valid
	badMagic[0] = 'X'
	badEpoch := valid
	badEpoch[11] ^= 0x80

	tests := []struct {
		name    string
		in      []byte
		want    uint64
		corrupt bool
	}{
		{name: "empty file", in: nil, want: 0},
		{name: "valid", in: valid[:], want: 0x0102030405060708},
		{name: "epoch zero", in: func() []byte { r := encode(0); return r[:] }(), want: 0},
		{name: "max epoch", in: func() []byte { r := encode(^uint64(0)); return r[:] }(), want: ^uint64(0)},
		{name: "all zeros, an uncommitted first claim", in: make([]byte, recordSize), want: 0},
		{name: "short", in: valid[:5], corrupt: true},
		{name: "long", in: append(valid[:], 0), corrupt: true},
		{name: "bad magic", in: badMagic[:], corrupt: true},
		{name: "bad checksum", in: badCRC[:], corrupt: true},
		{name: "flipped epoch bit", in: badEpoch[:], corrupt: true},
		{name: "text", in: []byte("epoch=12\n_______"), corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.in)
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFenced) {
					t.Fatalf("decode = %d, %v; want an ErrCorrupt", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("decode = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range []uint64{0, 1, 42, 1 << 40, ^uint64(0)} {
		r := encode(e)
		f.Add(r[:])
	}
	f.Add([]byte{})
	f.Add(make([]byte, recordSize))
	f.Add([]byte("FNC1"))
	f.Add([]byte("FNC1\x00\x00\x00\x00\x00\x00\x00\x07\xde\xad\xbe\xef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		epoch, err := decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode(%x): error %v is not ErrCorrupt", b, err)
			}
			return
		}
		if len(b) == 0 || bytes.Equal(b, zeroRecord[:]) {
			if epoch != 0 {
				t.Fatalf("decode(%x) = %d, want 0", b, epoch)
			}
			return
		}
		// Anything else accepted must be exactly the record of its epoch.
		if r := encode(epoch); !bytes.Equal(r[:], b) {
			t.Fatalf("decode(%x) = %d, but that epoch encodes as %x", b, epoch, r)
		}
	})
}

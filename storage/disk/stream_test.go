package disk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// pageAligned returns n bytes starting on a StreamAlign boundary, filled
// with a pattern that depends on seed.
func pageAligned(n int, seed byte) []byte {
	b := make([]byte, n+StreamAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) % StreamAlign)
	if off != 0 {
		off = StreamAlign - off
	}
	b = b[off : off+n : off+n]
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// TestStream writes with WriteStream and reads back with both paths, for
// transfers that can go direct and for every way of not being aligned,
// which must fall back to the page cache with the same result.
func TestStream(t *testing.T) {
	const size = 1 << 20
	tests := []struct {
		name    string
		off     int64
		buf     func() []byte
		ro      bool
		wantErr error
	}{
		{name: "aligned", off: 8192, buf: func() []byte { return pageAligned(64<<10, 1) }},
		{name: "aligned at the end", off: size - 64<<10, buf: func() []byte { return pageAligned(64<<10, 2) }},
		{name: "unaligned offset", off: 512, buf: func() []byte { return pageAligned(64<<10, 3) }},
		{name: "unaligned length", off: 4096, buf: func() []byte { return pageAligned(64<<10, 4)[:64<<10-512] }},
		{name: "unaligned address", off: 4096, buf: func() []byte { return pageAligned(64<<10+512, 5)[512:] }},
		{name: "past the end", off: size - 4096, buf: func() []byte { return pageAligned(8192, 6) }, wantErr: ErrOutOfRange},
		{name: "read-only", off: 0, buf: func() []byte { return pageAligned(4096, 7) }, ro: true, wantErr: ErrReadOnly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "img")
			if err := Create(img, size, 512); err != nil {
				t.Fatal(err)
			}
			l, err := Open(img, Options{ReadOnly: tc.ro})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			want := tc.buf()
			n, err := l.WriteStream(want, tc.off)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || n != 0 {
					t.Fatalf("WriteStream: n=%d err=%v, want %v", n, err, tc.wantErr)
				}
				if _, err := l.ReadStream(pageAligned(len(want), 0), tc.off); tc.wantErr == ErrOutOfRange && !errors.Is(err, ErrOutOfRange) {
					t.Fatalf("ReadStream past the end: %v", err)
				}
				return
			}
			if err != nil || n != len(want) {
				t.Fatalf("WriteStream: n=%d err=%v", n, err)
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			cached := make([]byte, len(want))
			if _, err := l.ReadAt(cached, tc.off); err != nil || !bytes.Equal(cached, want) {
				t.Fatalf("ReadAt after WriteStream: err=%v, equal=%v", err, bytes.Equal(cached, want))
			}
			direct := pageAligned(len(want), 0)
			if _, err := l.ReadStream(direct, tc.off); err != nil || !bytes.Equal(direct, want) {
				t.Fatalf("ReadStream: err=%v, equal=%v", err, bytes.Equal(direct, want))
			}
			fi, err := os.Stat(img)
			if err != nil || fi.Size() != size {
				t.Fatalf("image grew or vanished: %v %v", fi, err)
			}
		})
	}
}

// TestStreamSeesCachedWrites mixes the paths the other way: bytes written
// through the page cache and not yet flushed must be what a direct read
// returns.
func TestStreamSeesCachedWrites(t *testing.T) {
	img := filepath.Join(t.TempDir(), "img")
	if err := Create(img, 1<<20, 4096); err != nil {
		t.Fatal(err)
	}
	l, err := Open(img, Options{BlockSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := pageAligned(128<<10, 9)
	if _, err := l.WriteAt(want, 64<<10); err != nil {
		t.Fatal(err)
	}
	got := pageAligned(len(want), 0)
	if _, err := l.ReadStream(got, 64<<10); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadStream of unflushed writes: err=%v, equal=%v", err, bytes.Equal(got, want))
	}
}

// TestStreamTruncatedUnderneath: a direct read of a block the file no
// longer has is an error, not a short read.
func TestStreamTruncatedUnderneath(t *testing.T) {
	img := filepath.Join(t.TempDir(), "img")
	if err := Create(img, 64<<10, 512); err != nil {
		t.Fatal(err)
	}
	l, err := Open(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Truncate(img, 16<<10); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadStream(pageAligned(32<<10, 0), 16<<10); err == nil {
		t.Fatal("read of vanished blocks succeeded")
	}
}

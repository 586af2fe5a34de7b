package tape

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// scanned is the index a full scan of the image gives.
func scanned(t *testing.T, path string) *index {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	idx, damage, err := scan(f, st.Size(), path)
	if err != nil || damage != nil {
		t.Fatalf("scan: %v %v", err, damage)
	}
	return idx
}

func sameIndex(t *testing.T, what string, got, want *index) {
	t.Helper()
	if got.end != want.end || !reflect.DeepEqual(got.off, want.off) || !reflect.DeepEqual(got.word, want.word) ||
		len(got.marks) != len(want.marks) || (len(got.marks) > 0 && !reflect.DeepEqual(got.marks, want.marks)) {
		t.Fatalf("%s: index differs from a scan: %d objects end %d, want %d objects end %d", what, got.len(), got.end, want.len(), want.end)
	}
}

// openRO opens path read-only and reports whether the index came from the
// index file.
func openRO(t *testing.T, path string) (*Cartridge, bool) {
	t.Helper()
	c, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.fromIndexFile
}

// TestIndexFileRoundTrip: random tapes (records of many sizes, filemarks,
// rewrites that truncate) closed and reopened read the index from the index
// file, and it is the index a scan gives; every record reads back.
func TestIndexFileRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 20 {
		c, path := newTape(t, Options{})
		var recs int
		for range 1 + rng.IntN(300) {
			switch k := rng.IntN(10); {
			case k == 0:
				if _, err := c.WriteFilemarks(1 + rng.IntN(2)); err != nil {
					t.Fatal(err)
				}
			case k == 1 && c.idx.len() > 0:
				// A write in the middle discards what follows.
				if err := c.Locate(rng.Uint64N(c.idx.len())); err != nil {
					t.Fatal(err)
				}
			default:
				n := 1 + rng.IntN(20000)
				if rng.IntN(20) == 0 {
					n = 200000 + rng.IntN(100000)
				}
				if _, err := c.WriteRecord(record(round+recs, n)); err != nil {
					t.Fatal(err)
				}
				recs++
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(IndexPath(path)); err != nil {
			t.Fatalf("round %d: no index file after Close: %v", round, err)
		}
		r, fromFile := openRO(t, path)
		if !fromFile {
			t.Fatalf("round %d: the index file was not used", round)
		}
		sameIndex(t, "reopened", r.idx, scanned(t, path))
		// A read-write Open deletes the index file before it returns.
		w, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(IndexPath(path)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("round %d: the index file survived a read-write Open: %v", round, err)
		}
		sameIndex(t, "read-write", w.idx, scanned(t, path))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIndexFileRefused: an index file that does not describe the image as
// it is now is ignored and the image scanned: the image grown, rewritten at
// the same size, replaced by another file, the index file damaged or cut.
func TestIndexFileRefused(t *testing.T) {
	prepare := func(t *testing.T) string {
		c, path := newTape(t, Options{})
		// More than indexTail, so that the image's head is outside the
		// stamp's hash of its tail.
		build(t, c, "r r F r r r F"+strings.Repeat(" r", 700)+" F")
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() <= 2*indexTail {
			t.Fatalf("test image too small: %v %v", st, err)
		}
		return path
	}
	keepTime := func(t *testing.T, path string, change func()) {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		change()
		if err := os.Chtimes(path, time.Time{}, st.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"image grown", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(le(3, "abc", []byte{0}, 3))
			f.Close()
		}},
		{"same size, same mtime, other tail", func(t *testing.T, path string) {
			keepTime(t, path, func() {
				b, _ := os.ReadFile(path)
				// The last record's data (before its trailer and the
				// filemark) changes; lengths do not.
				b[len(b)-4-4-1] ^= 0xFF
				os.WriteFile(path, b, 0o666)
			})
		}},
		{"another file renamed over it", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			tmp := path + ".new"
			os.WriteFile(tmp, b, 0o666)
			st, _ := os.Stat(path)
			os.Chtimes(tmp, time.Time{}, st.ModTime())
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"records reshaped, same size, mtime and tail", func(t *testing.T, path string) {
			// The image's head is rewritten with records of other lengths
			// filling the same bytes; the stamp cannot see it, the sampled
			// headers do.
			keepTime(t, path, func() {
				b, _ := os.ReadFile(path)
				head := append(le(1, "a", []byte{0}, 1), le(wordTapeMark)...)
				first := objectSize(binary.LittleEndian.Uint32(b)) + objectSize(binary.LittleEndian.Uint32(b[objectSize(binary.LittleEndian.Uint32(b)):]))
				if int64(len(head)) > first {
					t.Fatalf("test image too small: %d > %d", len(head), first)
				}
				rest := le(uint32(first-int64(len(head))-8), make([]byte, first-int64(len(head))-8), uint32(first-int64(len(head))-8))
				copy(b, append(head, rest...))
				os.WriteFile(path, b, 0o666)
			})
		}},
		{"index file damaged", func(t *testing.T, path string) {
			b, _ := os.ReadFile(IndexPath(path))
			b[len(b)/2] ^= 1
			os.WriteFile(IndexPath(path), b, 0o666)
		}},
		{"index file cut", func(t *testing.T, path string) {
			b, _ := os.ReadFile(IndexPath(path))
			os.WriteFile(IndexPath(path), b[:len(b)-10], 0o666)
		}},
		{"index file empty", func(t *testing.T, path string) {
			os.WriteFile(IndexPath(path), nil, 0o666)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := prepare(t)
			tc.change(t, path)
			c, fromFile := openRO(t, path)
			if fromFile {
				t.Fatal("a stale or damaged index file was used")
			}
			sameIndex(t, tc.name, c.idx, scanned(t, path))
		})
	}
}

// TestIndexFileNotForDamagedImages: an image opened with Recover past a
// damaged tail gets no index file, so the next Open without Recover still
// finds the damage.
func TestIndexFileNotForDamagedImages(t *testing.T) {
	path := writeImage(t, le(2, "ab", 2, 0, 5, "abc"))
	c, err := Open(path, Options{Recover: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(IndexPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a damaged image got an index file: %v", err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of the damaged image: %v, want ErrCorrupt", err)
	}
}

// TestIndexFileNotWrittenReadOnly: a read-only Open leaves no file beside
// the image (an image being imported, a golden image under testdata).
func TestIndexFileNotWrittenReadOnly(t *testing.T) {
	path := writeImage(t, le(2, "ab", 2, 0))
	c, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(IndexPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only Open wrote an index file: %v", err)
	}
}

// FuzzDecodeIndex: any bytes as an index file give an index or an error,
// never a panic, and an accepted index lies within the image it claims.
func FuzzDecodeIndex(f *testing.F) {
	idx := &index{}
	idx.add(0, 3)
	idx.add(12, wordTapeMark)
	idx.add(20, 1)
	idx.end = 30
	stamp := imageStamp{size: 40, mtime: 5, ino: 9}
	f.Add(encodeIndex(stamp, idx))
	f.Add(encodeIndex(stamp, &index{}))
	f.Add([]byte(indexMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeIndex(b, stamp)
		if err != nil {
			return
		}
		if got.end > stamp.size {
			t.Fatalf("end %d past the image's %d bytes", got.end, stamp.size)
		}
		for i, off := range got.off {
			if off+objectSize(got.word[i]) > got.end {
				t.Fatalf("object %d past end of data", i)
			}
		}
	})
}

package tape

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.tap")

// le builds image bytes: uint32 values become little-endian words, byte
// slices are copied as they are.
func le(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case int:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		case []byte:
			b = append(b, v...)
		case string:
			b = append(b, v...)
		default:
			panic("le: unsupported part")
		}
	}
	return b
}

// goldenImage is the SIMH image of: "hello" (odd, padded), "tape", a
// filemark, {1,2,3}, two filemarks, written by hand from the SIMH
// documentation rather than by the code under test.
var goldenImage = le(
	5, "hello", []byte{0}, 5,
	4, "tape", 4,
	0,
	3, []byte{1, 2, 3, 0}, 3,
	0, 0,
)

func TestGoldenImage(t *testing.T) {
	c, path := newTape(t, Options{})
	for _, step := range []func() error{
		func() error { _, err := c.WriteRecord([]byte("hello")); return err },
		func() error { _, err := c.WriteRecord([]byte("tape")); return err },
		func() error { _, err := c.WriteFilemarks(1); return err },
		func() error { _, err := c.WriteRecord([]byte{1, 2, 3}); return err },
		func() error { _, err := c.WriteFilemarks(2); return err },
		c.Close,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, goldenImage) {
		t.Fatalf("image\n% x\nwant\n% x", got, goldenImage)
	}
	golden := filepath.Join("testdata", "golden.tap")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("image differs from %s", golden)
	}
	// And the golden file reads back as what was written.
	c, err = Open(golden, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := lengths(t, c); !equalInts(got, []int{5, 4, -1, 3, -1, -1}) {
		t.Fatalf("golden.tap reads as %v", got)
	}
}

func writeImage(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "img.tap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCorruptImages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		image  []byte
		offset int64 // where the damage is
		before int   // intact objects before it
	}{
		{"trailer differs", le(4, "abcd", 5), 0, 0},
		{"record cut short", le(0, 10, "abc"), 4, 1},
		{"trailer missing", le(2, "ab", 2, 4, "abcd"), 10, 1},
		{"partial length word", le(2, "ab", 2, []byte{1, 0}), 10, 1},
		{"reserved marker", le(0, uint32(0xFF000001), 0), 4, 1},
		{"bits that must be zero", le(0x01000004, "abcd", 0x01000004), 0, 0},
		{"bad-record flag with no length", le(uint32(0x80000000)), 0, 0},
		{"odd record without its pad byte", le(3, "abc", 3), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeImage(t, tc.image)
			_, err := Open(path, Options{})
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Offset != tc.offset {
				t.Fatalf("Open: %v, want ErrCorrupt at offset %d", err, tc.offset)
			}
			// Recover keeps what precedes the damage and overwrites the rest.
			c, err := Open(path, Options{Recover: true})
			if err != nil {
				t.Fatalf("Open with Recover: %v", err)
			}
			defer c.Close()
			if d := c.Damage(); d == nil || d.Offset != tc.offset {
				t.Fatalf("Damage: %v", d)
			}
			if got := lengths(t, c); len(got) != tc.before {
				t.Fatalf("recovered %v, want %d objects", got, tc.before)
			}
			if _, err := c.WriteRecord([]byte("new!")); err != nil {
				t.Fatal(err)
			}
			c.Close()
			c, err = Open(path, Options{})
			if err != nil {
				t.Fatalf("reopen after overwriting the damage: %v", err)
			}
			defer c.Close()
			if got := lengths(t, c); len(got) != tc.before+1 || got[len(got)-1] != 4 {
				t.Fatalf("after overwriting the damage: %v", got)
			}
		})
	}
}

func TestMarkersAndFlags(t *testing.T) {
	t.Run("end of medium marker ends the data", func(t *testing.T) {
		path := writeImage(t, le(2, "ab", 2, 0, uint32(0xFFFFFFFF), "junk after the marker"))
		c, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := lengths(t, c); !equalInts(got, []int{2, -1}) {
			t.Fatalf("read %v", got)
		}
		if c.Used() != 14 {
			t.Fatalf("Used %d, want 14", c.Used())
		}
		if _, err := c.WriteRecord([]byte("cd")); err != nil {
			t.Fatal(err)
		}
		c.Close()
		got, _ := os.ReadFile(path)
		if want := le(2, "ab", 2, 0, 2, "cd", 2); !bytes.Equal(got, want) {
			t.Fatalf("image % x, want % x", got, want)
		}
	})
	t.Run("erase gaps are skipped", func(t *testing.T) {
		path := writeImage(t, le(uint32(0xFFFFFFFE), 2, "ab", 2, uint32(0xFFFFFFFE), uint32(0xFFFFFFFE), 0, 1, "x", []byte{0}, 1))
		c, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := lengths(t, c); !equalInts(got, []int{2, -1, 1}) {
			t.Fatalf("read %v", got)
		}
		// Writing over the filemark keeps the gaps before it, as SIMH would.
		if err := c.Locate(1); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteRecord([]byte("yz")); err != nil {
			t.Fatal(err)
		}
		if got := lengths(t, c); !equalInts(got, []int{2, 2}) {
			t.Fatalf("after overwrite %v", got)
		}
	})
	t.Run("bad-record flag", func(t *testing.T) {
		path := writeImage(t, le(uint32(0x80000003), "abc", []byte{0}, uint32(0x80000003), 1, "z", []byte{0}, 1))
		c, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 10)
		n, err := c.ReadRecord(buf)
		if !errors.Is(err, ErrMediumError) || string(buf[:n]) != "abc" {
			t.Fatalf("flagged record: %q, %v", buf[:n], err)
		}
		if n, err := c.ReadRecord(buf); err != nil || string(buf[:n]) != "z" {
			t.Fatalf("next record: %q, %v", buf[:n], err)
		}
	})
	t.Run("empty image is a blank tape", func(t *testing.T) {
		c, err := Open(writeImage(t, nil), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if p := pos(t, c); !p.BOP || !p.EOD {
			t.Fatalf("blank tape at %+v", p)
		}
	})
	t.Run("not a regular file", func(t *testing.T) {
		if _, err := Open(t.TempDir(), Options{ReadOnly: true}); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("Open a directory: %v", err)
		}
	})
}

func TestImageShrunkWhileOpen(t *testing.T) {
	c, path := newTape(t, Options{})
	build(t, c, "r r")
	c.Flush()
	if err := os.Truncate(path, 50); err != nil {
		t.Fatal(err)
	}
	c.Locate(1)
	if _, err := c.ReadRecord(make([]byte, 1000)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a record cut off under the cartridge: %v", err)
	}
}

// FuzzOpen feeds random images to Open and then exercises reads and
// motion: nothing may panic, and whatever opens must read consistently.
func FuzzOpen(f *testing.F) {
	f.Add(goldenImage)
	f.Add(le(4, "abcd", 5))
	f.Add(le(0, uint32(0xFFFFFFFF), 1, 2))
	f.Add(le(uint32(0xFFFFFFFE), uint32(0x80000001), "a", []byte{0}, uint32(0x80000001)))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, image []byte) {
		path := writeImage(t, image)
		for _, recover := range []bool{false, true} {
			c, err := Open(path, Options{Recover: recover, ReadOnly: true})
			if err != nil {
				if !recover && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open: %v is not ErrCorrupt", err)
				}
				if recover {
					t.Fatalf("Open with Recover: %v", err)
				}
				continue
			}
			if c.Used() > int64(len(image)) {
				t.Fatalf("Used %d beyond the %d-byte image", c.Used(), len(image))
			}
			buf := make([]byte, 64)
			objects := 0
			for {
				_, err := c.ReadRecord(buf)
				if errors.Is(err, ErrEndOfData) {
					break
				}
				if err != nil && !errors.Is(err, ErrFilemark) && !errors.Is(err, ErrIncorrectLength) && !errors.Is(err, ErrMediumError) {
					t.Fatalf("ReadRecord: %v", err)
				}
				objects++
			}
			p := pos(t, c)
			if p.ObjectID != uint64(objects) || !p.EOD {
				t.Fatalf("after reading %d objects at %+v", objects, p)
			}
			c.Space(SpaceFilemarks, -2)
			c.Space(SpaceRecords, 3)
			c.Space(SpaceRecords, -5)
			c.Locate(uint64(objects / 2))
			c.ReadRecord(buf)
			c.Close()
		}
	})
}

// TestScanLargeRecords opens images of records big enough for the scan to
// prefetch, where its guess of the next record's size is right, wrong
// (sizes change, filemarks shift the offsets) and cut short by a damaged
// tail: the index must be the one the records were written with.
func TestScanLargeRecords(t *testing.T) {
	tests := []struct {
		name    string
		layout  []int // record lengths, -1 for a filemark
		cutTail int64 // bytes chopped off the image's end
		want    int   // objects indexed (len(layout) unless damaged)
	}{
		{name: "one size", layout: repeatLen(200, 64<<10), want: 200},
		{name: "sizes change", layout: append(append(repeatLen(70, 40<<10), repeatLen(3, 9<<10+1)...), repeatLen(90, 100<<10)...), want: 163},
		{name: "filemarks between", layout: append(append(repeatLen(50, 64<<10), -1, -1), repeatLen(50, 64<<10)...), want: 102},
		{name: "damaged tail", layout: repeatLen(100, 64<<10), cutTail: 10, want: 99},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, path := newTape(t, Options{})
			for i, n := range tc.layout {
				var err error
				if n < 0 {
					_, err = c.WriteFilemarks(1)
				} else {
					_, err = c.WriteRecord(record(i, n))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.cutTail > 0 {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, fi.Size()-tc.cutTail); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Open(path, Options{Recover: tc.cutTail > 0})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			p, err := c.ReadPosition()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Space(SpaceEndOfData, 0); err != nil {
				t.Fatal(err)
			}
			if p, err = c.ReadPosition(); err != nil || p.ObjectID != uint64(tc.want) {
				t.Fatalf("%d objects indexed (%v), want %d", p.ObjectID, err, tc.want)
			}
			if err := c.Rewind(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 128<<10)
			for i, n := range tc.layout[:tc.want] {
				got, err := c.ReadRecord(buf)
				switch {
				case n < 0 && !errors.Is(err, ErrFilemark):
					t.Fatalf("object %d: %v, want a filemark", i, err)
				case n >= 0 && (err != nil || got != n || !bytes.Equal(buf[:got], record(i, n))):
					t.Fatalf("object %d: %d bytes, %v; want %d", i, got, err, n)
				}
			}
		})
	}
}

func repeatLen(k, n int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = n
	}
	return s
}

// TestReaderOfACutTail: a kill -9 during an append leaves a record cut
// short at the end of the image. A read-only open with Recover reads every
// complete file before it and leaves the image as it is; a writer cuts the
// damage off with its first write.
func TestReaderOfACutTail(t *testing.T) {
	c, path := newTape(t, Options{})
	build(t, c, "r F r r F r F r r")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := st.Size() - 50 // inside the last record
	if err := os.Truncate(path, cut); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("strict open of a cut image: %v, want ErrCorrupt", err)
	}
	r, err := Open(path, Options{ReadOnly: true, Recover: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Damage() == nil {
		t.Fatal("no damage reported")
	}
	var layout []string
	buf := make([]byte, 1000)
	for {
		n, err := r.ReadRecord(buf)
		if errors.Is(err, ErrEndOfData) {
			break
		}
		switch {
		case errors.Is(err, ErrFilemark):
			layout = append(layout, "F")
		case err != nil:
			t.Fatalf("read: %v", err)
		default:
			if want := record(len(layout), 100+len(layout)); !bytes.Equal(buf[:n], want) {
				t.Fatalf("object %d differs", len(layout))
			}
			layout = append(layout, "r")
		}
	}
	if got := strings.Join(layout, " "); got != "r F r r F r F r" {
		t.Fatalf("read %q, want every complete object", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != cut {
		t.Fatalf("a reader changed the image: %v", err)
	}
	w, err := Open(path, Options{Recover: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Space(SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteFilemarks(1); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{ReadOnly: true}); err != nil {
		t.Fatalf("the writer left a damaged image: %v", err)
	}
}

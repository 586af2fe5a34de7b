package mover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

var (
	_ BlockDevice = (*disk.LUN)(nil)
	_ TapeDrive   = (*tape.Cartridge)(nil)
)

// randomBytes is deterministic per seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// newLUN creates a LUN of size bytes filled with content (zeros if nil).
func newLUN(t testing.TB, name string, size int64, bs uint32, content []byte) *disk.LUN {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := disk.Create(path, size, bs); err != nil {
		t.Fatal(err)
	}
	l := openLUN(t, path, bs, false)
	if content != nil {
		if _, err := l.WriteAt(content, 0); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func openLUN(t testing.TB, path string, bs uint32, ro bool) *disk.LUN {
	t.Helper()
	l, err := disk.Open(path, disk.Options{BlockSize: bs, ReadOnly: ro})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func newCart(t testing.TB, name string, opt tape.Options) *tape.Cartridge {
	t.Helper()
	c, err := tape.Create(filepath.Join(t.TempDir(), name), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func reopenCart(t testing.TB, c *tape.Cartridge, opt tape.Options) *tape.Cartridge {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := tape.Open(c.Path(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// tapeFile is the records of one tape file.
type tapeFile [][]byte

// writeTape records files, each followed by a filemark, and rewinds.
func writeTape(t testing.TB, c *tape.Cartridge, files ...tapeFile) {
	t.Helper()
	for _, f := range files {
		for _, r := range f {
			if _, err := c.WriteRecord(r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.WriteFilemarks(1); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Rewind(); err != nil {
		t.Fatal(err)
	}
}

// randomRecords cuts n random bytes into records of random lengths up to
// maxLen.
func randomRecords(seed uint64, n, maxLen int) tapeFile {
	data := randomBytes(seed, n)
	r := rand.New(rand.NewPCG(seed, 1))
	var f tapeFile
	for len(data) > 0 {
		k := min(1+r.IntN(maxLen), len(data))
		f = append(f, data[:k])
		data = data[k:]
	}
	return f
}

// readTape reads every file of a tape from the beginning.
func readTape(t testing.TB, c TapeDrive) []tapeFile {
	t.Helper()
	if err := c.Locate(0); err != nil {
		t.Fatal(err)
	}
	var files []tapeFile
	var cur tapeFile
	buf := make([]byte, tape.MaxRecordSize)
	for {
		n, err := c.ReadRecord(buf)
		switch {
		case err == nil:
			cur = append(cur, bytes.Clone(buf[:n]))
		case errors.Is(err, tape.ErrFilemark):
			files = append(files, cur)
			cur = nil
		case errors.Is(err, tape.ErrEndOfData):
			if cur != nil {
				files = append(files, cur)
			}
			return files
		default:
			t.Fatal(err)
		}
	}
}

func lunBytes(t testing.TB, l *disk.LUN) []byte {
	t.Helper()
	b := make([]byte, l.Size())
	if _, err := l.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func concat(files ...tapeFile) []byte {
	var b []byte
	for _, f := range files {
		for _, r := range f {
			b = append(b, r...)
		}
	}
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// smallConfig makes many chunks and checkpoints out of little data.
func smallConfig() Config {
	c := DefaultConfig()
	c.BufferSize = 64 << 10
	c.CheckpointBytes = 64 << 10
	return c
}

func run(t testing.TB, cfg Config, plan Plan, devs []Device) Result {
	t.Helper()
	res, err := Run(context.Background(), cfg, plan, devs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

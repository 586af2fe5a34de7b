package tape

import (
	"errors"
	"path/filepath"
	"testing"
)

const benchRecord = 256 << 10

func BenchmarkWriteRecord256KiB(b *testing.B) {
	c, err := Create(filepath.Join(b.TempDir(), "b.tap"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := record(1, benchRecord)
	b.SetBytes(benchRecord)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Rewrite from BOP every 4 GiB so the benchmark does not fill the disk.
		if i%(16<<10) == 0 {
			if err := c.Rewind(); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.WriteRecord(p); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkReadRecord256KiB(b *testing.B) {
	const records = 1024 // a 256 MiB tape, read round and round
	c, err := Create(filepath.Join(b.TempDir(), "b.tap"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := record(1, benchRecord)
	for range records {
		if _, err := c.WriteRecord(p); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Rewind(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, benchRecord)
	b.SetBytes(benchRecord)
	b.ResetTimer()
	for b.Loop() {
		_, err := c.ReadRecord(buf)
		if errors.Is(err, ErrEndOfData) {
			c.Rewind()
			_, err = c.ReadRecord(buf)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteRecord512B(b *testing.B) {
	c, err := Create(filepath.Join(b.TempDir(), "b.tap"), Options{BlockSize: 512})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := record(1, 512)
	b.SetBytes(512)
	for i := 0; b.Loop(); i++ {
		if i%(1<<22) == 0 {
			c.Rewind()
		}
		if _, err := c.WriteRecord(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenScan(b *testing.B) {
	path := filepath.Join(b.TempDir(), "b.tap")
	c, err := Create(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100000 {
		if _, err := c.WriteRecord(record(i, 512)); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	for b.Loop() {
		c, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

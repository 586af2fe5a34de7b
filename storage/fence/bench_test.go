package fence

import (
	"context"
	"os"
	"testing"
)

// BenchmarkWrite measures what the fence adds to a device write: compare
// fenced/noop with bare/pwrite-1MiB, or the two pwrite-1MiB results.
func BenchmarkWrite(b *testing.B) {
	dev := newDevice(b)
	f := openFence(b, dev)
	if err := f.Claim(context.Background(), 1); err != nil {
		b.Fatal(err)
	}
	disk, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { disk.Close() })
	buf := make([]byte, 1<<20)
	pwrite := func() error { _, err := disk.WriteAt(buf, 0); return err }

	b.Run("fenced/noop", func(b *testing.B) {
		for b.Loop() {
			if err := f.Write(1, func() error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare/pwrite-1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if err := pwrite(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fenced/pwrite-1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if err := f.Write(1, pwrite); err != nil {
				b.Fatal(err)
			}
		}
	})
}

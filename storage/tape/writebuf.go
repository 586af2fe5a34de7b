package tape

import "fmt"

// Sizes of the write path. Records shorter than directWriteMin are copied
// into the buffer, so a stream of small records costs one system call per
// writeBufferSize; longer ones are written from the caller's slice, their
// header sharing a system call with the previous record's trailer.
const (
	writeBufferSize = 1 << 20
	directWriteMin  = 64 << 10
)

// writeBuffer holds bytes not yet written to the image: one contiguous run
// that starts at image offset off and always ends at end of data.
type writeBuffer struct {
	buf []byte
	off int64
}

// buffer queues parts to be written contiguously at image offset off.
func (c *Cartridge) buffer(off int64, parts ...[]byte) error {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	wb := &c.wb
	if len(wb.buf) > 0 && (wb.off+int64(len(wb.buf)) != off || len(wb.buf)+total > writeBufferSize) {
		if err := c.flushWrites(); err != nil {
			return err
		}
	}
	if wb.buf == nil {
		wb.buf = make([]byte, 0, writeBufferSize+directWriteMin)
	}
	if len(wb.buf) == 0 {
		wb.off = off
	}
	for _, p := range parts {
		wb.buf = append(wb.buf, p...)
	}
	return nil
}

// flushWrites hands the buffered bytes to the image (without fsync). It runs
// before anything reads the image or moves the position. A failure here
// loses records already acknowledged, so it fails the cartridge for good.
func (c *Cartridge) flushWrites() error {
	if c.failed != nil {
		return c.failed
	}
	wb := &c.wb
	if len(wb.buf) == 0 {
		return nil
	}
	if _, err := c.f.WriteAt(wb.buf, wb.off); err != nil {
		c.failed = fmt.Errorf("tape: write to %s failed after records were acknowledged: %w", c.path, err)
		return c.failed
	}
	wb.off += int64(len(wb.buf))
	wb.buf = wb.buf[:0]
	c.startWriteback(wb.off)
	return nil
}

// writebackChunk is how much the image accumulates before its write-back
// is started.
const writebackChunk = 4 << 20

// startWriteback asks the kernel to start writing the image up to end back
// to the disk, without waiting, once writebackChunk bytes have gathered
// since the last time. Streaming dirty pages out behind the writes keeps a
// Flush short, where they would otherwise pile up (the kernel's own
// threshold is a tenth of memory) for the fsync to write and wait for.
// It is advice: a failure is not reported (the fsync will report it).
func (c *Cartridge) startWriteback(end int64) {
	if end < c.writeback {
		c.writeback = end // written behind the mark: rewound and rewritten
		return
	}
	if end-c.writeback < writebackChunk {
		return
	}
	startWriteback(c.f, c.writeback, end-c.writeback)
	c.writeback = end
}

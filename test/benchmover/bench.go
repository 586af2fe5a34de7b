package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// measurement is one timed run.
type measurement struct {
	bytes   int64
	seconds float64
	maxRSS  int64 // KiB; mover runs only
	ckpts   int
}

func (m measurement) mbps() float64 { return float64(m.bytes) / 1e6 / m.seconds }

// result is the medians of one copy kind.
type result struct {
	kind        string
	dd, on, off summary
}

func runBench(ctx context.Context, o options, log *slog.Logger) error {
	dir := o.dir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	} else {
		d, err := os.MkdirTemp("/tmp", "benchmover-")
		if err != nil {
			return err
		}
		dir = d
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	cache := newCacheControl()
	log.Info("preparing source files", "dir", dir, "size", o.size, "cache", cache.describe())
	srcImg, srcTap := filepath.Join(dir, "src.img"), filepath.Join(dir, "src.tap")
	for _, p := range []string{srcImg, srcTap} {
		// Left by an earlier run with -keep.
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	sum, err := makeSource(srcImg, o.size)
	if err != nil {
		return err
	}
	if err := makeSourceTape(srcTap, srcImg, o.record); err != nil {
		return err
	}
	kinds := []struct{ name, src, dst string }{
		{"disk-disk", srcImg, filepath.Join(dir, "dst.img")},
		{"disk-tape", srcImg, filepath.Join(dir, "dst.tap")},
		{"tape-disk", srcTap, filepath.Join(dir, "dst.img")},
	}
	var load [2]string
	load[0] = loadAverage()
	var results []result
	for _, k := range kinds {
		var dd, on, off []measurement
		for rep := range o.reps {
			// Rotate the order so that whatever the shared machine does
			// over time (other jobs, the host's write-back) falls on each
			// contestant alike.
			for i := range 3 {
				var m measurement
				var err error
				switch which := (rep + i) % 3; which {
				case 0:
					log.Info("measuring", "kind", k.name, "rep", rep+1, "run", "dd")
					m, err = timeDD(ctx, o, k.src, k.dst, cache)
					dd = append(dd, m)
				default:
					ckpt := which == 1
					log.Info("measuring", "kind", k.name, "rep", rep+1, "run", "mover", "checkpoints", ckpt)
					m, err = timeMover(ctx, o, k.name, k.src, k.dst, ckpt, sum, cache)
					if ckpt {
						on = append(on, m)
					} else {
						off = append(off, m)
					}
				}
				if err != nil {
					return fmt.Errorf("%s: %w", k.name, err)
				}
			}
		}
		results = append(results, result{kind: k.name, dd: summarize(dd), on: summarize(on), off: summarize(off)})
		os.Remove(k.dst)
	}
	load[1] = loadAverage()
	report(os.Stdout, o, cache, load, results)
	return nil
}

// summary is the median run of a series and the series' spread.
type summary struct {
	measurement
	minMBps, maxMBps float64
	maxRSS           int64 // KiB, the peak over the series
}

func summarize(ms []measurement) summary {
	slices.SortFunc(ms, func(a, b measurement) int { return cmp.Compare(a.seconds, b.seconds) })
	s := summary{measurement: ms[len(ms)/2], maxMBps: ms[0].mbps(), minMBps: ms[len(ms)-1].mbps()}
	for _, m := range ms {
		s.maxRSS = max(s.maxRSS, m.maxRSS)
	}
	return s
}

// makeSource writes size pseudo-random bytes and returns their SHA-256.
func makeSource(path string, size int64) ([32]byte, error) {
	if err := disk.Create(path, size, 512); err != nil {
		return [32]byte{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	r := rand.New(rand.NewChaCha8([32]byte{'f', 'e', 'r', 'r', 'y'}))
	buf := make([]byte, 8<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-off)]
		for i := 0; i < len(b); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		h.Write(b)
		if _, err := f.Write(b); err != nil {
			return [32]byte{}, err
		}
	}
	var s [32]byte
	h.Sum(s[:0])
	return s, f.Sync()
}

// makeSourceTape records the image as one tape file of record-sized records.
func makeSourceTape(path, img string, record int) (err error) {
	c, err := tape.Create(path, tape.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}()
	data, err := os.Open(img)
	if err != nil {
		return err
	}
	defer data.Close()
	buf := make([]byte, record)
	for {
		n, rerr := data.Read(buf)
		if n > 0 {
			if _, err := c.WriteRecord(buf[:n]); err != nil {
				return err
			}
		}
		if rerr != nil {
			break
		}
	}
	if _, err := c.WriteFilemarks(1); err != nil {
		return err
	}
	return c.Flush()
}

// freshDestination replaces dst with an empty image of the kind the copy
// writes.
func freshDestination(dst string, size int64) error {
	if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
		return err
	}
	if filepath.Ext(dst) == ".tap" {
		c, err := tape.Create(dst, tape.Options{})
		if err != nil {
			return err
		}
		return c.Close()
	}
	return disk.Create(dst, size, 512)
}

// timeDD copies src to dst with dd. The destination is prepared exactly as
// for the mover (a fresh sparse image, or an empty cartridge file) and dd
// writes into it without truncating, so both start from the same state.
func timeDD(ctx context.Context, o options, src, dst string, cache *cacheControl) (measurement, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return measurement{}, err
	}
	if err := freshDestination(dst, o.size); err != nil {
		return measurement{}, err
	}
	if err := cache.drop(src, dst); err != nil {
		return measurement{}, err
	}
	cmd := exec.CommandContext(ctx, "dd", "if="+src, "of="+dst, "bs=1M", "conv=fsync,notrunc", "status=none")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("dd: %w", err)
	}
	return measurement{bytes: fi.Size(), seconds: time.Since(start).Seconds()}, nil
}

func timeMover(ctx context.Context, o options, kind, src, dst string, ckpt bool, want [32]byte, cache *cacheControl) (measurement, error) {
	if err := freshDestination(dst, o.size); err != nil {
		return measurement{}, err
	}
	if err := cache.drop(src, dst); err != nil {
		return measurement{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return measurement{}, err
	}
	cmd := exec.CommandContext(ctx, self, "-child", "-kind", kind, "-src", src, "-dst", dst,
		fmt.Sprintf("-checkpoints=%v", ckpt), "-size", fmt.Sprint(o.size), "-record", fmt.Sprint(o.record),
		"-buffers", fmt.Sprint(o.buffers), "-buffer-size", fmt.Sprint(o.bufferSize))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("mover child: %w", err)
	}
	elapsed := time.Since(start).Seconds()
	var rep childReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return measurement{}, fmt.Errorf("mover child output %q: %w", out.String(), err)
	}
	if rep.SHA256 != fmt.Sprintf("%x", want) || rep.Bytes != o.size {
		return measurement{}, fmt.Errorf("mover copied %d bytes with SHA-256 %s, want %d bytes %x", rep.Bytes, rep.SHA256, o.size, want)
	}
	m := measurement{bytes: rep.Bytes, seconds: elapsed, ckpts: rep.Checkpoints}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss
	}
	return m, nil
}

// Command benchmover measures the mover's throughput against dd.
//
// For a disk→disk, disk→tape and tape→disk copy of -size bytes it times
// `dd bs=1M conv=fsync` over the same files, then the mover with
// checkpoints on (the defaults: every 64 MiB and every second, each one
// marshalled as the cluster would) and off, -reps times each in rotating
// order. Every run is a child process that writes into a freshly created
// destination (dd with conv=notrunc, so it starts from the same image as
// the mover), started after `sync` and a drop of the page cache (when
// permitted: root and a writable /proc/sys/vm/drop_caches; otherwise the
// files are evicted with posix_fadvise DONTNEED, and the report says so),
// and timed the same way from outside. The report gives medians, the
// slowest and fastest run of each series, the load average, and the
// mover's peak RSS from the child's rusage.
//
//	go run ./test/benchmover -size 2GiB -reps 5
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"github.com/ferry-san/ferry/internal/bytesize"
)

type options struct {
	size   int64
	dir    string
	reps   int
	keep   bool
	child  bool
	kind   string
	src    string
	dst    string
	ckpt   bool
	record int
	// Mover tuning; 0 keeps the mover's defaults.
	buffers, bufferSize int
}

func main() {
	var o options
	var size string
	flag.StringVar(&size, "size", "2GiB", "bytes to copy per run (KiB, MiB, GiB suffixes)")
	flag.StringVar(&o.dir, "dir", "", "directory for the test files (default: a new temp dir under /tmp)")
	flag.IntVar(&o.reps, "reps", 3, "runs of each measurement; the median is reported")
	flag.BoolVar(&o.keep, "keep", false, "keep the test files")
	// Child mode: run one copy and report on stdout.
	flag.BoolVar(&o.child, "child", false, "internal: run one mover copy")
	flag.StringVar(&o.kind, "kind", "", "internal: disk-disk, disk-tape or tape-disk")
	flag.StringVar(&o.src, "src", "", "internal: source path")
	flag.StringVar(&o.dst, "dst", "", "internal: destination path")
	flag.BoolVar(&o.ckpt, "checkpoints", true, "internal: checkpoint")
	flag.IntVar(&o.record, "record", 256<<10, "tape record size")
	flag.IntVar(&o.buffers, "buffers", 0, "mover buffers (default: the mover's)")
	flag.IntVar(&o.bufferSize, "buffer-size", 0, "mover buffer size in bytes (default: the mover's)")
	flag.Parse()
	n, err := bytesize.Positive(size)
	if err == nil && n%(1<<20) != 0 {
		err = fmt.Errorf("size must be a multiple of 1 MiB (dd bs=1M)")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmover:", err)
		os.Exit(2)
	}
	o.size = n

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if o.child {
		err = runChild(ctx, o)
	} else {
		err = runBench(ctx, o, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmover:", err)
		os.Exit(1)
	}
}

// Command benchndmp measures an NDMP backup through Ferry against tar and
// dd on the same data.
//
// It generates a tree of -size bytes in -files files (internal/filetree:
// long names, links, a sparse file), starts two `ferry agent`s (n1, the one
// voter, and n2) serving NDMP with a tape library, labels two cartridges
// through the robot with Amanda's ndmjob, and then, -reps times in rotating
// order, after `sync` and a drop of the page cache (echo 3 >
// /proc/sys/vm/drop_caches, as root; otherwise the report says the cache
// was not dropped), times:
//
//   - tar|dd: `tar -cf - -C TREE . | dd of=FILE bs=1M conv=fsync`;
//   - local:  `ndmjob -c` with DATA, TAPE, MOVER and robot on n1: the tree
//     through the DATA service's tar into n1's drive over a LOCAL
//     connection;
//   - 3-way:  DATA on n1, TAPE, MOVER and robot on n2: the stream crosses
//     a TCP connection between the nodes.
//
// Each ndmjob run is a whole backup job as a DMA runs it: the robot loads
// the cartridge, ndmjob reads its label, the backup is written and the
// cartridge unloaded. The report gives the medians, their rates over the
// tree's data bytes and the ratios to tar|dd, with the goals (0.9× local,
// 0.8× 3-way).
//
//	go run ./test/benchndmp -ferry bin/ferry -size 1GiB -reps 3
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
	ferryBinary string
	ndmjob      string
	size        int64
	files       int
	reps        int
	dir         string
	keep        bool
}

func main() {
	var o options
	var size string
	flag.StringVar(&o.ferryBinary, "ferry", "bin/ferry", "the ferry binary the nodes run")
	flag.StringVar(&o.ndmjob, "ndmjob", "/usr/lib/amanda/ndmjob", "Amanda's ndmjob")
	flag.StringVar(&size, "size", "1GiB", "data bytes of the tree (KiB, MiB, GiB suffixes)")
	flag.IntVar(&o.files, "files", 10000, "regular files in the tree")
	flag.IntVar(&o.reps, "reps", 3, "runs of each measurement; the median is reported")
	flag.StringVar(&o.dir, "dir", "", "directory for the tree, the nodes and the tar file (default: a new temp dir under /var/tmp)")
	flag.BoolVar(&o.keep, "keep", false, "keep the directory, with each ndmjob run's log (KIND-REP.log, each line with the second it arrived)")
	flag.Parse()
	n, err := bytesize.Positive(size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchndmp:", err)
		os.Exit(2)
	}
	o.size = n
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, o, log); err != nil {
		fmt.Fprintln(os.Stderr, "benchndmp:", err)
		os.Exit(1)
	}
}

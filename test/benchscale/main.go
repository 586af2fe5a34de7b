// Command benchscale measures whether Ferry's throughput scales with nodes
// and drives, and what the scheduler costs (issue "Throughput that scales
// with nodes and drives").
//
// Its sections, each in a file of its own, run in this order and print a
// table each, with ratios against a baseline measured in the same run:
//
//   - throughput (throughput.go): the same batch of copies (24 × 256 MiB by
//     default) with 1, 2, 3 and 4 mover nodes, one throttled drive each
//     (-drive-rate, default 40 MB/s, a rate the machine sustains in
//     aggregate): aggregate MB/s and the ratio to linear (goal ≥ 0.9×);
//   - streams (streams.go): one 1 GiB copy with --streams 1, 2 and 4
//     (goal ≥ 0.9× linear);
//   - placement (placement.go): scheduler placements per second with
//     10,000 queued jobs on 5 nodes (goal ≥ 1,000/s);
//   - idle (idle.go): the leader's CPU and RSS beside a follower's with
//     100,000 queued jobs that no node can run (goal: CPU < 5% of a core,
//     RSS within 1.5× a follower's).
//
// -only runs some sections: -only placement,idle. -profile DIR saves the
// leader's CPU profile while it places (placement), and every node's heap
// profile and the leader's CPU profile over 10 s after the window (idle),
// for go tool pprof.
//
//	go run ./test/benchscale -ferry bin/ferry
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
)

type options struct {
	ferryBinary string
	dir         string
	keep        bool
	only        []string
	// profile is a directory for the nodes' profiles (pprof): empty takes
	// none. The nodes then serve /debug/pprof (-pprof).
	profile string
}

// section is one measurement of the benchmark: its own flags (registered
// before parsing; may be nil) and its run, which prints its table to w.
type section struct {
	name  string
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error
}

func main() {
	var o options
	var only string
	flag.StringVar(&o.ferryBinary, "ferry", "bin/ferry", "the ferry binary the nodes run")
	flag.StringVar(&o.dir, "dir", "", "directory for the nodes and their devices (default: a new temp dir under /var/tmp)")
	flag.BoolVar(&o.keep, "keep", false, "keep the directory")
	flag.StringVar(&o.profile, "profile", "", "directory for profiles: the leader's CPU while placing (placement), every node's heap and the leader's CPU after the window (idle)")
	flag.StringVar(&only, "only", "", "comma-separated sections to run (default all: throughput,streams,placement,idle)")
	// In the order they run.
	sections := []section{throughputSection(), streamsSection(), placementSection(), idleSection()}
	for _, s := range sections {
		if s.flags != nil {
			s.flags(flag.CommandLine)
		}
	}
	flag.Parse()
	if only != "" {
		for _, s := range strings.Split(only, ",") {
			if !slices.ContainsFunc(sections, func(x section) bool { return x.name == s }) {
				fmt.Fprintf(os.Stderr, "benchscale: -only: unknown section %q\n", s)
				os.Exit(2)
			}
			o.only = append(o.only, s)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("/var/tmp", "benchscale-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchscale:", err)
			os.Exit(1)
		}
		dir = d
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	o.dir = dir
	fmt.Printf("$ go run ./test/benchscale %s\n", strings.Join(os.Args[1:], " "))
	failed := false
	for _, s := range sections {
		if len(o.only) > 0 && !slices.Contains(o.only, s.name) {
			continue
		}
		fmt.Printf("\n## %s\n", s.name)
		if err := s.run(ctx, o, log, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "benchscale: %s: %v\n", s.name, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

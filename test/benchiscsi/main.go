// Command benchiscsi measures Ferry's iSCSI target against Debian's tgtd
// serving the same files on another loopback port, in the same run, and
// times an EXTENDED COPY against moving the same bytes through the
// initiator.
//
// Throughput and IOPS: sequential reads with libiscsi's iscsi-perf (which
// only reads), and sequential writes with Ferry's own initiator
// (iscsi/initiator, one command in flight), each -run long, alternating
// Ferry and tgtd for -rounds rounds; the medians are printed with the ratio
// Ferry/tgtd. tgtd is installed with apt-get when it is missing and we are
// root; without it only Ferry's figures are printed, with a note.
//
// Ferry runs as two nodes, n1 and n2, each with its own portal onto the
// same LUNs; the comparisons with tgtd go through n1's.
//
// Multipath: sequential 1 MiB reads of one LUN through n1's portal alone,
// then through n1's and n2's at once (an iscsi-perf on each), alternating,
// -rounds times; the medians and their ratio are printed.
//
// COMPARE AND WRITE: 4 initiators, two through each node's portal, add one
// to a counter in block 0 of the destination LUN by READ(16) and COMPARE
// AND WRITE (starting over on MISCOMPARE) for -run, -rounds times; the
// counter must rise by exactly the number of GOOD COMPARE AND WRITEs.
//
// Third-party copy: a -size EXTENDED COPY block→block from LUN 1 to LUN 2
// through Ferry's portal, against READ(16)/WRITE(16) of the same bytes in
// 1 MiB chunks through the initiator; the destination is hashed after each.
//
// Conformance: the wall time of libiscsi's whole suite (`iscsi-test-cu
// --dataloss --test=ALL`) on a 256 MiB LUN of each target, with its real
// passes, skips and failures (-conformance=false leaves it out).
//
// Usage (from the repository root; `make bench-iscsi` does this):
//
//	go run ./test/benchiscsi -ferry bin/ferry [-size 1GiB] [-rounds 3] [-run 3s] [-conformance=false]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ferry-san/ferry/internal/bytesize"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are benchiscsi's flags.
type options struct {
	ferryBinary string
	size        int64
	rounds      int
	runFor      time.Duration
	keepDir     bool
	conformance bool
}

// errUsage marks bad flags.
var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("benchiscsi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.ferryBinary, "ferry", "bin/ferry", "the ferry binary to run as `ferry agent`")
	size := fs.String("size", "1GiB", "size of the LUNs and of the copy")
	fs.IntVar(&o.rounds, "rounds", 3, "runs of each measurement per target, alternating Ferry and tgtd")
	fs.DurationVar(&o.runFor, "run", 3*time.Second, "length of one throughput or IOPS run")
	fs.BoolVar(&o.keepDir, "keep", false, "keep the working directory (LUN files, agent log)")
	fs.BoolVar(&o.conformance, "conformance", true, "time libiscsi's whole suite on each target")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var err error
	if o.size, err = bytesize.Positive(*size); err != nil {
		return o, fmt.Errorf("%w: -size: %w", errUsage, err)
	}
	if o.size%(1<<20) != 0 {
		return o, fmt.Errorf("%w: -size must be a whole number of MiB", errUsage)
	}
	if o.rounds < 1 || o.runFor < time.Second {
		return o, fmt.Errorf("%w: -rounds must be at least 1 and -run at least 1s", errUsage)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := bench(ctx, o, stdout, log); err != nil {
		fmt.Fprintln(stderr, "benchiscsi:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, o options, out io.Writer, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "benchiscsi-")
	if err != nil {
		return err
	}
	if o.keepDir {
		log.Info("keeping the working directory", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	f, err := startFerry(ctx, o, dir, log)
	if err != nil {
		return err
	}
	defer f.Close()

	var r report
	t, err := startTgtd(ctx, f.srcPath, f.dstPath, f.confPath, log)
	if err != nil {
		r.note = fmt.Sprintf("tgtd is not compared: %v", err)
		log.Warn(r.note)
	} else {
		defer t.Close()
	}
	targets := []portal{f.portal()}
	if t != nil {
		targets = append(targets, t.portal())
	}
	if r.perf, err = measure(ctx, o, targets, log); err != nil {
		return err
	}
	if r.multipath, err = measureMultipath(ctx, o, [2]portal{f.portal(), f.portal2()}, log); err != nil {
		return err
	}
	if r.caw, err = measureCAW(ctx, o, f, log); err != nil {
		return err
	}
	if r.copy, err = timeCopies(ctx, f, log); err != nil {
		return err
	}
	if o.conformance {
		for _, p := range targets {
			mp := p
			if p.name == f.portal().name {
				mp = f.portal2()
			}
			c, err := timeConformance(ctx, p, mp, log)
			if err != nil {
				return err
			}
			r.conformance = append(r.conformance, c)
		}
	}
	r.print(out, o)
	return nil
}

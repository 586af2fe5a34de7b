// Command benchfailover measures how Ferry takes over a copy whose node
// dies, on a three-node loopback cluster of the real binary with its
// default settings, and checks that a cluster without faults takes nothing
// over.
//
// Kills: bandwidth-limited disk→tape copies of a -size LUN of random data
// run one after another; each copy's owner is killed with SIGKILL
// -kills-per-copy times, at random points (a random position in its own
// part of the copy, then a random fraction of a checkpoint interval), until
// -kills kills are done. Each takeover is timed from the kill to the new
// owner's "resumed on" history event and to its first write (its log line
// "first write after the takeover"); its ferry_takeover_latency_seconds
// (last checkpoint to first write) is scraped too. The bytes copied again
// are read from the history ("it had copied X bytes, Y past its last
// checkpoint", the owner's last lease report, so a lower bound), from the
// leader's ferry_takeover_recopy_bytes, and estimated from the time between
// the last checkpoint and the kill at the bandwidth limit. The killed node
// is restarted after each takeover. Every copy's tape file is hashed and
// compared with the random data's SHA-256 and the job's result.
//
// Quiet: on a fresh cluster, -quiet-jobs copies run back to back for
// -quiet-minutes without any fault; ferry_failovers_total summed over the
// nodes, and the takeover events in the jobs' histories, must stay 0.
//
// Usage (from the repository root; `make bench-failover` does this):
//
//	go run ./test/benchfailover -ferry bin/ferry [-kills 20] [-quiet-minutes 1]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-san/ferry/internal/bytesize"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are benchfailover's flags.
type options struct {
	ferryBinary   string
	kills         int
	killsPerCopy  int
	size          int64
	bwlimit       int64
	quietMinutes  float64
	quietJobs     int
	seed          uint64
	keepDir       bool
	agentArgs     []string
	ckptBytes     int64
	ckptEvery     time.Duration
	checkpointSet bool // -checkpoint-bytes or -checkpoint-every given
}

// Defaults of the agent's checkpoint cadence (mover.DefaultCheckpointBytes
// and DefaultCheckpointEvery), for the report when the flags are not given.
const (
	agentCheckpointBytes = 64 << 20
	agentCheckpointEvery = time.Second
)

// checkpointInterval is how many bytes a copy at the bandwidth limit moves
// between two checkpoints: whichever of the byte and time cadence comes
// first.
func (o options) checkpointInterval() int64 {
	return min(o.ckptBytes, int64(float64(o.bwlimit)*o.ckptEvery.Seconds()))
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var size, bw, extra string
	fs := flag.NewFlagSet("benchfailover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.ferryBinary, "ferry", "", "ferry binary to run (default: go build ./cmd/ferry into the temp dir)")
	fs.IntVar(&o.kills, "kills", 20, "owners to kill; 0 skips the kill runs")
	fs.IntVar(&o.killsPerCopy, "kills-per-copy", 2, "kills during each copy")
	fs.StringVar(&size, "size", "512MiB", "bytes each copy moves (the disk LUN's size; KiB, MiB, GiB)")
	fs.StringVar(&bw, "bwlimit", "64MiB", "each copy's bandwidth limit per second (KiB, MiB, GiB)")
	fs.Float64Var(&o.quietMinutes, "quiet-minutes", 1, "minutes of copies without faults, counting takeovers (must be 0); 0 skips them")
	fs.IntVar(&o.quietJobs, "quiet-jobs", 2, "copies running at once during the quiet minutes")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the kill points (default: random, printed)")
	fs.BoolVar(&o.keepDir, "keep", false, "keep the temp dir with devices, data dirs and logs")
	fs.Int64Var(&o.ckptBytes, "checkpoint-bytes", 0, "agent -checkpoint-bytes (default: the agent's, 64 MiB)")
	fs.DurationVar(&o.ckptEvery, "checkpoint-every", 0, "agent -checkpoint-every (default: the agent's, 1s)")
	fs.StringVar(&extra, "agent-args", "", "extra agent flags, space-separated")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.size, err = bytesize.Positive(size); err != nil {
		return o, fmt.Errorf("-size: %w", err)
	}
	if o.size%512 != 0 {
		return o, fmt.Errorf("-size %d: not a multiple of the 512-byte block", o.size)
	}
	if o.bwlimit, err = bytesize.Positive(strings.TrimSuffix(bw, "/s")); err != nil {
		return o, fmt.Errorf("-bwlimit: %w", err)
	}
	switch {
	case o.kills < 0:
		return o, fmt.Errorf("-kills %d: want 0 or more", o.kills)
	case o.killsPerCopy < 1:
		return o, fmt.Errorf("-kills-per-copy %d: want at least 1", o.killsPerCopy)
	case o.quietMinutes < 0:
		return o, fmt.Errorf("-quiet-minutes %v: want 0 or more", o.quietMinutes)
	case o.quietJobs < 1 || o.quietJobs > maxQuietJobs:
		return o, fmt.Errorf("-quiet-jobs %d: want 1 to %d", o.quietJobs, maxQuietJobs)
	case o.ckptBytes < 0 || o.ckptEvery < 0:
		return o, errors.New("-checkpoint-bytes and -checkpoint-every must not be negative")
	}
	o.checkpointSet = o.ckptBytes > 0 || o.ckptEvery > 0
	if o.ckptBytes > 0 {
		o.agentArgs = append(o.agentArgs, "-checkpoint-bytes", strconv.FormatInt(o.ckptBytes, 10))
	} else {
		o.ckptBytes = agentCheckpointBytes
	}
	if o.ckptEvery > 0 {
		o.agentArgs = append(o.agentArgs, "-checkpoint-every", o.ckptEvery.String())
	} else {
		o.ckptEvery = agentCheckpointEvery
	}
	o.agentArgs = append(o.agentArgs, strings.Fields(extra)...)
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "benchfailover:", err)
			return 2
		}
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir, err := os.MkdirTemp("", "ferry-benchfailover-")
	if err != nil {
		fmt.Fprintln(stderr, "benchfailover:", err)
		return 1
	}
	if o.keepDir {
		log.Info("keeping devices, data and logs", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.ferryBinary == "" {
		o.ferryBinary = filepath.Join(dir, "ferry")
		log.Info("building ferry", "out", o.ferryBinary)
		build := exec.CommandContext(ctx, "go", "build", "-o", o.ferryBinary, "./cmd/ferry")
		build.Stderr = stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(stderr, "benchfailover: go build ./cmd/ferry:", err)
			return 1
		}
	}
	if o.ferryBinary, err = filepath.Abs(o.ferryBinary); err != nil {
		fmt.Fprintln(stderr, "benchfailover:", err)
		return 1
	}

	if o.seed == 0 {
		o.seed = rand.Uint64()
	}
	rep := report{opts: o, started: time.Now()}
	failed := false
	if o.kills > 0 {
		rep.kills, err = runKills(ctx, o, filepath.Join(dir, "kills"), log)
		if err != nil {
			fmt.Fprintln(stderr, "benchfailover: kills:", err)
			failed = true
		}
	}
	if o.quietMinutes > 0 && ctx.Err() == nil {
		rep.quiet, err = runQuiet(ctx, o, filepath.Join(dir, "quiet"), log)
		if err != nil {
			fmt.Fprintln(stderr, "benchfailover: quiet:", err)
			failed = true
		}
	}
	rep.print(stdout)
	if failed {
		if !o.keepDir {
			fmt.Fprintln(stderr, "benchfailover: run with -keep to keep the nodes' logs")
		}
		return 1
	}
	return 0
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-san/ferry/internal/bytesize"
	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// streamsParams are the streams section's flags.
type streamsParams struct {
	size      int64
	driveRate int64
	streams   []int
}

// The streams section: one cluster of as many mover nodes as the most
// streams measured, and one library of as many drives throttled to
// -st-drive-rate, each node reaching one drive (-reach LIB/i) and the
// source disk, so that the drives, not the machine, limit a stream. The
// same copy of -st-size from the disk runs with each -st-streams count in
// turn, each stream to a cartridge of its own; the time is from the
// submit to the job's success.
func streamsSection() section {
	p := &streamsParams{streams: []int{1, 2, 4}}
	return section{
		name: "streams",
		flags: func(fs *flag.FlagSet) {
			p.size = 1 << 30
			bytesize.Int64Var(fs, &p.size, "st-size", p.size, "streams: bytes of the copy (1GiB)")
			p.driveRate = 40_000_000
			fs.Func("st-drive-rate", "streams: each drive's rate, such as 40MB/s (the default: 4 streams make 160 MB/s, which 2 cores sustain)", func(s string) error {
				n, err := bytesize.Positive(strings.TrimSuffix(s, "/s"))
				p.driveRate = n
				return err
			})
			fs.Func("st-streams", "streams: comma-separated stream counts to measure (1,2,4)", func(s string) error {
				p.streams = nil
				for _, f := range strings.Split(s, ",") {
					n, err := strconv.Atoi(f)
					if err != nil || n < 1 || n > 16 {
						return fmt.Errorf("%q: want 1 to 16", f)
					}
					p.streams = append(p.streams, n)
				}
				return nil
			})
		},
		run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
			if p.size < 16<<20 || len(p.streams) == 0 {
				return fmt.Errorf("want -st-size ≥ 16MiB and at least one stream count")
			}
			return measureStreams(ctx, o, log, w, *p)
		},
	}
}

func measureStreams(ctx context.Context, o options, log *slog.Logger, w io.Writer, p streamsParams) error {
	fmt.Fprintf(w, "one %s copy disk → tape with -streams N, drives at %.0f MB/s, one drive per node\n\n", bytesize.Format(uint64(p.size)), float64(p.driveRate)/1e6)
	sc, err := newStreamsCluster(ctx, o, log, p)
	if err != nil {
		return err
	}
	defer sc.close()
	type run struct {
		streams int
		took    time.Duration
		nodes   int
	}
	var runs []run
	for _, n := range p.streams {
		took, nodes, err := sc.copyOnce(ctx, n)
		if err != nil {
			return fmt.Errorf("%d streams: %w", n, err)
		}
		log.Info("streams", "streams", n, "seconds", took.Seconds(), "MB/s", float64(p.size)/1e6/took.Seconds())
		runs = append(runs, run{n, took, nodes})
	}
	fmt.Fprintf(w, "| streams | seconds | MB/s | ratio to linear | nodes used |\n|---|---|---|---|---|\n")
	base := float64(p.size) / 1e6 / runs[0].took.Seconds() / float64(runs[0].streams)
	worst := 1e9
	for _, r := range runs {
		mbps := float64(p.size) / 1e6 / r.took.Seconds()
		ratio := mbps / (float64(r.streams) * base)
		worst = min(worst, ratio)
		fmt.Fprintf(w, "| %d | %.1f | %.1f | %.2f× | %d |\n", r.streams, r.took.Seconds(), mbps, ratio, r.nodes)
	}
	verdict := "met"
	if worst < 0.9 {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "\nlinear: N × the rate of one stream (%.1f MB/s; the drive's own is %.1f MB/s); goal ≥ 0.90×: %s (worst %.2f×)\n",
		base, float64(p.driveRate)/1e6, verdict, worst)
	return nil
}

// streamsCluster is the section's cluster, with cartridges enough for
// every run.
type streamsCluster struct {
	c        *localcluster.Cluster
	cl       localcluster.Client
	dir      string
	keep     bool
	barcodes []string // unused cartridges, taken in order
}

const streamsLibrary, streamsDisk = "st", "stsrc"

func newStreamsCluster(ctx context.Context, o options, log *slog.Logger, p streamsParams) (_ *streamsCluster, err error) {
	nodes, tapes := 0, 0
	for _, n := range p.streams {
		nodes = max(nodes, n)
		tapes += n
	}
	dir := filepath.Join(o.dir, "streams")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c, err := localcluster.New(localcluster.Config{Binary: o.ferryBinary, Dir: filepath.Join(dir, "nodes"), Voters: 1, Logger: log})
	if err != nil {
		return nil, err
	}
	sc := &streamsCluster{c: c, dir: dir, keep: o.keep}
	defer func() {
		if err != nil {
			sc.close()
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := startDriveNodes(sctx, c, nodes, streamsLibrary, streamsDisk); err != nil {
		return nil, err
	}
	conn, err := c.Conn("n1")
	if err != nil {
		return nil, err
	}
	dev := ferryv1.NewDeviceServiceClient(conn)
	src := filepath.Join(dir, "src.img")
	if _, err := localcluster.WriteRandomFile(src, p.size); err != nil {
		return nil, err
	}
	if _, err := dev.AddDisk(sctx, &ferryv1.AddDiskRequest{Name: streamsDisk, Path: src, ReadOnly: true}); err != nil {
		return nil, fmt.Errorf("add the source disk: %w", err)
	}
	if _, err := dev.CreateLibrary(sctx, &ferryv1.CreateLibraryRequest{Name: streamsLibrary, Dir: filepath.Join(dir, streamsLibrary), Slots: uint32(tapes),
		Drives: uint32(nodes), CartridgeCapacityBytes: uint64(p.size) + 64<<20, DriveRateBytesPerSecond: uint64(p.driveRate)}); err != nil {
		return nil, fmt.Errorf("create the library: %w", err)
	}
	for i := range tapes {
		b := fmt.Sprintf("S%05dL9", i+1)
		if _, err := dev.LabelTape(sctx, &ferryv1.LabelTapeRequest{Library: streamsLibrary, Slot: uint32(i + 1), Barcode: b}); err != nil {
			return nil, fmt.Errorf("label %s: %w", b, err)
		}
		sc.barcodes = append(sc.barcodes, b)
	}
	if sc.cl, err = c.Client("n1"); err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *streamsCluster) close() {
	sc.c.Close()
	if !sc.keep {
		os.RemoveAll(sc.dir)
	}
}

// copyOnce copies the disk as n streams, each to a new cartridge, and
// returns how long from the submit to the job's success, and on how many
// nodes its streams ran.
func (sc *streamsCluster) copyOnce(ctx context.Context, n int) (time.Duration, int, error) {
	tapeTo := func(b string) *ferryv1.Endpoint {
		return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: b}}}
	}
	tapes := sc.barcodes[:n]
	sc.barcodes = sc.barcodes[n:]
	spec := &ferryv1.JobSpec{
		Name:        fmt.Sprintf("%d streams", n),
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: streamsDisk}}},
		Destination: tapeTo(tapes[0]),
	}
	var given []*ferryv1.JobSpec
	if n > 1 {
		spec.Streams = uint32(n)
		for _, b := range tapes {
			given = append(given, &ferryv1.JobSpec{Destination: tapeTo(b)})
		}
	}
	start := time.Now()
	resp, err := sc.cl.Jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: spec, Streams: given})
	if err != nil {
		return 0, 0, fmt.Errorf("submit: %w", err)
	}
	id := resp.GetJob().GetId()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-tick.C:
		}
		j, err := sc.cl.Jobs.Get(ctx, &ferryv1.GetJobRequest{Id: id})
		if err != nil {
			return 0, 0, err
		}
		switch j.GetState() {
		case ferryv1.JobState_JOB_STATE_SUCCEEDED:
			took := time.Since(start)
			nodes := map[string]bool{j.GetOwner(): true}
			for _, sid := range j.GetStreams() {
				s, err := sc.cl.Jobs.Get(ctx, &ferryv1.GetJobRequest{Id: sid})
				if err != nil {
					return 0, 0, err
				}
				nodes[s.GetOwner()] = true
			}
			delete(nodes, "")
			return took, len(nodes), nil
		case ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
			return 0, 0, fmt.Errorf("job %s: %s: %s", id, j.GetState(), j.GetStateReason())
		}
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-san/ferry/internal/bytesize"
	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// throughputParams are the throughput section's flags.
type throughputParams struct {
	copies    int
	size      int64
	driveRate int64
	nodes     int
}

// The throughput section: for N = 1..-tp-nodes, a fresh cluster of N mover
// nodes and one library of N drives throttled to -drive-rate, each node
// reaching one drive (-reach LIB/i) and the source disk. The same batch of
// -tp-copies copies of -tp-size from the disk, each to its own cartridge,
// is submitted at once; the time is from the first submit to the last
// success. The scheduler chooses the node (the drive) of each copy: the
// table shows how many each node ran.
func throughputSection() section {
	p := &throughputParams{}
	return section{
		name: "throughput",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&p.copies, "tp-copies", 24, "throughput: copies in the batch")
			p.size = 256 << 20
			bytesize.Int64Var(fs, &p.size, "tp-size", p.size, "throughput: bytes of each copy (256MiB)")
			p.driveRate = 40_000_000
			fs.Func("drive-rate", "throughput: each drive's rate, such as 40MB/s (the default: 4 drives make 160 MB/s, which 2 cores sustain)", func(s string) error {
				n, err := bytesize.Positive(strings.TrimSuffix(s, "/s"))
				p.driveRate = n
				return err
			})
			fs.IntVar(&p.nodes, "tp-nodes", 4, "throughput: measure 1 to this many mover nodes")
		},
		run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
			if p.copies < 1 || p.size < 1<<20 || p.nodes < 1 || p.nodes > 16 {
				return fmt.Errorf("want -tp-copies ≥ 1, -tp-size ≥ 1MiB and 1 ≤ -tp-nodes ≤ 16")
			}
			return measureThroughput(ctx, o, log, w, *p)
		},
	}
}

// throughputRun is one size's measurement.
type throughputRun struct {
	nodes   int
	took    time.Duration
	perNode map[string]int // copies each node ran
}

func (r throughputRun) mbps(p throughputParams) float64 {
	return float64(p.copies) * float64(p.size) / 1e6 / r.took.Seconds()
}

func measureThroughput(ctx context.Context, o options, log *slog.Logger, w io.Writer, p throughputParams) error {
	fmt.Fprintf(w, "%d copies of %s disk → tape, drives at %.0f MB/s, one drive per node\n\n", p.copies, bytesize.Format(uint64(p.size)), float64(p.driveRate)/1e6)
	var runs []throughputRun
	for n := 1; n <= p.nodes; n++ {
		r, err := throughputOnce(ctx, o, log, p, n)
		if err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
		log.Info("throughput", "nodes", n, "seconds", r.took.Seconds(), "MB/s", r.mbps(p))
		runs = append(runs, r)
	}
	fmt.Fprintf(w, "| nodes | seconds | MB/s | ratio to linear | copies per node |\n|---|---|---|---|---|\n")
	base := runs[0].mbps(p)
	worst := 1e9
	for _, r := range runs {
		ratio := r.mbps(p) / (float64(r.nodes) * base)
		worst = min(worst, ratio)
		var per []string
		for _, name := range slices.Sorted(maps.Keys(r.perNode)) {
			per = append(per, fmt.Sprintf("%s:%d", name, r.perNode[name]))
		}
		fmt.Fprintf(w, "| %d | %.1f | %.1f | %.2f× | %s |\n", r.nodes, r.took.Seconds(), r.mbps(p), ratio, strings.Join(per, " "))
	}
	verdict := "met"
	if worst < 0.9 {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "\nlinear: N × the 1-node rate (%.1f MB/s; the drive's own is %.1f MB/s); goal ≥ 0.90× at every size: %s (worst %.2f×)\n",
		base, float64(p.driveRate)/1e6, verdict, worst)
	return nil
}

// throughputOnce runs the batch on a fresh cluster of n nodes.
func throughputOnce(ctx context.Context, o options, log *slog.Logger, p throughputParams, n int) (throughputRun, error) {
	const library, disk = "tp", "src"
	dir := filepath.Join(o.dir, fmt.Sprintf("throughput-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return throughputRun{}, err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	c, err := localcluster.New(localcluster.Config{Binary: o.ferryBinary, Dir: filepath.Join(dir, "nodes"), Voters: 1, Logger: log})
	if err != nil {
		return throughputRun{}, err
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := startDriveNodes(sctx, c, n, library, disk); err != nil {
		return throughputRun{}, err
	}
	conn, err := c.Conn("n1")
	if err != nil {
		return throughputRun{}, err
	}
	dev := ferryv1.NewDeviceServiceClient(conn)
	src := filepath.Join(dir, "src.img")
	if _, err := localcluster.WriteRandomFile(src, p.size); err != nil {
		return throughputRun{}, err
	}
	if _, err := dev.AddDisk(sctx, &ferryv1.AddDiskRequest{Name: disk, Path: src, ReadOnly: true}); err != nil {
		return throughputRun{}, fmt.Errorf("add the source disk: %w", err)
	}
	if _, err := dev.CreateLibrary(sctx, &ferryv1.CreateLibraryRequest{Name: library, Dir: filepath.Join(dir, library), Slots: uint32(p.copies),
		Drives: uint32(n), CartridgeCapacityBytes: uint64(p.size) + 64<<20, DriveRateBytesPerSecond: uint64(p.driveRate)}); err != nil {
		return throughputRun{}, fmt.Errorf("create the library: %w", err)
	}
	barcodes := make([]string, p.copies)
	for i := range barcodes {
		barcodes[i] = fmt.Sprintf("T%05dL9", i+1)
		if _, err := dev.LabelTape(sctx, &ferryv1.LabelTapeRequest{Library: library, Slot: uint32(i + 1), Barcode: barcodes[i]}); err != nil {
			return throughputRun{}, fmt.Errorf("label %s: %w", barcodes[i], err)
		}
	}
	cl, err := c.Client("n1")
	if err != nil {
		return throughputRun{}, err
	}
	start := time.Now()
	ids := map[string]bool{}
	for _, b := range barcodes {
		resp, err := cl.Jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{
			Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: disk}}},
			Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: b}}},
		}})
		if err != nil {
			return throughputRun{}, fmt.Errorf("submit the copy to %s: %w", b, err)
		}
		ids[resp.GetJob().GetId()] = true
	}
	// The batch is done when every copy succeeded; a failed one ends the
	// measurement. Polled: the end of a copy of seconds is what is timed.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(time.Duration(float64(p.copies)*float64(p.size)/float64(p.driveRate)*3*float64(time.Second)) + 5*time.Minute)
	for {
		select {
		case <-ctx.Done():
			return throughputRun{}, ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return throughputRun{}, fmt.Errorf("the batch did not finish by %v", deadline)
		}
		jobs, err := cl.Jobs.List(ctx, &ferryv1.ListJobsRequest{})
		if err != nil {
			log.Warn("list jobs", "err", err)
			continue
		}
		done, per := 0, map[string]int{}
		for _, j := range jobs.GetJobs() {
			if !ids[j.GetId()] {
				continue
			}
			switch j.GetState() {
			case ferryv1.JobState_JOB_STATE_SUCCEEDED:
				done++
				per[j.GetOwner()]++
			case ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
				return throughputRun{}, fmt.Errorf("job %s: %s: %s", j.GetId(), j.GetState(), j.GetError().GetMessage())
			}
		}
		if done == len(ids) {
			for _, j := range jobs.GetJobs() {
				for _, ev := range j.GetHistory() {
					log.Debug("job history", "nodes", n, "job", j.GetId(), "at", ev.GetTime().AsTime().Sub(start).Seconds(), "event", ev.GetMessage())
				}
			}
			return throughputRun{nodes: n, took: time.Since(start), perNode: per}, nil
		}
	}
}

// waitExecutor waits until the node has started its executor: the agent
// starts it just after its iSCSI target, whose start it logs. A node
// answers, and is ready, before that (its catch-up read comes first: it
// took 3 s until a dropped read was asked again within 100 ms; readiness
// still promises nothing about the executor).
func waitExecutor(ctx context.Context, c *localcluster.Cluster, name string) error {
	for {
		log, err := c.Tail(name, 1000)
		if err != nil {
			return err
		}
		if strings.Contains(log, `msg="iSCSI target serving"`) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not start its executor: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startDriveNodes starts nodes n1..nN, each reaching drive i of library
// and the disk, and waits until each is ready and runs its executor (a
// node may be ready before its executor runs, and the scheduler places
// copies on it meanwhile: a measurement starts once every node runs them).
func startDriveNodes(ctx context.Context, c *localcluster.Cluster, n int, library, disk string) error {
	for i := range n {
		opts := localcluster.StartOptions{Name: fmt.Sprintf("n%d", i+1), ExtraArgs: []string{"-reach", fmt.Sprintf("%s/%d,%s", library, i, disk)}}
		if i > 0 {
			opts.Join = []string{"n1"}
		}
		if _, err := c.StartNode(ctx, opts); err != nil {
			return err
		}
		if err := c.WaitReady(ctx, opts.Name); err != nil {
			return errors.Join(err, errors.New(c.Tails(20)))
		}
	}
	for i := range n {
		if err := waitExecutor(ctx, c, fmt.Sprintf("n%d", i+1)); err != nil {
			return err
		}
	}
	return nil
}

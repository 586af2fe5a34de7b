package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// placementGoal is issue 12's: placements per second with 10,000 queued
// jobs on 5 nodes.
const placementGoal = 1000.0

type placementFlags struct {
	jobs int
}

// placementSection measures how fast the scheduler places a backlog that
// becomes placeable at once. Five movers (no per-node cap) and one disk
// "src" that every job reads; each job writes a disk of its own, so none
// waits for another. The jobs queue behind a blocker, a copy that writes
// src at 16 KiB/s, far longer than submitting takes (readers of a disk
// being written wait); cancelling it makes
// the whole backlog placeable in one change. The destination disks' files
// are removed after registration, so every placed copy fails at once on
// its node instead of running: the section measures placement, not
// copying. Placements per second come from the jobs' histories: the
// leader's clock on each "placed on" event, first to last.
func placementSection() section {
	f := &placementFlags{}
	return section{
		name: "placement",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&f.jobs, "placement-jobs", 10000, "placement: queued jobs made placeable at once")
		},
		run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
			return runPlacement(ctx, o, log, w, f)
		},
	}
}

func runPlacement(ctx context.Context, o options, log *slog.Logger, w io.Writer, f *placementFlags) error {
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	c, err := startBenchCluster(ctx, o, log, "placement", names, "-max-jobs-per-node", fmt.Sprint(f.jobs))
	if err != nil {
		return err
	}
	defer c.Close()
	dir := filepath.Join(o.dir, "placement", "disks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conn, err := c.Conn(names[0])
	if err != nil {
		return err
	}
	dev := ferryv1.NewDeviceServiceClient(conn)
	create := func(name string, size uint64) error {
		for attempt := 0; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := dev.CreateDisk(cctx, &ferryv1.CreateDiskRequest{Name: name, Path: filepath.Join(dir, name+".img"), SizeBytes: size, Thin: true})
			cancel()
			if err == nil || status.Code(err) == codes.AlreadyExists {
				return nil
			}
			if attempt == 10 || ctx.Err() != nil {
				return fmt.Errorf("create disk %s: %w", name, err)
			}
		}
	}
	if err := errors.Join(create("src", 64<<20), create("big", 1<<30)); err != nil {
		return err
	}
	dst := func(i int) string { return fmt.Sprintf("p%05d", i) }
	log.Info("placement: registering destination disks", "disks", f.jobs)
	start := time.Now()
	if err := parallel(ctx, f.jobs, 32, func(i int) error { return create(dst(i), 1<<20) }); err != nil {
		return err
	}
	log.Info("placement: registered", "took", time.Since(start).Round(time.Millisecond))
	for i := range f.jobs {
		// A placed copy fails when it opens its destination: nothing runs.
		if err := os.Remove(filepath.Join(dir, dst(i)+".img")); err != nil {
			return err
		}
	}
	cl, err := c.Client(names[0])
	if err != nil {
		return err
	}
	disk := func(name string, blocks uint64) *ferryv1.Endpoint {
		return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}, Blocks: blocks}
	}
	blocker, err := cl.Jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{Name: "blocker", Source: disk("big", 64<<11), Destination: disk("src", 64<<11),
		Options: &ferryv1.JobOptions{Priority: 9, BwlimitBytesPerSecond: 16 << 10}}})
	if err != nil {
		return fmt.Errorf("submit the blocker: %w", err)
	}
	bid := blocker.GetJob().GetId()
	if err := waitFor(ctx, "the blocker to run", func() (bool, error) {
		j, err := cl.Jobs.Get(ctx, &ferryv1.GetJobRequest{Id: bid})
		return j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING, err
	}); err != nil {
		return err
	}
	log.Info("placement: submitting behind the blocker", "jobs", f.jobs)
	took, err := submitJobs(ctx, c, names, f.jobs, 32, func(i int) *ferryv1.JobSpec {
		return &ferryv1.JobSpec{Name: "placement", Source: disk("src", 8), Destination: disk(dst(i), 8)}
	})
	if err != nil {
		return err
	}
	log.Info("placement: submitted", "took", took.Round(time.Millisecond))
	queued := func() (int, error) {
		n := 0
		err := listJobs(ctx, cl.Jobs, ferryv1.JobState_JOB_STATE_QUEUED, func(j *ferryv1.Job) {
			if j.GetSpec().GetName() == "placement" {
				n++
			}
		})
		return n, err
	}
	if err := waitFor(ctx, "every job to wait for the blocker", func() (bool, error) {
		n, err := queued()
		return n == f.jobs, err
	}); err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	leader, err := c.Leader(lctx)
	cancel()
	if err != nil {
		return err
	}
	log.Info("placement: cancelling the blocker", "leader", leader)
	cancelled := time.Now()
	profiled := profileCPU(ctx, o, c, leader, "placement-leader-cpu.pprof", 10*time.Second)
	if _, err := cl.Jobs.Cancel(ctx, &ferryv1.CancelJobRequest{Id: bid, Reason: "placement benchmark: the backlog goes"}); err != nil {
		return err
	}
	if err := waitFor(ctx, "every job to be placed", func() (bool, error) {
		n, err := queued()
		return n == 0, err
	}); err != nil {
		return err
	}
	wall := time.Since(cancelled)
	if err := profiled(); err != nil {
		return err
	}
	var placed []time.Time
	if err := listJobs(ctx, cl.Jobs, ferryv1.JobState_JOB_STATE_UNSPECIFIED, func(j *ferryv1.Job) {
		if j.GetSpec().GetName() != "placement" {
			return
		}
		for _, e := range j.GetHistory() {
			if strings.HasPrefix(e.GetMessage(), "placed on ") {
				placed = append(placed, e.GetTime().AsTime())
				break
			}
		}
	}); err != nil {
		return err
	}
	if len(placed) < 2 {
		return fmt.Errorf("%d placements found in the jobs' histories", len(placed))
	}
	slices.SortFunc(placed, func(a, b time.Time) int { return a.Compare(b) })
	span := placed[len(placed)-1].Sub(placed[0])
	rate := float64(len(placed)-1) / span.Seconds()
	fmt.Fprintf(w, "5 movers, %d queued jobs made placeable at once (the copy they waited for cancelled; leader %s)\n\n", f.jobs, leader)
	fmt.Fprintln(w, "| jobs placed | first to last placement | placements/s | cancel to all placed (wall) |")
	fmt.Fprintln(w, "|---|---|---|---|")
	fmt.Fprintf(w, "| %d | %v | %.0f | %v |\n", len(placed), span.Round(time.Millisecond), rate, wall.Round(time.Millisecond))
	fmt.Fprintf(w, "\n%.0f placements/s: %.2f× the goal of ≥ %.0f/s\n", rate, rate/placementGoal, placementGoal)
	return nil
}

// listJobs calls fn for every job in the state (all for UNSPECIFIED),
// page by page, from the node's applied state.
func listJobs(ctx context.Context, jobs ferryv1.JobServiceClient, st ferryv1.JobState, fn func(*ferryv1.Job)) error {
	token := ""
	for {
		resp, err := jobs.List(ctx, &ferryv1.ListJobsRequest{State: st, Stale: true, PageToken: token})
		if err != nil {
			return err
		}
		for _, j := range resp.GetJobs() {
			fn(j)
		}
		if token = resp.GetNextPageToken(); token == "" {
			return nil
		}
	}
}

// waitFor polls cond every 200 ms for up to five minutes.
func waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(5 * time.Minute)
	var last error
	for {
		ok, err := cond()
		if ok && err == nil {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s (last error: %v)", what, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// parallel calls fn(0..n-1) from workers goroutines and returns the first
// error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

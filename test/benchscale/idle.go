package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Goals of the idle section (issue 12): a backlog that cannot run costs the
// leader next to nothing.
const (
	idleCPUGoal = 5.0 // percent of one core
	idleRSSGoal = 1.5 // leader RSS / follower RSS
)

type idleFlags struct {
	jobs    int
	window  time.Duration
	settle  time.Duration
	restart bool
}

// idleSection submits a backlog (100,000 jobs by default) to a 3-node
// cluster of non-movers (-run-jobs=false: no node may run anything, so
// every job waits), optionally restarts the cluster as the issue's
// measurement did, lets it settle, and then reads each node's CPU time and
// RSS from /proc over a window: the leader beside the followers.
func idleSection() section {
	f := &idleFlags{}
	return section{
		name: "idle",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&f.jobs, "idle-jobs", 100000, "idle: queued jobs that no node can run")
			fs.DurationVar(&f.window, "idle-window", 20*time.Second, "idle: how long CPU time is measured")
			fs.DurationVar(&f.settle, "idle-settle", 10*time.Second, "idle: wait after the backlog is in (and the restart) before measuring")
			fs.BoolVar(&f.restart, "idle-restart", true, "idle: restart every node after submitting, so that the leader starts from the stored backlog")
		},
		run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
			return runIdle(ctx, o, log, w, f)
		},
	}
}

func runIdle(ctx context.Context, o options, log *slog.Logger, w io.Writer, f *idleFlags) error {
	names := []string{"n1", "n2", "n3"}
	c, err := startBenchCluster(ctx, o, log, "idle", names, "-run-jobs=false")
	if err != nil {
		return err
	}
	defer c.Close()
	log.Info("idle: submitting", "jobs", f.jobs)
	took, err := submitJobs(ctx, c, names, f.jobs, 64, func(i int) *ferryv1.JobSpec { return localcluster.SampleSpec(i % 1000) })
	if err != nil {
		return err
	}
	log.Info("idle: submitted", "jobs", f.jobs, "took", took.Round(time.Millisecond), "per_second", int(float64(f.jobs)/took.Seconds()))
	if f.restart {
		for _, n := range names {
			if err := c.Restart(ctx, n); err != nil {
				return fmt.Errorf("restart %s: %w", n, err)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := c.WaitReady(rctx)
		cancel()
		if err != nil {
			return fmt.Errorf("after the restart: %w", err)
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(f.settle):
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	leader, err := c.Leader(lctx)
	cancel()
	if err != nil {
		return err
	}
	usage, err := measureNodes(ctx, c, names, f.window)
	if err != nil {
		return err
	}
	lctx, cancel = context.WithTimeout(ctx, time.Minute)
	after, err := c.Leader(lctx)
	cancel()
	if err != nil {
		return err
	}
	if after != leader {
		return fmt.Errorf("the leader changed from %s to %s during the window", leader, after)
	}
	for _, n := range names {
		if err := saveProfile(ctx, o, c, n, "heap", "idle-"+n+"-heap.pprof"); err != nil {
			return err
		}
	}
	// After the window, not in it: the profiler's own cost stays out of
	// the figures.
	if err := profileCPU(ctx, o, c, leader, "idle-leader-cpu.pprof", 10*time.Second)(); err != nil {
		return err
	}
	fmt.Fprintf(w, "3 nodes, -run-jobs=false, %d queued jobs (submitted in %v%s), CPU over %v after %v\n\n",
		f.jobs, took.Round(time.Second), map[bool]string{true: ", then every node restarted", false: ""}[f.restart], f.window, f.settle)
	fmt.Fprintln(w, "| node | role | CPU (% of a core) | RSS (MiB) |")
	fmt.Fprintln(w, "|---|---|---|---|")
	var followerRSS uint64
	for _, n := range names {
		role := "follower"
		if n == leader {
			role = "leader"
		} else {
			followerRSS = max(followerRSS, usage[n].rss)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f | %.0f |\n", n, role, usage[n].cpuPercent, float64(usage[n].rss)/(1<<20))
	}
	l := usage[leader]
	fmt.Fprintf(w, "\nleader CPU %.1f%% of a core: %.2f× the goal of < %.0f%%\n", l.cpuPercent, l.cpuPercent/idleCPUGoal, idleCPUGoal)
	if followerRSS > 0 {
		r := float64(l.rss) / float64(followerRSS)
		fmt.Fprintf(w, "leader RSS %.2f× the largest follower's: %.2f× the goal of ≤ %.1f×\n", r, r/idleRSSGoal, idleRSSGoal)
	}
	return nil
}

// startBenchCluster starts the named nodes (the first bootstraps, the
// others join it) under o.dir/name with extra agent flags, waits for them
// to be voters and registers the sample devices.
func startBenchCluster(ctx context.Context, o options, log *slog.Logger, name string, names []string, extra ...string) (*localcluster.Cluster, error) {
	if o.profile != "" {
		extra = append(extra, "-pprof")
	}
	c, err := localcluster.New(localcluster.Config{
		Binary:    o.ferryBinary,
		Dir:       filepath.Join(o.dir, name),
		LogLevel:  "warn",
		Logger:    log,
		ExtraArgs: extra,
	})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = func() error {
		if _, err := c.Start(sctx, names[0]); err != nil {
			return err
		}
		if err := c.WaitReady(sctx, names[0]); err != nil {
			return err
		}
		for _, n := range names[1:] {
			if _, err := c.Start(sctx, n, names[0]); err != nil {
				return err
			}
		}
		if err := c.WaitReady(sctx); err != nil {
			return err
		}
		if _, err := c.WaitVoters(sctx, names...); err != nil {
			return err
		}
		return c.RegisterSampleDevices(sctx, names[0])
	}()
	if err != nil {
		fmt.Fprint(os.Stderr, c.Tails(20))
		c.Close()
		return nil, err
	}
	return c, nil
}

// submitJobs submits count jobs through clients concurrent clients, round
// robin over the nodes, each with an idempotency key (a retried submit is
// the same job). It returns how long it took.
func submitJobs(ctx context.Context, c *localcluster.Cluster, names []string, count, clients int, spec func(i int) *ferryv1.JobSpec) (time.Duration, error) {
	jobs := make([]ferryv1.JobServiceClient, len(names))
	for i, n := range names {
		cl, err := c.Client(n)
		if err != nil {
			return 0, err
		}
		jobs[i] = cl.Jobs
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				req := &ferryv1.SubmitJobRequest{Spec: spec(i), IdempotencyKey: fmt.Sprintf("bench-%d", i)}
				var err error
				for attempt := 0; attempt < 20; attempt++ {
					sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					_, err = jobs[(i+attempt)%len(jobs)].Submit(sctx, req)
					cancel()
					if err == nil {
						break
					}
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("submit job %d: %w", i, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return time.Since(start), firstErr
}

// nodeUsage is what /proc says of one agent over a window.
type nodeUsage struct {
	cpuPercent float64 // of one core
	rss        uint64  // bytes, at the end of the window
}

// measureNodes reads every node's CPU time at the start and end of the
// window, and its RSS at the end.
func measureNodes(ctx context.Context, c *localcluster.Cluster, names []string, window time.Duration) (map[string]nodeUsage, error) {
	pids := map[string]int{}
	before := map[string]uint64{}
	for _, n := range names {
		node, err := c.Node(n)
		if err != nil {
			return nil, err
		}
		pids[n] = node.PID()
		t, _, err := procUsage(pids[n])
		if err != nil {
			return nil, err
		}
		before[n] = t
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(window):
	}
	elapsed := time.Since(start)
	out := map[string]nodeUsage{}
	for _, n := range names {
		t, rss, err := procUsage(pids[n])
		if err != nil {
			return nil, err
		}
		cpu := float64(t-before[n]) / clockTicks / elapsed.Seconds() * 100
		out[n] = nodeUsage{cpuPercent: cpu, rss: rss}
	}
	return out, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go runs on.
const clockTicks = 100

// procUsage returns the process's user+system CPU time in clock ticks and
// its resident set size in bytes.
func procUsage(pid int) (ticks uint64, rss uint64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("unexpected /proc/PID/stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, 0, err
			}
			rss = kb << 10
		}
	}
	return utime + stime, rss, nil
}

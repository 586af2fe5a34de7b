package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// demoJobs is how many jobs the demo submits.
const demoJobs = 5

// demoTimeout bounds the whole demo; it normally takes a few seconds.
const demoTimeout = 90 * time.Second

// demoCatchUp bounds how long the restarted node may take to be ready and
// catch up.
const demoCatchUp = 30 * time.Second

// runDemo starts three local nodes, submits jobs, kills the leader, shows the
// election and the survivors' agreement, restarts the killed node, shows it
// caught up, and removes everything it made.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "keep the demo's data dirs and node logs instead of removing them")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ferry demo [-keep]\n\n"+
			"Starts three Ferry nodes on 127.0.0.1 (free ports, temporary data dirs), submits\n"+
			"jobs, kills the leader with SIGKILL, shows the new leader and that no job was lost,\n"+
			"restarts the killed node and shows it caught up. Everything is removed at the end.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ferry demo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "ferry demo: find own binary:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "ferry-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "ferry demo:", err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	c, err := localcluster.New(localcluster.Config{Binary: bin, Dir: dir})
	if err != nil {
		fmt.Fprintln(stderr, "ferry demo:", err)
		return 1
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	d := &demo{c: c, bin: bin, dir: dir, out: stdout, started: time.Now()}
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "\nferry demo failed: %v\n\n%s", err, c.Tails(25))
		if *keep {
			fmt.Fprintf(stderr, "data and logs kept in %s\n", dir)
		}
		return 1
	}
	if *keep {
		fmt.Fprintf(stdout, "Data dirs and logs kept in %s\n", dir)
	}
	return 0
}

// demo is one run of the demo's story.
type demo struct {
	c       *localcluster.Cluster
	bin     string
	dir     string
	out     io.Writer
	started time.Time
	step    int
}

func (d *demo) run(ctx context.Context) error {
	names := []string{"n1", "n2", "n3"}
	d.say("Starting three Ferry nodes on 127.0.0.1 (data in %s)", d.dir)
	if err := d.startCluster(ctx, names); err != nil {
		return err
	}
	if err := d.cli(ctx, "members", "-addr", d.addr("n1")); err != nil {
		return err
	}

	d.say("Submitting %d copy jobs (disk LUN extents to tape) through different nodes", demoJobs)
	for i := range demoJobs {
		file, err := d.writeJobFile(i)
		if err != nil {
			return err
		}
		node := names[i%len(names)]
		if err := d.cli(ctx, "job", "submit", "-f", file, "-idempotency-key", fmt.Sprintf("demo-%d", i), "-addr", d.addr(node)); err != nil {
			return err
		}
	}
	d.say("The jobs are replicated; each node runs the ones it accepted, one at a time on the shared cartridge")
	if err := d.cli(ctx, "job", "list", "-addr", d.addr("n2")); err != nil {
		return err
	}

	leader, err := d.c.Leader(ctx)
	if err != nil {
		return err
	}
	if err := d.cli(ctx, "raft", "status", "-addr", d.addr(leader)); err != nil {
		return err
	}
	node, err := d.c.Node(leader)
	if err != nil {
		return err
	}
	d.say("Killing the leader, %s, with SIGKILL (kill -9 %d)", leader, node.PID())
	if err := d.c.Kill(leader); err != nil {
		return err
	}
	killed := time.Now()
	next, err := d.c.Leader(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s is the new leader, %.2f s after the kill.\n", next, time.Since(killed).Seconds())
	survivors := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == leader })
	if err := d.cli(ctx, "raft", "status", "-addr", d.addr(survivors[0])); err != nil {
		return err
	}

	d.say("Both survivors list the same jobs (linearizable reads through the new leader)")
	var lists [][]string
	for _, s := range survivors {
		if err := d.cli(ctx, "job", "list", "-addr", d.addr(s)); err != nil {
			return err
		}
		ids, err := d.jobIDs(ctx, s, false)
		if err != nil {
			return err
		}
		lists = append(lists, ids)
	}
	if !slices.Equal(lists[0], lists[1]) || len(lists[0]) != demoJobs {
		return fmt.Errorf("survivors disagree: %s holds %d jobs, %s holds %d", survivors[0], len(lists[0]), survivors[1], len(lists[1]))
	}
	fmt.Fprintf(d.out, "  %s and %s hold the same %d jobs: nothing acknowledged was lost.\n", survivors[0], survivors[1], len(lists[0]))

	d.say("Restarting %s from its data dir", leader)
	restarted := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, demoCatchUp)
	defer rcancel()
	if err := d.c.Restart(rctx, leader); err != nil {
		return err
	}
	if err := d.c.WaitReady(rctx, leader); err != nil {
		return fmt.Errorf("%s not ready within %v of its restart: %w", leader, demoCatchUp, err)
	}
	if err := d.waitCaughtUp(rctx, leader, lists[0]); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s is back and has caught up, %.2f s after its restart; its local (stale) view:\n", leader, time.Since(restarted).Seconds())
	if err := d.cli(ctx, "job", "list", "-stale", "-addr", d.addr(leader)); err != nil {
		return err
	}
	if err := d.cli(ctx, "members", "-addr", d.addr(leader)); err != nil {
		return err
	}

	d.say("Done in %.1f s; stopping the nodes and removing their data.", time.Since(d.started).Seconds())
	return nil
}

func (d *demo) startCluster(ctx context.Context, names []string) error {
	if _, err := d.c.Start(ctx, names[0]); err != nil {
		return err
	}
	if err := d.c.WaitReady(ctx, names[0]); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s bootstrapped a new cluster.\n", names[0])
	for _, name := range names[1:] {
		if _, err := d.c.Start(ctx, name, names[0]); err != nil {
			return err
		}
	}
	if err := d.c.WaitReady(ctx); err != nil {
		return err
	}
	if _, err := d.c.WaitVoters(ctx, names...); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s joined through gossip; the leader added them as learners, then promoted them: 3 voters.\n",
		strings.Join(names[1:], " and "))
	if err := d.c.RegisterSampleDevices(ctx, names[0]); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  registered disk %s, library %s and cartridge %s.\n", localcluster.SampleDisk, localcluster.SampleLibrary, localcluster.SampleTape)
	return nil
}

// say starts a numbered step of the story.
func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n[%4.1fs] %d. %s\n", time.Since(d.started).Seconds(), d.step, fmt.Sprintf(format, args...))
}

func (d *demo) addr(name string) string {
	n, err := d.c.Node(name)
	if err != nil {
		return "unknown-node"
	}
	return n.GRPCAddr()
}

// cli runs a ferry client command as a person would type it and shows its
// output, indented.
func (d *demo) cli(ctx context.Context, args ...string) error {
	fmt.Fprintf(d.out, "\n  $ ferry %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, d.bin, args...)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Fprintf(d.out, "    %s\n", line)
	}
	if err != nil {
		return fmt.Errorf("ferry %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func (d *demo) writeJobFile(i int) (string, error) {
	spec := localcluster.SampleSpec(i)
	spec.Name = fmt.Sprintf("db01 extent %d to tape A00001L9", i)
	data, err := protojson.MarshalOptions{Multiline: true}.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("encode job %d: %w", i, err)
	}
	path := filepath.Join(d.dir, fmt.Sprintf("job-%d.json", i))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("write job file: %w", err)
	}
	return path, nil
}

// jobIDs lists the node's jobs' ids in order.
func (d *demo) jobIDs(ctx context.Context, node string, stale bool) ([]string, error) {
	cl, err := d.c.Client(node)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Jobs.List(ctx, &ferryv1.ListJobsRequest{Stale: stale})
	if err != nil {
		return nil, fmt.Errorf("list jobs on %s: %w", node, err)
	}
	var ids []string
	for _, j := range resp.GetJobs() {
		ids = append(ids, j.GetId())
	}
	slices.Sort(ids)
	return ids, nil
}

// waitCaughtUp polls the node's own applied state until it holds ids or ctx
// ends.
func (d *demo) waitCaughtUp(ctx context.Context, node string, ids []string) error {
	for {
		got, err := d.jobIDs(ctx, node, true)
		if err == nil && slices.Equal(got, ids) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not catch up: %w (holds %d of %d jobs, last error: %v)", node, ctx.Err(), len(got), len(ids), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

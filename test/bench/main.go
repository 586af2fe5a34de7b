// Command bench measures job submissions per second and their latency on a
// three-node loopback Ferry cluster, secure (mutual TLS, encrypted gossip,
// an ACL token on every call: how a cluster runs) and in plaintext
// (-insecure, no ACLs), beside etcd's put
// throughput measured the same way in the same run, and prints them with
// the ratios secure/plaintext (what security costs) and Ferry/etcd (both
// in plaintext, as etcd runs here).
//
// Usage (from the repository root; `make bench` does this):
//
//	go run ./test/bench -ferry bin/ferry [-duration 5s] [-reps 3] [-clients 1,16,128] [-systems ferry,ferry-plaintext,etcd]
//
// etcd comes from Debian's etcd-server package; when the etcd binary is
// missing and bench runs as root it installs the package with apt-get.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are bench's flags.
type options struct {
	ferryBinary            string
	etcdBinary             string
	duration               time.Duration
	warmup                 time.Duration
	clients                []int
	reps                   int
	valueSize              int
	keepDir                bool
	ferry, plaintext, etcd bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var clients, systems string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.ferryBinary, "ferry", "", "ferry binary to benchmark (default: go build ./cmd/ferry into a temp dir)")
	fs.StringVar(&o.etcdBinary, "etcd", "etcd", "etcd binary; installed from Debian's etcd-server package if missing and running as root")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long each concurrency level runs")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before the first level, per system")
	fs.IntVar(&o.reps, "reps", 3, "measurements of each system at each level, interleaved; the median is reported")
	fs.StringVar(&clients, "clients", "1,16,128", "comma-separated numbers of concurrent clients")
	fs.IntVar(&o.valueSize, "value-size", 0, "etcd value size in bytes (default: the size of the Ferry job spec)")
	fs.BoolVar(&o.keepDir, "keep", false, "keep the temp dir with data and logs")
	fs.StringVar(&systems, "systems", "ferry,ferry-plaintext,etcd", "comma-separated systems to measure: ferry (mutual TLS), ferry-plaintext (-insecure), etcd")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-clients: %q is not a positive number", s)
		}
		o.clients = append(o.clients, n)
	}
	for _, s := range strings.Split(systems, ",") {
		switch strings.TrimSpace(s) {
		case "ferry":
			o.ferry = true
		case "ferry-plaintext":
			o.plaintext = true
		case "etcd":
			o.etcd = true
		default:
			return o, fmt.Errorf("-systems: unknown system %q (want ferry, ferry-plaintext or etcd)", s)
		}
	}
	if o.reps < 1 {
		return o, fmt.Errorf("-reps must be at least 1, got %d", o.reps)
	}
	if o.duration <= 0 {
		return o, fmt.Errorf("-duration must be positive, got %v", o.duration)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir, err := os.MkdirTemp("", "ferry-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if o.keepDir {
		log.Info("keeping data and logs", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	// Every system is started first and stays up, and each concurrency
	// level runs every system in turn, -reps times in rotating order: a
	// machine whose load changes (other work, thermal limits) shifts all of
	// them alike, and the report keeps each one's median.
	var systems []*system
	defer func() {
		for _, s := range systems {
			s.close()
		}
	}()
	start := []struct {
		on    bool
		name  string
		start func() (*system, error)
	}{
		{o.ferry, "ferry", func() (*system, error) { return ferrySystem(ctx, o, dir, false, log) }},
		{o.plaintext, "ferry-plaintext", func() (*system, error) { return ferrySystem(ctx, o, dir, true, log) }},
		{o.etcd, "etcd", func() (*system, error) { return etcdSystem(ctx, o, dir, log) }},
	}
	for _, s := range start {
		if !s.on {
			continue
		}
		sys, err := s.start()
		if err != nil {
			fmt.Fprintf(stderr, "bench: %s: %v\n", s.name, err)
			return 1
		}
		systems = append(systems, sys)
	}
	run := 0
	for _, s := range systems {
		run++
		log.Info("warm-up", "system", s.name, "for", o.warmup)
		drive(ctx, run, 16, o.warmup, s.do)
	}
	m := measured{byName: map[string][]result{}}
	for _, n := range o.clients {
		reps := make([][]result, len(systems))
		for rep := range o.reps {
			for k := range systems {
				i := (k + rep) % len(systems)
				run++
				log.Info("load", "system", systems[i].name, "clients", n, "rep", rep+1, "for", o.duration)
				reps[i] = append(reps[i], drive(ctx, run, n, o.duration, systems[i].do))
			}
		}
		for i, s := range systems {
			m.byName[s.name] = append(m.byName[s.name], median(reps[i]))
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "bench: interrupted")
		return 1
	}
	printReport(stdout, o, m)
	return 0
}

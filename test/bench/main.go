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
//	go run ./test/bench -ferry bin/ferry [-duration 5s] [-clients 1,16,128] [-systems ferry,ferry-plaintext,etcd]
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

	var m measured
	if o.ferry {
		if m.ferry, err = benchFerry(ctx, o, dir, false, log); err != nil {
			fmt.Fprintln(stderr, "bench: ferry:", err)
			return 1
		}
	}
	if o.plaintext {
		if m.plaintext, err = benchFerry(ctx, o, dir, true, log); err != nil {
			fmt.Fprintln(stderr, "bench: ferry-plaintext:", err)
			return 1
		}
	}
	if o.etcd {
		if m.etcd, err = benchEtcd(ctx, o, dir, log); err != nil {
			fmt.Fprintln(stderr, "bench: etcd:", err)
			return 1
		}
	}
	printReport(stdout, o, m)
	return 0
}

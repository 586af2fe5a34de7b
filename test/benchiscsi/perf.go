package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// blockSize is the LUNs' logical block size: both targets serve regular
// files, 512-byte blocks.
const blockSize = 512

// workload is one measurement, run against every portal in turn.
type workload struct {
	name  string
	unit  string // "MB/s" or "IOPS"
	bytes int    // per command
	depth int    // commands in flight (reads), 1 for writes
	write bool
}

// workloads are what the benchmark compares. Reads use iscsi-perf, which
// cannot write; writes use Ferry's initiator, one command at a time.
var workloads = []workload{
	{name: "seq read 1 MiB, 16 in flight (iscsi-perf)", unit: "MB/s", bytes: 1 << 20, depth: 16},
	{name: "seq read 4 KiB, 32 in flight (iscsi-perf)", unit: "IOPS", bytes: 4 << 10, depth: 32},
	{name: "seq write 1 MiB, 1 in flight (initiator)", unit: "MB/s", bytes: 1 << 20, depth: 1, write: true},
	{name: "seq write 4 KiB, 1 in flight (initiator)", unit: "IOPS", bytes: 4 << 10, depth: 1, write: true},
}

// value is the sample in the workload's unit.
func (w workload) value(iops float64) float64 {
	if w.unit == "MB/s" {
		return iops * float64(w.bytes) / 1e6
	}
	return iops
}

// perfResult is every run of one workload on each portal, by portal name.
type perfResult struct {
	w    workload
	runs map[string][]float64
}

// measure runs every workload -rounds times on each portal, alternating
// the portals so that drift (page cache, CPU frequency) hits both alike.
func measure(ctx context.Context, o options, portals []portal, log *slog.Logger) ([]perfResult, error) {
	var res []perfResult
	for _, w := range workloads {
		r := perfResult{w: w, runs: map[string][]float64{}}
		for round := range o.rounds {
			for _, p := range portals {
				var iops float64
				var err error
				if w.write {
					iops, err = writeRun(ctx, p, w, o.runFor)
				} else {
					iops, err = readRun(ctx, p, w, o.runFor)
				}
				if err != nil {
					return nil, fmt.Errorf("%s on %s, round %d: %w", w.name, p.name, round+1, err)
				}
				v := w.value(iops)
				log.Info("run", "workload", w.name, "target", p.name, "round", round+1, w.unit, fmt.Sprintf("%.0f", v))
				r.runs[p.name] = append(r.runs[p.name], v)
			}
		}
		res = append(res, r)
	}
	return res, nil
}

var perfAverage = regexp.MustCompile(`iops average (\d+) \(`)

// readRun runs iscsi-perf for d on the portal's source LUN and returns its
// average IOPS.
func readRun(ctx context.Context, p portal, w workload, d time.Duration) (float64, error) {
	secs := max(1, int(d.Seconds()))
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	args := []string{"-m", strconv.Itoa(w.depth), "-b", strconv.Itoa(w.bytes / blockSize), "-t", strconv.Itoa(secs), p.url(p.srcLUN)}
	out, err := exec.CommandContext(ctx, "iscsi-perf", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("iscsi-perf %v: %w: %s", args, err, out)
	}
	m := perfAverage.FindAllSubmatch(out, -1)
	if m == nil {
		return 0, fmt.Errorf("iscsi-perf %v printed no average: %s", args, out)
	}
	iops, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64)
	if err != nil {
		return 0, fmt.Errorf("iscsi-perf average %q: %w", m[len(m)-1][1], err)
	}
	return iops, nil
}

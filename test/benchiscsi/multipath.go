package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// multipathRead is the workload of the multipath rows: sequential 1 MiB
// reads of the source LUN, 16 in flight per path.
var multipathRead = workload{name: "seq read 1 MiB, 16 in flight per path", unit: "MB/s", bytes: 1 << 20, depth: 16}

// multipathResult is the sequential read of one LUN through one node's
// portal and through two nodes' portals at once (an iscsi-perf on each,
// their throughputs added), every run of each.
type multipathResult struct {
	one, two []float64
}

// measureMultipath alternates reads through n1's portal alone and through
// n1's and n2's at once, -rounds times.
func measureMultipath(ctx context.Context, o options, paths [2]portal, log *slog.Logger) (multipathResult, error) {
	var r multipathResult
	for round := range o.rounds {
		iops, err := readRun(ctx, paths[0], multipathRead, o.runFor)
		if err != nil {
			return r, fmt.Errorf("multipath read through %s, round %d: %w", paths[0].name, round+1, err)
		}
		one := multipathRead.value(iops)
		var (
			wg   sync.WaitGroup
			each [2]float64
			errs [2]error
		)
		for i, p := range paths {
			wg.Go(func() {
				iops, err := readRun(ctx, p, multipathRead, o.runFor)
				each[i], errs[i] = multipathRead.value(iops), err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return r, fmt.Errorf("multipath read through %s beside %s, round %d: %w", paths[i].name, paths[1-i].name, round+1, err)
			}
		}
		two := each[0] + each[1]
		log.Info("run", "workload", "multipath read", "round", round+1, "one path MB/s", fmt.Sprintf("%.0f", one),
			"two paths MB/s", fmt.Sprintf("%.0f (%.0f + %.0f)", two, each[0], each[1]))
		r.one, r.two = append(r.one, one), append(r.two, two)
	}
	return r, nil
}

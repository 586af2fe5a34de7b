package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

func report(w io.Writer, o options, cache *cacheControl, load [2]string, results []result) {
	fmt.Fprintf(w, "\n$ %s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(w, "mover vs dd bs=1M conv=fsync, %d MiB per copy, median of %d runs each (dd, mover with and without checkpoints in rotating order)\n", o.size>>20, o.reps)
	fmt.Fprintf(w, "cache: %s\nload average before: %s, after: %s\n\n", cache.describe(), load[0], load[1])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "copy\tdd MB/s\tmover+ckpt MB/s\tratio\tvs fastest dd\tmover MB/s\tratio\tckpt cost\tcheckpoints\tpeak RSS\t")
	for _, r := range results {
		cost := (r.on.seconds - r.off.seconds) / r.off.seconds * 100
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f×\t%.3f×\t%.0f\t%.3f×\t%+.1f%%\t%d\t%d MiB\t\n", r.kind,
			r.dd.mbps(), r.on.mbps(), r.on.mbps()/r.dd.mbps(), r.on.mbps()/r.dd.maxMBps,
			r.off.mbps(), r.off.mbps()/r.dd.mbps(), cost, r.on.ckpts, max(r.on.maxRSS, r.off.maxRSS)>>10)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nspread of the runs (slowest–fastest MB/s):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "copy\tdd\tmover+ckpt\tmover\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.kind, spread(r.dd), spread(r.on), spread(r.off))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nratios are of medians; \"vs fastest dd\" sets the mover's median against dd's best run, the")
	fmt.Fprintln(w, "conservative reading when dd's runs spread widely")
	fmt.Fprintln(w, "targets: ratio with checkpoints ≥ 0.95×, checkpoint cost ≤ 3%")
}

func spread(s summary) string { return fmt.Sprintf("%.0f–%.0f", s.minMBps, s.maxMBps) }

// loadAverage is the 1, 5 and 15 minute load averages, to judge how busy
// the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

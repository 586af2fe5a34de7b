package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

func report(w io.Writer, o options, cache *cacheControl, results []result) {
	fmt.Fprintf(w, "\nmover vs dd bs=1M conv=fsync, %d MiB per copy, median of %d, cache: %s\n\n", o.size>>20, o.reps, cache.describe())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "copy\tdd MB/s\tmover+ckpt MB/s\tratio\tmover MB/s\tratio\tckpt cost\tcheckpoints\tpeak RSS\t")
	for _, r := range results {
		cost := (r.on.seconds - r.off.seconds) / r.off.seconds * 100
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f×\t%.0f\t%.3f×\t%+.1f%%\t%d\t%d MiB\t\n", r.kind,
			r.dd.mbps(), r.on.mbps(), r.on.mbps()/r.dd.mbps(), r.off.mbps(), r.off.mbps()/r.dd.mbps(),
			cost, r.on.ckpts, max(r.on.maxRSS, r.off.maxRSS)>>10)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ntargets: ratio with checkpoints ≥ 0.95×, checkpoint cost ≤ 3%")
}

package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// goals are the issue's: NDMP backup rate over tar|dd's.
var goals = map[string]float64{"local": 0.9, "3-way": 0.8}

func report(w io.Writer, b *bench, cache *cacheControl, load [2]string, times map[string][]time.Duration, tarBytes int64) {
	fmt.Fprintf(w, "\n$ go run ./test/benchndmp %s\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "NDMP backup through Amanda's ndmjob vs tar -cf - | dd bs=1M conv=fsync: a tree of %d files, %d dirs, %d symlinks, %d hard links, %d MiB of data (tar stream %d MiB), median of %d runs each in rotating order\n",
		b.stats.Files, b.stats.Dirs, b.stats.Symlinks, b.stats.HardLinks, b.stats.Bytes>>20, tarBytes>>20, b.o.reps)
	fmt.Fprintf(w, "local: DATA, TAPE, MOVER and robot on n1; 3-way: DATA on n1, TAPE, MOVER and robot on n2 (each a whole ndmjob -c: load, label check, backup, unload)\n")
	fmt.Fprintf(w, "cache: %s\nload average before: %s, after: %s\n\n", cache.describe(), load[0], load[1])
	base := median(times["tar|dd"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backup\tmedian s\tMiB/s\tslowest–fastest MiB/s\tratio to tar|dd\tgoal\t")
	for _, k := range kinds {
		ts := times[k]
		if len(ts) == 0 {
			continue
		}
		m := median(ts)
		rate := func(d time.Duration) float64 { return float64(b.stats.Bytes) / (1 << 20) / d.Seconds() }
		lo, hi := slices.Max(ts), slices.Min(ts)
		ratio, goal := "", ""
		if k != "tar|dd" {
			r := base.Seconds() / m.Seconds()
			ratio = fmt.Sprintf("%.2f×", r)
			if g, ok := goals[k]; ok {
				verdict := "met"
				if r < g {
					verdict = "NOT met"
				}
				goal = fmt.Sprintf("≥ %.1f× %s", g, verdict)
			}
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.0f–%.0f\t%s\t%s\t\n", k, m.Seconds(), rate(m), rate(lo), rate(hi), ratio, goal)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nrates are the tree's data bytes over wall time; a ratio is tar|dd's median time over the backup's")
}

func median(ts []time.Duration) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[len(s)/2]
}

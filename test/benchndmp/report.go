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

func report(w io.Writer, b *bench, cache *cacheControl, load [2]string, times map[string][]phases, tarBytes int64) {
	fmt.Fprintf(w, "\n$ go run ./test/benchndmp %s\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "NDMP backup through Amanda's ndmjob vs tar -cf - | dd bs=1M conv=fsync: a tree of %d files, %d dirs, %d symlinks, %d hard links, %d MiB of data (tar stream %d MiB), median of %d runs each in rotating order\n",
		b.stats.Files, b.stats.Dirs, b.stats.Symlinks, b.stats.HardLinks, b.stats.Bytes>>20, tarBytes>>20, b.o.reps)
	fmt.Fprintf(w, "local: DATA, TAPE, MOVER and robot on n1; 3-way: DATA on n1, TAPE, MOVER and robot on n2 (each a whole ndmjob -c: load, label check, backup, unload)\n")
	fmt.Fprintf(w, "cache: %s\nload average before: %s, after: %s\n\n", cache.describe(), load[0], load[1])
	med := func(k string, f func(phases) time.Duration) time.Duration {
		var ds []time.Duration
		for _, p := range times[k] {
			ds = append(ds, f(p))
		}
		return median(ds)
	}
	total := func(p phases) time.Duration { return p.total }
	stream := func(p phases) time.Duration { return p.stream }
	rate := func(d time.Duration) float64 { return float64(b.stats.Bytes) / (1 << 20) / d.Seconds() }
	base := med("tar|dd", total)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backup\tjob s\tsetup s\tstream s\tteardown s\tstream MiB/s\tslowest–fastest\tstream ratio\tjob ratio\tgoal (stream)\t")
	for _, k := range kinds {
		ps := times[k]
		if len(ps) == 0 {
			continue
		}
		var ss []time.Duration
		for _, p := range ps {
			ss = append(ss, p.stream)
		}
		m := med(k, stream)
		lo, hi := slices.Max(ss), slices.Min(ss)
		sratio, jratio, goal := "", "", ""
		if k != "tar|dd" {
			r := base.Seconds() / m.Seconds()
			sratio = fmt.Sprintf("%.2f×", r)
			jratio = fmt.Sprintf("%.2f×", base.Seconds()/med(k, total).Seconds())
			if g, ok := goals[k]; ok {
				verdict := "met"
				if r < g {
					verdict = "NOT met"
				}
				goal = fmt.Sprintf("≥ %.1f× %s", g, verdict)
			}
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f–%.0f\t%s\t%s\t%s\t\n", k, med(k, total).Seconds(),
			med(k, func(p phases) time.Duration { return p.setup }).Seconds(), m.Seconds(),
			med(k, func(p phases) time.Duration { return p.teardown }).Seconds(), rate(m), rate(lo), rate(hi), sratio, jratio, goal)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nstream: from ndmjob's \"Waiting for operation to start\" (start_backup answered) to its \"Operation done\" (both halted, the tape")
	fmt.Fprintln(w, "file durable); setup: connect, robot load, label check, listen/connect; teardown: ndmjob's fixed shutdown wait")
	fmt.Fprintln(w, "(up to 2 s), unload, close. Rates are the tree's data bytes over the stream's time; a ratio is tar|dd's median")
	fmt.Fprintln(w, "time over the backup's stream (stream ratio) or whole job (job ratio).")
}

func median(ts []time.Duration) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[len(s)/2]
}

package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets.
const (
	targetP50 = 2 * time.Second
	targetP99 = 5 * time.Second
)

// report is everything one run measured.
type report struct {
	opts    options
	started time.Time
	kills   *kills
	quiet   *quiet
}

func (r *report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "\n$ %s\n", strings.Join(os.Args, " "))
	settings := "default agent settings"
	if o.checkpointSet || len(o.agentArgs) > 0 {
		settings = fmt.Sprintf("agent flags %q", o.agentArgs)
	}
	fmt.Fprintf(w, "3 nodes on 127.0.0.1, %s (lease 1.5s, renewals every 250ms, renew deadline 1s);\n", settings)
	fmt.Fprintf(w, "copies of %s disk→tape at %s/s; checkpoints every %s or %v: one checkpoint interval is %s at that rate\n",
		mib(o.size), mib(o.bwlimit), mib(o.ckptBytes), o.ckptEvery, mib(o.checkpointInterval()))
	if r.kills != nil {
		r.printKills(w)
	}
	if r.quiet != nil {
		r.printQuiet(w)
	}
	r.printTargets(w)
	fmt.Fprintf(w, "\ntotal time %v\n", time.Since(r.started).Round(time.Second))
}

func (r *report) printKills(w io.Writer) {
	k, o := r.kills, r.opts
	fmt.Fprintf(w, "\nkills: %d in %d copies (%d per copy, seed %d); %d of %d copies ended and verified (tape SHA-256 = data = job result)\n\n",
		len(k.results), k.copies, o.killsPerCopy, o.seed, k.verified, k.copies)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kill\tcopy\tkilled\tleader?\tnew owner\tkill→taken over\tkill→resumed\tkill→1st write\tmetric\tresumed from\t\trecopy: reported\tleader metric\testimated\t")
	for i, x := range k.results {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\t%s\t%s\t\n", i+1, x.copy, x.killed, yesNo(x.wasLeader),
			x.newOwner, secs(x.toPlaced), secs(x.toResumed), secs(x.toFirstWrite), metricSecs(x.metric), mib(x.fromOffset), float64(x.fromOffset)*100/float64(o.size),
			optMiB(float64(x.reported)), optMiB(x.leaderRecopy), mib(x.estimated))
	}
	tw.Flush()
	fmt.Fprintln(w, "\n  resumed from: the old owner's last committed checkpoint; metric: the new owner's")
	fmt.Fprintln(w, "  ferry_takeover_latency_seconds (old owner's last checkpoint → first write); recopy reported: \"Y past")
	fmt.Fprintln(w, "  its last checkpoint\" of the owner-lost event (the last lease renewal's count, so a lower bound; - when")
	fmt.Fprintln(w, "  not beyond the checkpoint); leader metric: ferry_takeover_recopy_bytes (the same count); estimated:")
	fmt.Fprintln(w, "  the bandwidth limit × (kill − old owner's last checkpoint or start)")

	all := k.takeoverTimes(func(killResult) bool { return true })
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  takeover time\tn\tp50\tp99\tmax\t")
	row := func(name string, d []time.Duration) {
		if len(d) == 0 {
			return
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t\n", name, len(d), secs(pct(d, 50)), secs(pct(d, 99)), secs(slices.Max(d)))
	}
	row("kill → new owner's first write (its log)", all)
	row("kill → \"resumed on\" event", k.durations(func(x killResult) time.Duration { return x.toResumed }))
	row("  kill → \"taken over\" (the leader's decision)", k.durations(func(x killResult) time.Duration { return x.toPlaced }))
	row("  \"taken over\" → \"resumed on\" (the new owner's start)", k.durations(func(x killResult) time.Duration { return x.toResumed - x.toPlaced }))
	row("  owner was a follower", k.takeoverTimes(func(x killResult) bool { return !x.wasLeader }))
	row("  owner was also the leader", k.takeoverTimes(func(x killResult) bool { return x.wasLeader }))
	var metric []time.Duration
	for _, x := range k.results {
		if x.metric >= 0 {
			metric = append(metric, time.Duration(x.metric*float64(time.Second)))
		}
	}
	row("ferry_takeover_latency_seconds (last checkpoint → 1st write)", metric)
	tw.Flush()
	fmt.Fprintln(w, "  (percentiles by nearest rank: with 20 kills, p99 is the slowest)")

	interval := float64(o.checkpointInterval())
	est := k.bytes(func(x killResult) float64 { return float64(x.estimated) })
	rep := k.bytes(func(x killResult) float64 { return max(float64(x.reported), 0) })
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  bytes copied again per takeover\tmean\tp50\tmax\tmax / interval\t")
	for _, b := range []struct {
		name string
		v    []float64
	}{{"estimated from the kill time", est}, {"reported by the last lease renewal", rep}} {
		if len(b.v) == 0 {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.2f\t\n", b.name, mibF(mean(b.v)), mibF(pctF(b.v, 50)), mibF(slices.Max(b.v)), slices.Max(b.v)/interval)
	}
	tw.Flush()
}

func (r *report) printQuiet(w io.Writer) {
	q := r.quiet
	fmt.Fprintf(w, "\nquiet: %v without faults, %d copies at a time: %d copies (%.1f GiB), all verified\n",
		q.elapsed.Round(time.Second), r.opts.quietJobs, q.copies, float64(q.bytes)/(1<<30))
	fmt.Fprintf(w, "  ferry_failovers_total summed over the nodes: %.0f; takeovers in the copies' histories: %d\n", q.failovers, q.historyTakeovers)
	fmt.Fprintf(w, "  ferry_fenced_writes_total: %.0f; failed lease renewals: %.0f; Raft term %d → %d (%d elections)\n",
		q.fenced, q.renewFailed, q.termBefore, q.termAfter, q.termAfter-q.termBefore)
}

func (r *report) printTargets(w io.Writer) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "targets (issue 4)\ttarget\tmeasured\t")
	line := func(name, target, measured string, ok bool) {
		verdict := "met"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", name, target, measured, verdict)
	}
	if k := r.kills; k != nil && len(k.results) > 0 {
		d := k.takeoverTimes(func(killResult) bool { return true })
		p50, p99 := pct(d, 50), pct(d, 99)
		line("takeover p50 (kill → first write)", "≤ 2 s", secs(p50), p50 <= targetP50)
		line("takeover p99 (kill → first write)", "≤ 5 s", secs(p99), p99 <= targetP99)
		interval := float64(r.opts.checkpointInterval())
		est := slices.Max(k.bytes(func(x killResult) float64 { return float64(x.estimated) }))
		rep := slices.Max(k.bytes(func(x killResult) float64 { return max(float64(x.reported), 0) }))
		line("re-copied per takeover (max, estimated)", "≤ "+mib(int64(interval)), mibF(est), est <= interval*1.05)
		line("re-copied per takeover (max, reported)", "≤ "+mib(int64(interval)), mibF(rep), rep <= interval)
		line("copies verified after kills", fmt.Sprintf("%d", k.copies), fmt.Sprintf("%d", k.verified), k.verified == k.copies)
		defer fmt.Fprintln(w, "  (estimated re-copy allows 5% over one interval: the time between checkpoints includes committing one)")
	}
	if q := r.quiet; q != nil {
		line(fmt.Sprintf("false takeovers in %v", q.elapsed.Round(time.Second)), "0",
			fmt.Sprintf("%.0f (histories: %d)", q.failovers, q.historyTakeovers), q.failovers == 0 && q.historyTakeovers == 0)
	}
	tw.Flush()
}

// takeoverTimes is the kill → first write of the kills keep selects; the
// "resumed on" time stands in when a node logged no first write.
func (k *kills) takeoverTimes(keep func(killResult) bool) []time.Duration {
	var out []time.Duration
	for _, x := range k.results {
		if !keep(x) {
			continue
		}
		if x.toFirstWrite > 0 {
			out = append(out, x.toFirstWrite)
		} else {
			out = append(out, x.toResumed)
		}
	}
	return out
}

func (k *kills) durations(f func(killResult) time.Duration) []time.Duration {
	var out []time.Duration
	for _, x := range k.results {
		out = append(out, f(x))
	}
	return out
}

func (k *kills) bytes(f func(killResult) float64) []float64 {
	var out []float64
	for _, x := range k.results {
		out = append(out, f(x))
	}
	return out
}

// pct is the nearest-rank percentile: with 20 samples p99 is the largest.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(d))
	return s[rank(len(s), p)]
}

func pctF(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[rank(len(s), p)]
}

func rank(n int, p float64) int {
	return max(int(math.Ceil(p/100*float64(n)))-1, 0)
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func metricSecs(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f s", v)
}

func mib(n int64) string { return mibF(float64(n)) }

func mibF(n float64) string { return fmt.Sprintf("%.1f MiB", n/(1<<20)) }

func optMiB(n float64) string {
	if n < 0 {
		return "-"
	}
	return mibF(n)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

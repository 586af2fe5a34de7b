package main

import (
	"fmt"
	"github.com/ferry-san/ferry/internal/cunit"
	"io"
	"slices"
	"strings"
	"time"
)

// report is what the benchmark prints.
type report struct {
	note        string // why tgtd is not compared, when it is not
	perf        []perfResult
	multipath   multipathResult
	caw         []cawResult
	copy        copyResult
	conformance []conformanceResult
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r report) print(out io.Writer, o options) {
	fmt.Fprintf(out, "\niSCSI target: Ferry vs tgtd on the same files, medians of %d runs of %v each, alternating\n", o.rounds, o.runFor)
	if r.note != "" {
		fmt.Fprintf(out, "NOTE: %s; Ferry's figures only.\n", r.note)
	}
	fmt.Fprintf(out, "%-45s %12s %12s %8s\n", "workload", "Ferry", "tgtd", "ratio")
	for _, p := range r.perf {
		f, t := median(p.runs["Ferry"]), median(p.runs["tgtd"])
		ratio, tgt := "-", "-"
		if len(p.runs["tgtd"]) > 0 {
			tgt = fmt.Sprintf("%.0f %s", t, p.w.unit)
			if t > 0 {
				ratio = fmt.Sprintf("%.2f×", f/t)
			}
		}
		fmt.Fprintf(out, "%-45s %12s %12s %8s\n", p.w.name, fmt.Sprintf("%.0f %s", f, p.w.unit), tgt, ratio)
	}
	one, two := median(r.multipath.one), median(r.multipath.two)
	fmt.Fprintf(out, "\nMultipath: %s of one LUN, Ferry (medians of %d runs, alternating)\n", multipathRead.name, o.rounds)
	fmt.Fprintf(out, "  through n1's portal alone              %8.0f MB/s\n", one)
	fmt.Fprintf(out, "  through n1's and n2's at once          %8.0f MB/s\n", two)
	if one > 0 {
		fmt.Fprintf(out, "  scaling, two paths / one               %8.2f×\n", two/one)
	}
	if len(r.caw) > 0 {
		var ops, miss []float64
		for _, c := range r.caw {
			ops = append(ops, c.perSecond())
			miss = append(miss, float64(c.miscompare)/c.elapsed.Seconds())
		}
		fmt.Fprintf(out, "\nCOMPARE AND WRITE: %d initiators on one LUN through n1's and n2's portals, Ferry (medians of %d runs; counter checked)\n", cawInitiators, len(r.caw))
		fmt.Fprintf(out, "  successful COMPARE AND WRITEs          %8.0f ops/s\n", median(ops))
		fmt.Fprintf(out, "  MISCOMPARE (another got there first)   %8.0f /s\n", median(miss))
	}
	c := r.copy
	mb := float64(c.bytes) / 1e6
	fmt.Fprintf(out, "\nCopy of %d MiB LUN 1 → LUN 2 through Ferry's portal (destination verified by SHA-256):\n", c.bytes>>20)
	fmt.Fprintf(out, "  EXTENDED COPY (block→block)          %8v  %7.0f MB/s\n", c.xcopy.Round(time.Millisecond), mb/c.xcopy.Seconds())
	fmt.Fprintf(out, "  READ(16)/WRITE(16), 1 MiB chunks     %8v  %7.0f MB/s\n", c.reread.Round(time.Millisecond), mb/c.reread.Seconds())
	fmt.Fprintf(out, "  speed-up of third-party copy         %8.2f×\n", c.reread.Seconds()/c.xcopy.Seconds())
	if len(r.conformance) > 0 {
		fmt.Fprintf(out, "\nlibiscsi's whole suite (iscsi-test-cu -V --dataloss --test=ALL, a second URL for MultipathIO) on a %d MiB thin LUN, one run each:\n", conformanceBytes>>20)
		fmt.Fprintf(out, "  %-8s %10s %8s %8s %8s\n", "target", "wall", "passed", "skipped", "failed")
		var names []string
		var runs []cunit.Run
		for _, c := range r.conformance {
			fmt.Fprintf(out, "  %-8s %10v %8d %8d %8d\n", c.target, c.wall.Round(100*time.Millisecond), c.passed, c.skipped, c.failed)
			names, runs = append(names, c.target), append(runs, c.run)
		}
		fmt.Fprintf(out, "\nBy suite (real passes / skips / failures):\n\n%s", cunit.Table(names, runs))
	}
	fmt.Fprintln(out, strings.Repeat("-", 80))
}

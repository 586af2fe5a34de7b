package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/internal/localcluster"
)

func sampleSpecSize() int { return proto.Size(localcluster.SampleSpec(0)) }

// The systems' names in reports.
const (
	ferryName     = "ferry (mTLS)"
	plaintextName = "ferry (plaintext)"
	etcdName      = "etcd"
)

// measured is every system's results by name, one per concurrency level; a
// system not measured has none.
type measured struct {
	byName map[string][]result
}

// row is one line of the report.
type row struct {
	name string
	r    result
}

// rows lists the systems measured at concurrency level i.
func (m measured) rows(i int) []row {
	var out []row
	for _, s := range []struct {
		name string
		rs   []result
	}{{ferryName, m.byName[ferryName]}, {plaintextName, m.byName[plaintextName]}, {etcdName, m.byName[etcdName]}} {
		if i < len(s.rs) {
			out = append(out, row{s.name, s.rs[i]})
		}
	}
	return out
}

// printReport prints one row per system and concurrency, then the ratios
// of the systems measured: secure to plaintext Ferry, and plaintext Ferry
// to etcd (which runs in plaintext here).
func printReport(w io.Writer, o options, m measured) {
	fmt.Fprintf(w, "\n3-node loopback clusters, %v per level, median of %d interleaved runs; Ferry: JobService.Submit (~%d-byte spec, idempotency key), "+
		"with mutual TLS, encrypted gossip and an ACL token (mTLS) and with -insecure, no ACLs (plaintext); etcd: Put, plaintext\n\n",
		o.duration, o.reps, sampleSpecSize())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tclients\tops\terrors\tops/s\tp50\tp99\t")
	for i := range o.clients {
		for _, row := range m.rows(i) {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t\n", row.name, row.r.clients, row.r.ops, row.r.errors,
				row.r.perSecond(), ms(row.r.p50), ms(row.r.p99))
		}
	}
	tw.Flush()

	secure, plain, etcd := m.byName[ferryName], m.byName[plaintextName], m.byName[etcdName]
	if len(secure) > 0 && len(plain) > 0 {
		printRatios(w, o, "mTLS", secure, "plaintext", plain, "the secure path's cost: goal mTLS/plaintext >= 0.90")
	}
	if len(plain) > 0 && len(etcd) > 0 {
		printRatios(w, o, "ferry", plain, "etcd", etcd, "both plaintext")
	}
	for i := range o.clients {
		for _, row := range m.rows(i) {
			if row.r.firstErr != nil {
				fmt.Fprintf(w, "%s, %d clients: first error: %v\n", row.name, row.r.clients, row.r.firstErr)
			}
		}
	}
}

// printRatios prints a's throughput and p99 against b's at each level.
func printRatios(w io.Writer, o options, aName string, a []result, bName string, b []result, note string) {
	fmt.Fprintf(w, "\n%s against %s (%s)\n", aName, bName, note)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "clients\t%s ops/s\t%s ops/s\t%s/%s\tp99 %s/%s\t\n", aName, bName, aName, bName, aName, bName)
	for i, n := range o.clients {
		x, y := a[i], b[i]
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%s\t%s\t\n", n, x.perSecond(), y.perSecond(),
			ratio(x.perSecond(), y.perSecond()), ratio(float64(x.p99), float64(y.p99)))
	}
	tw.Flush()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// median is the run of rs with the median throughput (the lower middle one
// of an even number), so that its latencies are those of a real run.
func median(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(a.perSecond(), b.perSecond()) })
	return sorted[(len(sorted)-1)/2]
}

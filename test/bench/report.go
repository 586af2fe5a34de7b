package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/internal/localcluster"
)

func sampleSpecSize() int { return proto.Size(localcluster.SampleSpec(0)) }

// row is one line of the report.
type row struct {
	name string
	r    result
}

// rows pairs the systems measured at concurrency level i.
func rows(i int, ferry, etcd []result) []row {
	var out []row
	if i < len(ferry) {
		out = append(out, row{"ferry", ferry[i]})
	}
	if i < len(etcd) {
		out = append(out, row{"etcd", etcd[i]})
	}
	return out
}

// printReport prints one row per system and concurrency, then the Ferry to
// etcd ratio at each concurrency when both were measured.
func printReport(w io.Writer, o options, ferry, etcd []result) {
	fmt.Fprintf(w, "\n3-node loopback clusters, %v per level; Ferry: JobService.Submit (~%d-byte spec, idempotency key); etcd: Put\n\n",
		o.duration, sampleSpecSize())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tclients\tops\terrors\tops/s\tp50\tp99\t")
	for i := range o.clients {
		for _, row := range rows(i, ferry, etcd) {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t\n", row.name, row.r.clients, row.r.ops, row.r.errors,
				row.r.perSecond(), ms(row.r.p50), ms(row.r.p99))
		}
	}
	tw.Flush()

	if len(ferry) > 0 && len(etcd) > 0 {
		printRatios(w, o, ferry, etcd)
	}
	for i := range o.clients {
		for _, row := range rows(i, ferry, etcd) {
			if row.r.firstErr != nil {
				fmt.Fprintf(w, "%s, %d clients: first error: %v\n", row.name, row.r.clients, row.r.firstErr)
			}
		}
	}
}

func printRatios(w io.Writer, o options, ferry, etcd []result) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tferry ops/s\tetcd ops/s\tferry/etcd\tp99 ferry/etcd\t")
	for i, n := range o.clients {
		f, e := ferry[i], etcd[i]
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%s\t%s\t\n", n, f.perSecond(), e.perSecond(),
			ratio(f.perSecond(), e.perSecond()), ratio(float64(f.p99), float64(e.p99)))
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

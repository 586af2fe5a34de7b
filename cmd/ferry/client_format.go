package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// writeJSON prints m as protojson. protojson deliberately varies its
// whitespace between runs, so the output is compacted and re-indented to be
// stable; indent "" gives one line (for streams), otherwise an indented object.
func writeJSON(w io.Writer, m proto.Message, indent string) error {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s as JSON: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	var buf bytes.Buffer
	if indent == "" {
		err = json.Compact(&buf, raw)
	} else {
		err = json.Indent(&buf, raw, "", indent)
	}
	if err != nil {
		return fmt.Errorf("formatting JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// newTable returns the tabwriter every table and key/value listing uses.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes one tab-separated line.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// enumText turns an enum value name into its lowercase word without the
// type prefix (JOB_STATE_RUNNING → "running"); unspecified prints as "-".
func enumText(name, prefix string) string {
	s := strings.TrimPrefix(name, prefix)
	if s == "UNSPECIFIED" {
		return "-"
	}
	return strings.ToLower(s)
}

func jobStateText(s ferryv1.JobState) string { return enumText(s.String(), "JOB_STATE_") }

func gossipStateText(s ferryv1.GossipState) string {
	return enumText(s.String(), "GOSSIP_STATE_")
}

func raftRoleText(r ferryv1.RaftRole) string { return enumText(r.String(), "RAFT_ROLE_") }

func deviceKindText(k ferryv1.DeviceKind) string {
	return enumText(k.String(), "DEVICE_KIND_")
}

// timeText formats a timestamp as RFC 3339 in UTC, or "-" when absent.
func timeText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// orDash keeps tables aligned and readable when a value is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func listText(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, ", ")
}

// bytesText formats a byte count with binary units: 1536 → "1.5 KiB".
func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progressText summarizes bytes copied: "1.0 MiB/4.0 MiB (25%)", counting
// what the owner last reported beyond its committed checkpoint.
func progressText(p *ferryv1.JobProgress) string {
	done := max(p.GetBytesDone(), p.GetLiveBytesDone())
	switch {
	case p.GetBytesTotal() > 0:
		pct := float64(done) * 100 / float64(p.GetBytesTotal())
		return fmt.Sprintf("%s/%s (%.0f%%)", bytesText(done), bytesText(p.GetBytesTotal()), pct)
	case done > 0:
		return bytesText(done)
	default:
		return "-"
	}
}

func deviceText(d *ferryv1.DeviceRef) string {
	switch r := d.GetRef().(type) {
	case *ferryv1.DeviceRef_Name:
		return r.Name
	case *ferryv1.DeviceRef_Naa:
		return "naa." + r.Naa
	default:
		return "(no device)"
	}
}

// endpointText describes one side of a copy; source tells how an absent
// tape file reads (whole tape vs. new file).
func endpointText(e *ferryv1.Endpoint, source bool) string {
	if e == nil {
		return "-"
	}
	s := deviceKindText(e.GetKind()) + " " + deviceText(e.GetDevice())
	switch e.GetKind() {
	case ferryv1.DeviceKind_DEVICE_KIND_TAPE:
		switch {
		case e.TapeFile != nil:
			s += fmt.Sprintf(" file %d", e.GetTapeFile())
		case source:
			s += " whole tape"
		default:
			s += " new file at end of data"
		}
		if p := e.GetPool(); p != "" && e.GetDevice().GetRef() == nil {
			s = fmt.Sprintf("tape of pool %s (chosen when placed), new file at end of data", p)
		} else if p != "" {
			s += " (from pool " + p + ")"
		}
	default:
		s += fmt.Sprintf(" lba %d", e.GetLba())
		if e.GetBlocks() == 0 {
			s += " to end of LUN"
		} else {
			s += fmt.Sprintf(" blocks %d", e.GetBlocks())
		}
	}
	return s
}

// tapeWrites are what a job that ended wrote to cartridges.
func tapeWrites(j *ferryv1.Job) []*ferryv1.TapeWrite {
	if w := j.GetResult().GetTapeWrites(); len(w) > 0 {
		return w
	}
	return j.GetError().GetTapeWrites()
}

// destinationText is a job's destination: where the data went once the
// job wrote it, else what the spec asked for.
func destinationText(j *ferryv1.Job) string {
	dst := j.GetSpec().GetDestination()
	for _, w := range tapeWrites(j) {
		if dst.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE && (dst.GetDevice().GetName() == w.GetBarcode() || len(tapeWrites(j)) == 1) {
			return tapeWriteText(dataFiles(j, w))
		}
	}
	return endpointText(dst, false)
}

func optionsText(o *ferryv1.JobOptions) string {
	bw := "unlimited"
	if o.GetBwlimitBytesPerSecond() > 0 {
		bw = bytesText(o.GetBwlimitBytesPerSecond()) + "/s"
	}
	ck := "cluster default"
	if o.GetCheckpointIntervalBytes() > 0 {
		ck = bytesText(o.GetCheckpointIntervalBytes())
	}
	return fmt.Sprintf("priority %d, bandwidth %s, verify %t, checkpoint every %s",
		o.GetPriority(), bw, o.GetVerify(), ck)
}

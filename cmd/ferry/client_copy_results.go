package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

func copyResultsCommand() *clientCommand {
	return &clientCommand{
		name:    "copy-results",
		args:    "ID",
		nargs:   1,
		summary: "show a copy job's RECEIVE COPY RESULTS data",
		details: "Without flags: COPY STATUS (service action 00h). -failed-segments: FAILED SEGMENT\n" +
			"DETAILS (04h); -operating-parameters: OPERATING PARAMETERS (03h), the copy manager's\n" +
			"limits, the same for every job. -o text (or table) prints the data decoded field by\n" +
			"field, -o raw writes the parameter data bytes to standard output, -o json prints the\n" +
			"response as protojson.",
		outputs: []string{"text", "raw"},
		flags: func(fs *flag.FlagSet) action {
			failed := fs.Bool("failed-segments", false, "FAILED SEGMENT DETAILS instead of COPY STATUS")
			params := fs.Bool("operating-parameters", false, "OPERATING PARAMETERS instead of COPY STATUS")
			return func(ctx context.Context, c *client, args []string) error {
				action := ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_COPY_STATUS
				switch {
				case *failed && *params:
					return usageError{"-failed-segments and -operating-parameters exclude each other"}
				case *failed:
					action = ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_FAILED_SEGMENT_DETAILS
				case *params:
					action = ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_OPERATING_PARAMETERS
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := c.jobs.CopyResults(ctx, &ferryv1.CopyResultsRequest{Id: args[0], Action: action})
				if err != nil {
					return err
				}
				switch c.format {
				case "json":
					return writeJSON(c.stdout, resp, "  ")
				case "raw":
					_, err := c.stdout.Write(resp.GetData())
					return err
				}
				return printCopyResults(c, action, resp)
			}
		},
	}
}

// printCopyResults decodes the parameter data with scsi/xcopy and prints
// it field by field. Data that does not decode is a server fault: the
// server's own rendering (or a hex dump) is printed and the error returned.
func printCopyResults(c *client, action ferryv1.CopyResultsAction, resp *ferryv1.CopyResultsResponse) error {
	data := resp.GetData()
	tw := newTable(c.stdout)
	var err error
	switch action {
	case ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_OPERATING_PARAMETERS:
		err = printOperatingParameters(tw, data)
	case ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_FAILED_SEGMENT_DETAILS:
		err = printFailedSegmentDetails(tw, data)
	default:
		err = printCopyStatus(tw, data)
	}
	if err != nil {
		text := resp.GetText()
		if text == "" {
			text = fmt.Sprintf("%d bytes of parameter data:\n%s", len(data), hex.Dump(data))
		}
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		fmt.Fprint(c.stdout, text)
		return err
	}
	return tw.Flush()
}

func printCopyStatus(w io.Writer, data []byte) error {
	st, err := xcopy.DecodeCopyStatus(data)
	if err != nil {
		return err
	}
	row(w, "copy manager status:", st.Status.String())
	row(w, "segments processed:", fmt.Sprint(st.SegmentsProcessed))
	row(w, "transfer count:", fmt.Sprintf("%d %s", st.TransferCount, st.Units))
	row(w, "held data discarded:", yesNo(st.HDD))
	return nil
}

func printOperatingParameters(w io.Writer, data []byte) error {
	op, err := xcopy.DecodeOperatingParameters(data)
	if err != nil {
		return err
	}
	row(w, "max CSCD descriptors:", fmt.Sprint(op.MaxTargetDescriptors))
	row(w, "max segment descriptors:", fmt.Sprint(op.MaxSegmentDescriptors))
	row(w, "max descriptor list length:", fmt.Sprintf("%d bytes", op.MaxDescriptorListLength))
	row(w, "max segment length:", fmt.Sprintf("%d bytes", op.MaxSegmentLength))
	row(w, "max inline data:", fmt.Sprintf("%d bytes", op.MaxInlineData))
	row(w, "held data limit:", fmt.Sprintf("%d bytes", op.HeldDataLimit))
	row(w, "max stream transfer size:", fmt.Sprintf("%d bytes", op.MaxStreamTransferSize))
	row(w, "total concurrent copies:", fmt.Sprint(op.TotalConcurrentCopies))
	row(w, "max concurrent copies:", fmt.Sprint(op.MaxConcurrentCopies))
	row(w, "data segment granularity:", granularityText(op.DataSegmentGranularity))
	row(w, "inline data granularity:", granularityText(op.InlineDataGranularity))
	row(w, "held data granularity:", granularityText(op.HeldDataGranularity))
	row(w, "list id usage 11b (SNLID):", yesNo(op.SNLID))
	fmt.Fprintf(w, "implemented descriptors (%d):\n", len(op.Implemented))
	for _, code := range op.Implemented {
		row(w, "", fmt.Sprintf("%02Xh", code), descriptorName(code))
	}
	return nil
}

func printFailedSegmentDetails(w io.Writer, data []byte) error {
	fd, err := xcopy.DecodeFailedSegmentDetails(data)
	if err != nil {
		return err
	}
	if fd == nil {
		row(w, "failed segment details:", "none (the copy did not end in CHECK CONDITION)")
		return nil
	}
	row(w, "command status:", scsiStatusText(fd.CommandStatus))
	if len(fd.Sense) == 0 {
		row(w, "sense:", "-")
		return nil
	}
	if s, err := sense.Parse(fd.Sense); err != nil {
		row(w, "sense:", err.Error())
	} else {
		row(w, "sense:", s.Error())
	}
	row(w, "sense data:", hex.EncodeToString(fd.Sense))
	return nil
}

// descriptorName names a descriptor type code of OPERATING PARAMETERS:
// segment descriptors below E0h, CSCD descriptors from E0h.
func descriptorName(code byte) string {
	if code == 0xE4 {
		return "identification CSCD descriptor"
	}
	if code >= 0xE0 {
		return "CSCD descriptor"
	}
	return xcopy.SegmentType(code).String()
}

// granularityText reads a log2 granularity field: 0 is 1 byte, 9 is 512.
func granularityText(log2 uint8) string {
	switch {
	case log2 == 0:
		return "1 byte"
	case log2 >= 64:
		return fmt.Sprintf("2^%d bytes", log2)
	}
	return fmt.Sprintf("%d bytes", uint64(1)<<log2)
}

// scsiStatusText names a SCSI status byte (SAM-5).
func scsiStatusText(b byte) string {
	names := map[byte]string{
		0x00: "GOOD", 0x02: "CHECK CONDITION", 0x04: "CONDITION MET", 0x08: "BUSY",
		0x18: "RESERVATION CONFLICT", 0x28: "TASK SET FULL", 0x30: "ACA ACTIVE", 0x40: "TASK ABORTED",
	}
	if n, ok := names[b]; ok {
		return fmt.Sprintf("%s (%02Xh)", n, b)
	}
	return fmt.Sprintf("status %02Xh", b)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

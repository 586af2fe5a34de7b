package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func copyResultsCommand() *clientCommand {
	return &clientCommand{
		name:    "copy-results",
		args:    "ID",
		nargs:   1,
		summary: "show a copy job's RECEIVE COPY RESULTS data",
		details: "Without flags: COPY STATUS (service action 00h). -failed-segments: FAILED SEGMENT\n" +
			"DETAILS (04h); -operating-parameters: OPERATING PARAMETERS (03h), the copy manager's\n" +
			"limits, the same for every job. -o text (or table) prints the data decoded, -o raw writes\n" +
			"the parameter data bytes to standard output, -o json prints the response as protojson.",
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
				return printCopyResults(c, resp)
			}
		},
	}
}

// printCopyResults prints the server's rendering of the data, or a hex dump
// when it sent none.
func printCopyResults(c *client, resp *ferryv1.CopyResultsResponse) error {
	text := resp.GetText()
	if text == "" {
		text = fmt.Sprintf("%d bytes of parameter data:\n%s", len(resp.GetData()), hex.Dump(resp.GetData()))
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	_, err := fmt.Fprint(c.stdout, text)
	return err
}

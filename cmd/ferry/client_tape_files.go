package main

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func tapeFilesCommand() *clientCommand {
	return &clientCommand{
		name:    "tape files",
		args:    "BARCODE",
		nargs:   1,
		summary: "list the files on a cartridge, as the jobs that wrote them recorded them",
		details: "The catalog lists every data file from 1 on (file 0 is the label): its bytes, records and\n" +
			"SHA-256, the job that wrote it and when. A file marked incomplete is on the tape but not as\n" +
			"its writer meant it: a copy cut off mid-file, closed by a later append.",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				cart, err := findCartridge(ctx, c, args[0])
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, &ferryv1.Cartridge{Barcode: cart.GetBarcode(), Files: cart.GetFiles(), UsedBytes: cart.GetUsedBytes(),
						CapacityBytes: cart.GetCapacityBytes()}, "  ")
				}
				fmt.Fprintf(c.stdout, "%s (%s): %s, %s used of %s\n", cart.GetBarcode(), orDash(cart.GetLibrary()),
					plural(uint32(len(cart.GetFiles())), "file"), bytesText(cart.GetUsedBytes()), capacityText(cart.GetCapacityBytes()))
				if len(cart.GetFiles()) == 0 {
					return nil
				}
				tw := newTable(c.stdout)
				row(tw, "FILE", "STATE", "BYTES", "RECORDS", "SHA256", "JOB", "WRITTEN")
				for _, f := range cart.GetFiles() {
					records := "-"
					if f.GetRecords() > 0 || f.GetSha256() != "" {
						records = fmt.Sprint(f.GetRecords())
					}
					size := "-"
					if f.GetBytes() > 0 || f.GetSha256() != "" {
						size = bytesText(f.GetBytes())
					}
					state := "complete"
					if f.GetIncomplete() {
						state = "incomplete"
					}
					row(tw, fmt.Sprint(f.GetNumber()), state, size, records, orDash(shortHash(f.GetSha256())), orDash(f.GetJobId()), timeText(f.GetWrittenAt()))
				}
				return tw.Flush()
			}
		},
	}
}

// findCartridge looks a cartridge up by barcode, with its catalog.
func findCartridge(ctx context.Context, c *client, barcode string) (*ferryv1.Cartridge, error) {
	ctx, cancel := c.rpcContext(ctx)
	defer cancel()
	resp, err := ferryv1.NewDeviceServiceClient(c.conn).ListCartridges(ctx, &ferryv1.ListCartridgesRequest{Barcode: barcode})
	if err != nil {
		return nil, err
	}
	if len(resp.GetCartridges()) != 1 {
		return nil, status.Errorf(codes.NotFound, "no cartridge %s", barcode)
	}
	return resp.GetCartridges()[0], nil
}

// shortHash is the first 12 hex digits of a SHA-256, enough to tell files
// apart at a glance (ferry verify compares whole ones).
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

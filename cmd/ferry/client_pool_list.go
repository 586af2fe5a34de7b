package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func poolListCommand() *clientCommand {
	return &clientCommand{
		name:    "pool list",
		summary: "list the pools and what their cartridges can take",
		details: "SCRATCH cartridges hold nothing but their label; APPENDABLE ones hold data and have room\n" +
			"before their early-warning zone; FULL ones reached it (a copy that spans leaves a cartridge\n" +
			"so); OFFLINE ones are not in a storage slot or drive of the library (an import/export slot);\n" +
			"UNLABELLED members have no cartridge yet. Copies to the pool use scratch and appendable ones.",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewDeviceServiceClient(c.conn).ListPools(ctx, &ferryv1.ListPoolsRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				tw := newTable(c.stdout)
				row(tw, "POOL", "LIBRARY", "MEMBERS", "SCRATCH", "APPENDABLE", "FULL", "OFFLINE", "UNLABELLED")
				for _, p := range resp.GetPools() {
					row(tw, p.GetName(), p.GetLibrary(), fmt.Sprint(len(p.GetBarcodes())), fmt.Sprint(p.GetScratch()),
						fmt.Sprint(p.GetAppendable()), fmt.Sprint(p.GetFull()), fmt.Sprint(p.GetOffline()), fmt.Sprint(p.GetUnlabelled()))
				}
				return tw.Flush()
			}
		},
	}
}

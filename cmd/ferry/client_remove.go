package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// removeCommand unregisters a disk, a cartridge or a library.
func removeCommand(kind, arg string) *clientCommand {
	details := "Refused while a job that has not ended (queued or running) names it"
	switch kind {
	case "tape":
		details += ", or while it is in a drive"
	case "library":
		details += " or any of its cartridges.\nA library that holds cartridges is refused unless -delete-files, which removes and deletes\nthem too"
	}
	return &clientCommand{
		name:    kind + " remove",
		args:    arg,
		nargs:   1,
		summary: "unregister a " + map[string]string{"disk": "disk LUN", "tape": "cartridge", "library": "tape library"}[kind],
		details: details + ".\nIts files are kept unless -delete-files, which deletes them once the removal is committed.",
		flags: func(fs *flag.FlagSet) action {
			del := fs.Bool("delete-files", false, "also delete the device's files (image and fence)")
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				dev := ferryv1.NewDeviceServiceClient(c.conn)
				var resp *ferryv1.RemoveResponse
				var err error
				switch kind {
				case "disk":
					resp, err = dev.RemoveDisk(ctx, &ferryv1.RemoveDiskRequest{Name: args[0], DeleteFiles: *del})
				case "tape":
					resp, err = dev.RemoveTape(ctx, &ferryv1.RemoveTapeRequest{Barcode: args[0], DeleteFiles: *del})
				default:
					resp, err = dev.RemoveLibrary(ctx, &ferryv1.RemoveLibraryRequest{Name: args[0], DeleteFiles: *del})
				}
				// A library's removal may stop after some cartridges: say
				// what was done either way.
				if c.format == "json" && err == nil {
					return writeJSON(c.stdout, resp, "  ")
				}
				for _, r := range resp.GetRemoved() {
					fmt.Fprintf(c.stdout, "removed %s\n", r)
				}
				for _, p := range resp.GetDeletedFiles() {
					fmt.Fprintf(c.stdout, "deleted %s\n", p)
				}
				if err == nil && !*del {
					fmt.Fprintln(c.stdout, "files kept (-delete-files deletes them)")
				}
				return err
			}
		},
	}
}

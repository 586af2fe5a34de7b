package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func tapeEraseCommand() *clientCommand {
	return &clientCommand{
		name:    "tape erase",
		args:    "BARCODE",
		nargs:   1,
		summary: "rewrite a cartridge's label, discarding every data file on it",
		details: "Every data file on the cartridge is lost, and its catalog is emptied; the cartridge keeps its\n" +
			"barcode, slot and NAA. Without -yes nothing is changed: the command says what would be lost.\n" +
			"Refused while the cartridge is in a drive or a job that has not ended names it.",
		flags: func(fs *flag.FlagSet) action {
			yes := fs.Bool("yes", false, "really erase: every file on the cartridge is lost")
			return func(ctx context.Context, c *client, args []string) error {
				cart, err := findCartridge(ctx, c, args[0])
				if err != nil {
					return err
				}
				lost := "files: " + filesText(cart.GetFiles())
				if !*yes {
					return usageError{fmt.Sprintf("erasing %s would discard its %s; nothing was changed: run again with -yes to erase it", cart.GetBarcode(), lost)}
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				erased, err := ferryv1.NewDeviceServiceClient(c.conn).EraseTape(ctx, &ferryv1.EraseTapeRequest{Barcode: cart.GetBarcode()})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, erased, "  ")
				}
				fmt.Fprintf(c.stdout, "%s erased: only its label is left (discarded %s)\n", erased.GetBarcode(), lost)
				return nil
			}
		},
	}
}

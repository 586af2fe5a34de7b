package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func tapeImportCommand() *clientCommand {
	return &clientCommand{
		name:    "tape import",
		summary: "register an existing cartridge image in an empty slot",
		details: "PATH is a SIMH tape image with a VOL1 label, such as one another cluster wrote, or this one\n" +
			"before its state was lost; it stays where it is, and is only read. The image is checked (a\n" +
			"damaged one is refused with the byte offset of the damage) and its files are read for the\n" +
			"catalog. The barcode is the file's name (BARCODE.tap) or else the label's volume serial\n" +
			"with L9. A cartridge whose fence belongs to another cluster is refused unless -take-over\n" +
			"makes it this cluster's: use it only once that cluster no longer uses the cartridge.",
		flags: func(fs *flag.FlagSet) action {
			lib := fs.String("library", "", "`library` holding the slot; required")
			slot := fs.Uint("slot", 0, "empty storage `slot` (from 1); required")
			path := fs.String("path", "", "absolute `path` of the image; required")
			takeOver := fs.Bool("take-over", false, "rewrite the cartridge's fence for this cluster if another cluster's holds it")
			return func(ctx context.Context, c *client, _ []string) error {
				if err := requireFlags(map[string]bool{"-library": *lib != "", "-slot": isSet(fs, "slot"), "-path": *path != ""}); err != nil {
					return err
				}
				if err := checkSlot(*slot); err != nil {
					return err
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				cart, err := ferryv1.NewDeviceServiceClient(c.conn).ImportTape(ctx, &ferryv1.ImportTapeRequest{
					Library: *lib, Slot: uint32(*slot), Path: *path, TakeOver: *takeOver,
				})
				if err != nil {
					return err
				}
				return printCartridge(c, cart, true)
			}
		},
	}
}

// printCartridge shows one cartridge, with what its catalog holds if
// withCatalog.
func printCartridge(c *client, cart *ferryv1.Cartridge, withCatalog bool) error {
	if c.format == "json" {
		return writeJSON(c.stdout, cart, "  ")
	}
	tw := newTable(c.stdout)
	row(tw, "barcode:", cart.GetBarcode())
	row(tw, "library:", cart.GetLibrary())
	row(tw, "location:", elementText(cart.GetLocation()))
	row(tw, "naa:", orDash(cart.GetNaa()))
	row(tw, "capacity:", capacityText(cart.GetCapacityBytes()))
	if cart.GetPool() != "" {
		row(tw, "pool:", cart.GetPool())
	}
	if withCatalog {
		row(tw, "used:", bytesText(cart.GetUsedBytes()))
		row(tw, "files:", filesText(cart.GetFiles()))
	}
	row(tw, "path:", orDash(cart.GetPath()))
	return tw.Flush()
}

// filesText sums up a cartridge's catalog.
func filesText(files []*ferryv1.TapeFile) string {
	var bytes uint64
	incomplete := 0
	for _, f := range files {
		bytes += f.GetBytes()
		if f.GetIncomplete() {
			incomplete++
		}
	}
	s := fmt.Sprintf("%d (%s of data)", len(files), bytesText(bytes))
	if incomplete > 0 {
		s += fmt.Sprintf(", %d incomplete", incomplete)
	}
	return s
}

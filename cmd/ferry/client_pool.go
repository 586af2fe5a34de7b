package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func poolCreateCommand() *clientCommand {
	return &clientCommand{
		name:    "pool create",
		summary: "define a pool of cartridges that copies write to without naming one",
		details: "A pool is a set of barcodes of one library. A copy to tape:pool:NAME is written to an\n" +
			"appendable cartridge of the pool, or a scratch one, chosen when the copy is placed; a copy\n" +
			"larger than the room left continues on the next. -barcodes lists barcodes and ranges\n" +
			"(A00001L9-A00099L9), comma-separated; members need not be labelled yet, and \"ferry tape\n" +
			"label ... -pool NAME\" adds a new cartridge to the pool.",
		flags: func(fs *flag.FlagSet) action {
			name := fs.String("name", "", "the pool's `name`; required")
			lib := fs.String("library", "", "`library` of the pool's cartridges; required")
			barcodes := fs.String("barcodes", "", "member `barcodes`: barcodes and ranges like A00001L9-A00099L9, comma-separated")
			return func(ctx context.Context, c *client, _ []string) error {
				if err := requireFlags(map[string]bool{"-name": *name != "", "-library": *lib != ""}); err != nil {
					return err
				}
				var list []string
				for _, b := range strings.Split(*barcodes, ",") {
					if b = strings.TrimSpace(b); b != "" {
						list = append(list, b)
					}
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				p, err := ferryv1.NewDeviceServiceClient(c.conn).CreatePool(ctx, &ferryv1.CreatePoolRequest{Name: *name, Library: *lib, Barcodes: list})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, p, "  ")
				}
				fmt.Fprintf(c.stdout, "pool %s of library %s: %d members (%s)\n", p.GetName(), p.GetLibrary(), len(p.GetBarcodes()), poolCounts(p))
				return nil
			}
		},
	}
}

// poolCounts is "2 scratch, 1 appendable, 0 full, 0 offline, 96 unlabelled".
func poolCounts(p *ferryv1.Pool) string {
	return fmt.Sprintf("%d scratch, %d appendable, %d full, %d offline, %d unlabelled",
		p.GetScratch(), p.GetAppendable(), p.GetFull(), p.GetOffline(), p.GetUnlabelled())
}

package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func diskCreateCommand() *clientCommand {
	return &clientCommand{
		name:    "disk create",
		summary: "create a zero-filled disk LUN file and register it",
		details: "The node that answers creates the file; PATH must be absolute and reachable by every node\n" +
			"that will copy to or from it. SIZE takes KiB MiB GiB TiB or KB MB GB TB (1GiB, 500MB) and\n" +
			"must be a multiple of the block size. The disk gets an NAA designator, shown here and by\n" +
			"\"ferry disk list\", by which copies and XCOPY parameter lists may name it. A -thin disk is\n" +
			"presented to initiators as thin provisioned: its blocks take space once written, and UNMAP\n" +
			"and WRITE SAME with UNMAP give it back (the file system must punch holes).",
		flags: func(fs *flag.FlagSet) action {
			name := fs.String("name", "", "disk `name`, unique among disks and cartridges; required")
			path := fs.String("path", "", "absolute `path` of the new file; required")
			thin := fs.Bool("thin", false, "thin provisioned: a sparse file that initiators may unmap blocks of")
			size := newSizeFlag()
			fs.Var(size, "size", "`size` in bytes, with an optional unit such as GiB; required")
			blockSize := newSizeFlag()
			fs.Var(blockSize, "block-size", "logical block `size`: 512 or 4096; none means 512")
			site := fs.String("site", "", "`site` the disk belongs to; none means the site of the node that answers")
			return func(ctx context.Context, c *client, _ []string) error {
				if err := requireFlags(map[string]bool{"-name": *name != "", "-path": *path != "", "-size": size.set}); err != nil {
					return err
				}
				bs, err := blockSizeValue(blockSize)
				if err != nil {
					return err
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				d, err := ferryv1.NewDeviceServiceClient(c.conn).CreateDisk(ctx, &ferryv1.CreateDiskRequest{
					Name: *name, Path: *path, SizeBytes: size.bytes, BlockSize: bs, Site: *site, Thin: *thin,
				})
				if err != nil {
					return err
				}
				return printDisk(c, d)
			}
		},
	}
}

func diskAddCommand() *clientCommand {
	return &clientCommand{
		name:    "disk add",
		summary: "register an existing file or block device as a LUN",
		details: "PATH must be absolute and reachable by every node that will copy to or from it. Its size is\n" +
			"the file's or device's; without -block-size the block size is the device's own (512 for\n" +
			"a regular file). A device whose fence belongs to another cluster (a cluster rebuilt, a LUN\n" +
			"moved between clusters) is refused unless -take-over makes it this cluster's.",
		flags: func(fs *flag.FlagSet) action {
			name := fs.String("name", "", "disk `name`, unique among disks and cartridges; required")
			path := fs.String("path", "", "absolute `path` of the file or block device; required")
			blockSize := newSizeFlag()
			fs.Var(blockSize, "block-size", "logical block `size`: 512 or 4096; none means the device's own")
			readOnly := fs.Bool("read-only", false, "refuse copies that write to the disk")
			site := fs.String("site", "", "`site` the disk belongs to; none means the site of the node that answers")
			takeOver := fs.Bool("take-over", false, "rewrite the disk's fence for this cluster if another cluster's holds it")
			return func(ctx context.Context, c *client, _ []string) error {
				if err := requireFlags(map[string]bool{"-name": *name != "", "-path": *path != ""}); err != nil {
					return err
				}
				bs, err := blockSizeValue(blockSize)
				if err != nil {
					return err
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				d, err := ferryv1.NewDeviceServiceClient(c.conn).AddDisk(ctx, &ferryv1.AddDiskRequest{
					Name: *name, Path: *path, BlockSize: bs, ReadOnly: *readOnly, Site: *site, TakeOver: *takeOver,
				})
				if err != nil {
					return err
				}
				return printDisk(c, d)
			}
		},
	}
}

func diskListCommand() *clientCommand {
	return &clientCommand{
		name:    "disk list",
		summary: "list the registered disk LUNs",
		flags: func(*flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewDeviceServiceClient(c.conn).ListDisks(ctx, &ferryv1.ListDisksRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				disks := slices.Clone(resp.GetDisks())
				slices.SortFunc(disks, func(a, b *ferryv1.Disk) int { return cmp.Compare(a.GetName(), b.GetName()) })
				tw := newTable(c.stdout)
				row(tw, "NAME", "NAA", "SIZE", "ALLOCATED", "BLOCK", "ACCESS", "SITE", "PATH", "RESERVATION")
				for _, d := range disks {
					row(tw, d.GetName(), orDash(d.GetNaa()), bytesText(d.GetSizeBytes()), allocatedText(d), fmt.Sprint(d.GetBlockSize()),
						accessText(d.GetReadOnly()), orDash(d.GetSite()), orDash(d.GetPath()), reservationText(d))
				}
				return tw.Flush()
			}
		},
	}
}

func printDisk(c *client, d *ferryv1.Disk) error {
	if c.format == "json" {
		return writeJSON(c.stdout, d, "  ")
	}
	tw := newTable(c.stdout)
	row(tw, "name:", d.GetName())
	row(tw, "naa:", orDash(d.GetNaa()))
	row(tw, "path:", orDash(d.GetPath()))
	row(tw, "size:", sizeText(d.GetSizeBytes()))
	row(tw, "block size:", fmt.Sprint(d.GetBlockSize()))
	row(tw, "blocks:", fmt.Sprint(blocksOf(d)))
	row(tw, "access:", accessText(d.GetReadOnly()))
	row(tw, "provision:", provisioningText(d.GetThin()))
	row(tw, "site:", orDash(d.GetSite()))
	return tw.Flush()
}

func provisioningText(thin bool) string {
	if thin {
		return "thin"
	}
	return "full"
}

// allocatedText is the space a disk's file takes as the answering node
// sees it, marked thin for a thin disk; "-" when the node cannot tell (a
// block device, a path it does not reach).
func allocatedText(d *ferryv1.Disk) string {
	text := "-"
	if n := d.GetAllocatedBytes(); n > 0 || d.GetThin() {
		text = bytesText(n)
	}
	if d.GetThin() {
		text += " thin"
	}
	return text
}

func blocksOf(d *ferryv1.Disk) uint64 {
	if d.GetBlockSize() == 0 {
		return 0
	}
	return d.GetSizeBytes() / uint64(d.GetBlockSize())
}

func accessText(readOnly bool) string {
	if readOnly {
		return "read-only"
	}
	return "read-write"
}

// sizeText is a byte count both ways: "1.0 GiB (1073741824 bytes)".
func sizeText(n uint64) string {
	if n < 1024 {
		return bytesText(n)
	}
	return fmt.Sprintf("%s (%d bytes)", bytesText(n), n)
}

// blockSizeValue is -block-size as the API takes it: 0 when not given.
func blockSizeValue(f *sizeFlag) (uint32, error) {
	if f.bytes > 1<<31 {
		return 0, usageError{fmt.Sprintf("-block-size %d: want 512 or 4096", f.bytes)}
	}
	return uint32(f.bytes), nil
}

// requireFlags fails with the missing flags named, in a stable order.
// isSet reports whether flag name was given (on the command line, in the
// environment or the config file), for flags whose zero value is a
// mistake rather than "not given".
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkSlot refuses a -slot that names no storage slot.
func checkSlot(slot uint) error {
	switch {
	case slot == 0:
		return usageError{"-slot 0: slots count from 1"}
	case slot > math.MaxUint32:
		return usageError{fmt.Sprintf("-slot %d: too large", slot)}
	}
	return nil
}

func requireFlags(given map[string]bool) error {
	var missing []string
	for name, ok := range given {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	if len(missing) == 1 {
		return usageError{missing[0] + " is required"}
	}
	last := len(missing) - 1
	return usageError{fmt.Sprintf("%s and %s are required", strings.Join(missing[:last], ", "), missing[last])}
}

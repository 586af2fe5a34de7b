package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/drivemodel"
)

func libraryCreateCommand() *clientCommand {
	return &clientCommand{
		name:    "library create",
		summary: "create a virtual tape library",
		details: "A library has storage slots (from 1), tape drives (from 0) and import/export slots (from 1).\n" +
			"The node that answers creates DIR (absolute, reachable by every node that will copy to or\n" +
			"from the library); each cartridge is a SIMH .tap file in it. -capacity is each new\n" +
			"cartridge's capacity (8GiB, 500GB); writes past it fail with end of medium.\n" +
			"The drive model makes every drive of the library as fast as a real one (default: as fast as\n" +
			"the machine): -drive-rate is what a drive streams (LTO-9: 400MB/s), -load-time how long a\n" +
			"load takes (15s), -locate-rate how fast it winds to a position (10GB/s of tape). A drive\n" +
			"whose host cannot keep it streaming counts its stalls (ferry_drive_stalls_total).",
		flags: func(fs *flag.FlagSet) action {
			name := fs.String("name", "", "library `name`; required")
			dir := fs.String("dir", "", "absolute `directory` for the cartridge files; required")
			slots := fs.Uint("slots", 0, "number of storage `slots`")
			drives := fs.Uint("drives", 0, "number of tape `drives`")
			ie := fs.Uint("ie-slots", 1, "number of import/export `slots`")
			capacity := newSizeFlag()
			fs.Var(capacity, "capacity", "capacity of each new cartridge, e.g. 8GiB; required")
			site := fs.String("site", "", "`site` the library belongs to; none means the site of the node that answers")
			driveRate := newBandwidthFlag()
			fs.Var(driveRate, "drive-rate", "`rate` each drive streams at, such as 400MB/s; none means as fast as the machine")
			loadTime := fs.Duration("load-time", 0, "`time` a drive takes to load a cartridge, such as 15s")
			locateRate := newBandwidthFlag()
			fs.Var(locateRate, "locate-rate", "`rate` of tape a drive passes while locating, such as 10GB/s; none means at once")
			return func(ctx context.Context, c *client, _ []string) error {
				if err := requireFlags(map[string]bool{"-name": *name != "", "-dir": *dir != "", "-capacity": capacity.set}); err != nil {
					return err
				}
				loadMillis, err := driveModelFlags(driveRate.bytes, *loadTime, locateRate.bytes)
				if err != nil {
					return err
				}
				counts := map[string]*uint{"-slots": slots, "-drives": drives, "-ie-slots": ie}
				for _, flagName := range []string{"-slots", "-drives", "-ie-slots"} {
					if *counts[flagName] > math.MaxUint32 {
						return usageError{fmt.Sprintf("%s %d: too many", flagName, *counts[flagName])}
					}
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				lib, err := ferryv1.NewDeviceServiceClient(c.conn).CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{
					Name: *name, Dir: *dir, Site: *site, Slots: uint32(*slots), Drives: uint32(*drives),
					IeSlots: uint32(*ie), CartridgeCapacityBytes: capacity.bytes,
					DriveRateBytesPerSecond: driveRate.bytes, LoadTimeMillis: loadMillis, LocateRateBytesPerSecond: locateRate.bytes,
				})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, lib, "  ")
				}
				return printLibrarySummary(c, lib)
			}
		},
	}
}

func libraryListCommand() *clientCommand {
	return &clientCommand{
		name:    "library list",
		summary: "list the tape libraries",
		flags: func(*flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewDeviceServiceClient(c.conn).ListLibraries(ctx, &ferryv1.ListLibrariesRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				libs := slices.Clone(resp.GetLibraries())
				slices.SortFunc(libs, func(a, b *ferryv1.Library) int { return cmp.Compare(a.GetName(), b.GetName()) })
				tw := newTable(c.stdout)
				row(tw, "NAME", "SITE", "SLOTS", "DRIVES", "I/E", "CAPACITY", "DIR")
				for _, l := range libs {
					row(tw, l.GetName(), orDash(l.GetSite()), fmt.Sprint(l.GetSlots()), fmt.Sprint(l.GetDrives()),
						fmt.Sprint(l.GetIeSlots()), capacityText(l.GetCartridgeCapacityBytes()), orDash(l.GetDir()))
				}
				return tw.Flush()
			}
		},
	}
}

func libraryInventoryCommand() *clientCommand {
	return &clientCommand{
		name:    "library inventory",
		args:    "LIBRARY",
		nargs:   1,
		summary: "show what each drive, slot and I/E slot holds",
		details: "Lists every drive, storage slot and import/export (I/E) slot with the barcode of the\n" +
			"cartridge it holds, or empty. A drive holding a cartridge for a copy shows the job using it;\n" +
			"one a DMA loaded through NDMP says so (with the session's job while an NDMP session holds it):\n" +
			"copy jobs that need that cartridge or drive wait until a DMA unloads it.",
		flags: func(fs *flag.FlagSet) action {
			stale := fs.Bool("stale", false, "answer from the node's applied state, skipping the leader round trip")
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				lib, err := ferryv1.NewDeviceServiceClient(c.conn).Inventory(ctx, &ferryv1.InventoryRequest{Library: args[0], Stale: *stale})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, lib, "  ")
				}
				if err := printLibrarySummary(c, lib); err != nil {
					return err
				}
				fmt.Fprintln(c.stdout)
				tw := newTable(c.stdout)
				row(tw, "ELEMENT", "BARCODE", "JOB")
				for _, e := range inventoryElements(lib) {
					barcode, job := "empty", "-"
					if e.GetBarcode() != "" {
						barcode = e.GetBarcode()
					}
					if e.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
						job = driveHolderText(e)
					}
					row(tw, elementText(e), barcode, job)
				}
				return tw.Flush()
			}
		},
	}
}

// libraryUnloadCommand sends a drive's cartridge home: what an operator
// does about a cartridge a DMA loaded through NDMP and left behind.
func libraryUnloadCommand() *clientCommand {
	return &clientCommand{
		name:    "library unload",
		args:    "LIB DRIVE",
		nargs:   2,
		summary: "return the cartridge in a drive to its home slot",
		details: "For a cartridge a DMA loaded through NDMP and never unloaded: copy jobs that need it, or\n" +
			"the drive, wait until it is out. Refused while a job (a copy, or an NDMP session) holds it.",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				drive, err := strconv.ParseUint(args[1], 10, 32)
				if err != nil {
					return usageError{fmt.Sprintf("DRIVE: %q is not a drive number", args[1])}
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				cart, err := ferryv1.NewDeviceServiceClient(c.conn).UnloadDrive(ctx, &ferryv1.UnloadDriveRequest{Library: args[0], Drive: uint32(drive)})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, cart, "  ")
				}
				fmt.Fprintf(c.stdout, "%s: unloaded from drive %d to %s\n", cart.GetBarcode(), drive, elementText(cart.GetLocation()))
				return nil
			}
		},
	}
}

// driveHolderText says who uses a drive: the job holding its cartridge,
// and for a cartridge a DMA loaded, the DMA ("- (loaded through NDMP by
// 10.0.0.5:41234 via n2)" while no session has it open).
func driveHolderText(e *ferryv1.Element) string {
	job := orDash(e.GetJobId())
	l := e.GetNdmpLoad()
	if l == nil {
		return job
	}
	what := "loaded"
	if e.GetJobId() != "" {
		what = "NDMP session; loaded"
	}
	return fmt.Sprintf("%s (%s through NDMP by %s via %s)", job, what, l.GetDmaAddress(), l.GetNode())
}

// inventoryElements lists every element of the library, drives first, then
// slots, then import/export slots, each by index. Elements the server left
// out are empty; elements it sent beyond the library's counts are kept.
func inventoryElements(lib *ferryv1.Library) []*ferryv1.Element {
	type key struct {
		kind  ferryv1.ElementKind
		index uint32
	}
	have := map[key]*ferryv1.Element{}
	for _, e := range lib.GetElements() {
		have[key{e.GetKind(), e.GetIndex()}] = e
	}
	add := func(kind ferryv1.ElementKind, first, n uint32) {
		for i := first; i < first+n; i++ {
			if _, ok := have[key{kind, i}]; !ok {
				have[key{kind, i}] = &ferryv1.Element{Kind: kind, Index: i}
			}
		}
	}
	add(ferryv1.ElementKind_ELEMENT_KIND_DRIVE, 0, lib.GetDrives())
	add(ferryv1.ElementKind_ELEMENT_KIND_SLOT, 1, lib.GetSlots())
	add(ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, 1, lib.GetIeSlots())
	all := make([]*ferryv1.Element, 0, len(have))
	for _, e := range have {
		all = append(all, e)
	}
	order := map[ferryv1.ElementKind]int{
		ferryv1.ElementKind_ELEMENT_KIND_DRIVE:         0,
		ferryv1.ElementKind_ELEMENT_KIND_SLOT:          1,
		ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT: 2,
		ferryv1.ElementKind_ELEMENT_KIND_UNSPECIFIED:   3,
	}
	slices.SortFunc(all, func(a, b *ferryv1.Element) int {
		return cmp.Or(cmp.Compare(order[a.GetKind()], order[b.GetKind()]), cmp.Compare(a.GetIndex(), b.GetIndex()))
	})
	return all
}

func printLibrarySummary(c *client, l *ferryv1.Library) error {
	tw := newTable(c.stdout)
	row(tw, "library:", l.GetName())
	row(tw, "site:", orDash(l.GetSite()))
	row(tw, "dir:", orDash(l.GetDir()))
	row(tw, "elements:", fmt.Sprintf("%s, %s, %s", plural(l.GetSlots(), "slot"), plural(l.GetDrives(), "drive"), plural(l.GetIeSlots(), "import/export slot")))
	row(tw, "cartridge capacity:", capacityText(l.GetCartridgeCapacityBytes()))
	row(tw, "drive model:", driveModelText(l))
	return tw.Flush()
}

// driveModelFlags checks library create's drive model flags, and returns
// the load time in milliseconds.
func driveModelFlags(rate uint64, load time.Duration, locate uint64) (uint32, error) {
	if load < 0 {
		return 0, usageError{fmt.Sprintf("-load-time %v: must not be negative", load)}
	}
	loadMillis := uint32(min(load.Milliseconds(), math.MaxUint32))
	flagOf := map[string]string{"drive_rate_bytes_per_second": "-drive-rate", "load_time_millis": "-load-time", "locate_rate_bytes_per_second": "-locate-rate"}
	if bad := drivemodel.Check(rate, loadMillis, locate); len(bad) > 0 {
		if bad[0].Field == "load_time_millis" {
			return 0, usageError{fmt.Sprintf("-load-time %v: at most %v", load, drivemodel.MaxLoadTime)}
		}
		return 0, usageError{fmt.Sprintf("%s: %s", flagOf[bad[0].Field], bad[0].Description)}
	}
	return loadMillis, nil
}

// driveModelText is "stream 381.5 MiB/s, load 15s, locate 9.3 GiB/s".
func driveModelText(l *ferryv1.Library) string {
	m := drivemodel.FromLibrary(l)
	if m.Off() {
		return "- (as fast as the machine)"
	}
	rate := func(n int64, off string) string {
		if n == 0 {
			return off
		}
		return bytesText(uint64(n)) + "/s"
	}
	return fmt.Sprintf("stream %s, load %v, locate %s", rate(m.Rate, "as fast as the machine"), m.LoadTime, rate(m.LocateRate, "at once"))
}

// plural is "1 slot", "2 slots".
func plural(n uint32, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func capacityText(n uint64) string {
	if n == 0 {
		return "-"
	}
	return bytesText(n)
}

// elementText names a library element: "drive 0", "slot 3", "i/e 1".
func elementText(e *ferryv1.Element) string {
	if e == nil {
		return "-"
	}
	switch e.GetKind() {
	case ferryv1.ElementKind_ELEMENT_KIND_DRIVE:
		return fmt.Sprintf("drive %d", e.GetIndex())
	case ferryv1.ElementKind_ELEMENT_KIND_SLOT:
		return fmt.Sprintf("slot %d", e.GetIndex())
	case ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT:
		return fmt.Sprintf("i/e %d", e.GetIndex())
	default:
		return "-"
	}
}

func tapeLabelCommand() *clientCommand {
	return &clientCommand{
		name:    "tape label",
		summary: "create a cartridge in a slot and write its label",
		details: "The slot must be empty. The cartridge's ANSI VOL1 label is written as tape file 0.\n" +
			"BARCODE is the cartridge's volume serial and media type, like A00001L9; data files written\n" +
			"to the tape count from 1. With -pool the new cartridge joins that pool (of the same library).",
		flags: func(fs *flag.FlagSet) action {
			pool := fs.String("pool", "", "`pool` the new cartridge joins")
			lib := fs.String("library", "", "`library` holding the slot; required")
			slot := fs.Uint("slot", 0, "empty storage `slot` (from 1); required")
			barcode := fs.String("barcode", "", "`barcode` of the new cartridge; required")
			return func(ctx context.Context, c *client, _ []string) error {
				if err := requireFlags(map[string]bool{"-library": *lib != "", "-slot": isSet(fs, "slot"), "-barcode": *barcode != ""}); err != nil {
					return err
				}
				if err := checkSlot(*slot); err != nil {
					return err
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				cart, err := ferryv1.NewDeviceServiceClient(c.conn).LabelTape(ctx, &ferryv1.LabelTapeRequest{Library: *lib, Slot: uint32(*slot), Barcode: *barcode, Pool: *pool})
				if err != nil {
					return err
				}
				return printCartridge(c, cart, false)
			}
		},
	}
}

func tapeListCommand() *clientCommand {
	return &clientCommand{
		name:    "tape list",
		summary: "list the cartridges and where they are",
		details: "LOCATION is where a cartridge is now; HOME is the slot a drive returns it to. USED is the\n" +
			"image up to end of data (the label included), FREE what is left of CAPACITY, FILES the data\n" +
			"files in its catalog (see \"ferry tape files BARCODE\").",
		flags: func(fs *flag.FlagSet) action {
			lib := fs.String("library", "", "only this `library`'s cartridges")
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewDeviceServiceClient(c.conn).ListCartridges(ctx, &ferryv1.ListCartridgesRequest{Library: *lib})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				carts := slices.Clone(resp.GetCartridges())
				slices.SortFunc(carts, func(a, b *ferryv1.Cartridge) int {
					return cmp.Or(cmp.Compare(a.GetLibrary(), b.GetLibrary()), cmp.Compare(a.GetBarcode(), b.GetBarcode()))
				})
				tw := newTable(c.stdout)
				row(tw, "BARCODE", "LIBRARY", "LOCATION", "HOME", "CAPACITY", "USED", "FREE", "FILES", "WRITE", "NAA")
				for _, t := range carts {
					home := "-"
					if t.GetHomeSlot() > 0 {
						home = fmt.Sprintf("slot %d", t.GetHomeSlot())
					}
					write := "enabled"
					if t.GetWriteProtected() {
						write = "protected"
					}
					row(tw, t.GetBarcode(), orDash(t.GetLibrary()), elementText(t.GetLocation()), home,
						capacityText(t.GetCapacityBytes()), capacityText(t.GetUsedBytes()), freeText(t), fmt.Sprint(t.GetFileCount()),
						write, orDash(t.GetNaa()))
				}
				return tw.Flush()
			}
		},
	}
}

// freeText is a cartridge's room left, "-" when its capacity is unlimited.
func freeText(t *ferryv1.Cartridge) string {
	if t.GetCapacityBytes() == 0 {
		return "-"
	}
	return bytesText(t.GetCapacityBytes() - min(t.GetUsedBytes(), t.GetCapacityBytes()))
}

// tapeProtectCommand slides a cartridge's write-protect tab one way or the
// other.
func tapeProtectCommand(protect bool) *clientCommand {
	name, summary := "tape protect", "write-protect a cartridge"
	if !protect {
		name, summary = "tape unprotect", "allow writes to a cartridge again"
	}
	return &clientCommand{
		name:    name,
		args:    "BARCODE",
		nargs:   1,
		summary: summary,
		details: "The cartridge must be in a slot, not loaded in a drive. A copy that would write to a\n" +
			"write-protected cartridge fails with DATA PROTECT, WRITE PROTECTED (27/00).",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				cart, err := ferryv1.NewDeviceServiceClient(c.conn).ProtectTape(ctx, &ferryv1.ProtectTapeRequest{Barcode: args[0], WriteProtected: protect})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, cart, "  ")
				}
				state := "enabled"
				if cart.GetWriteProtected() {
					state = "protected"
				}
				fmt.Fprintf(c.stdout, "%s: writes %s\n", cart.GetBarcode(), state)
				return nil
			}
		},
	}
}

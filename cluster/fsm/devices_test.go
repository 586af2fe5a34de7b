package fsm

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestRegisterDevices(t *testing.T) {
	registered := []*ferryv1.Command{
		diskCmd(0, validDisk("db01", 1)),
		libraryCmd(0, validLibrary("libA")),
		cartridgeCmd(0, validCartridge("A00001L9", "libA", 1, 101)),
	}
	// identified are devices registered with their files' identities.
	identified := []*ferryv1.Command{
		diskCmd(0, diskWith(func(d *ferryv1.Disk) { d.Identity = &ferryv1.FileIdentity{Dev: 2049, Ino: 11} })),
		libraryCmd(0, libraryWith(func(l *ferryv1.Library) { l.Identity = &ferryv1.FileIdentity{Dev: 2049, Ino: 30} })),
		diskCmd(0, diskWith(func(d *ferryv1.Disk) {
			d.Name, d.Naa, d.Path, d.Identity = "sda", testNAA(2), "/dev/sdb", &ferryv1.FileIdentity{Dev: 5, Ino: 300, Rdev: 8<<8 | 16}
		})),
	}
	tests := []struct {
		name  string
		setup []*ferryv1.Command
		cmd   *ferryv1.Command
		// wantErr is checked with errors.Is; nil means success.
		wantErr     error
		wantErrText string
		// want is compared with the Result's device when the command succeeds.
		want proto.Message
	}{
		{
			name: "disk",
			cmd:  diskCmd(0, validDisk("db01", 1)),
			want: validDisk("db01", 1),
		},
		{
			name: "disk with 4096-byte blocks and an upper-case NAA",
			cmd: diskCmd(0, diskWith(func(d *ferryv1.Disk) {
				d.BlockSize, d.SizeBytes, d.Naa = 4096, 4096*3, "6001405F3A1B2C3D6001405F3A1B2C3D"
			})),
			want: diskWith(func(d *ferryv1.Disk) {
				d.BlockSize, d.SizeBytes, d.Naa = 4096, 4096*3, "6001405f3a1b2c3d6001405f3a1b2c3d"
			}),
		},
		{
			name: "disk with every field wrong lists every violation",
			cmd: diskCmd(0, &ferryv1.Disk{
				Name: "db 01", Naa: "xyz", Path: "san/db01", BlockSize: 1024, SizeBytes: 4096,
			}),
			wantErr: ErrInvalid,
			wantErrText: "disk.name: may contain only letters, digits and . _ : -; disk.naa: must be 16 or 32 hexadecimal digits; " +
				"disk.path: must be an absolute path; disk.block_size: must be 512 or 4096; disk.site: required",
		},
		{
			name:        "disk without a body",
			cmd:         diskCmd(0, nil),
			wantErr:     ErrInvalid,
			wantErrText: "disk: required",
		},
		{
			name:        "disk with an unclean path",
			cmd:         diskCmd(0, diskWith(func(d *ferryv1.Disk) { d.Path = "/san/../san/db01.img" })),
			wantErr:     ErrInvalid,
			wantErrText: "disk.path: must be a clean path (/san/db01.img)",
		},
		{
			name:        "disk of size 0",
			cmd:         diskCmd(0, diskWith(func(d *ferryv1.Disk) { d.SizeBytes = 0 })),
			wantErr:     ErrInvalid,
			wantErrText: "disk.size_bytes: must be greater than 0",
		},
		{
			name:        "disk size not a multiple of the block size",
			cmd:         diskCmd(0, diskWith(func(d *ferryv1.Disk) { d.SizeBytes = 1000 })),
			wantErr:     ErrInvalid,
			wantErrText: "disk.size_bytes: must be a multiple of the block size 512",
		},
		{
			name: "disk without a time",
			cmd: func() *ferryv1.Command {
				c := diskCmd(0, validDisk("db01", 1))
				c.Time = nil
				return c
			}(),
			wantErr:     ErrInvalid,
			wantErrText: "time: required",
		},
		{
			name:        "disk name taken by a disk",
			setup:       registered,
			cmd:         diskCmd(1, validDisk("db01", 9)),
			wantErr:     ErrAlreadyExists,
			wantErrText: `the name belongs to disk "db01"`,
		},
		{
			name:        "disk name taken by a cartridge",
			setup:       registered,
			cmd:         diskCmd(1, validDisk("A00001L9", 9)),
			wantErr:     ErrAlreadyExists,
			wantErrText: `the name belongs to cartridge "A00001L9"`,
		},
		{
			name:        "disk NAA taken by a cartridge, in another case",
			setup:       registered,
			cmd:         diskCmd(1, diskWith(func(d *ferryv1.Disk) { d.Name, d.Naa = "db09", strings.ToUpper(testNAA(101)) })),
			wantErr:     ErrAlreadyExists,
			wantErrText: `NAA 6001405f00000065 belongs to "A00001L9"`,
		},
		{
			name:        "disk path taken",
			setup:       registered,
			cmd:         diskCmd(1, diskWith(func(d *ferryv1.Disk) { d.Name, d.Naa = "db09", testNAA(9) })),
			wantErr:     ErrAlreadyExists,
			wantErrText: `/san/east/db01.img belongs to "db01"`,
		},
		{
			name: "library",
			cmd:  libraryCmd(0, validLibrary("libA")),
			want: validLibrary("libA"),
		},
		{
			name: "library elements in the op are ignored",
			cmd: libraryCmd(0, libraryWith(func(l *ferryv1.Library) {
				l.Slots, l.Drives, l.IeSlots = 1, 1, 0
				l.Elements = []*ferryv1.Element{{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1, Barcode: "A00001L9"}}
			})),
			want: libraryWith(func(l *ferryv1.Library) { l.Slots, l.Drives, l.IeSlots = 1, 1, 0 }),
		},
		{
			name: "library at the limits",
			cmd: libraryCmd(0, libraryWith(func(l *ferryv1.Library) {
				l.Slots, l.Drives, l.IeSlots = maxSlots, maxDrives, maxIESlots
			})),
			want: libraryWith(func(l *ferryv1.Library) { l.Slots, l.Drives, l.IeSlots = maxSlots, maxDrives, maxIESlots }),
		},
		{
			name: "library with every field wrong lists every violation",
			cmd: libraryCmd(0, &ferryv1.Library{
				Name: "", Dir: "vtl", Slots: maxSlots + 1, Drives: 0, IeSlots: maxIESlots + 1,
			}),
			wantErr: ErrInvalid,
			wantErrText: "library.name: must not be empty; library.dir: must be an absolute path; " +
				"library.slots: must be between 1 and 10000; library.drives: must be between 1 and 256; " +
				"library.ie_slots: must be between 0 and 64; library.cartridge_capacity_bytes: must be greater than 0",
		},
		{
			name: "library with a drive model",
			cmd: libraryCmd(0, libraryWith(func(l *ferryv1.Library) {
				l.DriveRateBytesPerSecond, l.LoadTimeMillis, l.LocateRateBytesPerSecond = 400e6, 15_000, 10e9
			})),
			want: libraryWith(func(l *ferryv1.Library) {
				l.DriveRateBytesPerSecond, l.LoadTimeMillis, l.LocateRateBytesPerSecond = 400e6, 15_000, 10e9
			}),
		},
		{
			name: "library with a drive model out of bounds",
			cmd: libraryCmd(0, libraryWith(func(l *ferryv1.Library) {
				l.DriveRateBytesPerSecond, l.LoadTimeMillis, l.LocateRateBytesPerSecond = 1<<41, 3_600_000, 1<<41
			})),
			wantErr: ErrInvalid,
			wantErrText: "library.drive_rate_bytes_per_second: 2199023255552 bytes/s: at most 1099511627776 (1 TiB/s); " +
				"library.load_time_millis: 3600000 ms: at most 600000 (10m0s); " +
				"library.locate_rate_bytes_per_second: 2199023255552 bytes/s: at most 1099511627776 (1 TiB/s)",
		},
		{
			name:        "library without a body",
			cmd:         libraryCmd(0, nil),
			wantErr:     ErrInvalid,
			wantErrText: "library: required",
		},
		{
			name:    "library name taken",
			setup:   registered,
			cmd:     libraryCmd(1, libraryWith(func(l *ferryv1.Library) { l.Dir = "/vtl/other" })),
			wantErr: ErrAlreadyExists,
		},
		{
			name:        "library directory taken",
			setup:       registered,
			cmd:         libraryCmd(1, libraryWith(func(l *ferryv1.Library) { l.Name = "libB" })),
			wantErr:     ErrAlreadyExists,
			wantErrText: `directory /vtl/libA belongs to library "libA"`,
		},
		{
			name:  "cartridge in a slot gets its home slot and the library's capacity",
			setup: registered[:2],
			cmd: cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Location.Index, c.HomeSlot, c.Location.Barcode = 7, 3, "ignored"
			})),
			want: cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 7, Barcode: "A00001L9"}
				c.HomeSlot, c.CapacityBytes = 7, 8<<30
			}),
		},
		{
			name:  "cartridge in the import/export slot has no home yet",
			setup: registered[:2],
			cmd: cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
				c.CapacityBytes, c.WriteProtected = 1<<20, true
			})),
			want: cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1, Barcode: "A00001L9"}
				c.CapacityBytes, c.WriteProtected = 1<<20, true
			}),
		},
		{
			name: "cartridge with every field wrong lists every violation",
			cmd: cartridgeCmd(0, &ferryv1.Cartridge{
				Barcode: "a1", Naa: "", Path: "",
				Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE},
			}),
			wantErr: ErrInvalid,
			wantErrText: `cartridge.barcode: barcode "a1": 2 characters, not 8 (want six upper-case letters or digits, L and a generation digit, like A00001L9); ` +
				"cartridge.library: required; cartridge.naa: must be 16 or 32 hexadecimal digits; cartridge.path: required; " +
				"cartridge.location.kind: must be ELEMENT_KIND_SLOT or ELEMENT_KIND_IMPORT_EXPORT: a new cartridge enters through a slot",
		},
		{
			name:        "cartridge without a location",
			setup:       registered[:2],
			cmd:         cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) { c.Location = nil })),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge.location: required",
		},
		{
			name:        "cartridge without a body",
			cmd:         cartridgeCmd(0, nil),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge: required",
		},
		{
			name:        "cartridge in an unknown library",
			setup:       registered[:2],
			cmd:         cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) { c.Library = "libZ" })),
			wantErr:     ErrNotFound,
			wantErrText: `library "libZ"`,
		},
		{
			name:        "cartridge past the last slot",
			setup:       registered[:2],
			cmd:         cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) { c.Location.Index = 25 })),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge.location.index: library libA has no slot 25",
		},
		{
			name:        "cartridge in slot 0",
			setup:       registered[:2],
			cmd:         cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) { c.Location.Index = 0 })),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge.location.index",
		},
		{
			name:        "cartridge in an occupied slot",
			setup:       registered,
			cmd:         cartridgeCmd(1, validCartridge("A00002L9", "libA", 1, 102)),
			wantErr:     ErrBusy,
			wantErrText: "slot 1 already holds A00001L9",
		},
		{
			name:        "cartridge barcode taken",
			setup:       registered,
			cmd:         cartridgeCmd(1, validCartridge("A00001L9", "libA", 2, 102)),
			wantErr:     ErrAlreadyExists,
			wantErrText: `the name belongs to cartridge "A00001L9"`,
		},
		{
			name:        "cartridge barcode taken by a disk",
			setup:       append(registered[:2:2], diskCmd(0, validDisk("A00002L9", 2))),
			cmd:         cartridgeCmd(1, validCartridge("A00002L9", "libA", 2, 102)),
			wantErr:     ErrAlreadyExists,
			wantErrText: `the name belongs to disk "A00002L9"`,
		},
		{
			name:        "cartridge NAA taken by a disk",
			setup:       registered,
			cmd:         cartridgeCmd(1, validCartridge("A00002L9", "libA", 2, 1)),
			wantErr:     ErrAlreadyExists,
			wantErrText: `belongs to "db01"`,
		},
		{
			name:  "disk that is the file of another disk under another path",
			setup: identified,
			cmd: diskCmd(1, diskWith(func(d *ferryv1.Disk) {
				d.Name, d.Naa, d.Path, d.Identity = "db09", testNAA(9), "/san/link/db09.img", &ferryv1.FileIdentity{Dev: 2049, Ino: 11}
			})),
			wantErr:     ErrAlreadyExists,
			wantErrText: `disk "db09": already exists: it is the same file as disk "db01" (device 2049 inode 11)`,
		},
		{
			name:  "disk that is the device number of another disk",
			setup: identified,
			cmd: diskCmd(1, diskWith(func(d *ferryv1.Disk) {
				d.Name, d.Naa, d.Path, d.Identity = "sdb", testNAA(9), "/dev/mapper/b", &ferryv1.FileIdentity{Dev: 5, Ino: 400, Rdev: 8<<8 | 16}
			})),
			wantErr:     ErrAlreadyExists,
			wantErrText: `same file as disk "sda" (device number 8:16)`,
		},
		{
			name:  "disk on another inode of the same filesystem",
			setup: identified,
			cmd: diskCmd(1, diskWith(func(d *ferryv1.Disk) {
				d.Name, d.Naa, d.Path, d.Identity, d.Lun = "db09", testNAA(9), "/san/east/db09.img", &ferryv1.FileIdentity{Dev: 2049, Ino: 12}, 3
			})),
			want: diskWith(func(d *ferryv1.Disk) {
				d.Name, d.Naa, d.Path, d.Identity, d.Lun = "db09", testNAA(9), "/san/east/db09.img", &ferryv1.FileIdentity{Dev: 2049, Ino: 12}, 3
			}),
		},
		{
			name:  "cartridge image that is a registered disk",
			setup: identified,
			cmd: cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Barcode, c.Naa, c.Identity = "A00002L9", testNAA(102), &ferryv1.FileIdentity{Dev: 2049, Ino: 11}
			})),
			wantErr:     ErrAlreadyExists,
			wantErrText: `same file as disk "db01"`,
		},
		{
			name:  "library directory that is another library's under another path",
			setup: identified,
			cmd: libraryCmd(1, libraryWith(func(l *ferryv1.Library) {
				l.Name, l.Dir, l.Identity = "libB", "/vtl/alias", &ferryv1.FileIdentity{Dev: 2049, Ino: 30}
			})),
			wantErr:     ErrAlreadyExists,
			wantErrText: `same file as library "libA"`,
		},
		{
			name:        "library name taken by a disk",
			setup:       registered,
			cmd:         libraryCmd(1, libraryWith(func(l *ferryv1.Library) { l.Name, l.Dir = "db01", "/vtl/db01" })),
			wantErr:     ErrAlreadyExists,
			wantErrText: `library "db01": already exists: the name belongs to disk "db01"`,
		},
		{
			name:        "library name taken by a cartridge",
			setup:       registered,
			cmd:         libraryCmd(1, libraryWith(func(l *ferryv1.Library) { l.Name, l.Dir = "A00001L9", "/vtl/x" })),
			wantErr:     ErrAlreadyExists,
			wantErrText: `the name belongs to cartridge "A00001L9"`,
		},
		{
			name:        "disk name taken by a library",
			setup:       registered,
			cmd:         diskCmd(1, diskWith(func(d *ferryv1.Disk) { d.Name, d.Naa, d.Path = "libA", testNAA(9), "/san/x.img" })),
			wantErr:     ErrAlreadyExists,
			wantErrText: `disk "libA": already exists: the name belongs to library "libA"`,
		},
		{
			name:  "cartridge with a catalog",
			setup: registered[:2],
			cmd: cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
				c.UsedBytes = 4242
				c.Files = []*ferryv1.TapeFile{{Number: 1, Bytes: 10, Records: 1, Sha256: "ab"}, {Number: 2, Bytes: 0}}
			})),
			want: cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Location.Barcode, c.HomeSlot, c.CapacityBytes, c.UsedBytes = "A00001L9", 1, 8<<30, 4242
				c.Files = []*ferryv1.TapeFile{{Number: 1, Bytes: 10, Records: 1, Sha256: "ab"}, {Number: 2, Bytes: 0}}
			}),
		},
		{
			name:  "cartridge with a catalog that skips a file",
			setup: registered[:2],
			cmd: cartridgeCmd(1, cartridgeWith(func(c *ferryv1.Cartridge) {
				c.Files = []*ferryv1.TapeFile{{Number: 1}, {Number: 3}}
			})),
			wantErr:     ErrInvalid,
			wantErrText: "cartridge.files[1].number: must be 2: files are numbered from 1 in order",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			applyAll(t, f, tc.setup...)
			before, _, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			got := f.Apply(uint64(len(tc.setup)+1), tc.cmd)
			if tc.wantErr != nil {
				if !errors.Is(got.Err, tc.wantErr) {
					t.Fatalf("Err = %v, want %v", got.Err, tc.wantErr)
				}
				if !strings.Contains(got.Err.Error(), tc.wantErrText) {
					t.Errorf("Err = %q, want it to contain %q", got.Err, tc.wantErrText)
				}
				if got.Disk != nil || got.Library != nil || got.Cartridge != nil || got.Job != nil {
					t.Errorf("failed Apply returned a value: %+v", got)
				}
				after, _, err := f.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if string(before) != string(after) {
					t.Error("a failed command changed the state")
				}
				return
			}
			if got.Err != nil {
				t.Fatalf("Err = %v", got.Err)
			}
			var (
				out    proto.Message
				stored proto.Message
			)
			switch {
			case got.Disk != nil:
				out = got.Disk
				stored, _ = f.Disk(got.Disk.GetName())
			case got.Library != nil:
				// The result carries the inventory; compare the description.
				lib := proto.Clone(got.Library).(*ferryv1.Library)
				if n := len(lib.GetElements()); n != int(lib.GetSlots()+lib.GetDrives()+lib.GetIeSlots()) {
					t.Errorf("library result has %d elements, want one per element", n)
				}
				lib.Elements = nil
				out = lib
				stored = f.Libraries()[0]
			case got.Cartridge != nil:
				out = got.Cartridge
				stored, _ = f.Cartridge(got.Cartridge.GetBarcode())
			default:
				t.Fatalf("Result carries nothing: %+v", got)
			}
			if !proto.Equal(out, tc.want) {
				t.Errorf("result =\n%v\nwant\n%v", out, tc.want)
			}
			if !proto.Equal(out, stored) {
				t.Errorf("result differs from what the reads return:\n%v\n%v", out, stored)
			}
		})
	}
}

// TestAddCartridgeKeepsLoadedHomesFree: the home slot of a cartridge in a
// drive is empty but not free, or the cartridge could not go back.
func TestAddCartridgeKeepsLoadedHomesFree(t *testing.T) {
	f := deviceFixture(t)
	runJob(t, f, 1, "node-a", "j1", tape("A00001L9", "libA", 0))
	r := f.Apply(f.AppliedIndex()+1, cartridgeCmd(2, validCartridge("A00009L9", "libA", 1, 109)))
	if !errors.Is(r.Err, ErrBusy) || !strings.Contains(r.Err.Error(), "slot 1 of library libA is the home of A00001L9") {
		t.Errorf("Err = %v, want ErrBusy naming A00001L9's home", r.Err)
	}
	applyAll(t, f, cartridgeCmd(3, validCartridge("A00009L9", "libA", 4, 109)))
}

func TestProtectCartridge(t *testing.T) {
	f := New()
	applyAll(t, f, libraryCmd(1, validLibrary("libA")), cartridgeCmd(2, validCartridge("A00001L9", "libA", 1, 1)))
	res := f.Apply(3, &ferryv1.Command{Time: stamp(3), Node: "n1", Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{Barcode: "A00001L9", WriteProtected: true}}})
	if res.Err != nil || !res.Cartridge.GetWriteProtected() {
		t.Fatalf("protect: %+v", res)
	}
	if c, _ := f.Cartridge("A00001L9"); !c.GetWriteProtected() {
		t.Fatal("protection not kept")
	}
	res = f.Apply(4, &ferryv1.Command{Time: stamp(4), Node: "n1", Op: &ferryv1.Command_ProtectCartridge{ProtectCartridge: &ferryv1.ProtectCartridgeOp{Barcode: "nope"}}})
	if !errors.Is(res.Err, ErrNotFound) {
		t.Fatalf("unknown cartridge: %v", res.Err)
	}
}

// Disks get LUNs in registration order; a refused registration uses none.
func TestDiskLUNs(t *testing.T) {
	f := New()
	applyAll(t, f, diskCmd(0, validDisk("db01", 1)), diskCmd(0, validDisk("db02", 2)))
	if res := f.Apply(f.AppliedIndex()+1, diskCmd(0, validDisk("db01", 1))); !errors.Is(res.Err, ErrAlreadyExists) {
		t.Fatalf("a second db01: %v", res.Err)
	}
	d := validDisk("db03", 3)
	d.Lun = 99 // the proposer does not choose
	applyAll(t, f, diskCmd(0, d))
	for name, want := range map[string]uint32{"db01": 1, "db02": 2, "db03": 3} {
		if got, _ := f.Disk(name); got.GetLun() != want {
			t.Errorf("%s has LUN %d, want %d", name, got.GetLun(), want)
		}
	}
}

// TestIdentitiesSurviveSnapshots: a state restored from a snapshot still
// refuses a second registration of a file by its identity, and a library's.
func TestIdentitiesSurviveSnapshots(t *testing.T) {
	f := New()
	applyAll(t, f,
		diskCmd(0, diskWith(func(d *ferryv1.Disk) { d.Identity = &ferryv1.FileIdentity{Dev: 7, Ino: 8} })),
		libraryCmd(0, libraryWith(func(l *ferryv1.Library) { l.Identity = &ferryv1.FileIdentity{Dev: 7, Ino: 9} })))
	data, index, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(data, index); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*ferryv1.Command{
		diskCmd(1, diskWith(func(d *ferryv1.Disk) {
			d.Name, d.Naa, d.Path, d.Identity = "db02", testNAA(2), "/other/db02.img", &ferryv1.FileIdentity{Dev: 7, Ino: 8}
		})),
		libraryCmd(1, libraryWith(func(l *ferryv1.Library) {
			l.Name, l.Dir, l.Identity = "libB", "/other/libB", &ferryv1.FileIdentity{Dev: 7, Ino: 9}
		})),
	} {
		if r := g.Apply(g.AppliedIndex()+1, cmd); !errors.Is(r.Err, ErrAlreadyExists) || !strings.Contains(r.Err.Error(), "same file as") {
			t.Errorf("after a restore: %v, want the file refused", r.Err)
		}
	}
}

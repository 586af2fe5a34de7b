package fsm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func byName(name string) *ferryv1.DeviceRef {
	return &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}
}

func byNAA(naa string) *ferryv1.DeviceRef {
	return &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: naa}}
}

func TestResolveDevice(t *testing.T) {
	f := deviceFixture(t)
	runJob(t, f, 1, "node-a", "j1", tape("A00002L9", "libA", 0))
	tests := []struct {
		name          string
		ref           *ferryv1.DeviceRef
		wantDisk      string
		wantCartridge string
		wantErr       error
	}{
		{name: "disk by name", ref: byName("db02"), wantDisk: "db02"},
		{name: "cartridge by barcode", ref: byName("A00001L9"), wantCartridge: "A00001L9"},
		{name: "disk by NAA", ref: byNAA(testNAA(1)), wantDisk: "db01"},
		{name: "cartridge by upper-case NAA", ref: byNAA(strings.ToUpper(testNAA(201))), wantCartridge: "B00001L9"},
		{name: "loaded cartridge", ref: byName("A00002L9"), wantCartridge: "A00002L9"},
		{name: "unknown name", ref: byName("db09"), wantErr: ErrNotFound},
		{name: "names are case-sensitive", ref: byName("DB01"), wantErr: ErrNotFound},
		{name: "library names are not devices", ref: byName("libA"), wantErr: ErrNotFound},
		{name: "unknown NAA", ref: byNAA(testNAA(999)), wantErr: ErrNotFound},
		{name: "empty ref", ref: &ferryv1.DeviceRef{}, wantErr: ErrInvalid},
		{name: "nil ref", ref: nil, wantErr: ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev, err := f.ResolveDevice(tc.ref)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || dev.Disk != nil || dev.Cartridge != nil {
					t.Fatalf("ResolveDevice = %+v, %v; want %v", dev, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dev.Disk.GetName() != tc.wantDisk || dev.Cartridge.GetBarcode() != tc.wantCartridge {
				t.Errorf("ResolveDevice = disk %q cartridge %q, want %q %q", dev.Disk.GetName(), dev.Cartridge.GetBarcode(), tc.wantDisk, tc.wantCartridge)
			}
			if dev.Disk != nil && dev.Cartridge != nil {
				t.Error("both a disk and a cartridge")
			}
			if dev.Cartridge != nil {
				want, _ := f.Cartridge(tc.wantCartridge)
				if !proto.Equal(dev.Cartridge, want) {
					t.Errorf("resolved cartridge %v, want %v", dev.Cartridge, want)
				}
			}
		})
	}
}

func TestDeviceReads(t *testing.T) {
	f := deviceFixture(t)
	runJob(t, f, 1, "node-a", "j1", tape("A00003L9", "libA", 0))

	var disks []string
	for _, d := range f.Disks() {
		disks = append(disks, d.GetName())
	}
	if want := []string{"db01", "db02"}; !slices.Equal(disks, want) {
		t.Errorf("Disks = %q, want %q", disks, want)
	}
	if d, ok := f.Disk("db02"); !ok || !proto.Equal(d, validDisk("db02", 2)) {
		t.Errorf("Disk(db02) = %v, %v", d, ok)
	}
	if d, ok := f.Disk("nope"); ok || d != nil {
		t.Errorf("Disk(nope) = %v, %v", d, ok)
	}

	libs := f.Libraries()
	if len(libs) != 2 || libs[0].GetName() != "libA" || libs[1].GetName() != "libB" || len(libs[0].GetElements()) != 0 {
		t.Errorf("Libraries = %v, want libA and libB without inventories", libs)
	}
	lib, ok := f.Library("libA")
	if !ok {
		t.Fatal("no libA")
	}
	inv := lib.GetElements()
	if len(inv) != 24+2+1 {
		t.Fatalf("inventory has %d elements, want 27", len(inv))
	}
	want := map[int]*ferryv1.Element{
		0:  {Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1, Barcode: "A00001L9"},
		1:  {Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 2, Barcode: "A00002L9"},
		2:  {Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 3},
		23: {Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 24},
		24: {Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 0, Barcode: "A00003L9", JobId: "j1"},
		25: {Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 1},
		26: {Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1},
	}
	for i, e := range want {
		if !proto.Equal(inv[i], e) {
			t.Errorf("inventory[%d] = %v, want %v", i, inv[i], e)
		}
	}
	if l, ok := f.Library("libZ"); ok || l != nil {
		t.Errorf("Library(libZ) = %v, %v", l, ok)
	}

	var barcodes []string
	for _, c := range f.Cartridges("") {
		barcodes = append(barcodes, c.GetBarcode())
	}
	if want := []string{"A00001L9", "A00002L9", "A00003L9", "B00001L9"}; !slices.Equal(barcodes, want) {
		t.Errorf("Cartridges() = %q, want %q", barcodes, want)
	}
	if cs := f.Cartridges("libB"); len(cs) != 1 || cs[0].GetBarcode() != "B00001L9" {
		t.Errorf("Cartridges(libB) = %v", cs)
	}
	if cs := f.Cartridges("libZ"); len(cs) != 0 {
		t.Errorf("Cartridges(libZ) = %v", cs)
	}
	c, ok := f.Cartridge("A00003L9")
	wantC := validCartridge("A00003L9", "libA", 3, 103)
	wantC.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Barcode: "A00003L9", JobId: "j1"}
	wantC.HomeSlot, wantC.CapacityBytes = 3, 8<<30
	if !ok || !proto.Equal(c, wantC) {
		t.Errorf("Cartridge(A00003L9) = %v, want %v", c, wantC)
	}
}

// TestDeviceReadsReturnCopies mutates everything the device reads hand out
// and checks the state did not move.
func TestDeviceReadsReturnCopies(t *testing.T) {
	f := deviceFixture(t)
	runJob(t, f, 1, "node-a", "j1", tape("A00001L9", "libA", 0))
	before, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(){
		"Disk":      func() { d, _ := f.Disk("db01"); d.Path = "/etc/passwd" },
		"Disks":     func() { f.Disks()[0].Naa = "changed" },
		"Library":   func() { l, _ := f.Library("libA"); l.Slots = 1; l.Elements[24].Barcode = "changed" },
		"Libraries": func() { f.Libraries()[0].Dir = "/changed" },
		"Cartridge": func() { c, _ := f.Cartridge("A00001L9"); c.Location.Index = 7; c.HomeSlot = 9 },
		"Cartridges": func() {
			for _, c := range f.Cartridges("") {
				c.Location.Kind = ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT
			}
		},
		"ResolveDevice": func() {
			d, _ := f.ResolveDevice(byName("A00001L9"))
			d.Cartridge.Library = "changed"
			d.Cartridge.Location.Barcode = "changed"
		},
		"Apply": func() {
			rd := f.Apply(f.AppliedIndex()+1, diskCmd(2, validDisk("db03", 3)))
			rc := f.Apply(f.AppliedIndex()+1, cartridgeCmd(2, validCartridge("A00004L9", "libA", 4, 104)))
			rl := f.Apply(f.AppliedIndex()+1, libraryCmd(2, validLibrary("libC")))
			before, _, _ = f.Snapshot()
			rd.Disk.Path = "/changed"
			rc.Cartridge.Location.Index = 9
			rl.Library.Slots = 1
		},
	}
	for _, name := range []string{"Disk", "Disks", "Library", "Libraries", "Cartridge", "Cartridges", "ResolveDevice", "Apply"} {
		mutations[name]()
		after, _, err := f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if string(before) != string(after) {
			t.Errorf("mutating what %s returned changed the state", name)
		}
	}
}

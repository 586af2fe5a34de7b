package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/tape"
)

// catalog describes a cartridge's catalog: "number:bytes:records:sha8:job"
// per file, "!" marking incomplete ones.
func (f *fixture) catalog(t *testing.T, barcode string) string {
	t.Helper()
	c, ok := f.fsm.Cartridge(barcode)
	if !ok {
		t.Fatalf("no cartridge %s", barcode)
	}
	var parts []string
	for _, file := range c.GetFiles() {
		s := fmt.Sprintf("%d:%d:%d:%.8s:%s", file.GetNumber(), file.GetBytes(), file.GetRecords(), file.GetSha256(), file.GetJobId())
		if file.GetIncomplete() {
			s += "!"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// dataFile is the catalog entry of a file holding the fixture's data in
// 256 KiB records.
func (f *fixture) dataFile(n int, job string) string {
	return fmt.Sprintf("%d:%d:%d:%.8s:%s", n, diskSize, diskSize/(256<<10), hexSum(f.data), job)
}

// TestCatalogRecordsWhatLanded: appends, a partial file left by a copy that
// never reported (closed by the next append), an image copy of several
// files, and a copy cut off by the end of the medium all end in the
// catalog as the tape holds them, with used bytes.
func TestCatalogRecordsWhatLanded(t *testing.T) {
	f := setup(t, clusterOptions{})
	run(t, f.node("n1"), Config{})
	f.submit(t, "a1", diskEP("db01"), tapeEP())
	j := f.waitState(t, "a1", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if w := j.GetResult().GetTapeWrites(); len(w) != 1 || w[0].GetBarcode() != barcode || w[0].GetFromFile() != 1 {
		t.Fatalf("tape writes %v, want %s from file 1", w, barcode)
	}
	f.submit(t, "a2", diskEP("db01"), tapeEP())
	f.waitState(t, "a2", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if got, want := f.catalog(t, barcode), f.dataFile(1, "a1")+" "+f.dataFile(2, "a2"); got != want {
		t.Fatalf("catalog %q, want %q", got, want)
	}

	// A copy that died mid-file without reporting left a record.
	partial := []byte("half a file")
	c, err := tape.Open(f.tape, tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Space(tape.SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteRecord(partial); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f.submit(t, "a3", diskEP("db01"), tapeEP())
	f.waitState(t, "a3", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	sum := sha256.Sum256(partial)
	third := fmt.Sprintf("3:%d:1:%.8s:!", len(partial), hex.EncodeToString(sum[:]))
	if got, want := f.catalog(t, barcode), f.dataFile(1, "a1")+" "+f.dataFile(2, "a2")+" "+third+" "+f.dataFile(4, "a3"); got != want {
		t.Fatalf("catalog %q, want %q", got, want)
	}
	cart, _ := f.fsm.Cartridge(barcode)
	if cart.GetUsedBytes() != uint64(size(t, f.tape)) {
		t.Fatalf("used bytes %d, the image has %d", cart.GetUsedBytes(), size(t, f.tape))
	}

	// The whole tape, image copied onto another cartridge: every file read
	// back, the partial one complete there (a filemark ends it).
	f.addCartridge(t, "B00001L9", "300000000000000a", 2)
	// Verified: every file is read back, not only the last one.
	f.submit(t, "img", tapeEP(), endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "B00001L9"))
	f.waitState(t, "img", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if got, want := f.catalog(t, "B00001L9"), f.dataFile(1, "img")+" "+f.dataFile(2, "img")+" "+strings.TrimSuffix(third, ":!")+":img "+f.dataFile(4, "img"); got != want {
		t.Fatalf("image copy catalog %q, want %q", got, want)
	}
}

// TestCatalogOfACopyCutOff: a copy that fails at the end of the medium
// reports its partial file, incomplete, and what the image uses.
func TestCatalogOfACopyCutOff(t *testing.T) {
	f := setup(t, clusterOptions{})
	run(t, f.node("n1"), Config{})
	path := filepath.Join(f.dir, "D00001L9.tap")
	// Room for half the disk: the cartridge is registered with 2 MiB.
	small := &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
		Barcode: "D00001L9", Library: "libA", Naa: "300000000000000d", Path: path, CapacityBytes: 2 << 20,
		HomeSlot: 2, Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 2}}}}}
	c, err := tape.Create(path, tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.WriteLabel(c, "D00001L9"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f.must(t, small)
	f.submit(t, "cut", diskEP("db01"), endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "D00001L9"))
	j := f.waitState(t, "cut", ferryv1.JobState_JOB_STATE_FAILED)
	w := j.GetError().GetTapeWrites()
	if len(w) != 1 || w[0].GetFromFile() != 1 || len(w[0].GetFiles()) != 1 || !w[0].GetFiles()[0].GetIncomplete() {
		t.Fatalf("tape writes of the cut-off copy %v, want file 1 incomplete", w)
	}
	got := f.catalog(t, "D00001L9")
	if !strings.HasPrefix(got, "1:") || !strings.HasSuffix(got, ":cut!") {
		t.Fatalf("catalog %q, want file 1 of job cut, incomplete", got)
	}
	cart, _ := f.fsm.Cartridge("D00001L9")
	if cart.GetUsedBytes() != uint64(size(t, path)) || cart.GetUsedBytes() > 2<<20 {
		t.Fatalf("used bytes %d, the image has %d", cart.GetUsedBytes(), size(t, path))
	}
}

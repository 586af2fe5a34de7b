package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/tape"
)

// spanCapacity makes cartridges that hold about a third of the test disk
// before early warning (a 1 MiB zone at 2 MiB).
const spanCapacity = 3 << 20

// addPoolCartridge labels a small cartridge into libP's slot; the pool
// that lists its barcode takes it.
func (f *fixture) addPoolCartridge(t *testing.T, barcode string, slot uint32) {
	t.Helper()
	dir := filepath.Join(f.dir, "libP")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.addCartridgeTo(t, "libP", dir, barcode, fmt.Sprintf("40000000000000%02d", slot), slot, spanCapacity)
}

// readPart reads one file of a cartridge image.
func readPart(t *testing.T, c *ferryv1.Cartridge, file uint32) []byte {
	t.Helper()
	tc, err := OpenCartridge(c, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := PositionAtFile(tc, file, false); err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, tape.MaxRecordSize)
	for {
		n, err := tc.ReadRecord(buf)
		switch {
		case err == nil:
			out = append(out, buf[:n]...)
		case errors.Is(err, tape.ErrFilemark):
			return out
		default:
			t.Fatalf("read %s file %d: %v", c.GetBarcode(), file, err)
		}
	}
}

// A copy to a pool larger than a cartridge spans its members; when the
// pool has none left it waits, saying so, holding its drive, and goes on
// once a cartridge is labelled into the pool. Its result lists every
// volume; the parts, read back in order, are the source; it verified; the
// full cartridges' catalogs hold its parts.
func TestSpanWaitsThenContinues(t *testing.T) {
	f := setup(t, clusterOptions{})
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "libP", Dir: filepath.Join(f.dir, "libP"), Slots: 8, Drives: 1, CartridgeCapacityBytes: spanCapacity}}}})
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_CreatePool{CreatePool: &ferryv1.CreatePoolOp{Pool: &ferryv1.Pool{
		Name: "p", Library: "libP", Barcodes: []string{"P00001L9", "P00002L9", "P00003L9", "P00004L9"}}}}})
	f.addPoolCartridge(t, "P00001L9", 1)
	f.addPoolCartridge(t, "P00002L9", 2)
	f.submitSpec(t, "j", &ferryv1.JobSpec{Source: diskEP("db01"),
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Pool: "p"}, Options: &ferryv1.JobOptions{Verify: true}})
	var cfg Config
	cfg.Mover.BufferSize = 256 << 10
	run(t, f.node("n1"), cfg)

	var j *ferryv1.Job
	eventually(t, "the copy waiting for a member", func() bool {
		j, _ = f.fsm.Job("j")
		if ended(j) {
			t.Fatalf("the copy ended: %v %s", j.GetState(), j.GetStateReason())
		}
		return strings.Contains(j.GetStateReason(), "waiting for a cartridge") && strings.Contains(j.GetStateReason(), "pool p has no scratch cartridge")
	}, func() string { return j.GetStateReason() })
	if len(j.GetVolumes()) != 1 || j.GetTapes()[0].GetBarcode() != "P00002L9" || j.GetTapes()[0].GetVolume() != 2 {
		t.Fatalf("while waiting: volumes %v, tapes %v", j.GetVolumes(), j.GetTapes())
	}
	f.addPoolCartridge(t, "P00003L9", 3)
	f.addPoolCartridge(t, "P00004L9", 4)
	j = f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)

	vols := j.GetResult().GetVolumes()
	if len(vols) < 3 {
		t.Fatalf("volumes %v: want the 4 MiB copy on three or more", vols)
	}
	var got []byte
	for i, v := range vols {
		if v.GetVolume() != uint32(i+1) || v.GetOffset() != uint64(len(got)) {
			t.Errorf("volume %d: %v, want number %d at offset %d", i+1, v, i+1, len(got))
		}
		c, _ := f.fsm.Cartridge(v.GetBarcode())
		part := readPart(t, c, v.GetFile())
		if uint64(len(part)) != v.GetBytes() {
			t.Errorf("volume %d: %d bytes on tape, %d listed", i+1, len(part), v.GetBytes())
		}
		got = append(got, part...)
		if i < len(vols)-1 && fsm.UseOf(c) != fsm.Full {
			t.Errorf("volume %d (%s) is %v after the span, want full", i+1, v.GetBarcode(), fsm.UseOf(c))
		}
		if files := c.GetFiles(); len(files) == 0 || files[len(files)-1].GetJobId() != "j" || files[len(files)-1].GetBytes() != v.GetBytes() {
			t.Errorf("the catalog of %s: %v", v.GetBarcode(), files)
		}
	}
	if !bytes.Equal(got, f.data) {
		t.Fatalf("the volumes hold %d bytes that are not the source's %d", len(got), len(f.data))
	}
}

// A checkpoint is resumed only on the volume the job's tape assignment
// names: another volume's positions would land on the wrong cartridge.
func TestSpanResumeChecksTheVolume(t *testing.T) {
	s := &spanner{}
	job := &ferryv1.Job{Spec: &ferryv1.JobSpec{Destination: &ferryv1.Endpoint{Pool: "p",
		Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "P00002L9"}}}},
		Tapes: []*ferryv1.TapeAssignment{{Barcode: "P00002L9", Volume: 2}}}
	for _, cp := range []mover.Checkpoint{
		{Positions: map[int]mover.TapePos{1: {ObjectID: 9}}},
		{Volumes: map[int]mover.Volume{1: {Number: 3}}, Positions: map[int]mover.TapePos{1: {ObjectID: 9}}},
	} {
		if err := s.resume(context.Background(), job, &cp, 1); !errors.Is(err, fsm.ErrInvalid) {
			t.Errorf("checkpoint on volume %d resumed on volume 2: %v", max(cp.Volumes[1].Number, 1), err)
		}
	}
	cp := mover.Checkpoint{Volumes: map[int]mover.Volume{1: {Number: 2}}, Positions: map[int]mover.TapePos{1: {ObjectID: 9}}}
	if err := s.resume(context.Background(), job, &cp, 1); err != nil || cp.Positions[1].ObjectID != 9 {
		t.Errorf("a pinned checkpoint of volume 2: %v, %v", err, cp.Positions)
	}
}

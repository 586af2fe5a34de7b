package test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/xcopy"
	"github.com/ferry-san/ferry/storage/tape"
)

// TestExtendedCopyParameterList submits raw SPC-4 EXTENDED COPY (LID1)
// parameter lists naming devices by their NAA designators: a block→block copy
// with an offset, then block→stream and stream→block through a tape, and
// checks the bytes, the job's SHA-256 and RECEIVE COPY RESULTS.
func TestExtendedCopyParameterList(t *testing.T) {
	c, _ := startDataCluster(t)
	conn, err := c.Conn("n1")
	if err != nil {
		t.Fatal(err)
	}
	dev, jobs := ferryv1.NewDeviceServiceClient(conn), ferryv1.NewJobServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	disk := func(name string) *ferryv1.Disk {
		d, err := dev.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: name, Path: filepath.Join(dir, name+".img"), SizeBytes: 1 << 20, BlockSize: 512})
		if err != nil {
			t.Fatalf("create disk %s: %v", name, err)
		}
		return d
	}
	src, dst, back := disk("src"), disk("dst"), disk("back")
	data := fillRandom(t, src.GetPath(), 1<<20)
	if _, err := dev.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: "lib", Dir: filepath.Join(dir, "lib"), Slots: 2, Drives: 1, CartridgeCapacityBytes: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	cart, err := dev.LabelTape(ctx, &ferryv1.LabelTapeRequest{Library: "lib", Slot: 1, Barcode: "X00001L9"})
	if err != nil {
		t.Fatal(err)
	}
	naa := func(h string) []byte {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	block := func(d *ferryv1.Disk) xcopy.TargetDescriptor {
		return xcopy.TargetDescriptor{DeviceType: xcopy.DeviceBlock, NAA: naa(d.GetNaa()), BlockLength: 512}
	}
	run := func(pl *xcopy.ParameterList) *ferryv1.Job {
		t.Helper()
		list, err := pl.Encode()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{XcopyParameterList: list}})
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		j := waitJobEnd(t, ctx, jobs, resp.GetJob().GetId())
		if j.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job ended %v: %s", j.GetState(), j.GetError().GetMessage())
		}
		return j
	}

	// 0x02 block→block: 1024 blocks from LBA 512 of src to LBA 0 of dst.
	j := run(&xcopy.ParameterList{ListID: 1, Targets: []xcopy.TargetDescriptor{block(src), block(dst)},
		Segments: []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 1024, SrcLBA: 512, DstLBA: 0}}})
	got, err := os.ReadFile(dst.GetPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:512<<10], data[512*512:512*512+512<<10]) {
		t.Fatal("block→block copy: destination bytes differ from the source range")
	}
	if want := sum(data[512*512 : 512*512+512<<10]); j.GetResult().GetSha256() != want {
		t.Fatalf("job sha256 %s, want %s", j.GetResult().GetSha256(), want)
	}
	res, err := jobs.CopyResults(ctx, &ferryv1.CopyResultsRequest{Id: j.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := xcopy.DecodeCopyStatus(res.GetData())
	if err != nil || cs.Status != xcopy.StatusCompleted || cs.SegmentsProcessed != 1 {
		t.Fatalf("COPY STATUS %+v, %v: want completed, 1 segment", cs, err)
	}
	res, err = jobs.CopyResults(ctx, &ferryv1.CopyResultsRequest{Action: ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_OPERATING_PARAMETERS})
	if err != nil {
		t.Fatal(err)
	}
	if op, err := xcopy.DecodeOperatingParameters(res.GetData()); err != nil || op.MaxSegmentDescriptors == 0 || !bytes.Contains(op.Implemented, []byte{0xE4}) {
		t.Fatalf("OPERATING PARAMETERS %+v, %v", op, err)
	}

	// 0x00 block→stream onto the tape after its label, then 0x01 back.
	stream := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceStream, NAA: naa(cart.GetNaa())}
	run(&xcopy.ParameterList{ListID: 2, Targets: []xcopy.TargetDescriptor{block(src), stream},
		Segments: []xcopy.Segment{
			{Type: xcopy.Space, Dst: 1, SpaceCode: xcopy.SpaceEndOfData},
			{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 64 << 10, Blocks: 2048, SrcLBA: 0},
			{Type: xcopy.WriteFilemarks, Dst: 1, Filemarks: 1},
		}})
	pos := tapeFileStart(t, cart.GetPath(), 1)
	run(&xcopy.ParameterList{ListID: 3, Targets: []xcopy.TargetDescriptor{stream, block(back)},
		Segments: []xcopy.Segment{
			{Type: xcopy.Locate, Dst: 0, LocateBlock: uint32(pos)},
			{Type: xcopy.StreamToBlock, Src: 0, Dst: 1, StreamLength: 64 << 10, Blocks: 2048, DstLBA: 0},
		}})
	if got, err := os.ReadFile(back.GetPath()); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("disk → tape → disk through EXTENDED COPY changed the bytes (%v)", err)
	}

	// Issue 9: two CSCDs naming one cartridge share one handle, so
	// appending through each leaves two files, not the second alone.
	before := tapeFiles(t, cart.GetPath())
	run(&xcopy.ParameterList{ListID: 4, Targets: []xcopy.TargetDescriptor{stream, stream, block(src)},
		Segments: []xcopy.Segment{
			{Type: xcopy.Space, Dst: 0, SpaceCode: xcopy.SpaceEndOfData},
			{Type: xcopy.BlockToStream, Src: 2, Dst: 0, StreamLength: 64 << 10, Blocks: 1024, SrcLBA: 0},
			{Type: xcopy.WriteFilemarks, Dst: 0, Filemarks: 1},
			{Type: xcopy.Space, Dst: 1, SpaceCode: xcopy.SpaceEndOfData},
			{Type: xcopy.BlockToStream, Src: 2, Dst: 1, StreamLength: 64 << 10, Blocks: 1024, SrcLBA: 1024},
			{Type: xcopy.WriteFilemarks, Dst: 1, Filemarks: 1},
		}})
	if after := tapeFiles(t, cart.GetPath()); after != before+2 {
		t.Fatalf("the cartridge went from %d to %d files, want two more", before, after)
	}

	// Issue 9: an LBA whose byte offset overflows wrapped onto block 100;
	// it is refused (at submit or when the job starts) and nothing changes.
	dstBefore, err := os.ReadFile(dst.GetPath())
	if err != nil {
		t.Fatal(err)
	}
	list, err := (&xcopy.ParameterList{ListID: 5, Targets: []xcopy.TargetDescriptor{block(src), block(dst)},
		Segments: []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 16, DstLBA: 1<<55 + 100}}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{XcopyParameterList: list}}); err == nil {
		if j := waitJobEnd(t, ctx, jobs, resp.GetJob().GetId()); j.GetState() != ferryv1.JobState_JOB_STATE_FAILED ||
			!strings.Contains(j.GetError().GetMessage(), "LOGICAL BLOCK ADDRESS OUT OF RANGE") {
			t.Fatalf("a wrapping LBA ended %v: %s", j.GetState(), j.GetError().GetMessage())
		}
	}
	if got, err := os.ReadFile(dst.GetPath()); err != nil || !bytes.Equal(got, dstBefore) {
		t.Fatalf("a refused list changed the destination (%v)", err)
	}
}

// waitJobEnd follows a job until it ends.
func waitJobEnd(t *testing.T, ctx context.Context, jobs ferryv1.JobServiceClient, id string) *ferryv1.Job {
	t.Helper()
	watch, err := jobs.Watch(ctx, &ferryv1.WatchJobRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		j, err := watch.Recv()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		switch j.GetState() {
		case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
			return j
		}
	}
}

// tapeFiles counts the filemarks of an image.
func tapeFiles(t *testing.T, path string) int {
	t.Helper()
	c, err := tape.Open(path, tape.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Space(tape.SpaceEndOfData, 0)
	p, perr := c.ReadPosition()
	if err != nil || perr != nil {
		t.Fatal(err, perr)
	}
	return int(p.File)
}

// tapeFileStart is the logical object id where tape file n of an image starts.
func tapeFileStart(t *testing.T, path string, n int64) uint64 {
	t.Helper()
	c, err := tape.Open(path, tape.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Space(tape.SpaceFilemarks, n); err != nil {
		t.Fatal(err)
	}
	p, err := c.ReadPosition()
	if err != nil {
		t.Fatal(err)
	}
	return p.ObjectID
}

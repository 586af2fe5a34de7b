package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// fakeNode applies proposals straight to a state machine, as a one-node
// cluster would.
type fakeNode struct {
	mu    sync.Mutex
	fsm   *fsm.FSM
	index uint64
	subs  []chan struct{}
}

func (f *fakeNode) Name() string  { return "n1" }
func (f *fakeNode) FSM() *fsm.FSM { return f.fsm }

func (f *fakeNode) Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	cmd.Time, cmd.Node = timestamppb.Now(), "n1"
	res := f.fsm.Apply(f.index, cmd)
	for _, ch := range f.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return res, nil
}

func (f *fakeNode) WatchJobs() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	return ch, func() {}
}

func (f *fakeNode) must(t *testing.T, cmd *ferryv1.Command) *fsm.Result {
	t.Helper()
	res, _ := f.Propose(context.Background(), cmd)
	if res.Err != nil {
		t.Fatalf("%v: %v", cmd.GetOp(), res.Err)
	}
	return &res
}

// setup registers a 4 MiB disk of random bytes, an empty one, and a
// labelled cartridge.
func setup(t *testing.T) (*fakeNode, []byte, string) {
	t.Helper()
	dir := t.TempDir()
	n := &fakeNode{fsm: fsm.New()}
	data := make([]byte, 4<<20)
	rand.Read(data)
	for i, name := range []string{"db01", "db02"} {
		path := filepath.Join(dir, name+".img")
		if err := disk.Create(path, int64(len(data)), 512); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		n.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: name, Naa: "300000000000000" + string(rune('1'+i)), Path: path, SizeBytes: uint64(len(data)), BlockSize: 512, Site: "east"}}}})
	}
	n.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "libA", Dir: dir, Slots: 2, Drives: 1, IeSlots: 1, CartridgeCapacityBytes: 1 << 30}}}})
	tp := filepath.Join(dir, "A00001L9.tap")
	c, err := tape.Create(tp, tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.WriteLabel(c, "A00001L9"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	n.must(t, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
		Barcode: "A00001L9", Library: "libA", Naa: "3000000000000009", Path: tp, HomeSlot: 1, CapacityBytes: 1 << 30,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1}}}}})
	return n, data, dir
}

func endpoint(kind ferryv1.DeviceKind, name string) *ferryv1.Endpoint {
	return &ferryv1.Endpoint{Kind: kind, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}}
}

func submit(t *testing.T, n *fakeNode, id string, src, dst *ferryv1.Endpoint) {
	t.Helper()
	n.must(t, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: id,
		Spec: &ferryv1.JobSpec{Source: src, Destination: dst, Options: &ferryv1.JobOptions{Verify: true}}}}})
}

func waitState(t *testing.T, n *fakeNode, id string, want ferryv1.JobState) *ferryv1.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, _ := n.fsm.Job(id)
		if j.GetState() == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %v (%s), want %v", id, j.GetState(), j.GetError().GetMessage(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runExecutor(t *testing.T, n *fakeNode, cfg Config) context.CancelFunc {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { New(n, cfg).Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestRunsAcceptedJobsToTapeAndBack(t *testing.T) {
	n, data, dir := setup(t)
	runExecutor(t, n, Config{Rescan: 20 * time.Millisecond})
	want := sha256.Sum256(data)

	submit(t, n, "to-tape", endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db01"), endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "A00001L9"))
	j := waitState(t, n, "to-tape", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if j.GetResult().GetSha256() != hex.EncodeToString(want[:]) {
		t.Fatalf("disk → tape sha256 %s, want %x", j.GetResult().GetSha256(), want)
	}
	if c, _ := n.fsm.Cartridge("A00001L9"); c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_SLOT {
		t.Fatalf("cartridge not back in its slot after the job: %v", c.GetLocation())
	}

	one := uint32(1)
	src := endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "A00001L9")
	src.TapeFile = &one
	submit(t, n, "from-tape", src, endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db02"))
	waitState(t, n, "from-tape", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if got, err := os.ReadFile(filepath.Join(dir, "db02.img")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("tape → disk did not restore the bytes (%v)", err)
	}
}

func TestResumesARunningJobFromItsCheckpoint(t *testing.T) {
	n, data, _ := setup(t)
	// A first run is stopped after a checkpoint, as a node that dies would
	// be; the job stays RUNNING with that checkpoint.
	cfg := Config{Rescan: 20 * time.Millisecond, Mover: mover.Config{CheckpointBytes: 512 << 10, BufferSize: 256 << 10, BandwidthLimit: 4 << 20}}
	stop := runExecutor(t, n, cfg)
	submit(t, n, "j", endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db01"), endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db02"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, _ := n.fsm.Job("j")
		if j.GetProgress().GetBytesDone() > 0 && j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING {
			break
		}
		if time.Now().After(deadline) || j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("no checkpoint while running (state %v)", j.GetState())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	before, _ := n.fsm.Job("j")
	if before.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("stopping the executor ended the job: %v", before.GetState())
	}

	cfg.Mover.BandwidthLimit = 0
	runExecutor(t, n, cfg)
	j := waitState(t, n, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if want := sha256.Sum256(data); j.GetResult().GetSha256() != hex.EncodeToString(want[:]) {
		t.Fatalf("resumed copy sha256 %s, want %x", j.GetResult().GetSha256(), want)
	}
	if j.GetEpoch() == before.GetEpoch() {
		t.Fatal("the resumed run kept the old epoch")
	}
}

func TestCancelStopsTheCopy(t *testing.T) {
	n, _, _ := setup(t)
	runExecutor(t, n, Config{Rescan: 20 * time.Millisecond, Mover: mover.Config{BandwidthLimit: 256 << 10}})
	submit(t, n, "slow", endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db01"), endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "A00001L9"))
	waitState(t, n, "slow", ferryv1.JobState_JOB_STATE_RUNNING)
	n.must(t, &ferryv1.Command{Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{JobId: "slow"}}})
	// The next job on the same cartridge can run: the drive was freed and
	// the executor let go of the cancelled copy.
	submit(t, n, "next", endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db02"), endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "A00001L9"))
	waitState(t, n, "next", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if j, _ := n.fsm.Job("slow"); j.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancelled job is %v", j.GetState())
	}
}

func TestUnknownRangeFailsWithSense(t *testing.T) {
	n, _, _ := setup(t)
	runExecutor(t, n, Config{Rescan: 20 * time.Millisecond})
	src := endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db01")
	src.Lba = 1 << 20
	submit(t, n, "bad", src, endpoint(ferryv1.DeviceKind_DEVICE_KIND_DISK, "db02"))
	j := waitState(t, n, "bad", ferryv1.JobState_JOB_STATE_FAILED)
	if len(j.GetError().GetSense()) == 0 {
		t.Fatalf("failed job carries no sense data: %s", j.GetError().GetMessage())
	}
}

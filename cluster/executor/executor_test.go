package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestRunsPlacedJobsToTapeAndBack(t *testing.T) {
	f := setup(t, clusterOptions{})
	r := run(t, f.node("n1"), Config{})

	f.submit(t, "to-tape", diskEP("db01"), tapeEP())
	j := f.waitState(t, "to-tape", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if got, want := j.GetResult().GetSha256(), hexSum(f.data); got != want {
		t.Fatalf("disk → tape sha256 %s, want %s", got, want)
	}
	if j.GetOwner() != "n1" || j.GetEpoch() == 0 {
		t.Fatalf("job ran as %q under epoch %d, want n1 and an epoch", j.GetOwner(), j.GetEpoch())
	}
	if c, _ := f.fsm.Cartridge(barcode); c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_SLOT {
		t.Fatalf("cartridge not back in its slot after the job: %v", c.GetLocation())
	}

	one := uint32(1)
	src := tapeEP()
	src.TapeFile = &one
	f.submit(t, "from-tape", src, diskEP("db02"))
	f.waitState(t, "from-tape", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if got, err := os.ReadFile(filepath.Join(f.dir, "db02.img")); err != nil || !bytes.Equal(got, f.data) {
		t.Fatalf("tape → disk did not restore the bytes (%v)", err)
	}
	if n := r.counter(t, "ferry_executor_jobs_total", "outcome", "succeeded"); n != 2 {
		t.Errorf("ferry_executor_jobs_total{outcome=succeeded} = %v, want 2", n)
	}
	if n := r.counter(t, "ferry_lease_renewals_total", "result", "granted"); n == 0 {
		t.Error("no lease renewal granted")
	}
}

// TestCopiesTapeToTape: one file appended to another cartridge as a new
// file, and then the whole tape (every file after the label) over it.
func TestCopiesTapeToTape(t *testing.T) {
	f := setup(t, clusterOptions{})
	run(t, f.node("n1"), Config{})
	f.addCartridge(t, "B00001L9", "300000000000000a", 2)
	other := func(file *uint32) *ferryv1.Endpoint {
		ep := endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "B00001L9")
		ep.TapeFile = file
		return ep
	}
	one := uint32(1)
	fileOne := tapeEP()
	fileOne.TapeFile = &one
	f.submit(t, "to-tape", diskEP("db01"), tapeEP())
	f.waitState(t, "to-tape", ferryv1.JobState_JOB_STATE_SUCCEEDED)

	f.submit(t, "one-file", fileOne, other(nil))
	f.waitState(t, "one-file", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	// The image replaces the file just copied there: it says so.
	f.submitSpec(t, "image", &ferryv1.JobSpec{Source: tapeEP(), Destination: other(&one), Options: &ferryv1.JobOptions{Verify: true, Overwrite: true}})
	f.waitState(t, "image", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	for _, file := range []*uint32{&one, nil} {
		got, err := Hash(context.Background(), f.fsm, other(file))
		if err != nil {
			t.Fatal(err)
		}
		if got.GetSha256() != hexSum(f.data) {
			t.Errorf("B00001L9 (file %v) holds %d bytes with sha256 %s, want the data", file, got.GetBytes(), got.GetSha256())
		}
	}
}

func TestResumesARunningJobFromItsCheckpoint(t *testing.T) {
	f := setup(t, clusterOptions{})
	// A first run is stopped after a checkpoint, as a node that restarts
	// would be; the job stays RUNNING on it with that checkpoint.
	cfg := Config{Mover: mover.Config{CheckpointBytes: 512 << 10, BufferSize: 256 << 10, BandwidthLimit: 4 << 20}}
	first := run(t, f.node("n1"), cfg)
	f.submit(t, "j", diskEP("db01"), diskEP("db02"))
	f.waitCheckpoint(t, "j")
	first.stop()
	before := f.job(t, "j")
	if before.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("stopping the executor ended the job: %v", before.GetState())
	}

	cfg.Mover.BandwidthLimit = 0
	run(t, f.node("n1"), cfg)
	j := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if got, want := j.GetResult().GetSha256(), hexSum(f.data); got != want {
		t.Fatalf("resumed copy sha256 %s, want %s", got, want)
	}
	// Still the owner, so still the epoch: no placement happened.
	if j.GetEpoch() != before.GetEpoch() || j.GetOwner() != "n1" {
		t.Fatalf("resumed as %s under epoch %d, want n1 under %d", j.GetOwner(), j.GetEpoch(), before.GetEpoch())
	}
	want := fmt.Sprintf("resumed on n1 from offset %d", before.GetProgress().GetCheckpointOffset())
	if !slices.ContainsFunc(j.GetHistory(), func(e *ferryv1.JobEvent) bool { return e.GetMessage() == want }) {
		t.Fatalf("history lacks %q: %v", want, j.GetHistory())
	}
	if got, err := os.ReadFile(filepath.Join(f.dir, "db02.img")); err != nil || !bytes.Equal(got, f.data) {
		t.Fatalf("resumed copy wrote other bytes (%v)", err)
	}
}

func TestCancelStopsTheCopy(t *testing.T) {
	f := setup(t, clusterOptions{})
	r := run(t, f.node("n1"), Config{Mover: mover.Config{BufferSize: 256 << 10}})
	f.submitSpec(t, "slow", &ferryv1.JobSpec{Source: diskEP("db01"), Destination: tapeEP(),
		Options: &ferryv1.JobOptions{BwlimitBytesPerSecond: 256 << 10}})
	eventually(t, "a record of the slow copy on tape", func() bool { return size(t, f.tape) > 256<<10 }, nil)
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{JobId: "slow"}}})
	// The next job on the same cartridge can run: the drive was freed and
	// the executor let go of the cancelled copy.
	f.submit(t, "next", diskEP("db02"), tapeEP())
	next := f.waitState(t, "next", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if j := f.job(t, "slow"); j.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancelled job is %v", j.GetState())
	}
	if r.isRunning("slow") {
		t.Fatal("the cancelled copy still runs")
	}
	// What the cancelled copy wrote stays a file of its own (file 1),
	// ended before the next one (file 2) begins.
	two := uint32(2)
	src := tapeEP()
	src.TapeFile = &two
	got, err := Hash(context.Background(), f.fsm, src)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSha256() != next.GetResult().GetSha256() || got.GetBytes() != diskSize {
		t.Fatalf("tape file 2 holds %d bytes with sha256 %s, want the next job's %d bytes (%s)", got.GetBytes(), got.GetSha256(), diskSize, next.GetResult().GetSha256())
	}
}

// TestBadRangeRefusedAtSubmit: a range past the end of a LUN never reaches
// the executor: the state machine refuses the job (fsm.FSM.JobAccess). The
// executor's own range checks (DiskRange, extents) stay for the file it
// opens, which may disagree with the registry.
func TestBadRangeRefusedAtSubmit(t *testing.T) {
	tests := []struct {
		name     string
		src, dst func() *ferryv1.Endpoint
	}{
		{"source LBA past the end", func() *ferryv1.Endpoint { ep := diskEP("db01"); ep.Lba = 1 << 20; return ep }, func() *ferryv1.Endpoint { return diskEP("db02") }},
		{"source blocks past the end", func() *ferryv1.Endpoint { ep := diskEP("db01"); ep.Blocks = 1 << 20; return ep }, func() *ferryv1.Endpoint { return diskEP("db02") }},
		{"destination too short", func() *ferryv1.Endpoint { return diskEP("db01") }, func() *ferryv1.Endpoint { ep := diskEP("db02"); ep.Lba = 8; return ep }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, clusterOptions{})
			spec := &ferryv1.JobSpec{Source: tt.src(), Destination: tt.dst()}
			res, err := f.propose(leaderName, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: "bad", Spec: spec}}})
			if err == nil {
				err = res.Err
			}
			if !errors.Is(err, fsm.ErrInvalid) {
				t.Fatalf("submit: %v, want it refused as invalid", err)
			}
		})
	}
}

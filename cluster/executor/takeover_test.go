package executor

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/fence"
)

// slowCopy moves the 4 MiB fixture in about four seconds, checkpointing
// every record, so a test has time to act while it runs.
var slowCopy = mover.Config{BufferSize: 256 << 10, CheckpointBytes: 256 << 10, BandwidthLimit: 1 << 20}

// tapeHolds checks that the cartridge holds the fixture's data exactly
// once: every record after the label, across filemarks, hashes to it.
func (f *fixture) tapeHolds(t *testing.T) {
	t.Helper()
	got, err := Hash(context.Background(), f.fsm, tapeEP())
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSha256() != hexSum(f.data) || got.GetBytes() != diskSize {
		t.Fatalf("the tape holds %d bytes with sha256 %s, want the %d bytes of the source (%s)", got.GetBytes(), got.GetSha256(), diskSize, hexSum(f.data))
	}
}

func (f *fixture) fenceEpoch(t *testing.T, path string) uint64 {
	t.Helper()
	fe, err := fence.Open(path, "test-cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	e, err := fe.Epoch()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func hasEvent(j *ferryv1.Job, prefix string) bool {
	return slices.ContainsFunc(j.GetHistory(), func(e *ferryv1.JobEvent) bool { return strings.HasPrefix(e.GetMessage(), prefix) })
}

// TestTakeoverMovesTheCopy: the leader gives a running copy to another
// node, as it does when the owner's lease expires. The old owner stops, the
// new one resumes from the last checkpoint under the new epoch, and the
// tape ends up with the data once.
func TestTakeoverMovesTheCopy(t *testing.T) {
	// n2 is not alive to the scheduler: only the test gives it work.
	f := setup(t, clusterOptions{nodes: []string{"n1", "n2"}, alive: []string{"n1"}})
	r1 := run(t, f.node("n1"), Config{Mover: slowCopy})
	r2 := run(t, f.node("n2"), Config{Mover: mover.Config{BufferSize: 256 << 10, CheckpointBytes: 256 << 10}})
	f.submit(t, "j", diskEP("db01"), tapeEP())
	j := f.waitCheckpoint(t, "j")
	if j.GetOwner() != "n1" {
		t.Fatalf("placed on %s, want n1", j.GetOwner())
	}
	if !r1.isRunning("j") {
		t.Fatal("n1 has a checkpoint of the job but does not run it")
	}

	// What the scheduler proposes for a lost job: same tapes, from the
	// epoch it saw.
	placed := f.must(t, &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{
		JobId: "j", Node: "n2", FromEpoch: j.GetEpoch(), Tapes: j.GetTapes(), Reason: "owner n1 lost: test"}}}).Job
	eventually(t, "n1 to stop its copy", func() bool { return !r1.isRunning("j") }, nil)

	done := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if done.GetOwner() != "n2" || done.GetEpoch() != placed.GetEpoch() {
		t.Fatalf("finished by %s under epoch %d, want n2 under %d", done.GetOwner(), done.GetEpoch(), placed.GetEpoch())
	}
	if got, want := done.GetResult().GetSha256(), hexSum(f.data); got != want {
		t.Fatalf("sha256 %s, want %s", got, want)
	}
	resumed := fmt.Sprintf("resumed on n2 from offset %d", placed.GetProgress().GetCheckpointOffset())
	if !hasEvent(done, resumed) || !hasEvent(done, "taken over by n2") {
		t.Fatalf("history lacks the takeover or %q: %v", resumed, done.GetHistory())
	}
	for _, e := range done.GetHistory() {
		if e.GetRaftIndex() > placed.GetEpoch() && e.GetNode() != "n2" {
			t.Errorf("after the takeover %s recorded %q", e.GetNode(), e.GetMessage())
		}
	}
	f.tapeHolds(t)
	// Resumed past where it began, the copy still reports file 1.
	if got, want := f.catalog(t, barcode), f.dataFile(1, "j"); got != want {
		t.Errorf("catalog %q, want %q", got, want)
	}
	if e := f.fenceEpoch(t, f.tape); e != placed.GetEpoch() {
		t.Errorf("the cartridge is fenced at epoch %d, want the takeover's %d", e, placed.GetEpoch())
	}
	if n := r1.counter(t, "ferry_executor_jobs_total"); n != 0 {
		t.Errorf("n1 recorded %v job outcomes after losing the job", n)
	}
	if n := r2.counter(t, "ferry_takeover_latency_seconds"); n != 1 {
		t.Errorf("n2 observed %v takeover latencies, want 1", n)
	}
}

// TestStaleWriterIsFenced: the job is taken over and its new owner claims
// the device under a running copy before the old owner has heard of the
// takeover (it lags). The copy's next write is refused, and the job is
// not failed: its outcome is the new owner's to record.
func TestStaleWriterIsFenced(t *testing.T) {
	// n2 is not alive to the scheduler and runs no executor: the test
	// plays its part.
	f := setup(t, clusterOptions{nodes: []string{"n1", "n2"}, alive: []string{"n1"}})
	n1 := f.node("n1")
	r := run(t, n1, Config{Mover: slowCopy})
	f.submit(t, "j", diskEP("db01"), tapeEP())
	j := f.waitCheckpoint(t, "j")

	n1.lag(t)
	placed := f.must(t, &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{
		JobId: "j", Node: "n2", FromEpoch: j.GetEpoch(), Tapes: j.GetTapes(), Reason: "owner n1 lost: test"}}}).Job
	fe, err := fence.Open(f.tape, "test-cluster")
	if err != nil {
		t.Fatal(err)
	}
	if err := fe.Claim(context.Background(), placed.GetEpoch()); err != nil {
		t.Fatal(err)
	}
	if err := fe.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "writes refused by the fence", func() bool {
		return r.counter(t, "ferry_fenced_writes_total", "reason", "epoch") >= 1
	}, nil)
	before := size(t, f.tape)
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if s := size(t, f.tape); s != before {
			t.Fatalf("the tape grew from %d to %d bytes after the fence refused its writer", before, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n1.heal()
	eventually(t, "n1 to stop", func() bool { return !r.isRunning("j") }, nil)
	got := f.job(t, "j")
	if got.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || got.GetOwner() != "n2" || got.GetEpoch() != placed.GetEpoch() ||
		hasEvent(got, "succeeded") || hasEvent(got, "failed") {
		t.Fatalf("the fenced writer changed the job's fate: %v on %s under %d, %v", got.GetState(), got.GetOwner(), got.GetEpoch(), got.GetHistory())
	}
}

// TestLeaseLapseHoldsWrites: an owner cut off from the leader stops writing
// once its renew deadline passes, and goes on where it stopped once a
// renewal gets through.
func TestLeaseLapseHoldsWrites(t *testing.T) {
	f := setup(t, clusterOptions{})
	n1 := f.node("n1")
	r := run(t, n1, Config{Mover: slowCopy, RenewInterval: 20 * time.Millisecond, RenewDeadline: 200 * time.Millisecond})
	f.submit(t, "j", diskEP("db01"), tapeEP())
	j := f.waitCheckpoint(t, "j")

	n1.failRenewals.Store(true)
	eventually(t, "the lease to lapse", func() bool { return !r.lease.valid() }, nil)
	eventually(t, "a write held back", func() bool {
		return r.counter(t, "ferry_fenced_writes_total", "reason", "lease") > 0
	}, func() string {
		j := f.job(t, "j")
		return fmt.Sprintf("job %v, %d bytes done, mover %v bytes", j.GetState(), j.GetProgress().GetBytesDone(), r.counter(t, "ferry_mover_bytes_total"))
	})
	// The write in flight when the lease lapsed may still land; after that,
	// nothing moves for as long as the lease stays lapsed.
	type mark struct {
		bytes float64
		size  int64
		at    time.Time
	}
	sample := func() mark {
		return mark{r.counter(t, "ferry_mover_bytes_total"), size(t, f.tape), time.Now()}
	}
	last := sample()
	eventually(t, "no progress for 500ms", func() bool {
		now := sample()
		if now.bytes != last.bytes || now.size != last.size {
			last = now
			return false
		}
		return now.at.Sub(last.at) >= 500*time.Millisecond
	}, nil)
	if r.lease.valid() {
		t.Fatal("the lease was renewed while renewals fail")
	}
	if last.bytes >= diskSize {
		t.Fatal("the copy finished before the lease lapsed; it is too fast for this test")
	}
	if got := f.job(t, "j"); got.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("job is %v while its owner's lease lapsed", got.GetState())
	}

	n1.failRenewals.Store(false)
	done := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if done.GetEpoch() != j.GetEpoch() || done.GetOwner() != "n1" {
		t.Fatalf("finished by %s under epoch %d, want n1 under %d", done.GetOwner(), done.GetEpoch(), j.GetEpoch())
	}
	if got, want := done.GetResult().GetSha256(), hexSum(f.data); got != want {
		t.Fatalf("sha256 %s, want %s", got, want)
	}
	f.tapeHolds(t)
	if n := r.counter(t, "ferry_lease_renewals_total", "result", "failed"); n == 0 {
		t.Error("no failed renewal counted")
	}
}

// TestWaitsUntilCaughtUp: a node still applying the log does not start the
// jobs the state it has applied so far gives it.
func TestWaitsUntilCaughtUp(t *testing.T) {
	f := setup(t, clusterOptions{})
	n1 := f.node("n1")
	n1.catchingUp.Store(true)
	r := run(t, n1, Config{})
	f.submit(t, "j", diskEP("db01"), diskEP("db02"))
	f.waitState(t, "j", ferryv1.JobState_JOB_STATE_RUNNING)
	// Renewals and scans run at the same pace: after several renewals,
	// several scans have passed the job by.
	base := r.counter(t, "ferry_lease_renewals_total", "result", "granted")
	eventually(t, "renewals", func() bool {
		return r.counter(t, "ferry_lease_renewals_total", "result", "granted") >= base+5
	}, nil)
	if r.isRunning("j") || f.proposals(&ferryv1.Command_StartJob{}) != 0 {
		t.Fatal("a node catching up started a job")
	}
	n1.catchingUp.Store(false)
	f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
}

// TestFenceStopsAnOwnerThatMissedTheTakeover: the old owner is cut off and
// still believes its lease holds (a paused process, a clock running slow),
// so nothing but the fence stops it. The new owner's claim does: the old
// copy's next write is refused, it records nothing, and the tape ends up
// with the data once.
func TestFenceStopsAnOwnerThatMissedTheTakeover(t *testing.T) {
	f := setup(t, clusterOptions{nodes: []string{"n1", "n2"}, alive: []string{"n1"}})
	n1 := f.node("n1")
	// A renew deadline far past the leader's lease: n1 keeps writing long
	// after the leader may give its job away.
	r1 := run(t, n1, Config{Mover: slowCopy, RenewDeadline: time.Hour})
	r2 := run(t, f.node("n2"), Config{Mover: mover.Config{BufferSize: 256 << 10, CheckpointBytes: 256 << 10}})
	f.submit(t, "j", diskEP("db01"), tapeEP())
	j := f.waitCheckpoint(t, "j")

	n1.partition(t)
	placed := f.must(t, &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{
		JobId: "j", Node: "n2", FromEpoch: j.GetEpoch(), Tapes: j.GetTapes(), Reason: "owner n1 lost: test"}}}).Job
	done := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	if done.GetOwner() != "n2" || done.GetEpoch() != placed.GetEpoch() {
		t.Fatalf("finished by %s under epoch %d, want n2 under %d", done.GetOwner(), done.GetEpoch(), placed.GetEpoch())
	}
	if got, want := done.GetResult().GetSha256(), hexSum(f.data); got != want {
		t.Fatalf("sha256 %s, want %s", got, want)
	}
	if !r1.lease.valid() {
		t.Fatal("n1's lease lapsed: the test no longer shows the fence alone stopping it")
	}
	// n1, still sure the job is its own, tried to go on writing.
	eventually(t, "n1's writes refused by the fence", func() bool {
		return r1.counter(t, "ferry_fenced_writes_total", "reason", "epoch") > 0
	}, nil)
	n1.heal()
	eventually(t, "n1 to let go of the job", func() bool { return !r1.isRunning("j") }, nil)
	f.tapeHolds(t)
	if n := r1.counter(t, "ferry_executor_jobs_total"); n != 0 {
		t.Errorf("n1 recorded %v job outcomes after losing the job", n)
	}
	if j := f.job(t, "j"); j.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED || j.GetResult().GetSha256() != done.GetResult().GetSha256() {
		t.Errorf("the job changed once n1 came back: %v", j.GetHistory())
	}
	if n := r2.counter(t, "ferry_executor_jobs_total", "outcome", "succeeded"); n != 1 {
		t.Errorf("n2 counted %v successes, want 1", n)
	}
}

// TestLateOwnerWritesNothingOnClose: an owner cut off while a record's end
// is still buffered in its cartridge must not write it when it finally
// closes the cartridge, long after another job rewrote the tape.
func TestLateOwnerWritesNothingOnClose(t *testing.T) {
	f := setup(t, clusterOptions{nodes: []string{"n1", "n2"}, alive: []string{"n1"}})
	n1 := f.node("n1")
	// No checkpoint flushes the cartridge after the first records.
	r1 := run(t, n1, Config{RenewDeadline: 200 * time.Millisecond,
		Mover: mover.Config{BufferSize: 256 << 10, BandwidthLimit: 1 << 20, CheckpointBytes: 1 << 40, CheckpointEvery: time.Hour}})
	run(t, f.node("n2"), Config{})
	f.submit(t, "a", diskEP("db01"), tapeEP())
	eventually(t, "a few records on tape", func() bool { return size(t, f.tape) > 3<<18 }, nil)
	n1.partition(t)
	eventually(t, "n1's write held back", func() bool { return r1.counter(t, "ferry_fenced_writes_total", "reason", "lease") > 0 }, nil)

	// Gossip notices n1 is gone: the scheduler gives the job to n2.
	f.setGossip("n1", ferryv1.GossipState_GOSSIP_STATE_DEAD)
	f.setGossip("n2", ferryv1.GossipState_GOSSIP_STATE_ALIVE)
	f.waitState(t, "a", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	// Another job rewrites tape file 1 with records laid out otherwise.
	one := uint32(1)
	dst := tapeEP()
	dst.TapeFile = &one
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: "b",
		Spec: &ferryv1.JobSpec{Source: diskEP("db01"), Destination: dst, Options: &ferryv1.JobOptions{Verify: true, Overwrite: true},
			Segments: []*ferryv1.Segment{{SourceOffset: 0, Length: 100000}, {SourceOffset: 100000, Length: diskSize - 100000}}}}}})
	b := f.waitState(t, "b", ferryv1.JobState_JOB_STATE_SUCCEEDED)

	n1.heal()
	eventually(t, "n1 to let go of job a", func() bool { return !r1.isRunning("a") }, nil)
	src := tapeEP()
	src.TapeFile = &one
	got, err := Hash(context.Background(), f.fsm, src)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSha256() != b.GetResult().GetSha256() {
		t.Fatalf("tape file 1 hashes to %s after n1 closed its cartridge, but job b wrote %s", got.GetSha256(), b.GetResult().GetSha256())
	}
}

// TestTakeoverFromWhereTheCopySpaced: the old owner spaced to end of data
// (a checkpoint pins where) and wrote records, but no checkpoint after
// them. The new owner starts its file where the old one did, not after
// what the old one wrote: the tape's file 1 is the data.
func TestTakeoverFromWhereTheCopySpaced(t *testing.T) {
	f := setup(t, clusterOptions{nodes: []string{"n1", "n2"}, alive: []string{"n1"}})
	noCheckpoints := mover.Config{BufferSize: 256 << 10, BandwidthLimit: 1 << 20, CheckpointBytes: 1 << 40, CheckpointEvery: time.Hour}
	r1 := run(t, f.node("n1"), Config{Mover: noCheckpoints})
	run(t, f.node("n2"), Config{})
	f.submit(t, "j", diskEP("db01"), tapeEP())
	eventually(t, "records of n1 on tape", func() bool { return size(t, f.tape) > 3<<18 }, nil)
	j := f.job(t, "j")
	if j.GetProgress().GetCheckpointOffset() != 0 || len(j.GetCheckpoint()) == 0 {
		t.Fatalf("want only the checkpoint after spacing, have one at %d bytes", j.GetProgress().GetCheckpointOffset())
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{
		JobId: "j", Node: "n2", FromEpoch: j.GetEpoch(), Tapes: j.GetTapes(), Reason: "owner n1 lost: test"}}})
	f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	eventually(t, "n1 to let go of the job", func() bool { return !r1.isRunning("j") }, nil)
	one := uint32(1)
	src := tapeEP()
	src.TapeFile = &one
	got, err := Hash(context.Background(), f.fsm, src)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSha256() != hexSum(f.data) {
		t.Fatalf("tape file 1 holds %d bytes (sha256 %s), want the data", got.GetBytes(), got.GetSha256())
	}
	f.tapeHolds(t)
	if got, want := f.catalog(t, barcode), f.dataFile(1, "j"); got != want {
		t.Errorf("catalog %q, want %q", got, want)
	}
}

// TestLeaderSaysTheJobIsLost: an owner whose state lags behind hears from
// the leader, in its lease renewal, that its job moved, and stops the copy
// without waiting to catch up.
func TestLeaderSaysTheJobIsLost(t *testing.T) {
	f := setup(t, clusterOptions{nodes: []string{"n1", "n2"}, alive: []string{"n1"}})
	n1 := f.node("n1")
	r1 := run(t, n1, Config{Mover: slowCopy})
	run(t, f.node("n2"), Config{})
	f.submit(t, "j", diskEP("db01"), tapeEP())
	j := f.waitCheckpoint(t, "j")
	n1.lag(t)
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{
		JobId: "j", Node: "n2", FromEpoch: j.GetEpoch(), Tapes: j.GetTapes(), Reason: "owner n1 lost: test"}}})
	eventually(t, "n1 to stop the copy it lost", func() bool { return !r1.isRunning("j") }, nil)
	if n := r1.counter(t, "ferry_lease_refusals_total"); n == 0 {
		t.Fatal("n1 stopped, but not because the leader refused the job's lease")
	}
	f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	f.tapeHolds(t)
	n1.heal()
}

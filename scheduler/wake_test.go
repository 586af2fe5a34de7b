package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// diskCopy submits a copy from one disk to another, registering them.
func diskCopy(t *testing.T, f *fakeNode, id, from, to string) {
	t.Helper()
	for _, name := range []string{from, to} {
		if _, ok := f.fsm.Disk(name); ok {
			continue
		}
		f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: name, Naa: fmt.Sprintf("3%015x", f.index+1000), Path: "/luns/" + name + ".img", SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
	}
	disk := func(name string) *ferryv1.Endpoint {
		return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}}
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: id,
		Spec: &ferryv1.JobSpec{Source: disk(from), Destination: disk(to)}}}})
}

func finish(t *testing.T, f *fakeNode, id string) {
	t.Helper()
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{JobId: id, Reason: "done"}}})
}

// oneSlotFixture is the fixture with one mover (n2) that runs one job at a
// time, and no job yet.
func oneSlotFixture(t *testing.T) (*fakeNode, *Scheduler) {
	f, _ := newFixture(t)
	finish(t, f, "j1")
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	s := New(f, Config{Logger: slog.New(slog.DiscardHandler), now: f.now, Place: PlaceConfig{MaxJobsPerNode: 1}})
	renew(t, s, "n2")
	return f, s
}

// An old job that waits for a disk, parked while newer jobs wait for room
// on the node, is placed first when both end at once: waking follows what
// changed, and the woken jobs go in their order (priority, then age), so
// newer jobs never overtake it. After it, the newer ones run oldest first.
func TestAnOldJobIsNotStarvedByNewerOnes(t *testing.T) {
	f, s := oneSlotFixture(t)
	ctx := context.Background()
	diskCopy(t, f, "blocker", "src", "d1")
	s.tick(ctx)
	if j := job(t, f, "blocker"); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("blocker %v (%q)", j.GetState(), j.GetStateReason())
	}
	diskCopy(t, f, "old", "d1", "d2")
	s.tick(ctx)
	for i := range 3 {
		diskCopy(t, f, fmt.Sprintf("new%d", i), fmt.Sprintf("n%d", i), fmt.Sprintf("m%d", i))
		s.tick(ctx)
	}
	s.tick(ctx) // the wait reasons come back
	if r := job(t, f, "old").GetStateReason(); r != "disk d1 is being written by job blocker" {
		t.Fatalf("old waits with %q", r)
	}
	if r := job(t, f, "new2").GetStateReason(); r != "all eligible nodes are at their limit of 1 jobs" {
		t.Fatalf("new2 waits with %q", r)
	}
	if _, parked := s.track.parked.on["old"]; !parked {
		t.Fatalf("old is not parked: the rounds decide it again and again")
	}
	order := []string{"old", "new0", "new1", "new2"}
	running := "blocker"
	for _, want := range order {
		finish(t, f, running)
		s.tick(ctx)
		if j := job(t, f, want); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
			t.Fatalf("after %s ended: %s %v (%q), want it placed next", running, want, j.GetState(), j.GetStateReason())
		}
		running = want
	}
}

// A round decides what changed, not the backlog: with 2,000 jobs parked
// behind a copy that writes their source, a new submission is the only
// job the next round decides, and the end of the copy wakes them all.
func TestARoundDecidesOnlyWhatChanged(t *testing.T) {
	f, _ := newFixture(t)
	s := New(f, Config{Logger: slog.New(slog.DiscardHandler), now: f.now, Place: PlaceConfig{MaxJobsPerNode: 10000}})
	ctx := context.Background()
	finish(t, f, "j1")
	renew(t, s, "n2")
	renew(t, s, "n3")
	diskCopy(t, f, "blocker", "big", "src")
	s.tick(ctx)
	for i := range 2000 {
		diskCopy(t, f, fmt.Sprintf("q%04d", i), "src", fmt.Sprintf("p%04d", i))
	}
	s.tick(ctx)
	s.tick(ctx)
	if n := len(s.track.parked.on); n != 2000 {
		t.Fatalf("%d jobs parked, want 2000", n)
	}
	diskCopy(t, f, "late", "src", "p-late")
	decided := s.decided
	s.tick(ctx)
	if n := s.decided - decided; n != 1 {
		t.Fatalf("the round after one submission decided %d jobs, want 1", n)
	}
	// A disk that no waiting job names is registered: nothing to decide.
	decided = s.decided
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
		Name: "other", Naa: "3fffffffffffffff", Path: "/luns/other.img", SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
	s.tick(ctx)
	if s.decided != decided {
		t.Fatalf("registering an unrelated disk made a round decide %d jobs", s.decided-decided)
	}
	finish(t, f, "blocker")
	decided = s.decided
	s.tick(ctx)
	if n := s.decided - decided; n != 2001 {
		t.Fatalf("the round after the blocker ended decided %d jobs, want 2001", n)
	}
	if j := job(t, f, "q1999"); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("q1999 %v (%q) once the blocker ended", j.GetState(), j.GetStateReason())
	}
}

// Jobs that wait for the same keys share one group; a key wakes every
// group under it and no other, and a group goes with its last job.
func TestParkingGroupsJobsThatWaitAlike(t *testing.T) {
	p := newParking()
	p.park("a", []wakeKey{wakeNodes, writersOf("db01")})
	p.park("b", []wakeKey{wakeNodes, writersOf("db01")})
	p.park("c", []wakeKey{writersOf("db01"), wakeTapes})
	p.park("d", nil)
	if len(p.groups) != 3 || len(p.by[writersOf("db01")]) != 2 {
		t.Fatalf("%d groups, %d under w:db01: want 3 and 2", len(p.groups), len(p.by[writersOf("db01")]))
	}
	wake := func(k wakeKey) []string {
		var ids []string
		p.wake(k, func(id string) { ids = append(ids, id) })
		slices.Sort(ids)
		return ids
	}
	if got := wake(wakeTapes); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("tapes woke %v, want [c]", got)
	}
	p.unpark("a")
	if got := wake(writersOf("db01")); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("w:db01 woke %v, want [b]", got)
	}
	if got := wake(wakeNodes); got != nil {
		t.Fatalf("nodes woke %v: its group went with b", got)
	}
	if len(p.on) != 1 || len(p.groups) != 1 || len(p.by) != 0 {
		t.Fatalf("left %d jobs, %d groups, %d keys: want d alone, under no key", len(p.on), len(p.groups), len(p.by))
	}
	if got := p.all(); !slices.Equal(got, []string{"d"}) || len(p.on) != 0 {
		t.Fatalf("all gave %v, leaving %d", got, len(p.on))
	}
}

// A map is copied once as many entries were deleted from it as are left,
// and not before.
func TestCompacted(t *testing.T) {
	m := map[int]bool{}
	for i := range 3 * minCompacted {
		m[i] = true
	}
	dropped := 0
	half := 3 * minCompacted / 2
	for i := range half - 1 {
		delete(m, i)
		dropped++
		if compacted(m, &dropped); dropped == 0 {
			t.Fatalf("copied with %d deleted and %d left", i+1, len(m))
		}
	}
	delete(m, half-1)
	dropped++
	if c := compacted(m, &dropped); len(c) != half || dropped != 0 {
		t.Fatalf("not copied with %d deleted and %d left", half, len(m))
	}
}

// A backlog that cannot run costs the leader its ids and wait keys, not a
// copy of each job: 10,000 parked jobs keep nothing in the tracker's jobs,
// and all it holds stays under 200 bytes a job (it was 866 with slim
// copies); when a node comes, every job is read again and placed.
func TestAParkedBacklogKeepsOnlyIDs(t *testing.T) {
	f, _ := newFixture(t)
	finish(t, f, "j1")
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	const n = 10000
	for i := range n {
		diskCopy(t, f, fmt.Sprintf("backlog-job-%06d", i), "src", "dst")
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	ctx := context.Background()
	cfg := Config{Logger: slog.New(slog.DiscardHandler), now: f.now, Place: PlaceConfig{MaxJobsPerNode: 1}}
	// A first leader records why the jobs wait (and has the state machine
	// keep its change feed); the next one, measured, finds the backlog
	// as a leader does after a restart.
	first := New(f, cfg)
	first.tick(ctx)
	first.tick(ctx)
	first = nil
	before := heap()
	s := New(f, cfg)
	s.tick(ctx)
	s.tick(ctx)
	if len(s.track.parked.on) != n || len(s.track.jobs) != 0 {
		t.Fatalf("%d parked, %d kept: want %d parked, none kept", len(s.track.parked.on), len(s.track.jobs), n)
	}
	per := (int64(heap()) - int64(before)) / n
	t.Logf("the leader holds %d bytes a parked job", per)
	if per > 200 {
		t.Fatalf("the leader holds %d bytes a parked job, want at most 200", per)
	}
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_ALIVE
	renew(t, s, "n2")
	s.tick(ctx)
	if running := len(f.fsm.JobIDs(ferryv1.JobState_JOB_STATE_RUNNING)); running != 1 || len(s.track.parked.on) != n-1 {
		t.Fatalf("once n2 came, %d jobs run and %d are parked: want 1 and %d", running, len(s.track.parked.on), n-1)
	}
}

// A node that runs no jobs changing (its gossip state, its lease lapsing:
// it renews none) wakes no parked job: placement reads only its name. A
// mover coming wakes them.
func TestANonMoverChangingWakesNothing(t *testing.T) {
	f, _ := newFixture(t)
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	s := New(f, Config{Logger: slog.New(slog.DiscardHandler), now: f.now})
	ctx := context.Background()
	s.tick(ctx)
	s.tick(ctx) // the wait reason comes back
	if _, parked := s.track.parked.on["j1"]; !parked {
		t.Fatalf("j1 is not parked")
	}
	decided := s.decided
	f.gossip["n1"] = ferryv1.GossipState_GOSSIP_STATE_SUSPECT
	f.advance(2 * DefaultLease)
	s.tick(ctx)
	f.gossip["n1"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	s.tick(ctx)
	if s.decided != decided {
		t.Fatalf("the non-mover n1 changing made rounds decide %d jobs", s.decided-decided)
	}
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_ALIVE
	renew(t, s, "n2")
	s.tick(ctx)
	if j := job(t, f, "j1"); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || j.GetOwner() != "n2" {
		t.Fatalf("j1 %v on %q (%q) once n2 came", j.GetState(), j.GetOwner(), j.GetStateReason())
	}
}

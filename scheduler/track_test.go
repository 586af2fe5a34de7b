package scheduler

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// trackNodes are the nodes of the tracker tests' views.
var trackNodes = []NodeView{mover("n2", "east"), mover("n3", "east"), mover("n4", "east")}

// viewOf is a view of every job the tracker follows (trackedOf).
func viewOf(t *tracker) View {
	v := View{Nodes: trackNodes, DiskIndex: t.disks, Libraries: t.libraries, Cartridges: t.cartridges}
	for _, jv := range trackedOf(t) {
		v.Jobs = append(v.Jobs, jv)
	}
	return v
}

// trackedOf is every job the tracker follows: those it keeps, and the
// parked ones (their ids only) as it reads them when they wake.
func trackedOf(t *tracker) map[string]JobView {
	all := maps.Clone(t.jobs)
	for id := range t.parked.on {
		j, _ := t.reg.Job(id)
		all[id] = jobView(t.reg, j)
	}
	return all
}

// roundOf is a round as the driver plans it: the running jobs and the
// candidates, not the parked backlog.
func roundOf(t *tracker) View {
	v := View{Nodes: trackNodes, DiskIndex: t.disks, Libraries: t.libraries, Cartridges: t.cartridges}
	for id := range t.running {
		v.Jobs = append(v.Jobs, t.jobs[id])
	}
	for id := range t.candidates {
		v.Jobs = append(v.Jobs, t.jobs[id])
	}
	return v
}

// The tracker, kept current from the change feed, gives the decisions a
// view read from scratch gives, after every one of a random series of
// changes: submissions (some naming a disk registered only later),
// placements, starts, checkpoints, wait reasons, cancellations, a device
// registered, a cartridge moved by a DMA. And a round that decides only
// the candidates (the jobs parked since their last wait left out) decides
// them as the full view does, while every parked job's last decision is
// still the one the full view makes.
func TestTrackerMatchesAFullRebuild(t *testing.T) {
	f := &fakeNode{fsm: fsm.New(), leader: true, clock: time.Unix(1_000_000, 0)}
	for i, name := range []string{"n1", "n2", "n3", "n4"} {
		f.index++
		f.fsm.AddNode(f.index, &ferryv1.NodeInfo{Name: name, RaftId: uint64(i + 1), Site: "east", Mover: name != "n1"})
	}
	disk := func(name string, n int) {
		f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: name, Naa: fmt.Sprintf("30000000000000%02d", n), Path: "/luns/" + name + ".img", SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
	}
	for i := range 4 {
		disk(fmt.Sprintf("db%02d", i+1), i+1)
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "lib1", Dir: "/vtl/lib1", Site: "east", Slots: 8, Drives: 2, IeSlots: 1, CartridgeCapacityBytes: 1 << 30}}}})
	for i := range 4 {
		b := fmt.Sprintf("A%05dL9", i+1)
		f.must(t, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
			Barcode: b, Library: "lib1", Naa: fmt.Sprintf("30000000000001%02d", i), Path: "/vtl/lib1/" + b + ".tap", HomeSlot: uint32(i + 1),
			CapacityBytes: 1 << 30, Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: uint32(i + 1)}}}}})
	}
	ref := func(name string) *ferryv1.DeviceRef {
		return &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}
	}
	cfg := PlaceConfig{MaxJobsPerNode: 2}
	inc := newTracker(f.fsm)
	// last is the latest decision of each job the incremental rounds
	// decided; parked counts the jobs left out of rounds, to show the
	// series parks some.
	last := map[string]string{}
	parked := 0
	rng := rand.New(rand.NewPCG(12, 0))
	jobs := 0
	registered := 4
	multi := 0
	for step := range 300 {
		full := newTracker(f.fsm)
		full.update()
		open := slices.Sorted(maps.Keys(full.jobs))
		pick := func(state ferryv1.JobState) (*ferryv1.Job, bool) {
			var ids []string
			for _, id := range open {
				if full.jobs[id].Job.GetState() == state {
					ids = append(ids, id)
				}
			}
			if len(ids) == 0 {
				return nil, false
			}
			j, _ := f.fsm.Job(ids[rng.IntN(len(ids))])
			return j, true
		}
		var cmd *ferryv1.Command
		switch r := rng.IntN(100); {
		case r < 35:
			jobs++
			src := fmt.Sprintf("db%02d", 1+rng.IntN(8)) // db05..db08 are registered late
			dst := fmt.Sprintf("A%05dL9", 1+rng.IntN(4))
			cmd = &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: fmt.Sprintf("j%03d", jobs), Spec: &ferryv1.JobSpec{
				Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: ref(src)},
				Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: ref(dst)},
				Options:     &ferryv1.JobOptions{Priority: int32(rng.IntN(3))},
			}}}}
		case r < 40:
			// A copy in two streams: one submit creates three jobs.
			jobs++
			cmd = &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: fmt.Sprintf("j%03d", jobs), Spec: &ferryv1.JobSpec{
				Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: ref("db01"), Blocks: 512},
				Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: ref("db02"), Lba: 1024, Blocks: 512},
				Streams:     2,
			}}}}
		case r < 55:
			for _, d := range Place(cfg, viewOf(full)) {
				if d.Node != "" {
					cmd = &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{
						JobId: d.JobID, Node: d.Node, FromEpoch: d.FromEpoch, Tapes: d.Tapes}}}
					break
				}
			}
		case r < 65:
			if j, ok := pick(ferryv1.JobState_JOB_STATE_RUNNING); ok {
				cmd = &ferryv1.Command{Node: j.GetOwner(), Op: &ferryv1.Command_StartJob{StartJob: &ferryv1.StartJobOp{
					JobId: j.GetId(), Epoch: j.GetEpoch(), BytesTotal: 1 << 20, SegmentsTotal: 1}}}
			}
		case r < 72:
			if j, ok := pick(ferryv1.JobState_JOB_STATE_RUNNING); ok {
				done := uint64(rng.IntN(1 << 20))
				cmd = &ferryv1.Command{Node: j.GetOwner(), Op: &ferryv1.Command_CheckpointJob{CheckpointJob: &ferryv1.CheckpointJobOp{
					JobId: j.GetId(), Epoch: j.GetEpoch(), Checkpoint: []byte{1},
					Progress: &ferryv1.JobProgress{BytesTotal: 1 << 20, BytesDone: done, CheckpointOffset: done}}}}
			}
		case r < 80:
			if j, ok := pick(ferryv1.JobState_JOB_STATE_QUEUED); ok {
				cmd = &ferryv1.Command{Op: &ferryv1.Command_WaitJobs{WaitJobs: &ferryv1.WaitJobsOp{Waits: []*ferryv1.WaitJobOp{
					{JobId: j.GetId(), Reason: fmt.Sprintf("reason %d", step)}}}}}
			}
		case r < 95:
			state := ferryv1.JobState_JOB_STATE_RUNNING
			if rng.IntN(2) == 0 {
				state = ferryv1.JobState_JOB_STATE_QUEUED
			}
			if j, ok := pick(state); ok {
				cmd = &ferryv1.Command{Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{JobId: j.GetId()}}}
			}
		case r < 98 && registered < 8:
			registered++
			disk(fmt.Sprintf("db%02d", registered), registered)
		default:
			// A DMA loads a cartridge (or fails to: it may be in use).
			slot := uint32(1 + rng.IntN(4))
			cmd = &ferryv1.Command{Node: "n2", Op: &ferryv1.Command_MoveMedium{MoveMedium: &ferryv1.MoveMediumOp{Library: "lib1",
				From: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: slot},
				To:   &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: uint32(rng.IntN(2))}, DmaAddress: "10.0.0.5:1"}}}
		}
		if cmd != nil {
			if res, _ := f.Propose(context.Background(), cmd); res.Err == nil && res.Job != nil && len(res.Job.GetStreams()) > 0 {
				multi++
			}
		}
		if rng.IntN(3) == 0 {
			continue // the next update sees several changes at once
		}
		inc.update()
		full = newTracker(f.fsm)
		full.update()
		if a, b := slices.Sorted(maps.Keys(trackedOf(inc))), slices.Sorted(maps.Keys(full.jobs)); !slices.Equal(a, b) {
			t.Fatalf("step %d: tracked jobs %v, a rebuild reads %v", step, a, b)
		}
		fullDecisions := Place(cfg, viewOf(full))
		got, want := render(Place(cfg, viewOf(inc))), render(fullDecisions)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d (%v): the tracker decides\n%v\na rebuild decides\n%v", step, cmd.GetOp(), got, want)
		}
		round := Place(cfg, roundOf(inc))
		for _, d := range round {
			last[d.JobID] = render([]Decision{d})[0]
		}
		inc.settle(round)
		for _, d := range round {
			if d.Node != "" {
				// The test carries out no placement: wake what its
				// change would wake when the feed brought it back.
				inc.wakeHeld(inc.jobs[d.JobID])
			}
		}
		parked += len(inc.parked.on)
		decidedNow := map[string]bool{}
		for _, d := range round {
			decidedNow[d.JobID] = true
		}
		for _, d := range fullDecisions {
			_, isParked := inc.parked.on[d.JobID]
			if d.FromEpoch != 0 || !isParked && !decidedNow[d.JobID] {
				continue // woken: the next round decides it
			}
			if w := render([]Decision{d})[0]; last[d.JobID] != w {
				t.Fatalf("step %d (%v): job %s (parked %v) was last decided\n%s\nthe full view decides\n%s", step, cmd.GetOp(), d.JobID, isParked, last[d.JobID], w)
			}
		}
	}
	if parked == 0 {
		t.Fatalf("no job was ever parked: the series does not test waking")
	}
	if multi < 5 {
		t.Fatalf("only %d multi-stream jobs submitted", multi)
	}
	if jobs < 60 {
		t.Fatalf("only %d jobs submitted: the series is too tame", jobs)
	}
}

// With a backlog that cannot be placed, a round after nothing changed
// reads nothing from the state machine and plans nothing; the round after
// the scheduler's own wait reasons came back reads those jobs but plans
// nothing either.
func TestARoundWithNothingChangedDoesNoWork(t *testing.T) {
	f, s := newFixture(t)
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	f.gossip["n3"] = ferryv1.GossipState_GOSSIP_STATE_DEAD
	for i := range 500 {
		submit(t, f, fmt.Sprintf("b%03d", i))
	}
	planned := func() int { return s.planned }
	s.tick(context.Background())
	if planned() != 1 {
		t.Fatalf("first round: %v planned, want 1", planned())
	}
	if j := job(t, f, "b499"); j.GetStateReason() != "no eligible node" {
		t.Fatalf("b499 waits with %q", j.GetStateReason())
	}
	index := f.fsm.AppliedIndex()
	s.tick(context.Background()) // reads the reasons it recorded
	if planned() != 1 {
		t.Fatalf("a round planned after only wait reasons changed")
	}
	for range 3 {
		reads := s.track.reads
		s.tick(context.Background())
		if s.track.reads != reads || planned() != 1 {
			t.Fatalf("a round with nothing changed read %d things and planned %v rounds in all", s.track.reads-reads, planned())
		}
	}
	if f.fsm.AppliedIndex() != index {
		t.Fatalf("rounds with nothing changed proposed %d entries", f.fsm.AppliedIndex()-index)
	}
	// A node coming back is a change: the backlog is placed.
	f.gossip["n2"] = ferryv1.GossipState_GOSSIP_STATE_ALIVE
	renew(t, s, "n2")
	s.tick(context.Background())
	if planned() != 2 {
		t.Fatalf("a node coming back planned no round")
	}
	if j := job(t, f, "j1"); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("j1 %v (%q) once n2 is back", j.GetState(), j.GetStateReason())
	}
}

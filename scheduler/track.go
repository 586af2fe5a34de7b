package scheduler

import (
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// tracker keeps, on the leader, what placement reads from the state
// machine: the queued and running jobs, each with the devices it needs
// (resolved once per change, not once per round), and the device
// registry. The state machine's change feed (fsm.FSM.ChangesSince) says
// what changed since the last round, so a round reads only that, and a
// round in which nothing changed reads nothing. Jobs are kept slim (no
// history, checkpoint or copy plan), and a parked job not at all: a
// backlog of 100,000 jobs must not cost the leader a second copy of the
// state.
//
// It also says which queued jobs the next round must decide (candidates):
// new and changed ones, and those a change woke. The others are parked
// under the keys that can end their wait (wake.go), as their ids only,
// and read again when they wake: a round decides what changed, not the
// whole backlog again.
type tracker struct {
	reg    *fsm.FSM
	cursor fsm.Cursor
	// jobs are the running jobs and the queued candidates by id (not the
	// parked ones); running the ids of the running ones, whose owners the
	// driver watches. dropped counts the jobs deleted from jobs since it
	// was last copied (compacted).
	jobs    map[string]JobView
	running map[string]bool
	dropped int

	disks      map[string]*ferryv1.Disk
	libraries  []*ferryv1.Library
	cartridges []*ferryv1.Cartridge
	// driveRates are the libraries' drive rates (View.DriveRates), from
	// their drive model (--drive-rate).
	driveRates map[string]uint64

	// specs are the shared specs by priority, names the shared device
	// lists (slim, intern).
	specs map[int32]*ferryv1.JobSpec
	names map[string][]string

	// candidates are the queued jobs the next round decides; parked the
	// others, until a change wakes them.
	candidates map[string]bool
	parked     parking
	// unresolvable are the jobs whose devices did not resolve: a
	// registration reads them again.
	unresolvable map[string]bool

	// bulk is how many jobs the last rebuild or wakeAll read at once,
	// until the driver has dealt with the garbage that left (see tick).
	bulk int

	// reads counts what was read from the state machine (a job, or the
	// whole registry): the work a round did, for tests.
	reads int
}

func newTracker(reg *fsm.FSM) *tracker {
	return &tracker{reg: reg, jobs: map[string]JobView{}, running: map[string]bool{},
		disks: map[string]*ferryv1.Disk{}, candidates: map[string]bool{}, parked: newParking(), unresolvable: map[string]bool{},
		specs: map[int32]*ferryv1.JobSpec{}, names: map[string][]string{}}
}

// update reads what changed since the last call and reports whether
// anything that placement decides on did. A job whose only change is its
// wait reason (the scheduler's own WaitJobOp coming back) is not a change.
func (t *tracker) update() (changed bool) {
	ch, next := t.reg.ChangesSince(t.cursor)
	t.cursor = next
	if ch.All {
		t.rebuild()
		return true
	}
	for _, name := range ch.Disks {
		t.readDisk(name)
		t.wake(writersOf(name))
		t.wake(usersOf(name))
		changed = true
	}
	if ch.Tapes {
		t.readTapes()
		t.wake(wakeTapes)
		changed = true
	}
	read := make(map[string]bool, len(ch.Jobs))
	if ch.Registry {
		// A device registered may resolve what did not; one removed was
		// named by no job that has not ended (the state machine refuses
		// that), so the jobs that resolved still do. The devices named
		// woke their jobs above, libraries and cartridges with Tapes.
		for _, id := range slices.Sorted(maps.Keys(t.unresolvable)) {
			if !t.resolves(id) {
				continue // parked, and waits as it did
			}
			read[id] = true
			t.readJob(id)
		}
		changed = true
	}
	for _, id := range ch.Jobs {
		if read[id] {
			continue // once is enough: the read sees its latest state
		}
		read[id] = true
		if t.readJob(id) {
			changed = true
		}
	}
	// Wait reasons, mostly the scheduler's own coming back: the reason is
	// all that changed, and placement does not read it.
	for _, id := range ch.Reasons {
		if jv, ok := t.jobs[id]; ok && !read[id] {
			if r, ok := t.reg.JobStateReason(id); ok {
				jv.Job.StateReason = r
			}
		}
	}
	return changed
}

// rebuild reads everything again: after a snapshot replaced the state,
// when this node starts to lead, or after the feed lost track.
func (t *tracker) rebuild() {
	t.jobs, t.running = map[string]JobView{}, map[string]bool{}
	t.candidates, t.parked, t.unresolvable = map[string]bool{}, newParking(), map[string]bool{}
	t.reads++
	t.disks = map[string]*ferryv1.Disk{}
	for _, d := range t.reg.Disks() {
		t.disks[d.GetName()] = d
	}
	t.readTapes()
	for _, st := range []ferryv1.JobState{ferryv1.JobState_JOB_STATE_RUNNING, ferryv1.JobState_JOB_STATE_QUEUED} {
		for _, id := range t.reg.JobIDs(st) {
			t.readJob(id)
		}
	}
	t.bulk = len(t.jobs)
}

// wake reads the jobs parked under the key again: candidates, unless
// they ended meanwhile.
func (t *tracker) wake(k wakeKey) {
	t.parked.wake(k, func(id string) { t.readJob(id) })
}

// wakeAll reads every parked job again: the nodes or the lost jobs
// changed, and any wait may end.
func (t *tracker) wakeAll() {
	ids := t.parked.all()
	for _, id := range ids {
		t.readJob(id)
	}
	t.bulk = max(t.bulk, len(ids))
}

// settle parks the candidates the round left waiting (a stream's parent,
// never decided itself, waits for its own change), dropping what it kept
// of them, and keeps the others (placed, or not decided: the next round
// tries them again).
func (t *tracker) settle(decided []Decision) {
	waits := make(map[string]Decision, len(decided))
	for _, d := range decided {
		if d.Node == "" {
			waits[d.JobID] = d
		}
	}
	// A new set: the old one may have held a whole backlog.
	next := map[string]bool{}
	for id := range t.candidates {
		jv := t.jobs[id]
		if jv.Job.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
			continue
		}
		if d, waited := waits[id]; waited {
			t.parked.park(id, waitKeys(jv, d.NodeBound))
			t.drop(id)
		} else if fsm.IsStreamParent(jv.Job) {
			t.parked.park(id, nil)
			t.drop(id)
		} else {
			next[id] = true
		}
	}
	t.candidates = next
}

// drop deletes a job from jobs, which is copied when the deleted
// outnumber the kept (compacted).
func (t *tracker) drop(id string) {
	delete(t.jobs, id)
	t.dropped++
	t.jobs = compacted(t.jobs, &t.dropped)
}

// unpark reads a parked job again, a candidate (its wait reason could not
// be recorded: the next round decides it again).
func (t *tracker) unpark(id string) {
	if _, ok := t.parked.on[id]; ok {
		t.parked.unpark(id)
		t.readJob(id)
	}
}

// resolves reports whether an unresolvable job may have changed: it is
// not parked, or its devices resolve now (a device registered). A parked
// job that still does not resolve waits as it did, and is not read.
func (t *tracker) resolves(id string) bool {
	if _, ok := t.parked.on[id]; !ok {
		return true
	}
	t.reads++
	j, ok := t.reg.JobBrief(id)
	return !ok || !jobView(t.reg, j).Unresolvable
}

// readDisk reads one disk again (gone: removed).
func (t *tracker) readDisk(name string) {
	t.reads++
	if d, ok := t.reg.Disk(name); ok {
		t.disks[name] = d
	} else {
		delete(t.disks, name)
	}
}

// readTapes reads the libraries and cartridges again.
func (t *tracker) readTapes() {
	t.reads++
	t.libraries = t.libraries[:0]
	t.driveRates = map[string]uint64{}
	for _, l := range t.reg.Libraries() {
		if full, ok := t.reg.Library(l.GetName()); ok {
			t.libraries = append(t.libraries, full)
		}
		if r := l.GetDriveRateBytesPerSecond(); r > 0 {
			t.driveRates[l.GetName()] = r
		}
	}
	t.cartridges = t.reg.Cartridges("")
}

// readJob reads one job again and reports whether placement sees a
// difference.
func (t *tracker) readJob(id string) (changed bool) {
	t.reads++
	// A parked job is not in jobs: it is read as new. It was queued, and
	// held nothing: only a candidate is placed.
	old, had := t.jobs[id]
	j, ok := t.reg.JobBrief(id)
	st := j.GetState()
	if !ok || st != ferryv1.JobState_JOB_STATE_QUEUED && st != ferryv1.JobState_JOB_STATE_RUNNING {
		delete(t.running, id)
		delete(t.candidates, id)
		delete(t.unresolvable, id)
		t.parked.unpark(id)
		if had {
			t.drop(id)
			// Queued when last read, it may have run since: what it
			// would have held is free in any case.
			t.wakeHeld(old)
		}
		return had
	}
	jv := jobView(t.reg, j)
	jv.Job = t.slim(j)
	jv.Disks, jv.Cartridges, jv.Writes = t.intern(jv.Disks), t.intern(jv.Cartridges), t.intern(jv.Writes)
	t.jobs[id] = jv
	if jv.Unresolvable {
		t.unresolvable[id] = true
	} else {
		delete(t.unresolvable, id)
	}
	if st == ferryv1.JobState_JOB_STATE_RUNNING {
		t.running[id] = true
	} else {
		delete(t.running, id)
	}
	changed = !had || !samePlacement(old, jv)
	if !changed {
		return false
	}
	// What a running job held (or now holds) may end other jobs' waits.
	if had && old.Job.GetState() == ferryv1.JobState_JOB_STATE_RUNNING {
		t.wakeHeld(old)
	}
	if st == ferryv1.JobState_JOB_STATE_RUNNING {
		t.wakeHeld(jv)
		t.parked.unpark(id)
		delete(t.candidates, id)
	} else {
		t.parked.unpark(id)
		t.candidates[id] = true
	}
	return true
}

// wakeHeld wakes the jobs a running job's start, move or end may let run.
func (t *tracker) wakeHeld(jv JobView) {
	for _, k := range holdKeys(jv) {
		t.wake(k)
	}
}

// slim keeps of a job what placement and the driver read: a copy without
// history, checkpoint and copy plan. A spec is kept only for an NDMP
// session; of any other, only the priority counts, and jobs of one
// priority share one spec.
func (t *tracker) slim(j *ferryv1.Job) *ferryv1.Job {
	s := &ferryv1.Job{
		Id: j.GetId(), State: j.GetState(), StateReason: j.GetStateReason(), Owner: j.GetOwner(), Epoch: j.GetEpoch(),
		Tapes: j.GetTapes(), Progress: j.GetProgress(), CreatedIndex: j.GetCreatedIndex(),
		Parent: j.GetParent(), Streams: j.GetStreams(),
	}
	spec := j.GetSpec()
	switch p := spec.GetOptions().GetPriority(); {
	case spec.GetNdmp() != nil:
		s.Spec = &ferryv1.JobSpec{Options: spec.GetOptions(), Ndmp: spec.GetNdmp()}
	case p != 0:
		if t.specs[p] == nil {
			t.specs[p] = &ferryv1.JobSpec{Options: &ferryv1.JobOptions{Priority: p}}
		}
		s.Spec = t.specs[p]
	}
	return s
}

// intern returns one shared copy of each list of device names: a backlog
// names the same few devices again and again. Placement never changes
// them.
func (t *tracker) intern(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	key := strings.Join(names, "\x00")
	if shared, ok := t.names[key]; ok {
		return shared
	}
	if len(t.names) >= maxInterned {
		clear(t.names)
	}
	t.names[key] = names
	return names
}

// maxInterned bounds the interned lists: jobs that each name their own
// devices gain nothing from sharing.
const maxInterned = 1 << 14

// samePlacement reports whether two versions of a job look the same to
// placement: only its wait reason or history differ.
func samePlacement(a, b JobView) bool {
	ja, jb := a.Job, b.Job
	return ja.GetState() == jb.GetState() && ja.GetOwner() == jb.GetOwner() && ja.GetEpoch() == jb.GetEpoch() &&
		ja.GetCreatedIndex() == jb.GetCreatedIndex() && a.bytesLeft() == b.bytesLeft() &&
		ja.GetParent() == jb.GetParent() && slices.Equal(ja.GetStreams(), jb.GetStreams()) &&
		ja.GetSpec().GetOptions().GetPriority() == jb.GetSpec().GetOptions().GetPriority() &&
		slices.EqualFunc(ja.GetTapes(), jb.GetTapes(), func(x, y *ferryv1.TapeAssignment) bool { return proto.Equal(x, y) }) &&
		a.Unresolvable == b.Unresolvable && slices.Equal(a.Disks, b.Disks) &&
		slices.Equal(a.Cartridges, b.Cartridges) && slices.Equal(a.Writes, b.Writes)
}

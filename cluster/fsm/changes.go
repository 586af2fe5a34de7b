package fsm

import (
	"cmp"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// The change feed tells a reader that keeps something derived from the
// state (the leader's scheduler keeps the queued and running jobs) what
// changed since it last looked, so that it re-reads only that instead of
// every job each time. It is derived from the commands applied, like the
// state's indexes, and is not part of a snapshot.

// feedSize is how many job and disk changes the feed remembers: more than
// the wait reasons of a large backlog recorded at once. A reader that falls
// further behind is told to read everything again: a bound on memory (6
// MiB, kept only once someone reads the feed), not a loss of correctness.
const feedSize = 1 << 18

// Cursor marks a point of the change feed. The zero Cursor is before
// everything: ChangesSince answers it with All.
type Cursor struct {
	gen, entries, tapes, registry uint64
}

// Changes is what changed between two cursors.
type Changes struct {
	// Jobs are the ids of the jobs created or changed, in the order of the
	// changes; a job changed twice is listed twice.
	Jobs []string
	// Reasons are the ids of queued jobs whose wait reason alone changed
	// (WaitJobOp): a reader that keeps no reasons has nothing to read.
	Reasons []string
	// Disks are the names of the disks registered, removed or reserved, in
	// the order of the changes (a site may have thousands of disks: a
	// reader re-reads those it names, not all).
	Disks []string
	// Tapes is set when a library or cartridge may have changed
	// (registered, removed, loaded, protected...).
	Tapes bool
	// Registry is set when a device was registered or removed: what a
	// job's spec resolves to (JobAccess) may have changed with it.
	Registry bool
	// All says the feed cannot say what changed (the first call, a state
	// restored from a snapshot, or more job changes than it remembers):
	// the reader must read everything again.
	All bool
}

// feed is the journal behind ChangesSince; the FSM's lock guards it.
type feed struct {
	// gen changes when Restore replaces the whole state.
	gen uint64
	// entries counts job and disk changes of this generation; ring holds
	// the last size of them, the change numbered n at ring[n%size], once a
	// reader asked (a follower's state machine, read by no one, keeps
	// none).
	entries uint64
	ring    []feedEntry
	size    uint64
	// tapes counts commands that may have changed a library or cartridge,
	// registry those that registered or removed a device.
	tapes, registry uint64
	// disks counts the changes of disks, across generations (DisksVersion).
	disks uint64
}

// feedEntry is one job or disk change.
type feedEntry struct {
	id   string
	kind entryKind
}

type entryKind uint8

const (
	jobEntry entryKind = iota
	// reasonEntry: only the job's wait reason changed.
	reasonEntry
	diskEntry
)

// noteJob records that the job changed.
func (f *feed) noteJob(id string, reason bool) {
	kind := jobEntry
	if reason {
		kind = reasonEntry
	}
	f.noteEntry(feedEntry{id, kind})
}

func (f *feed) noteEntry(e feedEntry) {
	if e.kind == diskEntry {
		f.disks++
	}
	if f.ring != nil {
		f.ring[f.entries%f.size] = e
	}
	f.entries++
}

// note records what an applied command changed: the jobs of its result,
// the disk a disk's registration, removal or reservation names, and the
// tapes unless it is one that touches only jobs or disks (disks change by
// those three commands alone). A refused command changed nothing.
func (f *feed) note(st *state, cmd *ferryv1.Command, r Result) {
	if r.Err != nil {
		return
	}
	var reason bool
	switch cmd.GetOp().(type) {
	case *ferryv1.Command_WaitJob, *ferryv1.Command_WaitJobs:
		reason = true
	}
	if r.Job != nil && !r.Existing {
		f.noteFamily(st, r.Job, reason)
	}
	for _, b := range r.Batch {
		if b.Job != nil && b.Err == nil && !b.Existing {
			f.noteFamily(st, b.Job, reason)
		}
	}
	switch op := cmd.GetOp().(type) {
	case *ferryv1.Command_SubmitJob, *ferryv1.Command_WaitJob, *ferryv1.Command_WaitJobs,
		*ferryv1.Command_StartJob, *ferryv1.Command_CheckpointJob, *ferryv1.Command_CheckpointJobs, *ferryv1.Command_SpanWait:
	case *ferryv1.Command_BootstrapAcl, *ferryv1.Command_CreateToken, *ferryv1.Command_RevokeToken, *ferryv1.Command_SetSecret,
		*ferryv1.Command_Audit, *ferryv1.Command_PruneAudit,
		*ferryv1.Command_InstallGossipKey, *ferryv1.Command_UseGossipKey, *ferryv1.Command_RemoveGossipKey:
		// ACLs, secrets, the audit trail and the gossip keyring: nothing a
		// job or a device depends on.
	case *ferryv1.Command_RegisterDisk:
		f.noteEntry(feedEntry{r.Disk.GetName(), diskEntry})
		f.registry++
	case *ferryv1.Command_Reserve:
		f.noteEntry(feedEntry{op.Reserve.GetDisk(), diskEntry})
	case *ferryv1.Command_RemoveDevice:
		if d := op.RemoveDevice.GetDisk(); d != "" {
			f.noteEntry(feedEntry{d, diskEntry})
		} else {
			f.tapes++
		}
		f.registry++
	case *ferryv1.Command_RegisterLibrary, *ferryv1.Command_AddCartridge:
		f.tapes++
		f.registry++
	default:
		f.tapes++
	}
}

// noteFamily records the job and, as one command changes a multi-stream
// job and its streams together (a submit creates them, a stream's change
// updates its job, a stream's failure cancels its siblings), the rest of
// its family.
func (f *feed) noteFamily(st *state, j *ferryv1.Job, reason bool) {
	f.noteJob(j.GetId(), reason)
	parent := j
	if id := j.GetParent(); id != "" {
		if parent = st.jobs[id]; parent == nil {
			return
		}
		f.noteJob(id, reason)
	}
	for _, id := range parent.GetStreams() {
		if id != j.GetId() {
			f.noteJob(id, reason)
		}
	}
}

// restored starts a new generation: every reader reads everything again.
func (f *feed) restored() {
	*f = feed{gen: f.gen + 1, ring: f.ring, size: f.size, disks: f.disks + 1}
}

// DisksVersion is a number that changes whenever a disk may have changed
// (registered, removed, reserved, or the state restored): a reader that
// keeps every disk (the iSCSI target's LUNs) reads them again only then,
// not after every applied entry.
func (f *FSM) DisksVersion() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.feed.disks
}

// ChangesSince returns what changed after the cursor, and the cursor of
// now, to pass next time.
func (f *FSM) ChangesSince(c Cursor) (Changes, Cursor) {
	f.mu.RLock()
	fd := &f.feed
	if fd.ring == nil {
		// The first reader: from now on the feed keeps what changes.
		f.mu.RUnlock()
		f.mu.Lock()
		if fd.ring == nil {
			fd.size = cmp.Or(fd.size, feedSize)
			fd.ring = make([]feedEntry, fd.size)
		}
		f.mu.Unlock()
		f.mu.RLock()
		c = Cursor{} // the changes before were not kept
	}
	defer f.mu.RUnlock()
	now := Cursor{gen: fd.gen + 1, entries: fd.entries, tapes: fd.tapes, registry: fd.registry}
	if c.gen != now.gen || c.entries > fd.entries || fd.entries-c.entries > fd.size {
		return Changes{All: true}, now
	}
	ch := Changes{Tapes: c.tapes != fd.tapes, Registry: c.registry != fd.registry}
	for n := c.entries; n < fd.entries; n++ {
		switch e := fd.ring[n%fd.size]; e.kind {
		case reasonEntry:
			ch.Reasons = append(ch.Reasons, e.id)
		case diskEntry:
			ch.Disks = append(ch.Disks, e.id)
		default:
			ch.Jobs = append(ch.Jobs, e.id)
		}
	}
	return ch, now
}

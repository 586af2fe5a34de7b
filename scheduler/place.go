package scheduler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// DefaultMaxJobsPerNode keeps a node's links and CPU shared by a few
// streams: more would slow every copy on the node without moving more data.
const DefaultMaxJobsPerNode = 4

// PlaceConfig limits concurrency. Zero values take the defaults.
type PlaceConfig struct {
	// MaxJobsPerNode caps the running jobs on one node. Default 4.
	MaxJobsPerNode int
	// MaxJobsPerLibrary caps running jobs using drives of one library; 0
	// means no cap beyond its drives.
	MaxJobsPerLibrary int
}

func (c PlaceConfig) withDefaults() PlaceConfig {
	if c.MaxJobsPerNode <= 0 {
		c.MaxJobsPerNode = DefaultMaxJobsPerNode
	}
	c.MaxJobsPerLibrary = max(c.MaxJobsPerLibrary, 0)
	return c
}

// NodeView is a node as placement sees it.
type NodeView struct {
	Name string
	Site string
	// Reach narrows what the node can reach; empty means every device of
	// its site (as a SAN fabric zoned per site would). Entries: a disk name,
	// a library name (all its drives), or "LIB/N" for drive N of library
	// LIB. A device of another site stays out of reach even when listed.
	Reach []string
	// Mover is false for nodes that run no jobs.
	Mover bool
	// Eligible is false when the node may not get work: gossip says it is
	// not alive, or its lease expired.
	Eligible bool
}

// JobView is a queued or running job with the devices it needs, resolved
// by the caller from its spec.
type JobView struct {
	// Job is in state QUEUED or RUNNING (RUNNING: Owner, Epoch and Tapes
	// are set). Jobs in other states are ignored.
	Job *ferryv1.Job
	// Disks are the registry names of the disk LUNs the job reads or writes.
	Disks []string
	// Cartridges are the barcodes the job needs loaded in drives.
	Cartridges []string
	// Writes are the disk names and barcodes the job writes.
	Writes []string
	// Pool names the pool a queued copy writes to (fsm.JobAccess.Pool): its
	// cartridge is chosen at placement (pool.go) and joins Cartridges and
	// Writes then.
	Pool string
	// Unresolvable is set when the job's devices could not be resolved (bad
	// spec, unknown device): it is placed on any eligible mover without
	// tapes, so that its copy fails and records why.
	Unresolvable bool
	// Lost marks a RUNNING job whose owner is gone (dead or lease expired);
	// LostReason says why, e.g. "owner n1 lost: lease expired".
	Lost       bool
	LostReason string
	// Bytes is what the job copies as its spec says (the larger of what it
	// reads and writes on one disk), for a job that has not yet reported
	// its total; 0 when the spec does not say (a whole tape file).
	Bytes uint64
	// LiveBytesDone is what a running job's owner reported in its latest
	// lease renewal, past the last checkpoint's progress; 0 when unknown.
	LiveBytesDone uint64
}

// DefaultJobBytes stands for the size of a job whose size nothing says
// (a tape file read whole, before its copy reports the total): balancing
// counts it as this much work rather than none.
const DefaultJobBytes = 1 << 30

// bytesLeft is what the job has still to copy: its total (reported, or
// from its spec, or DefaultJobBytes) less what its owner reported done,
// live or at its last checkpoint.
func (jv JobView) bytesLeft() uint64 {
	p := jv.Job.GetProgress()
	total := cmp.Or(p.GetBytesTotal(), jv.Bytes, DefaultJobBytes)
	done := max(p.GetBytesDone(), jv.LiveBytesDone)
	if done >= total {
		return 0
	}
	return total - done
}

// View is the cluster as placement sees it.
type View struct {
	Nodes []NodeView
	Jobs  []JobView
	// Disks is the registry (site of each).
	Disks []*ferryv1.Disk
	// DiskIndex, when set, stands for Disks: the disks by name, kept by
	// the caller from round to round so that a site's thousands of disks
	// are not indexed again for every call.
	DiskIndex map[string]*ferryv1.Disk
	// Libraries carry their Elements: drives (Barcode set when loaded,
	// JobId of the holder).
	Libraries []*ferryv1.Library
	// Cartridges: Location says slot or drive; Library names its library.
	Cartridges []*ferryv1.Cartridge
	// DriveRates are the bytes per second a drive of each library streams
	// (by library name); a library not listed, or at 0, streams at
	// UnratedDriveRate.
	DriveRates map[string]uint64
}

// UnratedDriveRate is the rate of a drive whose library sets none: about
// an LTO-9 drive's native rate. Only ratios between nodes matter, so
// drives without a rate weigh alike.
const UnratedDriveRate = 400_000_000

// Decision is what to do with one job: place it (Node set) or leave it
// waiting (Node empty, Reason says why).
type Decision struct {
	JobID string
	Node  string
	// FromEpoch is the epoch of the running job being taken over, also when
	// the takeover has to wait; 0 for a queued job.
	FromEpoch uint64
	// Tapes say which drive each needed cartridge goes in (barcode,
	// library, drive index), in the order of JobView.Cartridges with
	// repeats left out.
	Tapes []*ferryv1.TapeAssignment
	// Reason: why the job waits, or (takeover) why it moved, e.g. "owner n1
	// lost: lease expired".
	Reason string
	// NodeBound says a wait came from the nodes: none eligible, none
	// reaching the devices, none with room or a free drive it reaches.
	// Only a change of the nodes or their load can end it, beside one of
	// the job's devices (see waitKeys).
	NodeBound bool
}

// Place decides, for every lost running job and every queued job, where it
// runs or why it waits. Running jobs that are not lost are left where they
// are (no decision) but count towards load and hold their drives,
// cartridges and written devices. Deterministic: same view, same
// decisions, whatever the order of its slices.
//
// Decisions come in the order they were made: takeovers first, then queued
// jobs by priority (highest first) and creation index. A job that waits
// reserves nothing, so it never holds back a later job that needs other
// resources.
func Place(cfg PlaceConfig, v View) []Decision {
	p := newPlanner(cfg.withDefaults(), v)
	jobs := pending(v.Jobs)
	out := make([]Decision, 0, len(jobs))
	decided := make(map[string]bool, len(jobs))
	for _, jv := range jobs {
		id := jv.Job.GetId()
		if decided[id] {
			continue
		}
		decided[id] = true
		if p.dupJobs[id] {
			// Which copy is the real one is unknowable; acting on either
			// could start the job twice.
			out = append(out, Decision{JobID: id, Reason: fmt.Sprintf("job %s appears more than once in the view", id)})
			continue
		}
		out = append(out, p.decide(*jv))
	}
	return out
}

// isTakeover reports a lost running copy. An NDMP session is never taken
// over (NDMP has no reconnect): the scheduler ends it (see tick), and until
// then it keeps its drive and cartridge like any running job.
func isTakeover(jv JobView) bool {
	return jv.Lost && jv.Job.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && !fsm.IsNDMP(jv.Job)
}

// pending returns the jobs that need a decision in the order they get one.
func pending(jobs []JobView) []*JobView {
	var out []*JobView
	for i, jv := range jobs {
		if jv.Job.GetId() == "" || fsm.IsStreamParent(jv.Job) {
			// A multi-stream job runs as its streams, which are
			// placed as jobs of their own.
			continue
		}
		if isTakeover(jv) || jv.Job.GetState() == ferryv1.JobState_JOB_STATE_QUEUED {
			out = append(out, &jobs[i])
		}
	}
	slices.SortStableFunc(out, func(a, b *JobView) int {
		ja, jb := a.Job, b.Job
		return cmp.Or(
			compareBool(isTakeover(*b), isTakeover(*a)),
			cmp.Compare(jb.GetSpec().GetOptions().GetPriority(), ja.GetSpec().GetOptions().GetPriority()),
			cmp.Compare(ja.GetCreatedIndex(), jb.GetCreatedIndex()),
			strings.Compare(ja.GetId(), jb.GetId()),
		)
	})
	return out
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// driveKey names one drive of one library.
type driveKey struct {
	lib   string
	drive uint32
}

// jobSet is a set of job ids.
type jobSet map[string]bool

// other returns the least id of the set other than self, so that messages
// do not depend on map order.
func (s jobSet) other(self string) (string, bool) {
	return s.otherThan(self, func(string) bool { return false })
}

// otherThan is other, also passing over the ids skip says to.
func (s jobSet) otherThan(self string, skip func(id string) bool) (string, bool) {
	var least string
	found := false
	for id := range s {
		if id != self && (!found || id < least) && !skip(id) {
			least, found = id, true
		}
	}
	return least, found
}

func addTo(m map[string]jobSet, key, id string) {
	if m[key] == nil {
		m[key] = make(jobSet)
	}
	m[key][id] = true
}

// planner is the cluster's state during one Place call: the registry, and
// what running jobs and the decisions made so far hold.
type planner struct {
	cfg PlaceConfig
	// nodes are the eligible movers, in no particular order: every choice
	// among them sorts. A name listed twice is left out: placing work on it
	// could mean either machine.
	nodes []*NodeView
	// Registry by name; a nil entry marks a name registered more than once.
	disks      map[string]*ferryv1.Disk
	libraries  map[string]*ferryv1.Library
	cartridges map[string]*ferryv1.Cartridge
	dupJobs    map[string]bool

	load     map[string]int               // node → running jobs
	inFlight map[string]uint64            // node → bytes its running jobs have left
	rate     map[string]float64           // node → bytes per second of the drives it reaches
	busy     map[driveKey]bool            // drives holding a cartridge or held by a job
	loadedIn map[string]map[string]uint32 // library → barcode → lowest drive showing it
	holders  map[string]jobSet            // barcode → jobs holding it
	readers  map[string]jobSet            // device → jobs reading it
	writers  map[string]jobSet            // device → jobs writing it
	// users are the jobs in readers and writers, by id: whether two of
	// them may share a disk is the state machine's rule (fsm.SharesDisks).
	users   map[string]*ferryv1.Job
	libJobs map[string]jobSet // library → jobs using its drives
	// running are the running jobs by id, to name a holder in a reason.
	running map[string]*ferryv1.Job
	// ndmpDrives says, for each drive a DMA loaded or an NDMP session
	// holds, what is in it: the reason a copy that finds no free drive
	// gives, when NDMP is why.
	ndmpDrives map[driveKey]string
	// freeSlots counts each library's storage slots that are empty and no
	// loaded cartridge's home: a cartridge in an import/export slot needs
	// one to enter before it can go in a drive.
	freeSlots map[string]int
}

func newPlanner(cfg PlaceConfig, v View) *planner {
	p := &planner{
		cfg:        cfg,
		nodes:      eligibleMovers(v.Nodes),
		disks:      v.DiskIndex,
		libraries:  byName(v.Libraries, (*ferryv1.Library).GetName),
		cartridges: byName(v.Cartridges, (*ferryv1.Cartridge).GetBarcode),
		dupJobs:    make(map[string]bool),
		load:       make(map[string]int),
		inFlight:   make(map[string]uint64),
		rate:       make(map[string]float64),
		busy:       make(map[driveKey]bool),
		loadedIn:   make(map[string]map[string]uint32),
		holders:    make(map[string]jobSet),
		readers:    make(map[string]jobSet),
		writers:    make(map[string]jobSet),
		users:      make(map[string]*ferryv1.Job),
		libJobs:    make(map[string]jobSet),
		running:    make(map[string]*ferryv1.Job),
		ndmpDrives: make(map[driveKey]string),
	}
	if p.disks == nil {
		p.disks = byName(v.Disks, (*ferryv1.Disk).GetName)
	}
	for _, lib := range v.Libraries {
		p.noteDrives(lib)
	}
	for _, n := range p.nodes {
		p.rate[n.Name] = nodeRate(*n, p.libraries, v.DriveRates)
	}
	p.freeSlots = freeStorageSlots(p.libraries, v.Libraries, v.Cartridges)
	// The registry's records of loaded cartridges may disagree with the
	// libraries' elements; a drive either of them says is in use is.
	for _, c := range v.Cartridges {
		if loc := c.GetLocation(); loc.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE && c.GetLibrary() != "" {
			p.busy[driveKey{c.GetLibrary(), loc.GetIndex()}] = true
		}
	}
	seen := make(map[string]bool)
	for _, jv := range v.Jobs {
		id := jv.Job.GetId()
		if id == "" {
			continue
		}
		if seen[id] {
			p.dupJobs[id] = true
		}
		seen[id] = true
		if jv.Job.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && !fsm.IsStreamParent(jv.Job) {
			p.running[id] = jv.Job
			p.hold(jv)
		}
	}
	for _, c := range v.Cartridges {
		if why := fsm.DescribeNdmpLoad(c); why != "" {
			p.ndmpDrives[driveKey{c.GetLibrary(), c.GetLocation().GetIndex()}] = why
		}
	}
	for _, j := range p.running {
		if fsm.IsNDMP(j) {
			for _, t := range j.GetTapes() {
				p.ndmpDrives[driveKey{t.GetLibrary(), t.GetDrive()}] = fmt.Sprintf("drive %s/%d is held by %s",
					t.GetLibrary(), t.GetDrive(), fsm.DescribeHolder(j))
			}
		}
	}
	return p
}

// holder names a job that holds something, as reasons show it.
func (p *planner) holder(id string) string {
	if j, ok := p.running[id]; ok {
		return fsm.DescribeHolder(j)
	}
	return "job " + id
}

// byName indexes the registry; a name registered twice maps to nil, so
// that a job needing it waits instead of using whichever came first.
func byName[T any](items []T, name func(T) string) map[string]T {
	var zero T
	m := make(map[string]T, len(items))
	for _, it := range items {
		n := name(it)
		if n == "" {
			continue
		}
		if _, dup := m[n]; dup {
			m[n] = zero
			continue
		}
		m[n] = it
	}
	return m
}

func eligibleMovers(nodes []NodeView) []*NodeView {
	count := make(map[string]int)
	for _, n := range nodes {
		count[n.Name]++
	}
	var out []*NodeView
	for i, n := range nodes {
		if n.Name != "" && count[n.Name] == 1 && n.Eligible && n.Mover {
			out = append(out, &nodes[i])
		}
	}
	return out
}

// sameToPlacement reports whether placement sees two versions of a node
// alike. Of a node that runs no jobs it reads the name alone
// (eligibleMovers), so a non-mover's gossip state or lease, which change
// as it starts and as its lease lapses (it renews none), ends no wait.
func sameToPlacement(x, y NodeView) bool {
	if x.Name != y.Name || x.Mover != y.Mover {
		return false
	}
	return !x.Mover || x.Site == y.Site && x.Eligible == y.Eligible && slices.Equal(x.Reach, y.Reach)
}

// noteDrives records the library's loaded and held drives.
func (p *planner) noteDrives(lib *ferryv1.Library) {
	name := lib.GetName()
	for _, e := range lib.GetElements() {
		if e.GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE || e.GetBarcode() == "" && e.GetJobId() == "" {
			continue
		}
		p.busy[driveKey{name, e.GetIndex()}] = true
		if id := e.GetJobId(); id != "" {
			addTo(p.libJobs, name, id)
		}
		b := e.GetBarcode()
		if b == "" {
			continue
		}
		if id := e.GetJobId(); id != "" {
			addTo(p.holders, b, id)
		}
		if p.loadedIn[name] == nil {
			p.loadedIn[name] = make(map[string]uint32)
		}
		if d, ok := p.loadedIn[name][b]; !ok || e.GetIndex() < d {
			p.loadedIn[name][b] = e.GetIndex()
		}
	}
}

// freeStorageSlots counts the free storage slots of each registered
// library. A slot is taken when an element or a cartridge record puts a
// cartridge there, or when it is the home of a cartridge in a drive.
func freeStorageSlots(registered map[string]*ferryv1.Library, libs []*ferryv1.Library, carts []*ferryv1.Cartridge) map[string]int {
	taken := make(map[string]map[uint32]bool)
	take := func(lib string, slot uint32) {
		if taken[lib] == nil {
			taken[lib] = make(map[uint32]bool)
		}
		taken[lib][slot] = true
	}
	for _, l := range libs {
		for _, e := range l.GetElements() {
			if e.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_SLOT && e.GetBarcode() != "" {
				take(l.GetName(), e.GetIndex())
			}
		}
	}
	for _, c := range carts {
		switch loc := c.GetLocation(); loc.GetKind() {
		case ferryv1.ElementKind_ELEMENT_KIND_SLOT:
			take(c.GetLibrary(), loc.GetIndex())
		case ferryv1.ElementKind_ELEMENT_KIND_DRIVE:
			take(c.GetLibrary(), c.GetHomeSlot())
		}
	}
	free := make(map[string]int, len(registered))
	for name, l := range registered {
		n := int(l.GetSlots())
		for slot := range taken[name] {
			if slot >= 1 && slot <= l.GetSlots() {
				n--
			}
		}
		free[name] = n
	}
	return free
}

// hold records what a running job uses. A lost job keeps its drives,
// cartridges and devices until it is taken over: its owner may still be
// writing, and the state machine still counts them as the job's.
func (p *planner) hold(jv JobView) {
	j := jv.Job
	if !jv.Lost {
		p.load[j.GetOwner()]++
		p.inFlight[j.GetOwner()] += jv.bytesLeft()
	}
	for _, t := range j.GetTapes() {
		p.useTape(j.GetId(), t)
	}
	if !jv.Unresolvable {
		p.useDevices(jv)
	}
}

func (p *planner) useTape(id string, t *ferryv1.TapeAssignment) {
	p.busy[driveKey{t.GetLibrary(), t.GetDrive()}] = true
	addTo(p.libJobs, t.GetLibrary(), id)
	if b := t.GetBarcode(); b != "" {
		addTo(p.holders, b, id)
	}
}

func (p *planner) useDevices(jv JobView) {
	id := jv.Job.GetId()
	p.users[id] = jv.Job
	for _, b := range jv.Cartridges {
		addTo(p.holders, b, id)
	}
	for _, d := range slices.Concat(jv.Disks, jv.Cartridges) {
		addTo(p.readers, d, id)
	}
	for _, d := range jv.Writes {
		addTo(p.writers, d, id)
	}
}

// decide places one job, or says why it waits, and books what a placed job
// takes so that later decisions of the same call see it.
func (p *planner) decide(jv JobView) Decision {
	j := jv.Job
	d := Decision{JobID: j.GetId()}
	var moved string
	if isTakeover(jv) {
		d.FromEpoch = j.GetEpoch()
		moved = jv.LostReason
		if moved == "" {
			moved = fmt.Sprintf("owner %s lost", j.GetOwner())
		}
	}
	if jv.Pool != "" && !jv.Unresolvable {
		var wait string
		if jv, wait = p.bindPool(jv); wait != "" {
			d.Reason = wait
			return d
		}
	}
	node, tapes, wait, nodeBound := p.choose(jv)
	if node == "" {
		if moved != "" {
			wait = moved + "; " + wait
		}
		d.Reason, d.NodeBound = wait, nodeBound
		return d
	}
	d.Node, d.Tapes, d.Reason = node, tapes, moved
	p.commit(jv, node, tapes)
	return d
}

func (p *planner) commit(jv JobView, node string, tapes []*ferryv1.TapeAssignment) {
	p.load[node]++
	p.inFlight[node] += jv.bytesLeft()
	for _, t := range tapes {
		p.useTape(jv.Job.GetId(), t)
		if entering(p.cartridges[t.GetBarcode()]) {
			p.freeSlots[t.GetLibrary()]--
		}
	}
	if !jv.Unresolvable {
		p.useDevices(jv)
	}
}

// entering reports whether the cartridge waits in an import/export slot.
func entering(c *ferryv1.Cartridge) bool {
	return c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT
}

// choose returns the node and tapes for the job, or why it must wait and
// whether the nodes are why (nodeBound). Problems that no node could solve
// (unknown devices, contention) are reported before the ones that depend
// on the nodes.
func (p *planner) choose(jv JobView) (node string, tapes []*ferryv1.TapeAssignment, wait string, nodeBound bool) {
	var owner string
	if isTakeover(jv) {
		owner = jv.Job.GetOwner()
	}
	eligible := slices.DeleteFunc(slices.Clone(p.nodes), func(n *NodeView) bool { return n.Name == owner })
	if len(eligible) == 0 {
		if owner != "" {
			return "", nil, fmt.Sprintf("no eligible node other than %s", owner), true
		}
		return "", nil, "no eligible node", true
	}
	if jv.Unresolvable {
		free := p.belowLimit(eligible)
		if len(free) == 0 {
			return "", nil, p.atLimit(true), true
		}
		return p.byLoad(free, jv.bytesLeft())[0].Name, nil, "", false
	}
	need, wait := p.resolve(jv)
	if wait != "" {
		return "", nil, wait, false
	}
	if wait := p.contention(jv, need); wait != "" {
		return "", nil, wait, false
	}
	able, wait := p.reaching(eligible, jv, need)
	if wait != "" {
		return "", nil, wait, true
	}
	free := p.belowLimit(able)
	if len(free) == 0 {
		return "", nil, p.atLimit(len(able) == len(eligible)), true
	}
	var first string
	for _, n := range p.byLoad(free, jv.bytesLeft()) {
		tapes, wait := p.assignTapes(n, need)
		if wait == "" {
			return n.Name, tapes, "", false
		}
		if first == "" {
			first = wait
		}
	}
	return "", nil, first, true
}

// cartridgeNeed is a cartridge the job needs and where it is now.
type cartridgeNeed struct {
	barcode string
	lib     *ferryv1.Library
	loaded  bool // in drive
	drive   uint32
}

// resolve looks the job's devices up in the registry.
func (p *planner) resolve(jv JobView) ([]cartridgeNeed, string) {
	for _, name := range jv.Disks {
		d, ok := p.disks[name]
		switch {
		case name == "":
			return nil, "the job names a disk without a name"
		case !ok:
			return nil, fmt.Sprintf("disk %s is not registered", name)
		case d == nil:
			return nil, fmt.Sprintf("disk %s is registered more than once", name)
		}
	}
	var need []cartridgeNeed
	for _, b := range uniq(jv.Cartridges) {
		c, ok := p.cartridges[b]
		switch {
		case b == "":
			return nil, "the job names a cartridge without a barcode"
		case !ok:
			return nil, fmt.Sprintf("cartridge %s is not registered", b)
		case c == nil:
			return nil, fmt.Sprintf("cartridge %s is registered more than once", b)
		}
		lib, ok := p.libraries[c.GetLibrary()]
		switch {
		case !ok:
			return nil, fmt.Sprintf("cartridge %s is in library %q, which is not registered", b, c.GetLibrary())
		case lib == nil:
			return nil, fmt.Sprintf("library %s is registered more than once", c.GetLibrary())
		}
		n := cartridgeNeed{barcode: b, lib: lib}
		n.drive, n.loaded = p.locate(jv, c)
		need = append(need, n)
	}
	return need, ""
}

// locate returns the drive the cartridge is loaded in, if any. A lost
// job's own record of its tapes comes first: that is the drive its owner
// was using.
func (p *planner) locate(jv JobView, c *ferryv1.Cartridge) (uint32, bool) {
	if jv.Job.GetState() == ferryv1.JobState_JOB_STATE_RUNNING {
		for _, t := range jv.Job.GetTapes() {
			if t.GetBarcode() == c.GetBarcode() && t.GetLibrary() == c.GetLibrary() {
				return t.GetDrive(), true
			}
		}
	}
	if d, ok := p.loadedIn[c.GetLibrary()][c.GetBarcode()]; ok {
		return d, true
	}
	if loc := c.GetLocation(); loc.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
		return loc.GetIndex(), true
	}
	return 0, false
}

// contention says what another job holds that this one needs: a cartridge,
// a device written (or, to write it, read) by another job, a library at
// its cap, or the storage slot a cartridge must enter through.
func (p *planner) contention(jv JobView, need []cartridgeNeed) string {
	id := jv.Job.GetId()
	for _, c := range need {
		if h, ok := p.holders[c.barcode].other(id); ok {
			return fmt.Sprintf("cartridge %s is in use by %s", c.barcode, p.holder(h))
		}
		// A DMA's cartridge stays in its drive until a DMA unloads it: no
		// copy may take it from under the backup application.
		if why := fsm.DescribeNdmpLoad(p.cartridges[c.barcode]); why != "" && !isTakeover(jv) {
			return why + "; the copy waits until a DMA unloads it"
		}
	}
	for _, dev := range uniq(slices.Concat(jv.Disks, jv.Cartridges, jv.Writes)) {
		if w, ok := p.otherUser(p.writers, dev, jv.Job); ok {
			return fmt.Sprintf("%s %s is being written by job %s", p.kind(dev), dev, w)
		}
	}
	if !isTakeover(jv) {
		for _, dev := range uniq(jv.Writes) {
			if reason := fsm.CopyExcluded(p.disks[dev]); reason != "" {
				return reason + "; the copy waits for its release"
			}
		}
	}
	for _, dev := range uniq(jv.Writes) {
		if r, ok := p.otherUser(p.readers, dev, jv.Job); ok {
			return fmt.Sprintf("%s %s is being read by job %s", p.kind(dev), dev, r)
		}
	}
	if limit := p.cfg.MaxJobsPerLibrary; limit > 0 {
		for _, lib := range libraries(need) {
			jobs := p.libJobs[lib.GetName()]
			// A job taken over already counts where it is.
			if jobs[id] {
				continue
			}
			if len(jobs) >= limit {
				return fmt.Sprintf("library %s is at its limit of %d jobs", lib.GetName(), limit)
			}
		}
	}
	slots := make(map[string]int)
	for _, c := range need {
		if c.loaded || !entering(p.cartridges[c.barcode]) {
			continue
		}
		name := c.lib.GetName()
		if slots[name]++; slots[name] > p.freeSlots[name] {
			return fmt.Sprintf("no free storage slot in library %s to take %s from its import/export slot", name, c.barcode)
		}
	}
	return ""
}

// otherUser returns the least id of the jobs users holds for dev other
// than j and, on a disk, than the jobs j shares disks with (the streams of
// its own job, fsm.SharesDisks).
func (p *planner) otherUser(users map[string]jobSet, dev string, j *ferryv1.Job) (string, bool) {
	_, disk := p.disks[dev]
	return users[dev].otherThan(j.GetId(), func(id string) bool { return disk && fsm.SharesDisks(p.users[id], j) })
}

func (p *planner) kind(dev string) string {
	if _, ok := p.disks[dev]; ok {
		return "disk"
	}
	if _, ok := p.cartridges[dev]; ok {
		return "cartridge"
	}
	return "device"
}

// reaching returns the eligible nodes that reach every disk of the job and
// a drive of every library its cartridges are in. When there is none, the
// reason names a device no node reaches if there is one, else the devices
// that no single node reaches together.
func (p *planner) reaching(eligible []*NodeView, jv JobView, need []cartridgeNeed) ([]*NodeView, string) {
	type requirement struct {
		what    string
		reaches func(*NodeView) bool
	}
	var reqs []requirement
	for _, name := range uniq(jv.Disks) {
		d := p.disks[name]
		reqs = append(reqs, requirement{"disk " + name, func(n *NodeView) bool { return n.ReachesDisk(d) }})
	}
	for _, lib := range libraries(need) {
		reqs = append(reqs, requirement{"a drive of library " + lib.GetName(), func(n *NodeView) bool {
			all, listed := n.reachedDrives(lib)
			return all || len(listed) > 0
		}})
	}
	for _, r := range reqs {
		if !slices.ContainsFunc(eligible, r.reaches) {
			return nil, "no eligible node reaches " + r.what
		}
	}
	able := slices.DeleteFunc(slices.Clone(eligible), func(n *NodeView) bool {
		return slices.ContainsFunc(reqs, func(r requirement) bool { return !r.reaches(n) })
	})
	if len(able) == 0 {
		what := make([]string, len(reqs))
		for i, r := range reqs {
			what[i] = r.what
		}
		return nil, "no eligible node reaches all of " + strings.Join(what, ", ")
	}
	return able, ""
}

func (p *planner) belowLimit(nodes []*NodeView) []*NodeView {
	return slices.DeleteFunc(slices.Clone(nodes), func(n *NodeView) bool { return p.load[n.Name] >= p.cfg.MaxJobsPerNode })
}

func (p *planner) atLimit(allEligible bool) string {
	if allEligible {
		return fmt.Sprintf("all eligible nodes are at their limit of %d jobs", p.cfg.MaxJobsPerNode)
	}
	return fmt.Sprintf("every eligible node that reaches the job's devices is at its limit of %d jobs", p.cfg.MaxJobsPerNode)
}

// byLoad orders nodes soonest done first: the bytes each has in flight,
// with the job's own, over the rate of the drives it reaches; then fewest
// running jobs, then name. Among equal nodes this spreads bytes, not job
// counts: a node with one long copy left gets the next job after a node
// with two short ones. A node reaching more drives, or faster ones, drains
// its work sooner and takes more.
func (p *planner) byLoad(nodes []*NodeView, bytes uint64) []*NodeView {
	done := func(n *NodeView) float64 { return float64(p.inFlight[n.Name]+bytes) / p.rate[n.Name] }
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b *NodeView) int {
		return cmp.Or(
			cmp.Compare(done(a), done(b)),
			cmp.Compare(p.load[a.Name], p.load[b.Name]),
			strings.Compare(a.Name, b.Name),
		)
	})
	return out
}

// nodeRate is the bytes per second the node's drives stream together:
// every drive it reaches at its library's rate. A node that reaches no
// drive streams as one unrated drive (disk copies run at the disks'
// speed, which placement does not know).
func nodeRate(n NodeView, libs map[string]*ferryv1.Library, rates map[string]uint64) float64 {
	var sum float64
	// In name order: float sums depend on it, and placement must not
	// depend on map order.
	for _, name := range slices.Sorted(maps.Keys(libs)) {
		lib := libs[name]
		all, listed := n.reachedDrives(lib)
		drives := uint64(len(listed))
		if all {
			drives = uint64(lib.GetDrives())
		}
		sum += float64(drives) * float64(cmp.Or(rates[name], UnratedDriveRate))
	}
	if sum == 0 {
		return UnratedDriveRate
	}
	return sum
}

// assignTapes picks a drive for each cartridge the job needs on node n. A
// cartridge already in a drive the node reaches stays there; any other
// goes into the lowest free drive of its library that the node reaches.
func (p *planner) assignTapes(n *NodeView, need []cartridgeNeed) ([]*ferryv1.TapeAssignment, string) {
	taken := make(map[driveKey]bool)
	tapes := make([]*ferryv1.TapeAssignment, 0, len(need))
	for _, c := range need {
		name := c.lib.GetName()
		drive, ok := c.drive, c.loaded && n.ReachesDrive(c.lib, c.drive) && !taken[driveKey{name, c.drive}]
		if !ok {
			all, listed := n.reachedDrives(c.lib)
			drive, ok = p.freeDrive(c.lib, all, listed, taken)
		}
		if !ok {
			if _, exists := p.freeDrive(c.lib, true, nil, taken); !exists {
				return nil, fmt.Sprintf("no free drive in library %s%s", name, p.ndmpHolds(name))
			}
			return nil, fmt.Sprintf("no free drive in library %s is reached by a node that can run the job", name)
		}
		taken[driveKey{name, drive}] = true
		tapes = append(tapes, &ferryv1.TapeAssignment{Barcode: c.barcode, Library: name, Drive: drive})
	}
	return tapes, ""
}

// freeDrive returns the lowest drive of the library, among all or the
// listed ones, that nothing holds. Walking all drives ends after at most
// one more step than there are busy drives.
func (p *planner) freeDrive(lib *ferryv1.Library, all bool, listed []uint32, taken map[driveKey]bool) (uint32, bool) {
	free := func(d uint32) bool {
		k := driveKey{lib.GetName(), d}
		return !p.busy[k] && !taken[k]
	}
	if all {
		for d := range lib.GetDrives() {
			if free(d) {
				return d, true
			}
		}
		return 0, false
	}
	for _, d := range listed {
		if free(d) {
			return d, true
		}
	}
	return 0, false
}

// ndmpHolds says which drives of the library NDMP has, for a copy that
// finds none free: "" when NDMP has none.
func (p *planner) ndmpHolds(lib string) string {
	var keys []driveKey
	for k := range p.ndmpDrives {
		if k.lib == lib {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.SortFunc(keys, func(a, b driveKey) int { return cmp.Compare(a.drive, b.drive) })
	why := make([]string, len(keys))
	for i, k := range keys {
		why[i] = p.ndmpDrives[k]
	}
	return " (" + strings.Join(why, "; ") + ")"
}

// libraries returns the distinct libraries of the cartridges, in order.
func libraries(need []cartridgeNeed) []*ferryv1.Library {
	var out []*ferryv1.Library
	for _, c := range need {
		if !slices.Contains(out, c.lib) {
			out = append(out, c.lib)
		}
	}
	return out
}

// uniq returns the names without repeats, in first-named order.
func uniq(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

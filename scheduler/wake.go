package scheduler

import (
	"maps"
	"slices"
	"strings"
)

// A queued job that waits keeps waiting, with the same reason, until
// something its decision read changes: a job starts or stops using one of
// its devices, one of its disks changes, a library or cartridge changes,
// or (when its wait came from the nodes) a node's load, reach or
// eligibility changes. The driver keeps waiting jobs parked under these
// keys (track.go) and a round decides only the jobs a change woke and the
// new ones, so that its work follows what changed, not the backlog. The
// keys are named here, beside the checks in place.go that they follow.

// wakeKey is something whose change can end a job's wait.
type wakeKey string

const (
	// wakeTapes: a library or cartridge changed (drives loaded or freed,
	// slots, pools, NDMP loads, a library's job count).
	wakeTapes wakeKey = "tapes"
	// wakeNodes: a node's load changed (a job placed there or gone), or
	// the nodes themselves (reach, eligibility).
	wakeNodes wakeKey = "nodes"
)

// writersOf is the key of the jobs writing dev (contention: nobody uses a
// device another job writes); usersOf that of the jobs using dev at all
// (a device read by another job cannot be written; a cartridge serves one
// job). A change of the device's own record fires both.
func writersOf(dev string) wakeKey { return wakeKey("w:" + dev) }
func usersOf(dev string) wakeKey   { return wakeKey("u:" + dev) }

// waitKeys are the keys whose change may end the wait of a queued job
// that Place left waiting. nodeBound says the wait came from the nodes
// (Decision.NodeBound). An unresolvable job waits only for a node with
// room.
func waitKeys(jv JobView, nodeBound bool) []wakeKey {
	var keys []wakeKey
	if nodeBound || jv.Unresolvable {
		keys = append(keys, wakeNodes)
	}
	if jv.Unresolvable {
		return keys
	}
	for _, d := range jv.Disks {
		keys = append(keys, writersOf(d))
	}
	for _, d := range jv.Cartridges {
		keys = append(keys, writersOf(d), usersOf(d))
	}
	for _, d := range jv.Writes {
		keys = append(keys, writersOf(d), usersOf(d))
	}
	if jv.Pool != "" || len(jv.Cartridges) > 0 {
		keys = append(keys, wakeTapes)
	}
	return keys
}

// holdKeys are the keys a running job's start, end or move fires: it
// used or wrote its devices, held its tapes and counted on its node.
func holdKeys(jv JobView) []wakeKey {
	keys := []wakeKey{wakeNodes}
	for _, t := range jv.Job.GetTapes() {
		keys = append(keys, usersOf(t.GetBarcode()), wakeTapes)
	}
	if jv.Unresolvable {
		return keys
	}
	for _, d := range jv.Disks {
		keys = append(keys, usersOf(d))
	}
	for _, d := range jv.Cartridges {
		keys = append(keys, usersOf(d))
	}
	for _, d := range jv.Writes {
		keys = append(keys, writersOf(d), usersOf(d))
	}
	return keys
}

// parking keeps the queued jobs whose wait no change has touched since
// they were decided, under the keys that can end it. A parked job is its
// id alone: the tracker drops its copy and reads it again from the state
// machine when it wakes (100,000 parked jobs held 60 MiB of slim copies
// on the leader, beside the state machine's own). Jobs that wait for the
// same keys share one group, so that a backlog waiting for the same few
// things costs two map entries a job, not one a key.
type parking struct {
	on     map[string]*waiting               // job → its group
	by     map[wakeKey]map[*waiting]struct{} // key → the groups waiting for it
	groups map[string]*waiting               // the keys, joined → their group
	// dropped counts the jobs deleted from on since it was last copied
	// (compacted).
	dropped int
}

// waiting is a group of parked jobs that wait for the same keys.
type waiting struct {
	name string
	keys []wakeKey
	jobs map[string]struct{}
}

func newParking() parking {
	return parking{on: map[string]*waiting{}, by: map[wakeKey]map[*waiting]struct{}{}, groups: map[string]*waiting{}}
}

func (p *parking) park(id string, keys []wakeKey) {
	p.unpark(id)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(string(k))
		b.WriteByte(0)
	}
	g := p.groups[b.String()]
	if g == nil {
		g = &waiting{name: b.String(), keys: keys, jobs: map[string]struct{}{}}
		p.groups[g.name] = g
		for _, k := range keys {
			if p.by[k] == nil {
				p.by[k] = map[*waiting]struct{}{}
			}
			p.by[k][g] = struct{}{}
		}
	}
	g.jobs[id] = struct{}{}
	p.on[id] = g
}

func (p *parking) unpark(id string) {
	g, ok := p.on[id]
	if !ok {
		return
	}
	p.forget(id)
	delete(g.jobs, id)
	if len(g.jobs) == 0 {
		p.drop(g)
	}
}

// wake unparks the jobs under the key and passes each to fn.
func (p *parking) wake(k wakeKey, fn func(id string)) {
	var woken []string
	for g := range p.by[k] {
		p.drop(g)
		for id := range g.jobs {
			p.forget(id)
			woken = append(woken, id)
		}
	}
	for _, id := range woken {
		fn(id)
	}
}

// all unparks every job and returns their ids.
func (p *parking) all() []string {
	ids := slices.Collect(maps.Keys(p.on))
	*p = newParking()
	return ids
}

// forget deletes a job from on, which is copied when the deleted
// outnumber the parked (compacted).
func (p *parking) forget(id string) {
	delete(p.on, id)
	p.dropped++
	p.on = compacted(p.on, &p.dropped)
}

// drop removes a group from under its keys.
func (p *parking) drop(g *waiting) {
	delete(p.groups, g.name)
	for _, k := range g.keys {
		delete(p.by[k], g)
		if len(p.by[k]) == 0 {
			delete(p.by, k)
		}
	}
}

// compacted returns m, or a copy of it sized for what it holds once more
// entries were deleted (*dropped, reset by the copy) than are left: a Go
// map keeps the room of its deleted entries, and a backlog read at once
// then parked would keep its peak for as long as the node leads. Copying
// only then costs O(1) a deletion.
func compacted[K comparable, V any](m map[K]V, dropped *int) map[K]V {
	if *dropped < max(len(m), minCompacted) {
		return m
	}
	*dropped = 0
	c := make(map[K]V, len(m))
	maps.Copy(c, m)
	return c
}

// minCompacted is the fewest deletions worth a copy.
const minCompacted = 4096

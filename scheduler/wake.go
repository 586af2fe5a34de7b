package scheduler

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
// they were decided, under the keys that can end it.
type parking struct {
	on map[string][]wakeKey            // job → its keys
	by map[wakeKey]map[string]struct{} // key → jobs
}

func newParking() parking {
	return parking{on: map[string][]wakeKey{}, by: map[wakeKey]map[string]struct{}{}}
}

func (p parking) park(id string, keys []wakeKey) {
	p.unpark(id)
	p.on[id] = keys
	for _, k := range keys {
		if p.by[k] == nil {
			p.by[k] = map[string]struct{}{}
		}
		p.by[k][id] = struct{}{}
	}
}

func (p parking) unpark(id string) {
	for _, k := range p.on[id] {
		delete(p.by[k], id)
		if len(p.by[k]) == 0 {
			delete(p.by, k)
		}
	}
	delete(p.on, id)
}

// wake unparks the jobs under the key and passes each to fn.
func (p parking) wake(k wakeKey, fn func(id string)) {
	for id := range p.by[k] {
		p.unpark(id)
		fn(id)
	}
}

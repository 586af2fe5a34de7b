package fsm

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
)

// Snapshot serialises the whole state as a StateSnapshot and returns the
// index it reflects. Jobs are sorted by created_index, nodes by Raft id,
// removed ids ascending, disks and libraries by name and cartridges by
// barcode, and marshalling is deterministic, so replicas that applied the
// same entries produce the same bytes. Libraries are stored without their
// elements: each cartridge's location and home_slot say where it is, and
// Restore rebuilds every library's placement from them.
func (f *FSM) Snapshot() (data []byte, appliedIndex uint64, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	snap := &ferryv1.StateSnapshot{
		// The read lock keeps the state still while Marshal reads it, so the
		// snapshot can point at it instead of copying it first.
		Jobs:    slices.Clone(f.st.order),
		Nodes:   make([]*ferryv1.NodeInfo, 0, len(f.st.nodes)),
		Removed: slices.Sorted(maps.Keys(f.st.removed)),
		LastLun: f.st.lastLUN,
	}
	for _, id := range slices.Sorted(maps.Keys(f.st.nodes)) {
		snap.Nodes = append(snap.Nodes, f.st.nodes[id])
	}
	for _, name := range slices.Sorted(maps.Keys(f.st.disks)) {
		snap.Disks = append(snap.Disks, f.st.disks[name])
	}
	for _, name := range slices.Sorted(maps.Keys(f.st.libraries)) {
		snap.Libraries = append(snap.Libraries, f.st.libraries[name].meta)
	}
	for _, b := range slices.Sorted(maps.Keys(f.st.cartridges)) {
		snap.Cartridges = append(snap.Cartridges, f.st.cartridges[b])
	}
	for _, name := range slices.Sorted(maps.Keys(f.st.pools)) {
		snap.Pools = append(snap.Pools, f.st.pools[name])
	}
	f.st.snapshotACL(snap)
	f.st.snapshotAudit(snap)
	snap.GossipKeys = f.st.gossipKeys
	data, err = proto.MarshalOptions{Deterministic: true}.Marshal(snap)
	if err != nil {
		return nil, 0, fmt.Errorf("marshal state snapshot: %w", err)
	}
	return data, f.st.applied, nil
}

// Restore replaces the whole state with the snapshot, which becomes the
// state at appliedIndex. Empty data is the empty state, as in the initial
// Raft snapshot. On error the state is left as it was.
func (f *FSM) Restore(data []byte, appliedIndex uint64) error {
	var snap ferryv1.StateSnapshot
	if err := proto.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("%w: unmarshal: %w", ErrBadSnapshot, err)
	}
	st, err := stateFromSnapshot(&snap)
	if err != nil {
		return err
	}
	st.applied = appliedIndex

	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	f.feed.restored()
	return nil
}

// stateFromSnapshot rebuilds the state and its indexes, refusing snapshots
// whose indexes would be ambiguous (duplicate ids or keys) rather than
// silently dropping jobs.
func stateFromSnapshot(snap *ferryv1.StateSnapshot) (*state, error) {
	st := newState()
	for _, id := range snap.GetRemoved() {
		st.removed[id] = struct{}{}
	}
	for i, n := range snap.GetNodes() {
		id := n.GetRaftId()
		switch _, gone := st.removed[id]; {
		case id == 0:
			return nil, fmt.Errorf("%w: node %d has no raft id", ErrBadSnapshot, i)
		case gone:
			return nil, fmt.Errorf("%w: node %d (raft id %d) is also removed", ErrBadSnapshot, i, id)
		case st.nodes[id] != nil:
			return nil, fmt.Errorf("%w: raft id %d appears twice", ErrBadSnapshot, id)
		}
		st.nodes[id] = n
	}
	for i, j := range snap.GetJobs() {
		id, key := j.GetId(), j.GetIdempotencyKey()
		switch _, dupKey := st.byKey[key]; {
		case id == "":
			return nil, fmt.Errorf("%w: job %d has no id", ErrBadSnapshot, i)
		case st.jobs[id] != nil:
			return nil, fmt.Errorf("%w: job id %q appears twice", ErrBadSnapshot, id)
		case key != "" && dupKey:
			return nil, fmt.Errorf("%w: idempotency key %q appears twice", ErrBadSnapshot, key)
		}
		st.jobs[id] = j
		if key != "" {
			st.byKey[key] = id
		}
		st.order = append(st.order, j)
	}
	// Do not trust the writer's order: paging depends on it.
	slices.SortFunc(st.order, compareJobs)
	if err := st.restoreDevices(snap); err != nil {
		return nil, err
	}
	if err := st.restorePools(snap); err != nil {
		return nil, err
	}
	if err := st.restoreACL(snap); err != nil {
		return nil, err
	}
	if err := st.restoreAudit(snap); err != nil {
		return nil, err
	}
	if err := st.restoreGossipKeys(snap); err != nil {
		return nil, err
	}
	st.lastLUN = snap.GetLastLun()
	for _, d := range st.disks {
		st.lastLUN = max(st.lastLUN, d.GetLun())
	}
	return st, nil
}

// restoreDevices rebuilds the device registry and every library's
// placement from the snapshot's disks, libraries and cartridges, then
// checks that the running jobs and the drives agree: a cartridge is in a
// drive exactly when one running job holds it there.
func (st *state) restoreDevices(snap *ferryv1.StateSnapshot) error {
	for _, d := range snap.GetDisks() {
		if err := st.restoreDevice("disk", d.GetName(), d.GetNaa(), d.GetPath(), d.GetIdentity()); err != nil {
			return err
		}
		st.disks[d.GetName()] = d
	}
	for _, l := range snap.GetLibraries() {
		name := l.GetName()
		if _, dup := st.libraries[name]; dup || name == "" {
			return fmt.Errorf("%w: library name %q is empty or appears twice", ErrBadSnapshot, name)
		}
		// Elements, if a writer included them, are derived data: the
		// cartridges below are the placement.
		meta := cloneLibrary(l)
		meta.Elements = nil
		lib, err := newTapeLibrary(meta)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
		if err := st.fileIsNew("library", name, meta.GetIdentity()); err != nil {
			return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
		st.libraries[name] = lib
		st.index("library", name, "", "", meta.GetIdentity())
	}
	for _, c := range snap.GetCartridges() {
		if err := st.restoreCartridge(c); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.libraries)) {
		lib := st.libraries[name]
		if err := checkPlacement(lib); err != nil {
			return err
		}
		if err := lib.place.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
	}
	return st.restoreHolders()
}

func (st *state) restoreDevice(kind, name, naa, file string, id *ferryv1.FileIdentity) error {
	if name == "" {
		return fmt.Errorf("%w: a %s has no name", ErrBadSnapshot, kind)
	}
	if err := st.deviceIsNew(kind, name, strings.ToLower(naa), file, id); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	st.index(kind, name, strings.ToLower(naa), file, id)
	return nil
}

// restoreCartridge places a cartridge where the snapshot says it is. A
// cartridge in a storage slot is at home; one in an import/export slot has
// none yet; one in a drive goes back to its home slot when unloaded.
func (st *state) restoreCartridge(c *ferryv1.Cartridge) error {
	b := c.GetBarcode()
	if err := st.restoreDevice("cartridge", b, c.GetNaa(), c.GetPath(), c.GetIdentity()); err != nil {
		return err
	}
	lib, ok := st.libraries[c.GetLibrary()]
	if !ok {
		return fmt.Errorf("%w: cartridge %q is in unknown library %q", ErrBadSnapshot, b, c.GetLibrary())
	}
	at, ok := toLocation(c.GetLocation())
	if !ok || !lib.place.Exists(at) {
		return fmt.Errorf("%w: cartridge %q is in %s, which library %s does not have", ErrBadSnapshot, b, describeElement(c.GetLocation()), lib.meta.GetName())
	}
	home := int(c.GetHomeSlot())
	switch {
	case at.Kind == library.Slot && home != at.Index:
		return fmt.Errorf("%w: cartridge %q is in %v but its home is slot %d", ErrBadSnapshot, b, at, home)
	case at.Kind == library.ImportExport && home != 0:
		return fmt.Errorf("%w: cartridge %q is in %v but has home slot %d", ErrBadSnapshot, b, at, home)
	}
	lib.place.Cartridges[b] = at
	if at.Kind == library.Drive {
		lib.place.Origins[b] = library.AtSlot(home)
	}
	// Only the element is state; the barcode and job shown in a location
	// are derived when it is read.
	c.Location = toElement(at)
	st.cartridges[b] = c
	return nil
}

// checkPlacement refuses two cartridges in one element, and a loaded
// cartridge whose home slot holds another cartridge or is another's home:
// every cartridge must be able to go back.
func checkPlacement(lib *tapeLibrary) error {
	claimed := make(map[library.Location]string, len(lib.place.Cartridges)+len(lib.place.Origins))
	claim := func(l library.Location, b string) error {
		if other, dup := claimed[l]; dup {
			return fmt.Errorf("%w: %v of library %s is claimed by both %s and %s", ErrBadSnapshot, l, lib.meta.GetName(), other, b)
		}
		claimed[l] = b
		return nil
	}
	for _, b := range lib.place.Barcodes() {
		if err := claim(lib.place.Cartridges[b], b); err != nil {
			return err
		}
		if origin, ok := lib.place.Origins[b]; ok {
			if err := claim(origin, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// restoreHolders derives which job each loaded cartridge is loaded for from
// the running jobs' tape assignments.
func (st *state) restoreHolders() error {
	for _, j := range st.order {
		for _, t := range st.heldTapes(j) {
			b := t.GetBarcode()
			c, ok := st.cartridges[b]
			if !ok {
				return fmt.Errorf("%w: job %q holds unknown cartridge %q", ErrBadSnapshot, j.GetId(), b)
			}
			at := c.GetLocation()
			if c.GetLibrary() != t.GetLibrary() || at.GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE || at.GetIndex() != t.GetDrive() {
				return fmt.Errorf("%w: job %q holds %s in %s drive %d, but it is in %s %s", ErrBadSnapshot,
					j.GetId(), b, t.GetLibrary(), t.GetDrive(), c.GetLibrary(), describeElement(c.GetLocation()))
			}
			if other, dup := st.holders[b]; dup {
				return fmt.Errorf("%w: cartridge %s is held by both job %q and job %q", ErrBadSnapshot, b, other, j.GetId())
			}
			st.holders[b] = j.GetId()
		}
	}
	for _, b := range slices.Sorted(maps.Keys(st.cartridges)) {
		c := st.cartridges[b]
		inDrive := c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE
		switch {
		case inDrive && st.holders[b] == "" && c.GetNdmpLoad() == nil:
			// A DMA's cartridge may stay in its drive with no job; any
			// other is in a drive only for the job that holds it.
			return fmt.Errorf("%w: cartridge %s is in %s drive %d, but no running job holds it and no DMA loaded it", ErrBadSnapshot, b, c.GetLibrary(), c.GetLocation().GetIndex())
		case !inDrive && c.GetNdmpLoad() != nil:
			return fmt.Errorf("%w: cartridge %s is in %s %s, but records a DMA's load into a drive", ErrBadSnapshot, b, c.GetLibrary(), describeElement(c.GetLocation()))
		}
	}
	return nil
}

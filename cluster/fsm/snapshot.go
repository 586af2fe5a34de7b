package fsm

import (
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Snapshot serialises the whole state as a StateSnapshot and returns the
// index it reflects. Jobs are sorted by created_index, nodes by Raft id and
// removed ids ascending, and marshalling is deterministic, so replicas that
// applied the same entries produce the same bytes.
func (f *FSM) Snapshot() (data []byte, appliedIndex uint64, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	snap := &ferryv1.StateSnapshot{
		// The read lock keeps the state still while Marshal reads it, so the
		// snapshot can point at it instead of copying it first.
		Jobs:    slices.Clone(f.st.order),
		Nodes:   make([]*ferryv1.NodeInfo, 0, len(f.st.nodes)),
		Removed: slices.Sorted(maps.Keys(f.st.removed)),
	}
	for _, id := range slices.Sorted(maps.Keys(f.st.nodes)) {
		snap.Nodes = append(snap.Nodes, f.st.nodes[id])
	}
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
	return st, nil
}

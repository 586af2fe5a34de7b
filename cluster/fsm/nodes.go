package fsm

import (
	"cmp"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// AddNode records the node a committed configuration change added, or
// updates it if its Raft id is already known. Raft id 0 is not a node and a
// removed id never comes back, so both are ignored; the index is applied
// either way.
func (f *FSM) AddNode(index uint64, info *ferryv1.NodeInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.advance(index)
	id := info.GetRaftId()
	if id == 0 {
		return
	}
	if _, gone := f.st.removed[id]; gone {
		return
	}
	next := cloneNode(info)
	if prev, ok := f.st.nodes[id]; ok {
		// A promotion's context comes from gossip, which does not carry
		// what the node said of itself (SetNodeOp): keep that.
		if len(next.GetReach()) == 0 && !next.GetMover() {
			next.Reach, next.Mover = prev.GetReach(), prev.GetMover()
		}
		if next.GetIscsiPortal() == "" {
			next.IscsiPortal, next.IscsiTarget = prev.GetIscsiPortal(), prev.GetIscsiTarget()
		}
	}
	f.st.nodes[id] = next
}

// RemoveNode forgets the node a committed configuration change removed and
// remembers its Raft id as removed for good: Raft must never accept
// messages from, or re-add, a removed id.
func (f *FSM) RemoveNode(index uint64, raftID uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.advance(index)
	if raftID == 0 {
		return
	}
	delete(f.st.nodes, raftID)
	f.st.removed[raftID] = struct{}{}
}

// Node returns a copy of the member with the Raft id.
func (f *FSM) Node(raftID uint64) (*ferryv1.NodeInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.st.nodes[raftID]
	if !ok {
		return nil, false
	}
	return cloneNode(n), true
}

// NodeByName returns a copy of the member with the name. Names are meant to
// be unique, but while a node re-joins under a new Raft id both ids may be
// members at once; the higher Raft id wins so every replica answers alike.
func (f *FSM) NodeByName(name string) (*ferryv1.NodeInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	found, ok := f.st.nodeByName(name)
	if !ok {
		return nil, false
	}
	return cloneNode(found), true
}

// nodeByName finds the newest member with the name: a node re-added under
// its old name has a new Raft id.
func (s *state) nodeByName(name string) (*ferryv1.NodeInfo, bool) {
	var found *ferryv1.NodeInfo
	for _, n := range s.nodes {
		if n.GetName() == name && (found == nil || n.GetRaftId() > found.GetRaftId()) {
			found = n
		}
	}
	return found, found != nil
}

// setNode updates what the proposing node says about itself: addresses,
// site, reach and whether it runs jobs. A node may only describe itself,
// and its Raft id never changes this way.
func (s *state) setNode(cmd *ferryv1.Command, op *ferryv1.SetNodeOp) (bool, error) {
	var v violations
	info := op.GetNode()
	switch {
	case info == nil:
		v.add("node", "required")
	case info.GetName() == "":
		v.add("node.name", "required")
	case info.GetName() != cmd.GetNode():
		v.add("node.name", fmt.Sprintf("%q may not describe node %q", cmd.GetNode(), info.GetName()))
	}
	if len(info.GetReach()) > maxReach {
		v.add("node.reach", fmt.Sprintf("more than %d entries", maxReach))
	}
	for i, r := range info.GetReach() {
		if r == "" {
			v.add(fmt.Sprintf("node.reach[%d]", i), "must not be empty")
		}
	}
	if err := v.err(); err != nil {
		return false, err
	}
	n, ok := s.nodeByName(info.GetName())
	if !ok {
		return false, fmt.Errorf("set node %q: %w", info.GetName(), ErrNotFound)
	}
	next := cloneNode(info)
	next.RaftId = n.GetRaftId()
	if proto.Equal(n, next) {
		return true, nil
	}
	s.nodes[n.GetRaftId()] = next
	return false, nil
}

const maxReach = 1024

// Nodes returns copies of all members sorted by name, then Raft id.
func (f *FSM) Nodes() []*ferryv1.NodeInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	nodes := make([]*ferryv1.NodeInfo, 0, len(f.st.nodes))
	for _, n := range f.st.nodes {
		nodes = append(nodes, cloneNode(n))
	}
	slices.SortFunc(nodes, func(a, b *ferryv1.NodeInfo) int {
		return cmp.Or(cmp.Compare(a.GetName(), b.GetName()), cmp.Compare(a.GetRaftId(), b.GetRaftId()))
	})
	return nodes
}

// IsRemoved reports whether the Raft id was removed from the cluster.
func (f *FSM) IsRemoved(raftID uint64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, gone := f.st.removed[raftID]
	return gone
}

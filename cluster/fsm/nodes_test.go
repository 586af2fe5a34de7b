package fsm

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestMembership(t *testing.T) {
	a := &ferryv1.NodeInfo{Name: "node-a", RaftId: 30, Site: "east", GrpcAddr: "10.0.0.1:7000"}
	b := &ferryv1.NodeInfo{Name: "node-b", RaftId: 10, Site: "west", GrpcAddr: "10.0.0.2:7000"}
	c := &ferryv1.NodeInfo{Name: "node-c", RaftId: 20, Site: "west", GrpcAddr: "10.0.0.3:7000"}
	aMoved := &ferryv1.NodeInfo{Name: "node-a", RaftId: 30, Site: "east", GrpcAddr: "10.0.0.9:7000"}
	aRejoined := &ferryv1.NodeInfo{Name: "node-a", RaftId: 31, Site: "east", GrpcAddr: "10.0.0.1:7000"}

	// A step is one membership change, applied at its position + 1.
	type step func(f *FSM, index uint64)
	add := func(n *ferryv1.NodeInfo) step { return func(f *FSM, i uint64) { f.AddNode(i, n) } }
	remove := func(id uint64) step { return func(f *FSM, i uint64) { f.RemoveNode(i, id) } }
	tests := []struct {
		name        string
		steps       []step
		wantNames   []string // Nodes(), in order
		wantRaftIDs []uint64 // Nodes(), in order
		wantRemoved []uint64
		wantByName  map[string]uint64 // NodeByName → raft id; 0 means absent
	}{
		{
			name:        "adds sorted by name",
			steps:       []step{add(c), add(a), add(b)},
			wantNames:   []string{"node-a", "node-b", "node-c"},
			wantRaftIDs: []uint64{30, 10, 20},
			wantByName:  map[string]uint64{"node-a": 30, "node-b": 10, "node-x": 0},
		},
		{
			name:        "add upserts by raft id",
			steps:       []step{add(a), add(aMoved)},
			wantNames:   []string{"node-a"},
			wantRaftIDs: []uint64{30},
			wantByName:  map[string]uint64{"node-a": 30},
		},
		{
			name:        "remove forgets the node and remembers the id",
			steps:       []step{add(a), add(b), remove(30)},
			wantNames:   []string{"node-b"},
			wantRaftIDs: []uint64{10},
			wantRemoved: []uint64{30},
			wantByName:  map[string]uint64{"node-a": 0, "node-b": 10},
		},
		{
			name:        "a removed id never comes back",
			steps:       []step{add(a), remove(30), add(aMoved)},
			wantRemoved: []uint64{30},
			wantByName:  map[string]uint64{"node-a": 0},
		},
		{
			name:        "removing an unknown id still bars it",
			steps:       []step{remove(99), add(&ferryv1.NodeInfo{Name: "late", RaftId: 99})},
			wantRemoved: []uint64{99},
		},
		{
			name:        "a name re-joining under a new id: the higher id wins until the old one goes",
			steps:       []step{add(aRejoined), add(a)},
			wantNames:   []string{"node-a", "node-a"},
			wantRaftIDs: []uint64{30, 31},
			wantByName:  map[string]uint64{"node-a": 31},
		},
		{
			name:        "re-joined name after the old id is removed",
			steps:       []step{add(a), add(aRejoined), remove(30)},
			wantNames:   []string{"node-a"},
			wantRaftIDs: []uint64{31},
			wantRemoved: []uint64{30},
			wantByName:  map[string]uint64{"node-a": 31},
		},
		{
			name:  "raft id 0 and nil are ignored",
			steps: []step{add(nil), add(&ferryv1.NodeInfo{Name: "zero"}), remove(0)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			for i, s := range tc.steps {
				s(f, uint64(i+1))
			}
			if got := f.AppliedIndex(); got != uint64(len(tc.steps)) {
				t.Errorf("AppliedIndex = %d, want %d", got, len(tc.steps))
			}
			nodes := f.Nodes()
			if len(nodes) != len(tc.wantNames) {
				t.Fatalf("Nodes() = %v, want names %q", nodes, tc.wantNames)
			}
			for i, n := range nodes {
				if n.GetName() != tc.wantNames[i] || n.GetRaftId() != tc.wantRaftIDs[i] {
					t.Errorf("Nodes()[%d] = %s/%d, want %s/%d", i, n.GetName(), n.GetRaftId(), tc.wantNames[i], tc.wantRaftIDs[i])
				}
				got, ok := f.Node(n.GetRaftId())
				if !ok || !proto.Equal(got, n) {
					t.Errorf("Node(%d) = %v, %v; want %v", n.GetRaftId(), got, ok, n)
				}
			}
			for name, wantID := range tc.wantByName {
				n, ok := f.NodeByName(name)
				if ok != (wantID != 0) || n.GetRaftId() != wantID {
					t.Errorf("NodeByName(%q) = %v, %v; want raft id %d", name, n, ok, wantID)
				}
			}
			for _, id := range tc.wantRemoved {
				if !f.IsRemoved(id) {
					t.Errorf("IsRemoved(%d) = false", id)
				}
				if _, ok := f.Node(id); ok {
					t.Errorf("removed node %d is still a member", id)
				}
			}
			for _, n := range nodes {
				if f.IsRemoved(n.GetRaftId()) {
					t.Errorf("member %d reported removed", n.GetRaftId())
				}
			}
		})
	}
}

func TestAddNodeCopiesItsArgument(t *testing.T) {
	f := New()
	info := &ferryv1.NodeInfo{Name: "node-a", RaftId: 1, GrpcAddr: "10.0.0.1:7000"}
	f.AddNode(1, info)
	info.GrpcAddr = "changed"
	if n, _ := f.Node(1); n.GetGrpcAddr() != "10.0.0.1:7000" {
		t.Errorf("stored node changed through the caller's pointer: %v", n)
	}
}

func TestSetNode(t *testing.T) {
	nodeA := func(edit func(n *ferryv1.NodeInfo)) *ferryv1.NodeInfo {
		n := testNodes()[0]
		n.RaftId = 0
		edit(n)
		return n
	}
	described := nodeA(func(n *ferryv1.NodeInfo) {
		n.GrpcAddr, n.HttpAddr, n.GossipAddr = "10.0.0.9:7000", "10.0.0.9:8080", "10.0.0.9:7946"
		n.Reach = []string{"db01", "libA", "libB/1"}
	})
	withID := func(n *ferryv1.NodeInfo, id uint64) *ferryv1.NodeInfo {
		n = proto.Clone(n).(*ferryv1.NodeInfo)
		n.RaftId = id
		return n
	}
	tests := []struct {
		name string
		// prepare changes membership after testNodes were added.
		prepare      func(f *FSM)
		cmd          *ferryv1.Command
		wantErr      error
		wantErrText  string
		wantExisting bool
		// want maps raft ids to the record expected afterwards; nil means
		// no member with that id.
		want map[uint64]*ferryv1.NodeInfo
	}{
		{
			name: "a node describes its addresses and reach",
			cmd:  setNodeCmd(1, "node-a", described),
			want: map[uint64]*ferryv1.NodeInfo{1: withID(described, 1), 2: testNodes()[1]},
		},
		{
			name: "the raft id in the description is ignored",
			cmd:  setNodeCmd(1, "node-a", withID(described, 77)),
			want: map[uint64]*ferryv1.NodeInfo{1: withID(described, 1), 77: nil},
		},
		{
			name: "a node stops running jobs",
			cmd:  setNodeCmd(1, "node-a", nodeA(func(n *ferryv1.NodeInfo) { n.Mover = false })),
			want: map[uint64]*ferryv1.NodeInfo{1: withID(nodeA(func(n *ferryv1.NodeInfo) { n.Mover = false }), 1)},
		},
		{
			name:         "the same description again changes nothing",
			cmd:          setNodeCmd(1, "node-a", nodeA(func(*ferryv1.NodeInfo) {})),
			wantExisting: true,
			want:         map[uint64]*ferryv1.NodeInfo{1: testNodes()[0]},
		},
		{
			name: "a node re-joined under a new raft id: its newest record changes",
			prepare: func(f *FSM) {
				f.AddNode(f.AppliedIndex()+1, withID(testNodes()[0], 31))
			},
			cmd:  setNodeCmd(1, "node-a", described),
			want: map[uint64]*ferryv1.NodeInfo{1: testNodes()[0], 31: withID(described, 31)},
		},
		{
			name:        "another node's record",
			cmd:         setNodeCmd(1, "node-b", described),
			wantErr:     ErrInvalid,
			wantErrText: `node.name: "node-b" may not describe node "node-a"`,
		},
		{
			name:        "an unknown node",
			cmd:         setNodeCmd(1, "node-z", &ferryv1.NodeInfo{Name: "node-z"}),
			wantErr:     ErrNotFound,
			wantErrText: `set node "node-z"`,
		},
		{
			name:        "a removed node",
			prepare:     func(f *FSM) { f.RemoveNode(f.AppliedIndex()+1, 2) },
			cmd:         setNodeCmd(1, "node-b", testNodes()[1]),
			wantErr:     ErrNotFound,
			wantErrText: `set node "node-b"`,
		},
		{
			name:        "no description",
			cmd:         setNodeCmd(1, "node-a", nil),
			wantErr:     ErrInvalid,
			wantErrText: "node: required",
		},
		{
			name:        "no name",
			cmd:         setNodeCmd(1, "node-a", &ferryv1.NodeInfo{Site: "east"}),
			wantErr:     ErrInvalid,
			wantErrText: "node.name: required",
		},
		{
			name:        "an empty reach entry",
			cmd:         setNodeCmd(1, "node-a", nodeA(func(n *ferryv1.NodeInfo) { n.Reach = []string{"db01", ""} })),
			wantErr:     ErrInvalid,
			wantErrText: "node.reach[1]: must not be empty",
		},
		{
			name: "too many reach entries",
			cmd: setNodeCmd(1, "node-a", nodeA(func(n *ferryv1.NodeInfo) {
				n.Reach = slices.Repeat([]string{"db01"}, maxReach+1)
			})),
			wantErr:     ErrInvalid,
			wantErrText: "node.reach: more than 1024 entries",
		},
		{
			name:        "no body",
			cmd:         &ferryv1.Command{Time: stamp(1), Node: "node-a", Op: &ferryv1.Command_SetNode{}},
			wantErr:     ErrUnknownCommand,
			wantErrText: "set_node without a body",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newWithNodes()
			if tc.prepare != nil {
				tc.prepare(f)
			}
			before, _, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			r := f.Apply(f.AppliedIndex()+1, tc.cmd)
			if r.Job != nil || r.Disk != nil || r.Library != nil || r.Cartridge != nil || r.Batch != nil {
				t.Errorf("Result carries a value: %+v", r)
			}
			if tc.wantErr != nil {
				if !errors.Is(r.Err, tc.wantErr) || !strings.Contains(r.Err.Error(), tc.wantErrText) {
					t.Fatalf("Err = %v, want %v containing %q", r.Err, tc.wantErr, tc.wantErrText)
				}
				if after, _, _ := f.Snapshot(); !bytes.Equal(before, after) {
					t.Error("a refused set_node changed the state")
				}
				return
			}
			if r.Err != nil || r.Existing != tc.wantExisting {
				t.Fatalf("existing=%v err=%v, want existing=%v", r.Existing, r.Err, tc.wantExisting)
			}
			for id, want := range tc.want {
				got, ok := f.Node(id)
				if ok != (want != nil) || !proto.Equal(got, want) {
					t.Errorf("Node(%d) = %v, want %v", id, got, want)
				}
			}
		})
	}
}

func TestSetNodeCopiesItsArgument(t *testing.T) {
	f := newWithNodes()
	info := &ferryv1.NodeInfo{Name: "node-a", Reach: []string{"db01"}}
	if r := f.Apply(f.AppliedIndex()+1, setNodeCmd(1, "node-a", info)); r.Err != nil {
		t.Fatal(r.Err)
	}
	info.Reach[0] = "changed"
	if n, _ := f.NodeByName("node-a"); !slices.Equal(n.GetReach(), []string{"db01"}) {
		t.Errorf("stored node changed through the command: %v", n)
	}
}

// A learner's promotion re-adds the node with a context from gossip, which
// knows nothing of what the node said of itself; that must survive.
func TestPromotionKeepsWhatTheNodeSaidOfItself(t *testing.T) {
	f := New()
	f.AddNode(1, &ferryv1.NodeInfo{Name: "n2", RaftId: 2, Site: "east"})
	res := f.Apply(2, &ferryv1.Command{Time: stamp(1), Node: "n2", Op: &ferryv1.Command_SetNode{SetNode: &ferryv1.SetNodeOp{
		Node: &ferryv1.NodeInfo{Name: "n2", Site: "east", Reach: []string{"db01"}, Mover: true, IscsiPortal: "127.0.0.1:3260", IscsiTarget: "iqn.2026-11.io.ferry:ferry"}}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	f.AddNode(3, &ferryv1.NodeInfo{Name: "n2", RaftId: 2, Site: "east", GrpcAddr: "127.0.0.1:7102"})
	n, _ := f.NodeByName("n2")
	if !n.GetMover() || len(n.GetReach()) != 1 || n.GetGrpcAddr() != "127.0.0.1:7102" || n.GetIscsiPortal() != "127.0.0.1:3260" {
		t.Fatalf("after the promotion: %v; want mover with reach [db01], its iSCSI portal and the new address", n)
	}
}

package raftlog

import (
	"slices"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestRestart checks that Close and Open keep everything: log, compaction
// point, HardState, snapshot and identity.
func TestRestart(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		s, path := openTemp(t, opts)
		var batch [][2]uint64
		for i := uint64(1); i <= 40; i++ {
			batch = append(batch, [2]uint64{i, 1 + i/10})
		}
		mustSave(t, s, hardState(5, 3, 30), ents(batch...), nil)
		cs := &pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{9}}
		if _, err := s.CreateSnapshot(30, cs, []byte("fsm@30")); err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(25); err != nil {
			t.Fatal(err)
		}
		id := Identity{ClusterID: "cid", ClusterName: "prod", NodeName: "mover-a", RaftID: 42}
		if err := s.SetIdentity(id); err != nil {
			t.Fatal(err)
		}
		wantLog := logPairs(t, s)

		s = reopen(t, s, path, opts)
		if got := logPairs(t, s); !slices.Equal(got, wantLog) {
			t.Fatalf("log after restart = %v, want %v", got, wantLog)
		}
		if first, _ := s.FirstIndex(); first != 26 {
			t.Fatalf("FirstIndex = %d, want 26", first)
		}
		if last, _ := s.LastIndex(); last != 40 {
			t.Fatalf("LastIndex = %d, want 40", last)
		}
		hs, gotCS, err := s.InitialState()
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(hs, hardState(5, 3, 30)) {
			t.Fatalf("HardState = %v", hs)
		}
		if !slices.Equal(gotCS.GetVoters(), cs.GetVoters()) || !slices.Equal(gotCS.GetLearners(), cs.GetLearners()) {
			t.Fatalf("ConfState = %v, want %v", gotCS, cs)
		}
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if snap.GetMetadata().GetIndex() != 30 || snap.GetMetadata().GetTerm() != 4 || string(snap.GetData()) != "fsm@30" {
			t.Fatalf("Snapshot = %v", snap)
		}
		if gotID, ok, err := s.Identity(); err != nil || !ok || gotID != id {
			t.Fatalf("Identity = %+v, %v, %v; want %+v", gotID, ok, err, id)
		}
		// The restarted store keeps appending where it left off.
		mustSave(t, s, nil, ents([2]uint64{41, 5}), nil)
		if last, _ := s.LastIndex(); last != 41 {
			t.Fatalf("LastIndex after append = %d, want 41", last)
		}
	})
}

package raftlog

import (
	"errors"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func snapshotAt(index, term uint64, data string, voters ...uint64) *pb.Snapshot {
	return &pb.Snapshot{Data: []byte(data), Metadata: &pb.SnapshotMetadata{
		Index: new(index), Term: new(term), ConfState: &pb.ConfState{Voters: voters},
	}}
}

func hardState(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

// TestSaveSnapshot covers a follower receiving a snapshot: the log is
// discarded up to (and past) it and restarts at the snapshot.
func TestSaveSnapshot(t *testing.T) {
	long := make([][2]uint64, 0, 20)
	for i := uint64(1); i <= 20; i++ {
		long = append(long, [2]uint64{i, 1})
	}
	tests := []struct {
		name      string
		before    []*pb.Entry
		hs        *pb.HardState
		ents      []*pb.Entry
		snap      *pb.Snapshot
		wantErr   error
		wantLog   [][2]uint64
		wantSnap  uint64
		wantHS    *pb.HardState
		wantFirst uint64
	}{
		{
			name:   "snapshot past the log",
			before: ents([2]uint64{1, 1}, [2]uint64{2, 1}, [2]uint64{3, 1}),
			hs:     hardState(2, 0, 10), snap: snapshotAt(10, 2, "s10", 1, 2, 3),
			wantLog: [][2]uint64{{10, 2}}, wantSnap: 10, wantHS: hardState(2, 0, 10), wantFirst: 11,
		},
		{
			name:    "snapshot inside the log discards all of it",
			before:  ents(long...),
			snap:    snapshotAt(10, 2, "s10", 1, 2, 3),
			wantLog: [][2]uint64{{10, 2}}, wantSnap: 10, wantHS: &pb.HardState{}, wantFirst: 11,
		},
		{
			name:   "snapshot then entries in one Ready",
			before: ents([2]uint64{1, 1}),
			hs:     hardState(2, 2, 11), ents: ents([2]uint64{11, 2}, [2]uint64{12, 2}), snap: snapshotAt(10, 2, "s10", 1, 2),
			wantLog: [][2]uint64{{10, 2}, {11, 2}, {12, 2}}, wantSnap: 10, wantHS: hardState(2, 2, 11), wantFirst: 11,
		},
		{
			name: "entries covered by the snapshot are skipped",
			ents: ents([2]uint64{9, 2}, [2]uint64{10, 2}, [2]uint64{11, 2}), snap: snapshotAt(10, 2, "s10", 1),
			wantLog: [][2]uint64{{10, 2}, {11, 2}}, wantSnap: 10, wantHS: &pb.HardState{}, wantFirst: 11,
		},
		{
			name:   "gap after snapshot",
			before: ents([2]uint64{1, 1}),
			ents:   ents([2]uint64{12, 2}), snap: snapshotAt(10, 2, "s10", 1),
			wantErr: errAny, wantLog: [][2]uint64{{0, 0}, {1, 1}}, wantSnap: 0, wantHS: &pb.HardState{}, wantFirst: 1,
		},
	}
	forEachCache(t, func(t *testing.T, opts Options) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, path := openTemp(t, opts)
				if tt.before != nil {
					mustSave(t, s, hardState(1, 1, 1), tt.before, nil)
					tt.wantHS = replaceEmpty(tt.wantHS, hardState(1, 1, 1))
				}
				err := s.Save(tt.hs, tt.ents, tt.snap)
				checkErr(t, "Save", err, tt.wantErr)
				check := func(st *Store) {
					if got := logPairs(t, st); !slices.Equal(got, tt.wantLog) {
						t.Fatalf("log = %v, want %v", got, tt.wantLog)
					}
					if first, _ := st.FirstIndex(); first != tt.wantFirst {
						t.Fatalf("FirstIndex = %d, want %d", first, tt.wantFirst)
					}
					if _, err := st.Term(tt.wantFirst - 2); tt.wantFirst > 1 && err != raft.ErrCompacted {
						t.Fatalf("Term before the snapshot: error = %v, want ErrCompacted", err)
					}
					snap, err := st.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					if snap.GetMetadata().GetIndex() != tt.wantSnap {
						t.Fatalf("snapshot index = %d, want %d", snap.GetMetadata().GetIndex(), tt.wantSnap)
					}
					hs, cs, err := st.InitialState()
					if err != nil {
						t.Fatal(err)
					}
					if !proto.Equal(hs, tt.wantHS) {
						t.Fatalf("HardState = %v, want %v", hs, tt.wantHS)
					}
					if tt.wantSnap != 0 {
						if string(snap.GetData()) != string(tt.snap.GetData()) {
							t.Fatalf("snapshot data = %q, want %q", snap.GetData(), tt.snap.GetData())
						}
						if !slices.Equal(cs.GetVoters(), tt.snap.GetMetadata().GetConfState().GetVoters()) {
							t.Fatalf("ConfState = %v, want %v", cs, tt.snap.GetMetadata().GetConfState())
						}
					}
				}
				check(s)
				check(reopen(t, s, path, opts))
			})
		}
	})
}

func replaceEmpty(hs, with *pb.HardState) *pb.HardState {
	if raft.IsEmptyHardState(hs) {
		return with
	}
	return hs
}

func TestSaveOlderSnapshot(t *testing.T) {
	s, _ := openTemp(t, Options{})
	mustSave(t, s, nil, nil, snapshotAt(10, 2, "s10", 1))
	for _, idx := range []uint64{5, 10} {
		if err := s.Save(nil, nil, snapshotAt(idx, 2, "old", 1)); !errors.Is(err, raft.ErrSnapOutOfDate) {
			t.Fatalf("Save snapshot at %d after 10: error = %v, want ErrSnapOutOfDate", idx, err)
		}
	}
	mustSave(t, s, nil, nil, snapshotAt(12, 3, "s12", 1))
	if first, _ := s.FirstIndex(); first != 13 {
		t.Fatalf("FirstIndex = %d, want 13", first)
	}
}

// TestSaveHardStateOnly checks a Ready with only a HardState, and that empty
// Readies write nothing.
func TestSaveHardStateOnly(t *testing.T) {
	s, path := openTemp(t, Options{})
	mustSave(t, s, hardState(3, 2, 0), nil, nil)
	mustSave(t, s, nil, nil, nil)
	mustSave(t, s, &pb.HardState{}, nil, &pb.Snapshot{})
	s = reopen(t, s, path, Options{})
	hs, _, err := s.InitialState()
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(hs, hardState(3, 2, 0)) {
		t.Fatalf("HardState = %v, want term 3 vote 2", hs)
	}
}

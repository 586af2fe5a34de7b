package raftlog

import (
	"errors"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestEntries(t *testing.T) {
	all := ents([2]uint64{4, 4}, [2]uint64{5, 5}, [2]uint64{6, 6})
	size := func(es ...*pb.Entry) uint64 {
		var n uint64
		for _, e := range es {
			n += uint64(proto.Size(e))
		}
		return n
	}
	tests := []struct {
		name            string
		lo, hi, maxSize uint64
		wantErr         error
		want            []*pb.Entry
	}{
		{"before dummy", 2, 6, noLimit, raft.ErrCompacted, nil},
		{"at dummy", 3, 4, noLimit, raft.ErrCompacted, nil},
		{"one", 4, 5, noLimit, nil, all[:1]},
		{"two", 4, 6, noLimit, nil, all[:2]},
		{"all", 4, 7, noLimit, nil, all},
		{"middle", 5, 6, noLimit, nil, all[1:2]},
		{"empty range", 5, 5, noLimit, nil, nil},
		{"zero maxSize still returns one", 4, 7, 0, nil, all[:1]},
		{"limit to two", 4, 7, size(all[:2]...), nil, all[:2]},
		{"just under three", 4, 7, size(all...) - 1, nil, all[:2]},
		{"exactly three", 4, 7, size(all...), nil, all},
		{"limit from middle", 5, 7, size(all[1]), nil, all[1:2]},
		{"beyond last", 4, 8, noLimit, raft.ErrUnavailable, nil},
	}
	forEachCache(t, func(t *testing.T, opts Options) {
		s, _ := newLog(t, opts)
		mustSave(t, s, nil, all[2:], nil)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Entries(tt.lo, tt.hi, tt.maxSize)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Entries(%d, %d, %d) error = %v, want %v", tt.lo, tt.hi, tt.maxSize, err, tt.wantErr)
				}
				if !sameEntries(got, tt.want) {
					t.Fatalf("Entries(%d, %d, %d) = %s, want %s", tt.lo, tt.hi, tt.maxSize, fmtEntries(got), fmtEntries(tt.want))
				}
			})
		}
	})
}

func TestEntriesCallerOwnsSlice(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		s, _ := newLog(t, opts)
		got, err := s.Entries(4, 5, noLimit)
		if err != nil {
			t.Fatal(err)
		}
		_ = append(got, ent(99, 99))
		again, err := s.Entries(4, 6, noLimit)
		if err != nil {
			t.Fatal(err)
		}
		if want := ents([2]uint64{4, 4}, [2]uint64{5, 5}); !sameEntries(again, want) {
			t.Fatalf("after caller append, Entries = %s, want %s", fmtEntries(again), fmtEntries(want))
		}
	})
}

func TestEntriesOnlyDummy(t *testing.T) {
	s, _ := openTemp(t, Options{})
	if _, err := s.Entries(1, 1, noLimit); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Entries on empty log: error = %v, want ErrUnavailable", err)
	}
}

func TestTerm(t *testing.T) {
	tests := []struct {
		i       uint64
		want    uint64
		wantErr error
	}{
		{2, 0, raft.ErrCompacted},
		{3, 3, nil},
		{4, 4, nil},
		{5, 5, nil},
		{6, 0, raft.ErrUnavailable},
	}
	forEachCache(t, func(t *testing.T, opts Options) {
		s, _ := newLog(t, opts)
		for _, tt := range tests {
			got, err := s.Term(tt.i)
			if err != tt.wantErr { // raft compares these errors with ==
				t.Errorf("Term(%d) error = %v, want %v", tt.i, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Term(%d) = %d, want %d", tt.i, got, tt.want)
			}
		}
	})
}

func TestFirstLastIndex(t *testing.T) {
	tests := []struct {
		name                string
		do                  func(t *testing.T, s *Store)
		wantFirst, wantLast uint64
	}{
		{"new store", func(*testing.T, *Store) {}, 1, 0},
		{"appended", func(t *testing.T, s *Store) {
			mustSave(t, s, nil, ents([2]uint64{1, 1}, [2]uint64{2, 1}, [2]uint64{3, 1}), nil)
		}, 1, 3},
		{"compacted", func(t *testing.T, s *Store) {
			mustSave(t, s, nil, ents([2]uint64{1, 1}, [2]uint64{2, 1}, [2]uint64{3, 1}), nil)
			if err := s.Compact(2); err != nil {
				t.Fatal(err)
			}
		}, 3, 3},
		{"compacted to last", func(t *testing.T, s *Store) {
			mustSave(t, s, nil, ents([2]uint64{1, 1}, [2]uint64{2, 1}), nil)
			if err := s.Compact(2); err != nil {
				t.Fatal(err)
			}
		}, 3, 2},
		{"snapshot saved", func(t *testing.T, s *Store) {
			mustSave(t, s, nil, ents([2]uint64{1, 1}), nil)
			mustSave(t, s, nil, nil, &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(10)), Term: new(uint64(2))}})
		}, 11, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t, Options{})
			tt.do(t, s)
			check := func(st *Store) {
				first, _ := st.FirstIndex()
				last, _ := st.LastIndex()
				if first != tt.wantFirst || last != tt.wantLast {
					t.Fatalf("FirstIndex, LastIndex = %d, %d, want %d, %d", first, last, tt.wantFirst, tt.wantLast)
				}
			}
			check(s)
			check(reopen(t, s, path, Options{}))
		})
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		name    string
		append  []*pb.Entry
		want    [][2]uint64
		wantErr bool
	}{
		{"same entries", ents([2]uint64{3, 3}, [2]uint64{4, 4}, [2]uint64{5, 5}),
			[][2]uint64{{3, 3}, {4, 4}, {5, 5}}, false},
		{"conflicting suffix replaced", ents([2]uint64{3, 3}, [2]uint64{4, 6}, [2]uint64{5, 6}),
			[][2]uint64{{3, 3}, {4, 6}, {5, 6}}, false},
		{"overlap and extend", ents([2]uint64{3, 3}, [2]uint64{4, 4}, [2]uint64{5, 5}, [2]uint64{6, 5}),
			[][2]uint64{{3, 3}, {4, 4}, {5, 5}, {6, 5}}, false},
		{"compacted prefix skipped, existing truncated", ents([2]uint64{2, 3}, [2]uint64{3, 3}, [2]uint64{4, 5}),
			[][2]uint64{{3, 3}, {4, 5}}, false},
		{"truncate existing and append", ents([2]uint64{4, 5}),
			[][2]uint64{{3, 3}, {4, 5}}, false},
		{"truncate last", ents([2]uint64{5, 6}, [2]uint64{6, 6}),
			[][2]uint64{{3, 3}, {4, 4}, {5, 6}, {6, 6}}, false},
		{"direct append", ents([2]uint64{6, 5}),
			[][2]uint64{{3, 3}, {4, 4}, {5, 5}, {6, 5}}, false},
		{"all compacted", ents([2]uint64{1, 1}, [2]uint64{2, 2}),
			[][2]uint64{{3, 3}, {4, 4}, {5, 5}}, false},
		{"gap", ents([2]uint64{7, 5}),
			[][2]uint64{{3, 3}, {4, 4}, {5, 5}}, true},
		{"not contiguous", ents([2]uint64{6, 5}, [2]uint64{8, 5}),
			[][2]uint64{{3, 3}, {4, 4}, {5, 5}}, true},
	}
	forEachCache(t, func(t *testing.T, opts Options) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, path := newLog(t, opts)
				err := s.Save(nil, tt.append, nil)
				if (err != nil) != tt.wantErr {
					t.Fatalf("Save error = %v, wantErr %v", err, tt.wantErr)
				}
				if got := logPairs(t, s); !slices.Equal(got, tt.want) {
					t.Fatalf("log = %v, want %v", got, tt.want)
				}
				s = reopen(t, s, path, opts)
				if got := logPairs(t, s); !slices.Equal(got, tt.want) {
					t.Fatalf("log after reopen = %v, want %v", got, tt.want)
				}
			})
		}
	})
}

func TestCompact(t *testing.T) {
	tests := []struct {
		name      string
		i         uint64
		wantErr   error
		wantFirst uint64
		want      [][2]uint64
	}{
		{"before dummy", 2, raft.ErrCompacted, 4, [][2]uint64{{3, 3}, {4, 4}, {5, 5}}},
		{"at dummy", 3, raft.ErrCompacted, 4, [][2]uint64{{3, 3}, {4, 4}, {5, 5}}},
		{"one entry", 4, nil, 5, [][2]uint64{{4, 4}, {5, 5}}},
		{"to last", 5, nil, 6, [][2]uint64{{5, 5}}},
		{"beyond last", 6, errAny, 4, [][2]uint64{{3, 3}, {4, 4}, {5, 5}}},
	}
	forEachCache(t, func(t *testing.T, opts Options) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, path := newLog(t, opts)
				err := s.Compact(tt.i)
				checkErr(t, "Compact", err, tt.wantErr)
				check := func(st *Store) {
					if first, _ := st.FirstIndex(); first != tt.wantFirst {
						t.Fatalf("FirstIndex = %d, want %d", first, tt.wantFirst)
					}
					if got := logPairs(t, st); !slices.Equal(got, tt.want) {
						t.Fatalf("log = %v, want %v", got, tt.want)
					}
					if _, err := st.Entries(tt.wantFirst-1, tt.wantFirst, noLimit); err != raft.ErrCompacted {
						t.Fatalf("Entries at compaction point: error = %v, want ErrCompacted", err)
					}
				}
				check(s)
				check(reopen(t, s, path, opts))
			})
		}
	})
}

// errAny stands for "some error" in tables where the error has no sentinel.
var errAny = errors.New("any error")

func checkErr(t *testing.T, op string, err, want error) {
	t.Helper()
	switch {
	case want == errAny && err == nil:
		t.Fatalf("%s: no error, want one", op)
	case want != errAny && !errors.Is(err, want):
		t.Fatalf("%s: error = %v, want %v", op, err, want)
	}
}

func TestCreateSnapshot(t *testing.T) {
	seedCS := &pb.ConfState{Voters: []uint64{1}}
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	tests := []struct {
		name      string
		i         uint64
		cs        *pb.ConfState
		wantErr   error
		wantIndex uint64 // of the stored snapshot afterwards
		wantCS    *pb.ConfState
	}{
		{"middle", 4, cs, nil, 4, cs},
		{"last", 5, cs, nil, 5, cs},
		{"nil conf state keeps previous", 5, nil, nil, 5, seedCS},
		{"same index", 3, cs, raft.ErrSnapOutOfDate, 3, seedCS},
		{"older", 2, cs, raft.ErrSnapOutOfDate, 3, seedCS},
		{"beyond last", 6, cs, errAny, 3, seedCS},
	}
	forEachCache(t, func(t *testing.T, opts Options) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, path := newLog(t, opts)
				if _, err := s.CreateSnapshot(3, seedCS, []byte("seed")); err != nil {
					t.Fatalf("CreateSnapshot at the compaction point: %v", err)
				}
				data := []byte("state@" + tt.name)
				snap, err := s.CreateSnapshot(tt.i, tt.cs, data)
				checkErr(t, "CreateSnapshot", err, tt.wantErr)
				wantData := data
				if err != nil {
					wantData = []byte("seed")
				} else if snap.GetMetadata().GetIndex() != tt.i || snap.GetMetadata().GetTerm() != tt.i {
					t.Fatalf("returned snapshot at (%d,%d), want (%d,%d)",
						snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm(), tt.i, tt.i)
				}
				check := func(st *Store) {
					got, err := st.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					// Terms equal indexes in newLog.
					if got.GetMetadata().GetIndex() != tt.wantIndex || got.GetMetadata().GetTerm() != tt.wantIndex ||
						string(got.GetData()) != string(wantData) {
						t.Fatalf("Snapshot() = %v, want index=term=%d data %q", got, tt.wantIndex, wantData)
					}
					if !proto.Equal(got.GetMetadata().GetConfState(), pb.EnsureConfState(proto.Clone(tt.wantCS).(*pb.ConfState))) {
						t.Fatalf("snapshot ConfState = %v, want %v", got.GetMetadata().GetConfState(), tt.wantCS)
					}
					_, gotCS, _ := st.InitialState()
					if !slices.Equal(gotCS.GetVoters(), tt.wantCS.GetVoters()) {
						t.Fatalf("InitialState ConfState = %v, want %v", gotCS, tt.wantCS)
					}
					// Creating a snapshot does not compact.
					if first, _ := st.FirstIndex(); first != 4 {
						t.Fatalf("FirstIndex = %d, want 4", first)
					}
				}
				check(s)
				check(reopen(t, s, path, opts))
			})
		}
	})
}

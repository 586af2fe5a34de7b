package raftlog

import (
	"errors"
	"math/rand/v2"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestMatchesMemoryStorage applies random valid operations to a Store and to
// raft.MemoryStorage, the reference semantics, and compares every observable
// after each one, reopening the Store now and then.
func TestMatchesMemoryStorage(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		for seed := range uint64(8) {
			rng := rand.New(rand.NewPCG(seed, 99))
			s, path := openTemp(t, opts)
			ms := raft.NewMemoryStorage()
			term := uint64(1)
			for step := range 300 {
				first, _ := ms.FirstIndex()
				last, _ := ms.LastIndex()
				switch op := rng.IntN(10); {
				case op < 6: // append, possibly replacing a suffix or overlapping the compacted prefix
					low := max(first, 3) - 2
					from := low + uint64(rng.IntN(int(last-low+2)))
					if rng.IntN(4) == 0 {
						term++
					}
					es := make([]*pb.Entry, 1+rng.IntN(5))
					for i := range es {
						es[i] = &pb.Entry{Index: new(from + uint64(i)), Term: new(term),
							Data: make([]byte, rng.IntN(300))}
					}
					if err := ms.Append(es); err != nil {
						t.Fatal(err)
					}
					mustSave(t, s, nil, es, nil)
				case op == 6 && last > first: // compact
					i := first + uint64(rng.IntN(int(last-first)))
					if err := ms.Compact(i); err != nil {
						t.Fatal(err)
					}
					if err := s.Compact(i); err != nil {
						t.Fatalf("step %d: Compact(%d): %v", step, i, err)
					}
				case op == 7: // snapshot the applied state
					snap, _ := ms.Snapshot()
					if i := first - 1 + uint64(rng.IntN(int(last-first+2))); i > snap.GetMetadata().GetIndex() {
						cs := &pb.ConfState{Voters: []uint64{1, uint64(step)}}
						if _, err := ms.CreateSnapshot(i, cs, []byte("d")); err != nil {
							t.Fatal(err)
						}
						if _, err := s.CreateSnapshot(i, cs, []byte("d")); err != nil {
							t.Fatalf("step %d: CreateSnapshot(%d): %v", step, i, err)
						}
					}
				case op == 8: // a follower receiving a snapshot ahead of its log
					term++
					cur, _ := ms.Snapshot()
					at := max(last, cur.GetMetadata().GetIndex()+1, 1) + uint64(rng.IntN(3))
					snap := snapshotAt(at, term, "s", 1, 2)
					if err := ms.ApplySnapshot(snap); err != nil {
						t.Fatal(err)
					}
					mustSave(t, s, nil, nil, snap)
				case op == 9:
					s = reopen(t, s, path, opts)
				}
				compareStorage(t, step, rng, s, ms)
			}
		}
	})
}

func compareStorage(t *testing.T, step int, rng *rand.Rand, s *Store, ms *raft.MemoryStorage) {
	t.Helper()
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	gotFirst, _ := s.FirstIndex()
	gotLast, _ := s.LastIndex()
	if gotFirst != first || gotLast != last {
		t.Fatalf("step %d: bounds [%d,%d], want [%d,%d]", step, gotFirst, gotLast, first, last)
	}
	for i := first - 1; i <= last+1; i++ {
		want, wantErr := ms.Term(i)
		got, err := s.Term(i)
		if got != want || err != wantErr {
			t.Fatalf("step %d: Term(%d) = %d, %v; want %d, %v", step, i, got, err, want, wantErr)
		}
	}
	if first-1 > 0 {
		if _, err := s.Term(first - 2); err != raft.ErrCompacted {
			t.Fatalf("step %d: Term(%d) below the compaction point: %v", step, first-2, err)
		}
	}
	for range 5 {
		if last < first {
			break
		}
		lo := first + uint64(rng.IntN(int(last-first+1)))
		hi := lo + 1 + uint64(rng.IntN(int(last-lo+1)))
		maxSize := uint64(rng.IntN(1500))
		want, wantErr := ms.Entries(lo, hi, maxSize)
		got, err := s.Entries(lo, hi, maxSize)
		if !errors.Is(err, wantErr) || !sameEntries(got, want) {
			t.Fatalf("step %d: Entries(%d, %d, %d) = %s, %v; want %s, %v",
				step, lo, hi, maxSize, fmtEntries(got), err, fmtEntries(want), wantErr)
		}
	}
	wantSnap, _ := ms.Snapshot()
	gotSnap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(gotSnap.GetMetadata(), wantSnap.GetMetadata()) {
		t.Fatalf("step %d: snapshot metadata %v, want %v", step, gotSnap.GetMetadata(), wantSnap.GetMetadata())
	}
}

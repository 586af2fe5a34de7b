package raftlog

import (
	"fmt"
	"path/filepath"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// cacheVariants runs storage tests with the entry cache disabled (every read
// from the file), tiny (ranges straddling the cache) and at its default.
var cacheVariants = []struct {
	name    string
	entries int
}{
	{"nocache", -1},
	{"cache2", 2},
	{"default", 0},
}

func forEachCache(t *testing.T, fn func(t *testing.T, opts Options)) {
	t.Helper()
	for _, cv := range cacheVariants {
		t.Run(cv.name, func(t *testing.T) { fn(t, Options{CacheEntries: cv.entries}) })
	}
}

func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node", "raft.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func reopen(t *testing.T, s *Store, path string, opts Options) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := Open(path, opts)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

func ent(i, term uint64) *pb.Entry {
	return &pb.Entry{Index: new(i), Term: new(term), Data: fmt.Appendf(nil, "entry-%d-%d", i, term)}
}

// ents builds entries from (index, term) pairs.
func ents(pairs ...[2]uint64) []*pb.Entry {
	out := make([]*pb.Entry, len(pairs))
	for i, p := range pairs {
		out[i] = ent(p[0], p[1])
	}
	return out
}

func mustSave(t *testing.T, s *Store, hs *pb.HardState, es []*pb.Entry, snap *pb.Snapshot) {
	t.Helper()
	if err := s.Save(hs, es, snap); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// newLog returns a store whose log is the dummy entry (3,3) followed by
// (4,4) and (5,5), like raft's MemoryStorage tests.
func newLog(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	s, path := openTemp(t, opts)
	mustSave(t, s, nil, ents([2]uint64{1, 1}, [2]uint64{2, 2}, [2]uint64{3, 3}, [2]uint64{4, 4}, [2]uint64{5, 5}), nil)
	if err := s.Compact(3); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	return s, path
}

func sameEntries(a, b []*pb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func fmtEntries(es []*pb.Entry) string {
	out := "["
	for _, e := range es {
		out += fmt.Sprintf(" (%d,%d)", e.GetIndex(), e.GetTerm())
	}
	return out + " ]"
}

// logPairs reads the whole log as (index, term) pairs, the dummy entry first,
// and checks each real entry's payload is the one ent builds.
func logPairs(t *testing.T, s *Store) [][2]uint64 {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	dummyTerm, err := s.Term(first - 1)
	if err != nil {
		t.Fatalf("Term(%d): %v", first-1, err)
	}
	out := [][2]uint64{{first - 1, dummyTerm}}
	if last < first {
		return out
	}
	es, err := s.Entries(first, last+1, noLimit)
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", first, last+1, err)
	}
	for _, e := range es {
		if want := ent(e.GetIndex(), e.GetTerm()); !proto.Equal(e, want) {
			t.Fatalf("entry %d = %v, want %v", e.GetIndex(), e, want)
		}
		out = append(out, [2]uint64{e.GetIndex(), e.GetTerm()})
	}
	return out
}

const noLimit = ^uint64(0)

package raftlog

import (
	"fmt"
	"path/filepath"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// BenchmarkSave measures one Ready's worth of durable writes: a batch of
// 256-byte entries plus the HardState in one fsynced transaction.
func BenchmarkSave(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "raft.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			payload := make([]byte, 256)
			next := uint64(1)
			b.SetBytes(int64(batch * len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				es := make([]*pb.Entry, batch)
				for i := range es {
					es[i] = &pb.Entry{Index: new(next), Term: new(uint64(1)), Data: payload}
					next++
				}
				if err := s.Save(hardState(1, 1, next-1), es, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(batch), "ns/entry")
		})
	}
}

// BenchmarkEntries measures a leader re-reading recent entries to replicate
// them, from the cache and from the file.
func BenchmarkEntries(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cache int
	}{{"cache", 0}, {"file", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "raft.db"), Options{CacheEntries: tc.cache})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			payload := make([]byte, 256)
			es := make([]*pb.Entry, 512)
			for i := range es {
				es[i] = &pb.Entry{Index: new(uint64(i + 1)), Term: new(uint64(1)), Data: payload}
			}
			if err := s.Save(nil, es, nil); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Entries(449, 513, noLimit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

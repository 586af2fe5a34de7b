package raftlog

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

var _ raft.Storage = (*Store)(nil)

// The raft.Storage methods below return raft.ErrCompacted and
// raft.ErrUnavailable unwrapped in the cases raft handles, because raft
// compares them with ==.

// InitialState returns the saved HardState and the ConfState of the latest
// snapshot. Configuration changes after the snapshot are in the log; the
// application replays them when raft hands back the committed entries after
// Config.Applied (set Applied to the snapshot index on restart).
func (s *Store) InitialState() (*pb.HardState, *pb.ConfState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	hs := proto.Clone(s.hardState).(*pb.HardState)
	cs := pb.EnsureConfState(proto.Clone(s.snapMeta.GetConfState()).(*pb.ConfState))
	return hs, cs, nil
}

// FirstIndex returns the index of the first entry possibly available via
// Entries. It does no IO.
func (s *Store) FirstIndex() (uint64, error) {
	return s.first.Load(), nil
}

// LastIndex returns the index of the last entry in the log. It does no IO.
func (s *Store) LastIndex() (uint64, error) {
	return s.last.Load(), nil
}

// Term returns the term of entry i, which must be in [FirstIndex()-1, LastIndex()].
func (s *Store) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case i < s.dummyIndex:
		return 0, raft.ErrCompacted
	case i > s.last.Load():
		return 0, raft.ErrUnavailable
	}
	return s.termLocked(i)
}

// termLocked reads the term of an entry in [dummyIndex, last]; mu must be held.
func (s *Store) termLocked(i uint64) (uint64, error) {
	if i == s.dummyIndex {
		return s.dummyTerm, nil
	}
	if t, ok := s.cache.term(i); ok {
		return t, nil
	}
	var term uint64
	err := s.view(func(tx *bolt.Tx) error {
		k := indexKey(i)
		v := tx.Bucket(bucketEntries).Get(k)
		if v == nil {
			return s.corrupt("log entry %d missing", i)
		}
		e, err := decodeEntry(k, v)
		if err != nil {
			return s.corrupt("%v", err)
		}
		term = e.GetTerm()
		return nil
	})
	return term, err
}

// Entries returns the log entries in [lo, hi), limited to maxSize bytes of
// encoded entries but always at least one entry. The caller owns the returned
// slice; the entries themselves must not be mutated.
func (s *Store) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	last := s.last.Load()
	switch {
	case lo <= s.dummyIndex:
		return nil, raft.ErrCompacted
	case hi > last+1:
		return nil, fmt.Errorf("raftlog: entries [%d, %d) requested beyond last index %d: %w", lo, hi, last, raft.ErrUnavailable)
	case last == s.dummyIndex:
		return nil, raft.ErrUnavailable
	case lo > hi:
		return nil, fmt.Errorf("raftlog: invalid entries range [%d, %d)", lo, hi)
	case lo == hi:
		return nil, nil
	}
	if ents, ok := s.cache.entries(lo, hi, maxSize); ok {
		return ents, nil
	}
	var out []*pb.Entry
	err := s.view(func(tx *bolt.Tx) error {
		out = make([]*pb.Entry, 0, min(hi-lo, 1024))
		var size uint64
		c := tx.Bucket(bucketEntries).Cursor()
		k, v := c.Seek(indexKey(lo))
		for next := lo; next < hi; next++ {
			if !bytes.Equal(k, indexKey(next)) {
				return s.corrupt("log entry %d missing", next)
			}
			// The stored value is the sealed protobuf encoding, so this is
			// the proto.Size raft measures maxSize in.
			size += uint64(max(len(v)-checksumSize, 0))
			if len(out) > 0 && size > maxSize {
				return nil
			}
			e, err := decodeEntry(k, v)
			if err != nil {
				return s.corrupt("%v", err)
			}
			out = append(out, e)
			k, v = c.Next()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Snapshot returns the latest snapshot, metadata and data.
func (s *Store) Snapshot() (*pb.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := &pb.Snapshot{Metadata: proto.Clone(s.snapMeta).(*pb.SnapshotMetadata)}
	if s.snapMeta.GetIndex() == 0 {
		return snap, nil
	}
	err := s.view(func(tx *bolt.Tx) error {
		data, err := unseal(tx.Bucket(bucketSnapshot).Get(keySnapData))
		if err != nil {
			return s.corrupt("snapshot data at index %d: %v", s.snapMeta.GetIndex(), err)
		}
		// Copy: bbolt values live in the mmap only for the transaction.
		snap.Data = bytes.Clone(data)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

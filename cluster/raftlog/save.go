package raftlog

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// logBounds is the in-memory shape of the log: the dummy entry at the
// compaction point and the last index.
type logBounds struct {
	dummyIndex, dummyTerm, last uint64
}

func (s *Store) bounds() logBounds {
	return logBounds{dummyIndex: s.dummyIndex, dummyTerm: s.dummyTerm, last: s.last.Load()}
}

func (s *Store) setBounds(b logBounds) {
	s.dummyIndex, s.dummyTerm = b.dummyIndex, b.dummyTerm
	s.first.Store(b.dummyIndex + 1)
	s.last.Store(b.last)
}

// Save makes a Ready durable in one fsynced bbolt transaction: the snapshot
// first (if !raft.IsEmptySnap), which discards the whole log and restarts it
// at the snapshot, then the entries (an append whose first index is <= the last
// index truncates the conflicting suffix; entries already compacted are
// skipped), then the HardState (if !raft.IsEmptyHardState). Call it before
// sending the Ready's messages or applying its committed entries.
//
// The store keeps references to ents, which raft already requires be immutable.
func (s *Store) Save(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) error {
	hasSnap := !raft.IsEmptySnap(snap)
	hasHS := !raft.IsEmptyHardState(hs)
	if !hasSnap && !hasHS && len(ents) == 0 {
		return nil
	}
	for i := 1; i < len(ents); i++ {
		if ents[i].GetIndex() != ents[i-1].GetIndex()+1 {
			return fmt.Errorf("raftlog: save: entries not contiguous: %d follows %d", ents[i].GetIndex(), ents[i-1].GetIndex())
		}
	}
	// Encode before taking the lock so readers wait only for the transaction.
	encoded := make([][]byte, len(ents))
	for i, e := range ents {
		var err error
		if encoded[i], err = sealProto(e); err != nil {
			return fmt.Errorf("raftlog: save: encode entry %d: %w", e.GetIndex(), err)
		}
	}
	var hsBytes, snapMetaBytes []byte
	var snapMeta *pb.SnapshotMetadata
	if hasHS {
		var err error
		if hsBytes, err = sealProto(hs); err != nil {
			return fmt.Errorf("raftlog: save: encode hard state: %w", err)
		}
	}
	if hasSnap {
		snapMeta = pb.EnsureSnapshotMetadata(proto.Clone(snap.GetMetadata()).(*pb.SnapshotMetadata))
		var err error
		if snapMetaBytes, err = sealProto(snapMeta); err != nil {
			return fmt.Errorf("raftlog: save: encode snapshot metadata: %w", err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	// Keep the invariant a restarted raft checks: the commit index is never
	// behind the snapshot (CreateSnapshot may have raised it past a HardState
	// that a writer still had in flight).
	if floor := max(s.snapMeta.GetIndex(), snapMeta.GetIndex()); hasHS && hs.GetCommit() < floor {
		hs = proto.Clone(hs).(*pb.HardState)
		hs.Commit = new(floor)
		var err error
		if hsBytes, err = sealProto(hs); err != nil {
			return fmt.Errorf("raftlog: save: encode hard state: %w", err)
		}
	}

	b := s.bounds()
	if hasSnap {
		if cur := s.snapMeta.GetIndex(); cur >= snapMeta.GetIndex() {
			return raft.ErrSnapOutOfDate
		}
		b = logBounds{dummyIndex: snapMeta.GetIndex(), dummyTerm: snapMeta.GetTerm(), last: snapMeta.GetIndex()}
	}
	if len(ents) > 0 && ents[0].GetIndex() <= b.dummyIndex {
		skip := min(uint64(len(ents)), b.dummyIndex-ents[0].GetIndex()+1)
		ents, encoded = ents[skip:], encoded[skip:]
	}
	if len(ents) > 0 && ents[0].GetIndex() > b.last+1 {
		return fmt.Errorf("raftlog: save: appending at index %d would leave a gap after last index %d",
			ents[0].GetIndex(), b.last)
	}

	err := s.update(func(tx *bolt.Tx) error {
		if hasSnap {
			if err := putSnapshot(tx, snapMetaBytes, snap.GetData()); err != nil {
				return err
			}
			if err := resetLog(tx, b.dummyIndex, b.dummyTerm); err != nil {
				return err
			}
		}
		if len(ents) > 0 {
			if err := appendEntries(tx, ents, encoded, b.last); err != nil {
				return err
			}
		}
		if hasHS {
			return tx.Bucket(bucketMeta).Put(keyHardState, hsBytes)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raftlog: save to %s: %w", s.path, err)
	}

	if hasSnap {
		s.snapMeta = snapMeta
		s.cache.reset()
	}
	if len(ents) > 0 {
		b.last = ents[len(ents)-1].GetIndex()
		cached := make([]cachedEntry, len(ents))
		for i, e := range ents {
			cached[i] = cachedEntry{e: e, size: uint64(len(encoded[i]) - checksumSize)}
		}
		s.cache.append(cached)
	}
	if hasHS {
		s.hardState = proto.Clone(hs).(*pb.HardState)
	}
	s.setBounds(b)
	return nil
}

func putSnapshot(tx *bolt.Tx, metaBytes, data []byte) error {
	b := tx.Bucket(bucketSnapshot)
	if err := b.Put(keySnapMeta, metaBytes); err != nil {
		return err
	}
	return b.Put(keySnapData, seal(data))
}

// resetLog replaces the whole log with a dummy entry at (index, term).
func resetLog(tx *bolt.Tx, index, term uint64) error {
	if err := tx.DeleteBucket(bucketEntries); err != nil {
		return err
	}
	b, err := tx.CreateBucket(bucketEntries)
	if err != nil {
		return err
	}
	return putEntry(b, dummyEntry(index, term))
}

// appendEntries writes contiguous entries starting after the dummy entry,
// first deleting any existing entries at or after their first index.
func appendEntries(tx *bolt.Tx, ents []*pb.Entry, encoded [][]byte, last uint64) error {
	b := tx.Bucket(bucketEntries)
	b.FillPercent = entriesFillPercent
	if from := ents[0].GetIndex(); from <= last {
		if err := deleteFrom(b, from); err != nil {
			return err
		}
	}
	for i, e := range ents {
		if err := b.Put(indexKey(e.GetIndex()), encoded[i]); err != nil {
			return err
		}
	}
	return nil
}

// deleteFrom deletes the entries with index >= from. It re-positions with
// Last after every Delete because a bbolt cursor must not step past a key it
// just deleted.
func deleteFrom(b *bolt.Bucket, from uint64) error {
	c := b.Cursor()
	for k, _ := c.Last(); k != nil; k, _ = c.Last() {
		i, err := keyIndex(k)
		if err != nil {
			return err
		}
		if i < from {
			return nil
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// deleteBefore deletes the entries with index < to, re-positioning with First
// for the same reason as deleteFrom.
func deleteBefore(b *bolt.Bucket, to uint64) error {
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.First() {
		i, err := keyIndex(k)
		if err != nil {
			return err
		}
		if i >= to {
			return nil
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func putEntry(b *bolt.Bucket, e *pb.Entry) error {
	v, err := sealProto(e)
	if err != nil {
		return err
	}
	return b.Put(indexKey(e.GetIndex()), v)
}

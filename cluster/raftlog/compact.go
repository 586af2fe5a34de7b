package raftlog

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// CreateSnapshot records a snapshot of the applied state at index i
// (i <= LastIndex) with cs (nil keeps the previous snapshot's ConfState) and
// data, fsynced. It does not compact the log; call Compact for that. It
// returns raft.ErrSnapOutOfDate if i is not newer than the stored snapshot.
// The returned snapshot shares data with the caller.
func (s *Store) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.last.Load()
	switch {
	case i <= s.snapMeta.GetIndex():
		return nil, raft.ErrSnapOutOfDate
	case i > last:
		return nil, fmt.Errorf("raftlog: snapshot index %d is beyond last index %d", i, last)
	case i < s.dummyIndex:
		return nil, raft.ErrCompacted
	}
	term, err := s.termLocked(i)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = s.snapMeta.GetConfState()
	}
	meta := pb.EnsureSnapshotMetadata(&pb.SnapshotMetadata{
		Index:     new(i),
		Term:      new(term),
		ConfState: proto.Clone(cs).(*pb.ConfState),
	})
	metaBytes, err := sealProto(meta)
	if err != nil {
		return nil, fmt.Errorf("raftlog: encode snapshot metadata: %w", err)
	}
	// A snapshot's index is committed by definition; a restarted raft
	// refuses a HardState whose commit index is behind its snapshot, and
	// the commit index may not have been written yet when the state
	// machine is applied from another goroutine than the log's writer.
	var raised *pb.HardState
	var raisedBytes []byte
	if s.hardState.GetCommit() < i {
		raised = proto.Clone(s.hardState).(*pb.HardState)
		raised.Commit = new(i)
		if raisedBytes, err = sealProto(raised); err != nil {
			return nil, fmt.Errorf("raftlog: encode hard state: %w", err)
		}
	}
	if err := s.update(func(tx *bolt.Tx) error {
		if raised != nil {
			if err := tx.Bucket(bucketMeta).Put(keyHardState, raisedBytes); err != nil {
				return err
			}
		}
		return putSnapshot(tx, metaBytes, data)
	}); err != nil {
		return nil, fmt.Errorf("raftlog: create snapshot in %s: %w", s.path, err)
	}
	if raised != nil {
		s.hardState = raised
	}
	s.snapMeta = meta
	return &pb.Snapshot{Data: data, Metadata: proto.Clone(meta).(*pb.SnapshotMetadata)}, nil
}

// Compact discards log entries up to and including compactIndex, keeping its
// index and term as the new dummy entry (as raft.MemoryStorage). It returns
// raft.ErrCompacted if compactIndex is not past the current compaction point.
// Only compact what has been applied.
func (s *Store) Compact(compactIndex uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bounds()
	switch {
	case compactIndex <= b.dummyIndex:
		return raft.ErrCompacted
	case compactIndex > b.last:
		return fmt.Errorf("raftlog: compact index %d is beyond last index %d", compactIndex, b.last)
	}
	term, err := s.termLocked(compactIndex)
	if err != nil {
		return err
	}
	err = s.update(func(tx *bolt.Tx) error {
		ents := tx.Bucket(bucketEntries)
		if err := deleteBefore(ents, compactIndex); err != nil {
			return err
		}
		// Overwrite the new dummy entry so its payload's space is freed too.
		return putEntry(ents, dummyEntry(compactIndex, term))
	})
	if err != nil {
		return fmt.Errorf("raftlog: compact %s: %w", s.path, err)
	}
	b.dummyIndex, b.dummyTerm = compactIndex, term
	s.setBounds(b)
	s.cache.dropThrough(compactIndex)
	return nil
}

package raftlog

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/raft/v3/raftpb"
)

// load checks the format marker, decodes the state kept in memory and checks
// every log entry (contiguous, checksum, decodes), so a damaged log is reported
// by Open rather than later inside raft, which panics on storage errors. The
// walk also fills the entry cache with the tail of the log.
func (s *Store) load() error {
	return s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || !bytes.Equal(meta.Get(keyMagic), formatMagic) {
			return fmt.Errorf("raftlog: %s is a bbolt database without Ferry's raft log marker: %w", s.path, ErrNotRaftLog)
		}
		v := meta.Get(keyVersion)
		if len(v) != 4 {
			return s.corrupt("format version has %d bytes, want 4", len(v))
		}
		if ver := binary.BigEndian.Uint32(v); ver != formatVersion {
			return fmt.Errorf("raftlog: %s has raft log format version %d, this build reads version %d: %w",
				s.path, ver, formatVersion, ErrNotRaftLog)
		}

		s.hardState = &pb.HardState{}
		if v := meta.Get(keyHardState); v != nil {
			if err := unsealProto(v, s.hardState); err != nil {
				return s.corrupt("decode hard state: %v", err)
			}
		}
		if v := meta.Get(keyIdentity); v != nil {
			if _, err := decodeIdentity(v); err != nil {
				return s.corrupt("decode identity: %v", err)
			}
		}

		snap := tx.Bucket(bucketSnapshot)
		if snap == nil {
			return s.corrupt("snapshot bucket missing")
		}
		s.snapMeta = &pb.SnapshotMetadata{}
		if v := snap.Get(keySnapMeta); v != nil {
			if err := unsealProto(v, s.snapMeta); err != nil {
				return s.corrupt("decode snapshot metadata: %v", err)
			}
		}
		s.snapMeta = pb.EnsureSnapshotMetadata(s.snapMeta)

		ents := tx.Bucket(bucketEntries)
		if ents == nil {
			return s.corrupt("entries bucket missing")
		}
		return s.loadBounds(ents)
	})
}

func (s *Store) loadBounds(ents *bolt.Bucket) error {
	c := ents.Cursor()
	k, v := c.First()
	if k == nil {
		return s.corrupt("log has no dummy entry")
	}
	dummy, err := decodeEntry(k, v)
	if err != nil {
		return s.corrupt("decode first log entry: %v", err)
	}
	last := dummy.GetIndex()
	for k, v = c.Next(); k != nil; k, v = c.Next() {
		e, err := decodeEntry(k, v)
		if err != nil {
			return s.corrupt("log entry after %d: %v", last, err)
		}
		if e.GetIndex() != last+1 {
			return s.corrupt("log has a gap: entry %d follows entry %d", e.GetIndex(), last)
		}
		last = e.GetIndex()
		s.cache.append([]cachedEntry{{e: e, size: uint64(len(v) - checksumSize)}})
	}
	s.dummyIndex, s.dummyTerm = dummy.GetIndex(), dummy.GetTerm()
	s.first.Store(s.dummyIndex + 1)
	s.last.Store(last)
	return nil
}

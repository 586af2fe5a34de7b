// Package raftlog persists a Raft node's durable state in a single bbolt file.
//
// A Store implements raft.Storage (go.etcd.io/raft/v3) and additionally keeps
// the HardState, the latest snapshot (metadata and data) and the node's
// identity, so everything a node must not lose across a restart lives in one
// fsynced file per node. A raft Ready is made durable by Save in one bbolt
// transaction (one commit):
//
//	rd := rawNode.Ready()
//	if err := store.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil { ... }
//	// only now send rd.Messages and apply rd.CommittedEntries
//
// The log always has a dummy entry at the compaction point, exactly like
// raft.MemoryStorage: its index and term are kept for log matching, its data
// is gone. FirstIndex is the index after it, and an empty store has the dummy
// entry at index 0.
//
// Every stored value carries a CRC-32C. Open verifies the format marker and
// every log entry, so a damaged or foreign file is refused at startup with
// ErrCorrupt or ErrNotRaftLog instead of making raft panic later; reads that
// meet damage afterwards return ErrCorrupt.
package raftlog

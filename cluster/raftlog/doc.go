// Package raftlog persists a Raft node's durable state in a single bbolt file.
//
// A Store implements raft.Storage (go.etcd.io/raft/v3) and additionally keeps
// the HardState, the latest snapshot (metadata and data) and the node's
// identity, so everything a node must not lose across a restart lives in one
// fsynced file per node. Writes from a raft Ready are grouped into one bbolt
// transaction (one commit, one fsync) by Save.
//
// The log always has a dummy entry at the compaction point, exactly like
// raft.MemoryStorage: its index and term are kept for log matching, its data
// is gone. FirstIndex is the index after it, and an empty store has the dummy
// entry at index 0.
package raftlog

// Package cluster runs one Ferry node's share of the cluster: the Raft node
// that replicates the job log (persisted by raftlog, applied to fsm), the gRPC
// transport that carries Raft messages between peers, the gossip layer that
// finds peers and tells who is alive, and the membership controller that turns
// gossip into Raft configuration changes on the leader.
//
// The Raft contract is followed exactly: a Ready's HardState, entries and
// snapshot are fsynced to the bbolt log before its messages are sent and before
// its committed entries are applied.
package cluster

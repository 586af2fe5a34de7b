// Package cluster runs one Ferry node's share of the cluster: the Raft node
// that replicates the job log (persisted by raftlog, applied to fsm), the gRPC
// transport that carries Raft messages between peers, the gossip layer that
// finds peers and tells who is alive (and, through the reconnector, keeps
// reaching out to failed members so that gossip heals after a partition),
// and the membership controller that turns gossip into Raft configuration
// changes on the leader.
//
// Raft runs with the raft package's asynchronous storage writes, whose
// contract is followed exactly: log entries, HardState and snapshots are
// fsynced to the bbolt log before the acknowledgements and votes that depend
// on them are sent, and entries are applied only once they are durable. The
// writes (group-committed) and the applies run on their own goroutines,
// beside the loop that routes Raft's Ready.
package cluster

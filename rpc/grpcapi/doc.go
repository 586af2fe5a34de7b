// Package grpcapi serves Ferry's client API, ferry.v1.JobService and
// ferry.v1.ClusterService, on top of a cluster node. Any node answers: writes
// go through Raft (forwarded to the leader inside Raft), reads are
// linearizable through ReadIndex unless the caller asks for a stale read.
package grpcapi

// Package grpcapi serves Ferry's client API, ferry.v1.JobService and
// ferry.v1.ClusterService, on top of a cluster node. Any node answers: writes
// go through Raft (forwarded to the leader inside Raft), reads are
// linearizable through ReadIndex unless the caller asks for a stale read.
// List pages by size (about 1 MiB of jobs a page); Get and Watch add to a
// running job the bytes its owner last reported to the leader
// (live_bytes_done), which move faster than committed checkpoints.
//
// DeviceService registers devices by what their files are: the canonical
// path (symlinks resolved) and the file's identity (device and inode, or a
// device node's number), which the state machine keeps unique; the file a
// registered device's path leads to now is that device's too, though it was
// moved or replaced since (fileid.go). Files a
// registration creates are deleted only when it is known to have failed.
// A device whose fence is another cluster's is refused unless taken over
// (take_over); ImportTape registers an existing cartridge image with the
// catalog read from it. EraseTape rewrites a cartridge's label under its
// fence claimed with the epoch of the state machine's EraseCartridgeOp, so
// neither an older writer nor a job placed later is overwritten
// (erase.go); RemoveDisk/RemoveTape/RemoveLibrary delete files only when
// asked and after the removal committed (remove.go).
//
// Auth (auth.go) resolves and checks the caller of every client call
// (security/acl) and hands each mutating call, once answered and refusals
// included, to the Auditor (audit.go), which proposes the records in
// batches after the answers (requestSummary redacts the requests,
// audit_request.go); AuditService serves the trail (audit_server.go).
package grpcapi

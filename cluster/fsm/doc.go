// Package fsm is Ferry's replicated state machine: the jobs, the device
// registry (disk LUNs, tape libraries and their cartridges) and the cluster
// membership that every node derives from the committed Raft log.
//
// A job is submitted QUEUED. The leader's scheduler places it (PlaceJobOp)
// on a node, which becomes the owner under a fencing epoch (the placement's
// Raft index), with the job's cartridges in the drives the scheduler chose;
// the state machine re-checks the changer rules of storage/library and that
// a cartridge serves one job and a drive holds one cartridge. While the
// scheduler cannot place it, the job stays queued with the reason
// (WaitJobOp). The owner records its start, its checkpoints and finally the
// outcome; all are refused with ErrFenced unless they carry the job's
// current owner and epoch, so a node that lost the job can never change it.
// A takeover is a placement of a running job, made only from the epoch it
// names. Finishing or cancelling a job sends its cartridges back to their
// home slots.
//
// What a job touches is resolved in one place, JobAccess (access.go): the
// devices it reads and writes, the byte ranges of its disks and the files of
// its tapes. Submission refuses every copy that cannot be right on the
// devices as registered at that entry (one cartridge read and written,
// overlapping ranges on one disk, ranges past a LUN's end, partial blocks,
// protected destinations, and for EXTENDED COPY lists the SPC-4 sense);
// the gRPC server runs the same check before proposing, and the scheduler
// and the executor's device locks follow the same resolution.
//
// A multi-stream job (JobSpec.streams > 1, streams.go) is a parent job and
// one ordinary copy job per stream, created together by its SubmitJobOp:
// the disk source range split into block-aligned parts (a disk destination
// the same way; a tape destination is a pool or one cartridge per stream),
// each stream refused as a job of its own would be, and the streams
// refused together if one writes what another reads or writes. The
// streams are placed, fenced, checkpointed and taken over like any job;
// the parent is never placed. Because their ranges never meet, the
// streams of one job may use one disk at once, and nothing else may
// (SharesDisks: the scheduler's busy rule and the executor's device locks
// ask it); each fences its own range of a disk it writes (DiskFenceRange),
// not the whole disk. Its state follows theirs in the entry that
// changes them (syncParent): running once one runs, succeeded with a
// manifest (a SHA-256 per stream) once all have, failed or cancelled with
// the first that is, cancelling the rest; cancelling it cancels them.
//
// Each cartridge carries its catalog (catalog.go): the files jobs wrote,
// recorded when a FinishJobOp reports them (JobResult or JobError
// tape_writes), cut where the job began writing as a tape discards what
// follows a write. Devices are removed (RemoveDeviceOp) and cartridges
// erased (EraseCartridgeOp) only while no queued or running job names them
// and no cartridge is in a drive (remove.go); a removed disk's LUN is never
// given again.
//
// Pools (pools.go, span.go): a pool names barcodes of one library. A copy
// to a pool (Endpoint.pool) is submitted without a cartridge; the
// PlaceJobOp that loads a member binds the spec's destination to it, so
// every later reader sees a named cartridge. A copy that fills its
// cartridge continues on another member (SpanJobOp, fenced like a
// checkpoint): the full one goes home, the next takes its drive, the spec
// and the tape assignment (its volume number) follow, the part on the full
// cartridge joins Job.volumes and its catalog, and a takeover resumes on
// the volume the spec names; the result lists every volume
// (JobResult.volumes). A copy with no member left says so (SpanWaitOp). UseOf is the one rule for what a
// member can take (scratch, appendable, full, offline).
//
// A disk carries its SCSI reservations (reservations.go): the PERSISTENT
// RESERVE OUT, RESERVE(6) and RELEASE(6) commands initiators send through
// any node's portal are ReserveOps, decided by the package scsi/pr on the
// disk's stored state, so every node's target enforces the same
// reservations; the Result carries pr's refusal (its sense, or
// pr.ErrConflict) or the command's Effect for every node's target to
// deliver. A copy is not placed to write a disk an initiator has reserved
// (CopyExcluded): iSCSI writes and copies never interleave.
//
// NDMP (ndmp.go): a DMA's MOVE MEDIUM through a node's NDMP robot is a
// MoveMediumOp under the changer rules copy jobs obey, and its TAPE_OPEN an
// OpenNdmpSessionOp, which creates a RUNNING job of kind ndmp (JobSpec.ndmp)
// owned by that node under the entry's index as epoch, holding the drive's
// cartridge. A running job's cartridge or drive is never a DMA's to move
// (ErrHeld). A cartridge a DMA loaded stays in its drive with no job, its
// record saying who loaded it (Cartridge.ndmp_load): copies that need it
// wait, removal and erase refuse it, snapshots keep it. A session's own end
// (FinishJobOp) leaves the cartridge in the drive for the DMA; the end of a
// session whose node is gone (EndNdmpSessionOp) sends it home. Sessions are
// never submitted, placed or taken over: NDMP has no reconnect.
//
// ACLs (acl.go): tokens, by the SHA-256 of their secret, and the secrets
// the nodes serve with. The audit trail (audit.go): AuditOp appends the
// records of mutating API calls, numbered as applied and kept once by
// their id (a batch proposed again after a leader change adds nothing);
// PruneAuditOp deletes those older than the time the leader chose; past
// MaxAuditRecords the oldest tenth goes at once, and is counted.
//
// The gossip keyring (keyring.go): the keys gossip is encrypted with,
// primary first, installed, used and removed by GossipKeyOps, the first of
// which starts it from the proposer's own keys (its seed). Every node
// applies it to its own gossip.
//
// A change feed (changes.go, ChangesSince) tells a reader that keeps
// something derived from the state, such as the leader's scheduler, which
// jobs changed, and whether devices did, since it last asked, so that it
// reads those again instead of every job.
//
// The package is pure. It does no IO, reads no clock, draws no random numbers
// and starts no goroutines, so that every replica applying the same entries
// reaches byte-identical state. Time comes only from Command.time, the
// proposer's clock, and ordering only from Raft indexes. Bad input (including
// garbage that happens to unmarshal as a Command) is reported as an error in
// the Result, never as a panic, because a panic in the apply loop would take
// every replica down on the same entry.
package fsm

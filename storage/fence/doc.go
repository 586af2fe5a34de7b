// Package fence fences writes to file-backed devices (disk LUN image files
// and SIMH .tap cartridge images on a filesystem every node shares) by the
// fencing epoch of the job that owns them. It plays the part SCSI persistent
// reservations play on a SAN: when a job is taken over, its new owner claims
// the device with its higher epoch, and from then on the old owner — paused,
// partitioned, or simply not yet told — cannot write one byte to it.
//
// The epoch lives in a fence file beside the device (devicePath + ".fence"),
// guarded by flock(2):
//
//   - Claim takes an exclusive lock, refuses if the stored epoch is higher,
//     and otherwise stores its epoch durably (fdatasync) before unlocking.
//   - Write takes a shared lock, reads the stored epoch and, if its own epoch
//     is not older, runs the device write — all under that one lock. Checking
//     and writing under the same lock is the point: were the lock dropped
//     between them, a Claim could complete in the gap and the old owner would
//     write after the new one started. With one lock a Claim either completes
//     before the check (the write is refused) or waits until the write has
//     returned (it happened before the claim, as it would had the old owner
//     been a little faster).
//
// Shared flocks alone would let a stream of overlapping writes starve a
// Claim forever — Linux grants a new shared lock while an exclusive one is
// waiting — and starving the claim of a new owner while a partitioned old one
// keeps writing is exactly the case fencing exists for. So every Write and
// Claim first passes a turnstile, an exclusive flock on the device file
// itself: a Claim holds it while it waits, which holds new writes back until
// the ones in flight have returned. The turnstile only orders waiters; safety
// never depends on it, so anything else flocking device files would cost
// liveness, never correctness (nothing in Ferry does).
//
// Ranges. The streams of one job may write disjoint byte ranges of one
// device at once, each under its own epoch (its own placement, lease and
// takeover), so one epoch per device would fence each stream out by the
// next. A Fence opened with OpenRange claims and writes one range: its
// Claim records the range's epoch in a table of range claims in the fence
// file, and a write (or claim) of a range is refused when the device
// record, or a range claim overlapping it, holds a newer epoch. A stale
// owner of stream 2 is refused once stream 2 is taken over, while stream
// 3's owner, whose range overlaps no newer claim, keeps writing. A Fence of
// the whole device (Open) counts every range claim too, and its Claim
// supersedes them all (the table is emptied). A claim never lowers what
// the file refuses, at any point a crash could stop it: the new claim is
// stored durably before the claims it covers are freed. All the Fences of
// one device share the same two flocks, so a Claim of one range also
// waits, briefly, for the writes in flight of the other ranges.
//
// Known limits:
//
//   - A writer frozen (SIGSTOP) inside Write holds its shared lock, so a Claim
//     waits until it is resumed or killed; the kernel drops a dead process's
//     locks at once, so a killed writer releases the device immediately. The
//     frozen write began before the claim, so it is not a write "after the
//     new owner started"; the new owner's Claim (and so its first write) is
//     merely delayed. Likewise a claimant frozen while waiting holds the
//     turnstile and delays writers; its ctx cannot help while it is stopped.
//   - Every node must name a device by the same path, since the fence file is
//     found by name, and nobody may delete a fence file while its device is
//     in use: a Fence notices that its file was removed or replaced and
//     refuses with ErrReplaced rather than trust an orphaned epoch.
//   - flock on a network filesystem is only as good as its lock manager
//     (NFSv4 maps it to byte-range locks held by the server).
//   - Real SAN LUNs would use SCSI PERSISTENT RESERVE OUT with PREEMPT (or
//     PREEMPT AND ABORT) of the old owner's registration key, enforced by the
//     target itself; a tape drive attached directly (/dev/nst0) has no file to
//     put a fence beside, and Open reports ErrUnsupported for it.
//
// Fences carry the cluster's id. Epochs are a cluster's Raft indexes, which
// mean nothing to another cluster: a fence left by a cluster that was
// rebuilt, or by the cluster a LUN or cartridge came from, could hold epoch
// 936 against this cluster's 20 for good. So a fence counts one cluster's
// epochs, and a Fence opened for another cluster is refused with an
// *OtherClusterError (errors.Is ErrOtherCluster, naming the cluster), never
// compared by epoch. Only an operator's decision moves a device between
// clusters: TakeOver rewrites the fence for this cluster, at an epoch of its
// own. Read looks at a fence without claiming it, before a registration.
//
// The fence file holds one 80-byte record written with a single pwrite at
// offset 0: the magic "FNC2", the epoch as a big-endian uint64, the length
// of the cluster id (one byte) and the id zero-padded to MaxClusterIDLen
// bytes, and a CRC-32C of the 76 bytes before it, big-endian. An empty file
// is epoch 0 of no cluster. A 16-byte record of the first format ("FNC1",
// epoch, CRC-32C, without a cluster), as earlier versions wrote, is read as
// the epoch of no cluster, and a fence of no cluster counts as the claimer's
// own cluster's: devices fenced before the upgrade keep working, and the
// first claim records the cluster. (A registration that finds such a fence
// holding an epoch above anything its cluster has reached knows it is not
// its own: see rpc/grpcapi.) Anything else is a damaged record
// (ErrCorrupt), which stops both Claim and Write until an operator repairs
// it: guessing an epoch could let an old owner write.
//
// Range claims follow the record, from byte 96 on (zero padding between),
// in slots of 32 bytes that never straddle a sector: the magic "FNR1", the
// range's offset and length and the epoch as big-endian uint64s, and a
// CRC-32C of the 28 bytes before it. A slot of zeros is free. Each slot is
// written with one pwrite, after the record carries the cluster: slots
// behind a record without a cluster are damage. Versions before range
// claims read a fence file with slots as damaged (a size they do not know)
// and refuse to write: during an upgrade an old node is refused, never
// let through by ranges it cannot see.
package fence

// Package executor runs the copy jobs the scheduler placed on this node and
// keeps the node's lease. For each job it claims the devices it writes with
// the job's fencing epoch (storage/fence), opens them, records the start,
// drives the mover from the last checkpoint, commits checkpoints (batched
// with the node's other copies) and records the outcome, all under that
// epoch. Every write passes the node's lease and the device's fence, so a
// node that lost a job, however late it wakes up, writes nothing more. A
// stream of a multi-stream job claims only its range of a disk its sibling
// streams write beside it (a range fence), and the node's device locks let
// siblings share that disk (fsm.SharesDisks); a write outside the range is
// refused.
// Fences carry the cluster's id. A fence that refuses the job for any other
// reason than its own takeover (another cluster's fence, an epoch no owner
// of the job had) fails the job with that reason, so that neither it nor
// the jobs queued behind its devices wait for ever. Before closing the
// devices the executor reads back what the job left on each cartridge it
// wrote, from the job's lowest write to end of data, and reports those
// files with the outcome for the catalogs (catalog.go). A device must be
// the one registered: a disk's file the registered size, a cartridge's
// image labelled for its volume (ErrOtherImage fails the job otherwise), and
// no write may land inside a cartridge's label (file 0), which only tape
// erase rewrites. A cartridge of a library with a drive model (library
// create -drive-rate, -load-time, -locate-rate) is opened in the drive its
// job's tape assignment names, whose timing this node keeps
// (storage/drivemodel): a copy or an NDMP session waits the load time,
// streams and locates at the drive's rates, and the drive's stalls count
// in ferry_drive_stalls_total; reading a cartridge back for the catalog or
// verify looks at the medium, untimed. A copy to a pool spans cartridges
// (span.go): at early warning the mover cuts the copy at a record boundary
// behind a filemark, the executor reads the full cartridge back for its
// catalog, chooses the next member with the scheduler's rule
// (scheduler.ChoosePoolCartridge), commits SpanJobOp, closes the full one
// (dropping its fence), claims and opens the next, positions it as a new
// file and commits that position before the copy writes a byte there; a
// copy taken over on a volume is checked against its tape assignment and
// positioned the same way. With no member left the copy waits holding its
// drive, its state reason naming the pool (SpanWaitOp). The mover and the
// devices know nothing of Raft; this package is the seam.
package executor

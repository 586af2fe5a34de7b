// Package executor runs the copy jobs the scheduler placed on this node and
// keeps the node's lease. For each job it claims the devices it writes with
// the job's fencing epoch (storage/fence), opens them, records the start,
// drives the mover from the last checkpoint, commits checkpoints (batched
// with the node's other copies) and records the outcome, all under that
// epoch. Every write passes the node's lease and the device's fence, so a
// node that lost a job, however late it wakes up, writes nothing more. The
// mover and the devices know nothing of Raft; this package is the seam.
package executor

// Package fsm is Ferry's replicated state machine: the jobs, the device
// registry (disk LUNs, tape libraries and their cartridges) and the cluster
// membership that every node derives from the committed Raft log.
//
// A job is submitted QUEUED; the node that accepted it starts it
// (StartJobOp), which makes that node the owner under a fencing epoch (the
// start's Raft index) and loads the job's cartridges into free drives,
// following the changer rules of storage/library. The owner then records
// checkpoints and finally the outcome; both are refused with ErrFenced
// unless they carry the job's current owner and epoch, so a node that lost
// the job can never change it. Finishing or cancelling a job sends its
// cartridges back to their home slots.
//
// The package is pure. It does no IO, reads no clock, draws no random numbers
// and starts no goroutines, so that every replica applying the same entries
// reaches byte-identical state. Time comes only from Command.time, the
// proposer's clock, and ordering only from Raft indexes. Bad input (including
// garbage that happens to unmarshal as a Command) is reported as an error in
// the Result, never as a panic, because a panic in the apply loop would take
// every replica down on the same entry.
package fsm

// Package mover executes copy plans: segment by segment it moves data between
// disk LUNs and tape drives, hashing what it writes and emitting checkpoints
// from which an interrupted copy resumes to a byte-identical result.
//
// The mover is a pure execution engine. It knows nothing of Raft or of the
// job API: a caller builds a Plan (from a job spec, or from an SPC-4
// EXTENDED COPY parameter list with FromXCopy), hands over the opened
// devices, and persists the checkpoints that Config.OnCheckpoint receives.
//
// Each data segment runs as a pipeline of three goroutines sharing a small
// pool of large aligned buffers: a reader fills buffers from the source, a
// writer drains them to the destination while a hasher feeds the same bytes
// to SHA-256, and Run itself commits finished buffers in order, deciding
// when to checkpoint. A checkpoint is emitted only after the destination
// has been flushed past the point it describes, so a crash right after one
// leaves no hole behind it.
package mover

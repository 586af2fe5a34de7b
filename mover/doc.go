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
//
// Segments have sequential semantics: a segment's pipeline is drained (every
// write returned) before the next segment's reader starts, so a segment
// reads what earlier segments of the plan wrote, on a disk (the page cache
// keeps the buffered and O_DIRECT paths of one file coherent) as on a tape
// (a cartridge writes what it buffers before it moves or reads). Only a
// segment whose own source and destination ranges overlap on one device is
// refused (validate), since its reader may run ahead of its writer: the
// mover does not implement memmove semantics.
//
// Safety rules for plans from EXTENDED COPY (FromXCopy):
//   - one device, one handle: CSCD descriptors carrying the same NAA are one
//     device index, opened once (writable if any segment writes it), so two
//     descriptors of one cartridge share its position and write buffer and
//     two of one disk are caught by the overlap check;
//   - checked arithmetic: every LBA × block size (+ byte offset) + length is
//     computed without overflow (xcopy.ParameterList.Extents) and checked
//     against the device before anything runs, so an address can never wrap
//     onto another block; Plan.validate checks every range again.
//
// Result.Written records, per tape, the position of the job's lowest write
// that reached the tape (a refused write is none); checkpoints carry it, so
// a resumed copy reports where the job began, for the cartridges' catalogs.
//
// A copy that spans tapes (Config.Span, span.go): when a tape destination
// of a block → stream or stream → stream segment reports early warning,
// Run cuts the segment after the last chunk it committed (the writer's
// reports of chunks already written are taken in; the rest of the chunk
// that met early warning is discarded by the filemark written at the cut),
// so the part on the full volume is exactly the bytes counted and hashed.
// It flushes, hands Span the checkpoint at the cut (Checkpoint.Volumes
// names the next volume, with no position on it yet), and goes on from the
// cut on the device Span returns. A checkpoint always says which volume
// its positions are on; resuming one taken at a cut needs the caller to
// position the new volume first.
//
// A tape read into a disk (StreamToBlock) whose data ends inside a disk
// block has the rest of that block written with zeros, as SPC-4's PAD bit
// does for a copy manager, so a disk never keeps half a block from the copy
// and half of what it held: Result.Padding reports the zeros, which are not
// in the hashes. (A segment whose stream ends before its byte count fails
// instead, with COPY TARGET DATA UNDERRUN.)
package mover

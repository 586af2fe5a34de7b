package mover

// SegmentResult is what one segment moved.
type SegmentResult struct {
	// Bytes written to the destination (read, for StreamToDiscard).
	Bytes int64
	// SHA256 of the bytes written by the segment.
	SHA256 [32]byte
}

// Result is what a whole plan moved. After a resume it is the same as the
// result of an uninterrupted run.
type Result struct {
	// Bytes written by all segments.
	Bytes int64
	// SHA256 of all bytes written, in plan order.
	SHA256   [32]byte
	Segments []SegmentResult
	// Padding is the zeros this run wrote after a tape's data that ended
	// inside a disk block, to the end of that block (StreamToBlock); they
	// are not in Bytes or the hashes.
	Padding int64
	// Written maps every tape device the plan wrote (a record, or at least
	// one filemark) to the position of its lowest write: everything from
	// there on is the job's, as a write on tape discards what follows it.
	// It survives resumes (checkpoints carry it), and Run returns it on
	// failure too, alone, so a caller can say what a cut-off copy left.
	Written map[int]TapePos
}

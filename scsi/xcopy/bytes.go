package xcopy

// SegmentBytes returns how many bytes segment i of a decoded list reads from
// its source, or from the inline data: the total a mover reports progress
// against. It is zero for the segments that move no data (07h, 10h-12h),
// for a tape image copy (13h), whose length only the tape knows, and for an
// index or CSCD reference Decode would have refused.
func (p *ParameterList) SegmentBytes(i int) uint64 {
	if i < 0 || i >= len(p.Segments) {
		return 0
	}
	s := p.Segments[i]
	src, dst, ok := p.targetsOf(s)
	if !ok {
		return 0
	}
	return dataBytes(s, src, dst)
}

// dataBytes is the number of bytes segment s reads, given its resolved
// source and destination CSCDs (nil where the type has none).
func dataBytes(s Segment, src, dst *TargetDescriptor) uint64 {
	switch s.Type {
	case BlockToStream:
		return uint64(s.Blocks) * uint64(src.BlockLength)
	case StreamToBlock:
		return uint64(s.Blocks) * uint64(dst.BlockLength)
	case BlockToBlock:
		if s.DC {
			return uint64(s.Blocks) * uint64(dst.BlockLength)
		}
		return uint64(s.Blocks) * uint64(src.BlockLength)
	case StreamToStream, InlineToStream, StreamToDiscard, BlockToBlockOffsets:
		return uint64(s.ByteCount)
	}
	return 0
}

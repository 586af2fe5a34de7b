package mover

// build makes the source and sink of a data segment, positioned
// r.segBytes (and r.segRecs records, r.segFiles filemarks) into it.
func (r *runner) build(s Segment) (source, sink) {
	srcClass, dstClass := s.Kind.roles()
	var snk sink = discardSink{}
	recordSize := 0
	switch dstClass {
	case classBlock:
		snk = &blockSink{dev: r.devs[s.Dst].Block, idx: s.Dst, off: s.DstOffset + r.segBytes, pad: srcClass == classTape}
	case classTape:
		// validate already checked the record size.
		recordSize, _ = s.recordSize(r.devs[s.Dst].Tape)
		seg := r.seg
		snk = &tapeSink{t: r.devs[s.Dst].Tape, idx: s.Dst, recordSize: recordSize, stopAtWarning: r.spans(s), onWarning: func() {
			r.cfg.Logger.Warn("tape in early-warning zone", "segment", seg, "device", r.devs[s.Dst].String())
		}}
	}
	var src source
	switch {
	case s.Kind == InlineToStream:
		src = &inlineSource{data: s.Inline}
	case srcClass == classBlock:
		chunk := r.cfg.BufferSize
		if recordSize > 0 {
			// Whole records per chunk keep checkpoints on record boundaries.
			chunk = max(chunk/recordSize, 1) * recordSize
		}
		src = &blockSource{dev: r.devs[s.Src].Block, idx: s.Src, off: s.SrcOffset + r.segBytes,
			remaining: s.Length - r.segBytes, chunkSize: chunk}
	case srcClass == classTape:
		ts := &tapeSource{t: r.devs[s.Src].Tape, idx: s.Src, recLimit: s.Records, byteLimit: s.Length,
			records: r.segRecs, files: r.segFiles, bytes: r.segBytes}
		if s.Kind == TapeImage {
			ts.image, ts.recLimit, ts.byteLimit, ts.fileLimit = true, 0, 0, int64(s.Filemarks)
		}
		src = ts
	}
	return src, snk
}

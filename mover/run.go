package mover

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Run executes plan on devs, starting over or from resume, and returns what
// it wrote once every destination is flushed. On failure it returns a
// *SegmentError naming the segment and how far it got (or the error of
// OnCheckpoint, or the context's) and a Result holding only Written.
//
// Resuming repositions every tape to where the checkpoint saw it (LOCATE;
// a write after it truncates the rest of the tape) and every block
// offset, then continues, so the destination ends byte-identical to an
// uninterrupted run with the same hashes. devs must be the same devices, in
// the same order, as in the run that emitted the checkpoint.
func Run(ctx context.Context, cfg Config, plan Plan, devs []Device, resume *Checkpoint) (Result, error) {
	r, res, err := runPlan(ctx, cfg, plan, devs, resume)
	if err != nil && r != nil {
		return Result{Written: maps.Clone(r.written)}, err
	}
	return res, err
}

func runPlan(ctx context.Context, cfg Config, plan Plan, devs []Device, resume *Checkpoint) (*runner, Result, error) {
	cfg = cfg.withDefaults()
	if err := checkDevices(devs); err != nil {
		return nil, Result{}, err
	}
	if err := plan.validate(devs); err != nil {
		return nil, Result{}, err
	}
	r := &runner{
		cfg:  cfg,
		plan: plan,
		devs: slices.Clone(devs), // Span replaces a full volume's device

		hashes:    newHashes(),
		positions: map[int]TapePos{},
		dirty:     map[int]bool{},
		written:   map[int]TapePos{},
		volumes:   map[int]Volume{},
		start:     time.Now(),
		total:     plan.total(),
		limiter:   newLimiter(cfg.BandwidthLimit),
	}
	r.lastCheckpoint = r.start
	r.pool = newPool(cfg.Buffers, plan.bufferSize(cfg.BufferSize, devs))
	// Every pipeline goroutine has exited when Run returns.
	defer r.pool.close()
	if err := r.begin(ctx, resume); err != nil {
		return r, Result{}, err
	}
	for ; r.seg < len(plan.Segments); r.seg++ {
		if err := ctx.Err(); err != nil {
			return r, Result{}, r.fail(err)
		}
		if err := r.segment(ctx); err != nil {
			return r, Result{}, err
		}
	}
	if err := r.flushDirty(-1); err != nil {
		return r, Result{}, r.fail(err)
	}
	res := Result{Bytes: r.jobBytes, SHA256: r.hashes.jobSum(), Segments: r.done, Padding: r.padding, Written: r.written}
	r.cfg.Logger.Debug("copy done", "bytes", res.Bytes, "sha256", fmt.Sprintf("%x", res.SHA256), "elapsed", time.Since(r.start))
	return r, res, nil
}

// runner is the state of one Run.
type runner struct {
	cfg    Config
	plan   Plan
	devs   []Device
	pool   *pool
	hashes *hashes
	// limiter paces the whole job: one per segment would let every
	// segment's first chunk go unpaced, so a list of small segments ran
	// at full speed whatever the limit.
	limiter *limiter

	seg      int   // current segment
	segBytes int64 // bytes committed in the current segment
	segRecs  int64
	segFiles int64
	jobBytes int64
	done     []SegmentResult
	padding  int64 // zeros written to complete a block (Result.Padding)

	// positions are the last known positions of all tapes.
	positions map[int]TapePos
	// dirty are the devices written since the last flush.
	dirty map[int]bool
	// written is Result.Written so far; pending is the running data
	// segment's candidate.
	written map[int]TapePos
	pending *pendingWrite
	// volumes are the tapes that spanned (Checkpoint.Volumes); committed
	// is the hash states at the last chunk committed in the running data
	// segment, where a span cuts the segment (span.go).
	volumes   map[int]Volume
	committed checkpointState

	start          time.Time
	total          int64
	lastCheckpoint time.Time
	sinceBytes     int64 // bytes committed since the last checkpoint
	lastProgress   time.Time
}

// begin loads a checkpoint, or records where the tapes start.
func (r *runner) begin(ctx context.Context, cp *Checkpoint) error {
	if cp == nil {
		for i, d := range r.devs {
			if d.Tape == nil {
				continue
			}
			p, err := d.Tape.ReadPosition()
			if err != nil {
				return r.fail(&stageError{op: "read position", device: i, err: err})
			}
			r.positions[i] = TapePos{ObjectID: p.ObjectID, File: p.File}
		}
		// A first checkpoint records the starting positions, so that a
		// crash before any other still resumes from the right place.
		if err := r.checkpoint(ctx, nil, checkpointState{}); err != nil {
			return r.fail(err)
		}
		return nil
	}
	if cp.Segment < 0 || cp.Segment > len(r.plan.Segments) || len(cp.Done) != cp.Segment ||
		cp.SegmentDone < 0 || cp.BytesDone < 0 {
		return fmt.Errorf("%w: segment %d with %d results does not fit a plan of %d segments",
			ErrBadCheckpoint, cp.Segment, len(cp.Done), len(r.plan.Segments))
	}
	if err := r.hashes.restore(cp.Hash, cp.SegmentHash); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
	}
	r.seg, r.segBytes, r.segRecs, r.segFiles = cp.Segment, cp.SegmentDone, cp.SegmentRecords, cp.SegmentFiles
	r.jobBytes = cp.BytesDone
	r.done = slices.Clone(cp.Done)
	maps.Copy(r.written, cp.Written)
	maps.Copy(r.volumes, cp.Volumes)
	for i, d := range r.devs {
		if d.Tape == nil {
			continue
		}
		p, ok := cp.Positions[i]
		if !ok {
			return fmt.Errorf("%w: no position for tape device %d", ErrBadCheckpoint, i)
		}
		if err := d.Tape.Locate(p.ObjectID); err != nil {
			return r.fail(&stageError{op: "locate", device: i, err: err})
		}
		r.positions[i] = p
	}
	r.cfg.Logger.Debug("resuming", "segment", cp.Segment, "segment_bytes", cp.SegmentDone, "bytes", cp.BytesDone)
	return nil
}

// segment runs r.seg from r.segBytes (non-zero only after a resume).
func (r *runner) segment(ctx context.Context) error {
	s := r.plan.Segments[r.seg]
	if r.segBytes == 0 && r.segRecs == 0 && r.segFiles == 0 {
		r.hashes.startSegment(r.jobBytes)
	}
	r.cfg.Logger.Debug("segment", "index", r.seg, "kind", s.Kind.String())
	var err error
	switch s.Kind {
	case Verify:
		err = r.verify(s)
	case WriteFilemarks:
		var before TapePos
		if before, err = r.tapePosition(s.Dst); err == nil {
			_, err = r.devs[s.Dst].Tape.WriteFilemarks(s.Filemarks)
			if err == nil && s.Filemarks > 0 {
				r.wrote(s.Dst, before)
			}
			err = r.positioned(s.Dst, "write filemarks", true, err)
		}
	case Space:
		err = r.positioned(s.Dst, "space", false, r.devs[s.Dst].Tape.Space(s.Space, s.Count))
	case Locate:
		err = r.positioned(s.Dst, "locate", false, r.devs[s.Dst].Tape.Locate(s.ObjectID))
	default:
		err = r.data(ctx, s)
		for errors.Is(err, errVolumeFull) {
			if err = r.span(ctx, s); err == nil {
				err = r.data(ctx, s)
			}
		}
	}
	if err != nil {
		return r.fail(err)
	}
	r.done = append(r.done, SegmentResult{Bytes: r.segBytes, SHA256: r.hashes.endSegment()})
	r.segBytes, r.segRecs, r.segFiles = 0, 0, 0
	r.progress(true)
	// Spacing is relative: redone from an earlier checkpoint it can land
	// elsewhere (to end of data, say, past what a dead owner wrote after
	// that checkpoint). A checkpoint right after it pins where it went.
	if r.due() || s.Kind == Space && r.cfg.OnCheckpoint != nil {
		r.seg++ // the checkpoint names the next segment, not done ones
		err := r.checkpoint(ctx, nil, checkpointState{})
		r.seg--
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) verify(s Segment) error {
	d := r.devs[s.Src]
	if d.Tape != nil {
		_, err := d.Tape.ReadPosition()
		if err != nil {
			return &stageError{op: "verify", device: s.Src, err: err}
		}
		return nil
	}
	if d.Block.Blocks() == 0 {
		return &stageError{op: "verify", device: s.Src, err: errors.New("block device has no blocks")}
	}
	return nil
}

// tapePosition reads where tape idx stands.
func (r *runner) tapePosition(idx int) (TapePos, error) {
	p, err := r.devs[idx].Tape.ReadPosition()
	if err != nil {
		return TapePos{}, &stageError{op: "read position", device: idx, err: err}
	}
	return TapePos{ObjectID: p.ObjectID, File: p.File}, nil
}

// wrote records that tape idx was written from p on, if that is below
// every earlier write of the job on it (Result.Written). Only a write that
// happened counts: one refused (a write-protected tape, no room) changed
// nothing on the tape.
func (r *runner) wrote(idx int, p TapePos) {
	if w, ok := r.written[idx]; !ok || p.ObjectID < w.ObjectID {
		r.written[idx] = p
	}
}

// pendingWrite is where a data segment's tape destination stood before
// the segment; it counts as written once the segment's sink has written.
type pendingWrite struct {
	pos TapePos
	snk *tapeSink
}

// settle moves the running segment's pending write into Written once its
// sink has written something. It runs on Run's goroutine, before each
// checkpoint the segment takes and after the segment ends.
func (r *runner) settle() {
	if p := r.pending; p != nil && p.snk.hasWritten() {
		r.wrote(p.snk.idx, p.pos)
		r.pending = nil
	}
}

// positioned finishes a tape positioning or filemark segment: it records
// the tape's new position.
func (r *runner) positioned(idx int, op string, write bool, err error) error {
	if write {
		r.dirty[idx] = true
	}
	if err != nil {
		return &stageError{op: op, device: idx, write: write, err: err}
	}
	p, err := r.devs[idx].Tape.ReadPosition()
	if err != nil {
		return &stageError{op: "read position", device: idx, err: err}
	}
	r.positions[idx] = TapePos{ObjectID: p.ObjectID, File: p.File}
	return nil
}

// due reports whether a checkpoint is owed.
func (r *runner) due() bool {
	return r.cfg.OnCheckpoint != nil &&
		(r.sinceBytes >= r.cfg.CheckpointBytes || time.Since(r.lastCheckpoint) >= r.cfg.CheckpointEvery)
}

// checkpointState is what the pipeline knows at a committed chunk that
// Run's own fields do not yet say.
type checkpointState struct {
	jobHash, segHash []byte
	positions        map[int]TapePos // overrides for the segment's tapes
	// clean: nothing of the chunk was held back in the sink (r.committed).
	clean bool
}

// checkpoint flushes everything written and emits a checkpoint of the
// current state. snk is the running segment's sink, flushed through its
// own lock; nil between segments.
func (r *runner) checkpoint(ctx context.Context, snk sink, st checkpointState) error {
	if r.cfg.OnCheckpoint == nil {
		return nil
	}
	skip := -1
	if snk != nil {
		if err := snk.flush(); err != nil {
			return err
		}
		skip = r.plan.Segments[r.seg].Dst
	}
	if err := r.flushDirty(skip); err != nil {
		return err
	}
	if st.jobHash == nil {
		st.jobHash, st.segHash = r.hashes.states()
	}
	r.settle()
	cp := r.state(st)
	r.lastCheckpoint, r.sinceBytes = time.Now(), 0
	r.cfg.Logger.Debug("checkpoint", "segment", cp.Segment, "segment_bytes", cp.SegmentDone, "bytes", cp.BytesDone)
	if err := r.cfg.OnCheckpoint(ctx, cp); err != nil {
		return fmt.Errorf("mover: checkpoint at segment %d, %d bytes: %w", cp.Segment, cp.BytesDone, err)
	}
	return nil
}

// state is the checkpoint of where the run stands, with the hash states
// and position overrides of st.
func (r *runner) state(st checkpointState) Checkpoint {
	cp := Checkpoint{
		Segment:        r.seg,
		SegmentDone:    r.segBytes,
		SegmentRecords: r.segRecs,
		SegmentFiles:   r.segFiles,
		BytesDone:      r.jobBytes,
		Positions:      maps.Clone(r.positions),
		Hash:           slices.Clone(st.jobHash),
		SegmentHash:    slices.Clone(st.segHash),
		Done:           slices.Clone(r.done),
		Written:        maps.Clone(r.written),
		Volumes:        maps.Clone(r.volumes),
	}
	maps.Copy(cp.Positions, st.positions)
	return cp
}

// flushDirty flushes every device written since the last flush, except
// skip (flushed by the caller).
func (r *runner) flushDirty(skip int) error {
	for _, i := range slices.Sorted(maps.Keys(r.dirty)) {
		if i == skip {
			continue
		}
		d := r.devs[i]
		var err error
		if d.Tape != nil {
			err = d.Tape.Flush()
		} else {
			err = d.Block.Flush()
		}
		if err != nil {
			return &stageError{op: "flush", device: i, write: true, err: err}
		}
	}
	if skip >= 0 && r.dirty[skip] {
		clear(r.dirty)
		r.dirty[skip] = true // its sink flushed it, but it is still being written
	} else {
		clear(r.dirty)
	}
	return nil
}

// progress reports to OnProgress, at most ten times a second unless force.
func (r *runner) progress(force bool) {
	if r.cfg.OnProgress == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(r.lastProgress) < 100*time.Millisecond {
		return
	}
	r.lastProgress = now
	r.cfg.OnProgress(Progress{Segment: r.seg, SegmentBytes: r.segBytes, Bytes: r.jobBytes, Total: r.total, Elapsed: now.Sub(r.start)})
}

// total is the bytes the plan moves, or -1 if a stream source makes it
// unknowable in advance.
func (p Plan) total() int64 {
	var t int64
	for _, s := range p.Segments {
		src, _ := s.Kind.roles()
		switch {
		case s.Kind == InlineToStream:
			t += int64(len(s.Inline))
		case src == classBlock:
			t += s.Length
		case src == classTape:
			return -1
		}
	}
	return t
}

// bufferSize is the buffer size for a plan: large enough for a whole
// record of any segment that writes to tape.
func (p Plan) bufferSize(size int, devs []Device) int {
	for _, s := range p.Segments {
		if _, dst := s.Kind.roles(); dst == classTape {
			if rs, err := s.recordSize(devs[s.Dst].Tape); err == nil {
				size = max(size, alignUp(rs, bufferAlign))
			}
		}
	}
	return size
}

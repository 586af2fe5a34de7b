package mover

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// written is the writer's report of one chunk, with the source state the
// chunk carried (the chunk itself is already back in the pool).
type written struct {
	n              int
	last, clean    bool
	records, files int64
	srcPos, dstPos TapePos
	hasSrc, hasDst bool
}

// hashed is the hasher's report of one chunk: the hash states after it.
type hashed struct {
	job, seg []byte
}

// data runs a segment that moves bytes through the reader → writer/hasher
// pipeline, committing chunks in order on the calling goroutine.
func (r *runner) data(ctx context.Context, s Segment) error {
	src, snk := r.build(s)
	srcClass, dstClass := s.Kind.roles()
	hashing := dstClass != classNone
	if hashing {
		r.dirty[s.Dst] = true
	}
	r.committed = checkpointState{clean: true}
	if hashing {
		r.committed.jobHash, r.committed.segHash = r.hashes.states()
	}
	if ts, ok := snk.(*tapeSink); ok {
		pos, err := r.tapePosition(s.Dst)
		if err != nil {
			return err
		}
		r.pending = &pendingWrite{pos: pos, snk: ts}
		defer func() { r.settle(); r.pending = nil }()
	}

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
		full     atomic.Bool // the writer stopped at early warning
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	toWrite := make(chan *chunk, r.cfg.Buffers)
	toHash := make(chan *chunk, r.cfg.Buffers)
	// The reports are small; deep queues let reading and writing go on
	// while this goroutine waits for a flush.
	wdone := make(chan written, 256)
	hdone := make(chan hashed, 256)

	wg.Add(3)
	go func() { // reader
		defer wg.Done()
		defer close(toWrite)
		defer close(toHash)
		for {
			var c *chunk
			select {
			case c = <-r.pool.free:
			case <-pctx.Done():
				return
			}
			if err := src.fill(c); err != nil {
				r.pool.free <- c
				fail(err)
				return
			}
			if err := r.limiter.wait(pctx, len(c.data)); err != nil {
				r.pool.free <- c
				return
			}
			if hashing {
				c.refs.Store(2)
				toHash <- c // never blocks: the channels hold every buffer
			} else {
				c.refs.Store(1)
			}
			toWrite <- c
			if c.last {
				return
			}
		}
	}()
	go func() { // writer
		defer wg.Done()
		defer close(wdone)
		for c := range toWrite {
			if pctx.Err() != nil {
				r.pool.release(c)
				continue
			}
			w := written{n: len(c.data), last: c.last, records: c.records, files: c.files, srcPos: c.srcPos, hasSrc: c.hasSrcPos}
			err := snk.write(c)
			r.pool.release(c)
			if err == nil {
				w.dstPos, w.hasDst, err = snk.position()
			}
			if err != nil {
				if errors.Is(err, errVolumeFull) {
					full.Store(true)
				}
				fail(err)
				continue
			}
			w.clean = snk.clean()
			select {
			case wdone <- w:
			case <-pctx.Done():
			}
		}
	}()
	go func() { // hasher
		defer wg.Done()
		defer close(hdone)
		for c := range toHash {
			if pctx.Err() != nil {
				r.pool.release(c)
				continue
			}
			r.hashes.write(c.data)
			r.pool.release(c)
			var h hashed
			h.job, h.seg = r.hashes.states()
			select {
			case hdone <- h:
			case <-pctx.Done():
			}
		}
	}()

	r.commit(pctx, s, srcClass, hashing, snk, wdone, hdone, fail, &full)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if b, ok := snk.(*blockSink); ok && b.padded > 0 {
		r.padding += b.padded
		r.cfg.Logger.Info("the stream ended inside a block: wrote zeros to its end", "segment", r.seg,
			"device", r.devs[s.Dst].String(), "zeros", b.padded)
	}
	return ctx.Err()
}

// commit takes the writer's and hasher's reports chunk by chunk, advances
// the segment's counters and positions, and checkpoints when one is due.
// When the writer stopped at early warning (full), the chunks written and
// hashed before the one that met it still count: they are taken in too,
// so a span cuts the volume after them (span.go).
func (r *runner) commit(ctx context.Context, s Segment, srcClass deviceClass, hashing bool, snk sink,
	wdone <-chan written, hdone <-chan hashed, fail func(error), full *atomic.Bool) {
	for {
		var w written
		var ok bool
		select {
		case w, ok = <-wdone:
		case <-ctx.Done():
			if full.Load() {
				r.drain(s, hashing, wdone, hdone)
			}
			return
		}
		if !ok {
			return
		}
		var h hashed
		if hashing {
			select {
			case h, ok = <-hdone:
			case <-ctx.Done():
				if full.Load() {
					r.drain(s, hashing, wdone, hdone, w)
				}
				return
			}
			if !ok {
				return
			}
		}
		r.take(s, hashing, w, h)
		r.progress(false)
		if w.last {
			return
		}
		if w.clean && r.due() {
			st := checkpointState{jobHash: h.job, segHash: h.seg}
			if !hashing {
				// No hasher runs for a discard, so the states are ours to read.
				st.jobHash, st.segHash = r.hashes.states()
			}
			if err := r.checkpoint(ctx, snk, st); err != nil {
				fail(err)
				return
			}
		}
	}
}

// take counts one chunk the writer wrote (and the hasher hashed).
func (r *runner) take(s Segment, hashing bool, w written, h hashed) {
	if hashing {
		r.jobBytes += int64(w.n)
		r.committed = checkpointState{jobHash: h.job, segHash: h.seg, clean: w.clean}
	}
	r.segBytes += int64(w.n)
	r.segRecs, r.segFiles = w.records, w.files
	r.sinceBytes += int64(w.n)
	if w.hasSrc {
		r.positions[s.Src] = w.srcPos
	}
	if w.hasDst {
		r.positions[s.Dst] = w.dstPos
	}
}

// drain takes the reports still queued once the pipeline stopped (after
// pending, a report already received), in order, as long as each chunk
// was both written and hashed: the writer and the hasher close their
// queues as they exit, and a report they dropped while stopping ends it.
func (r *runner) drain(s Segment, hashing bool, wdone <-chan written, hdone <-chan hashed, pending ...written) {
	next := func() (written, bool) {
		if len(pending) > 0 {
			w := pending[0]
			pending = pending[1:]
			return w, true
		}
		w, ok := <-wdone
		return w, ok
	}
	for {
		w, ok := next()
		if !ok {
			return
		}
		var h hashed
		if hashing {
			if h, ok = <-hdone; !ok {
				return
			}
		}
		r.take(s, hashing, w, h)
		if w.last {
			return
		}
	}
}

package mover

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errVolumeFull is a tape sink's report that the record it wrote reached
// early warning and the copy spans (Config.Span). It never leaves Run.
var errVolumeFull = errors.New("mover: the tape reached early warning")

// VolumeEnd is what Config.Span gets when a volume of a spanning copy is
// full.
type VolumeEnd struct {
	// Device is the index of the tape device whose volume filled.
	Device int
	// Volume is the number of the full volume, 1 for the first.
	Volume uint32
	// File is the tape file of the part the copy wrote on the volume, and
	// Bytes its bytes; Offset is the job's bytes before it. Bytes is 0
	// when early warning came before any of the part was committed: the
	// file is then empty (its filemark still cut off the records written
	// past the cut, which no one may take for data).
	File   uint64
	Bytes  int64
	Offset int64
	// End is where the full volume stands, after the part's filemark.
	End TapePos
	// Written is where the job's writes on the full volume began (for its
	// catalog), if it wrote any (HasWritten).
	Written    TapePos
	HasWritten bool
	// Checkpoint is the copy at the cut, to commit with the span: the
	// part is closed by its filemark and flushed. Volumes names the next
	// volume for Device, and Positions and Written have no entry for it:
	// the part on the next volume begins where Span positions it. A copy
	// resumed from this checkpoint must be positioned there first (at the
	// end of the next volume's data, as a new file), and that position
	// committed in a checkpoint before anything is written.
	Checkpoint Checkpoint
}

// spans reports whether a data segment cuts at early warning and goes on
// on another volume: Config.Span is set and the segment writes records to
// a tape from a source it can take up again at a record boundary.
func (r *runner) spans(s Segment) bool {
	return r.cfg.Span != nil && (s.Kind == BlockToStream || s.Kind == StreamToStream)
}

// span ends the full volume of segment s's destination at the last chunk
// the segment committed and moves the segment to the volume Config.Span
// gives. Whatever reached the tape after that chunk (the rest of the chunk
// that met early warning, chunks written but not yet committed) is cut off
// by the filemark written at the chunk's end, so the part on the full
// volume is exactly the bytes counted and hashed: the hash states go back
// to that chunk too, and a tape source goes back to where it stood after
// it.
func (r *runner) span(ctx context.Context, s Segment) error {
	if !r.committed.clean {
		return &stageError{op: "span", device: s.Dst, write: true,
			err: errors.New("early warning inside a record carried over between chunks: the copy cannot be cut there")}
	}
	if err := r.hashes.restore(r.committed.jobHash, r.committed.segHash); err != nil {
		return fmt.Errorf("mover: span: %w", err)
	}
	vol := r.volumes[s.Dst]
	vol.Number = max(vol.Number, 1)
	cut := r.positions[s.Dst]
	end := VolumeEnd{Device: s.Dst, Volume: vol.Number, File: cut.File, Bytes: r.jobBytes - vol.From, Offset: vol.From}
	t := r.devs[s.Dst].Tape
	if err := t.Locate(cut.ObjectID); err != nil {
		return &stageError{op: "locate", device: s.Dst, err: err}
	}
	// The filemark discards everything after the cut, even when nothing
	// of the part was committed: records past the cut must not stay on
	// the tape as an unterminated file. (It is written in the
	// early-warning zone or before it: both hold it.)
	if _, err := t.WriteFilemarks(1); err != nil {
		return &stageError{op: "write filemark", device: s.Dst, write: true, err: err}
	}
	if err := t.Flush(); err != nil {
		return &stageError{op: "flush", device: s.Dst, write: true, err: err}
	}
	delete(r.dirty, s.Dst)
	var err error
	if end.End, err = r.tapePosition(s.Dst); err != nil {
		return err
	}
	if src, _ := s.Kind.roles(); src == classTape {
		if err := r.devs[s.Src].Tape.Locate(r.positions[s.Src].ObjectID); err != nil {
			return &stageError{op: "locate", device: s.Src, err: err}
		}
	}
	end.Written, end.HasWritten = r.written[s.Dst]
	next := Volume{Number: vol.Number + 1, From: r.jobBytes}
	end.Checkpoint = r.state(r.committed)
	delete(end.Checkpoint.Positions, s.Dst)
	delete(end.Checkpoint.Written, s.Dst)
	if end.Checkpoint.Volumes == nil {
		end.Checkpoint.Volumes = map[int]Volume{}
	}
	end.Checkpoint.Volumes[s.Dst] = next
	r.cfg.Logger.Info("volume full: spanning", "device", r.devs[s.Dst].String(), "volume", vol.Number,
		"file", end.File, "part_bytes", end.Bytes, "bytes", r.jobBytes)
	d, err := r.cfg.Span(ctx, end)
	if err != nil {
		return fmt.Errorf("mover: span from volume %d of %s: %w", vol.Number, r.devs[s.Dst], err)
	}
	if d.Tape == nil {
		return fmt.Errorf("mover: span from volume %d of %s: the next volume is no tape", vol.Number, r.devs[s.Dst])
	}
	r.devs[s.Dst] = d
	p, err := r.tapePosition(s.Dst)
	if err != nil {
		return err
	}
	r.positions[s.Dst] = p
	delete(r.written, s.Dst) // the next volume's first write sets it
	r.volumes[s.Dst] = next
	// Span committed the position on the next volume: the next checkpoint
	// is due as if one had just been taken.
	r.lastCheckpoint, r.sinceBytes = time.Now(), 0
	return nil
}

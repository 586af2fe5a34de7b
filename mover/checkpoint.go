package mover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// TapePos is where a tape stood at a checkpoint.
type TapePos struct {
	// ObjectID is the logical object identifier (records and filemarks
	// from the beginning of medium) that LOCATE returns to.
	ObjectID uint64
	// File is the number of filemarks before the position.
	File uint64
}

// Checkpoint is a point from which Run can resume a plan. Everything the
// destination holds up to it was flushed before it was emitted.
type Checkpoint struct {
	// Segment is the index of the segment to continue; len(plan) after the
	// last one.
	Segment int
	// SegmentDone is the bytes of Segment delivered to its destination (or
	// read, for StreamToDiscard).
	SegmentDone int64
	// SegmentRecords and SegmentFiles count the records and filemarks read
	// from Segment's stream source.
	SegmentRecords, SegmentFiles int64
	// BytesDone is the bytes the job has written in all segments.
	BytesDone int64
	// Positions holds the position of every tape device, by device index.
	Positions map[int]TapePos
	// Hash and SegmentHash are the marshalled SHA-256 states of the job and
	// of Segment.
	Hash, SegmentHash []byte
	// Done are the results of the segments before Segment.
	Done []SegmentResult
	// Written holds, for every tape written so far, the position of the
	// job's first (lowest) write on it: see Result.Written.
	Written map[int]TapePos
	// Volumes holds, for every tape device that spanned (Config.Span),
	// which volume the device is now and where its part began: Positions
	// and Written of the device are on that volume. A device absent here
	// is on its first volume. A spanned device without a position is a
	// new volume nothing was written to yet (the checkpoint Span gets):
	// the caller positions it where the part begins before resuming.
	Volumes map[int]Volume
}

// Volume is the volume a tape device of a spanning copy is on.
type Volume struct {
	// Number is 1 for the first volume.
	Number uint32
	// From is the job's bytes written before the part on this volume.
	From int64
}

const (
	checkpointMagic   = "FYCP"
	checkpointVersion = 3
	// checkpointV1 lacks Written, checkpointV2 Volumes; they are still
	// read, so a job checkpointed by an older node resumes (v1: reporting
	// no start for what it wrote).
	checkpointV1 = 1
	checkpointV2 = 2
	// maxCheckpointItems bounds counts read from untrusted bytes so a
	// corrupt checkpoint cannot make Unmarshal allocate gigabytes.
	maxCheckpointItems = 1 << 20
)

// ErrBadCheckpoint reports bytes that are not a checkpoint this version
// understands.
var ErrBadCheckpoint = errors.New("mover: malformed checkpoint")

// MarshalBinary encodes the checkpoint: a magic, a version byte, then
// varint fields. Tape positions are sorted by device, so equal checkpoints
// encode to equal bytes.
func (c Checkpoint) MarshalBinary() ([]byte, error) {
	b := append([]byte(checkpointMagic), checkpointVersion)
	b = binary.AppendUvarint(b, uint64(c.Segment))
	b = binary.AppendVarint(b, c.SegmentDone)
	b = binary.AppendVarint(b, c.SegmentRecords)
	b = binary.AppendVarint(b, c.SegmentFiles)
	b = binary.AppendVarint(b, c.BytesDone)
	b = appendPositions(b, c.Positions)
	b = appendBytes(b, c.Hash)
	b = appendBytes(b, c.SegmentHash)
	b = binary.AppendUvarint(b, uint64(len(c.Done)))
	for _, r := range c.Done {
		b = binary.AppendVarint(b, r.Bytes)
		b = append(b, r.SHA256[:]...)
	}
	b = appendPositions(b, c.Written)
	b = binary.AppendUvarint(b, uint64(len(c.Volumes)))
	for _, k := range slices.Sorted(maps.Keys(c.Volumes)) {
		v := c.Volumes[k]
		b = binary.AppendUvarint(b, uint64(k))
		b = binary.AppendUvarint(b, uint64(v.Number))
		b = binary.AppendVarint(b, v.From)
	}
	return b, nil
}

// appendPositions encodes tape positions sorted by device.
func appendPositions(b []byte, m map[int]TapePos) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p := m[k]
		b = binary.AppendUvarint(b, uint64(k))
		b = binary.AppendUvarint(b, p.ObjectID)
		b = binary.AppendUvarint(b, p.File)
	}
	return b
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// UnmarshalBinary decodes what MarshalBinary produced; anything else is an
// error matching ErrBadCheckpoint.
func (c *Checkpoint) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if string(d.take(len(checkpointMagic))) != checkpointMagic {
		return fmt.Errorf("%w: bad magic", ErrBadCheckpoint)
	}
	version := d.take(1)[0]
	if d.err == nil && version != checkpointVersion && version != checkpointV1 && version != checkpointV2 {
		return fmt.Errorf("%w: version %d, want %d", ErrBadCheckpoint, version, checkpointVersion)
	}
	var out Checkpoint
	out.Segment = int(d.count())
	out.SegmentDone = d.varint()
	out.SegmentRecords = d.varint()
	out.SegmentFiles = d.varint()
	out.BytesDone = d.varint()
	out.Positions = d.positions()
	out.Hash = d.bytes()
	out.SegmentHash = d.bytes()
	if n := d.count(); n > 0 {
		out.Done = make([]SegmentResult, 0, min(n, uint64(len(data))))
		for range n {
			r := SegmentResult{Bytes: d.varint()}
			copy(r.SHA256[:], d.take(len(r.SHA256)))
			out.Done = append(out.Done, r)
		}
	}
	if version != checkpointV1 {
		out.Written = d.positions()
	}
	if version > checkpointV2 {
		if n := d.count(); n > 0 {
			out.Volumes = make(map[int]Volume, min(n, uint64(len(d.b))))
			for range n {
				k := int(d.count())
				v := Volume{Number: uint32(min(d.uvarint(), math.MaxUint32)), From: d.varint()}
				if v.Number == 0 || v.From < 0 {
					d.err = fmt.Errorf("volume %d from %d of device %d", v.Number, v.From, k)
				}
				out.Volumes[k] = v
			}
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %w", ErrBadCheckpoint, d.err)
	}
	*c = out
	return nil
}

// decoder reads varint fields, remembering the first error so the caller
// checks once.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) take(n int) []byte {
	if d.err != nil || n > len(d.b) {
		if d.err == nil {
			d.err = errShort
		}
		return make([]byte, n)
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count is a uvarint that sizes something; it is bounded.
func (d *decoder) count() uint64 {
	v := d.uvarint()
	if v > maxCheckpointItems && d.err == nil {
		d.err = fmt.Errorf("count %d too large", v)
	}
	if d.err != nil {
		return 0
	}
	return v
}

// positions reads what appendPositions wrote; nil when there are none.
func (d *decoder) positions() map[int]TapePos {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[int]TapePos, min(n, uint64(len(d.b))))
	for range n {
		k := int(d.count())
		m[k] = TapePos{ObjectID: d.uvarint(), File: d.uvarint()}
	}
	return m
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	return slices.Clone(d.take(int(n)))
}

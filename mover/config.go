package mover

import (
	"context"
	"log/slog"
	"time"
)

// Config tunes Run. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// BufferSize is the size of each buffer, rounded up to a multiple of
	// 4096. Default 4 MiB. Buffers grow when a tape record is larger.
	BufferSize int
	// Buffers is how many buffers circulate between reader, writer and
	// hasher; fewer than two is raised to two, the minimum for reading and
	// writing in parallel. Default 4.
	Buffers int
	// CheckpointBytes: a checkpoint is emitted after this many bytes.
	// Default 64 MiB.
	CheckpointBytes int64
	// CheckpointEvery: a checkpoint is emitted at least this often while
	// data moves. Default 1s.
	CheckpointEvery time.Duration
	// BandwidthLimit caps the copy rate in bytes per second; 0 means none.
	BandwidthLimit int64
	// OnCheckpoint receives every checkpoint, after the destination was
	// flushed up to it. Returning an error stops the copy with that error.
	// Nil disables checkpointing (and the flushes it needs).
	OnCheckpoint func(context.Context, Checkpoint) error
	// Span, when set, lets a data segment that writes records to a tape
	// (block → stream, stream → stream) go on on another volume when the
	// tape reports early warning, as a copy to a pool of cartridges does:
	// Run cuts the segment at the last chunk it committed (a record
	// boundary), closes the part with a filemark there (anything written
	// after it is discarded), flushes, and calls Span with the volume's
	// end. Span returns the next volume's device, positioned where the part
	// on it begins, with that position committed (see VolumeEnd); Run goes
	// on there from the cut. An error stops the copy. Nil: a tape in early
	// warning is written on until the end of the medium fails the write.
	Span func(context.Context, VolumeEnd) (Device, error)
	// OnProgress is called from Run's goroutine as data is committed, at
	// most about ten times a second and at the end of every segment.
	OnProgress func(Progress)
	// Logger receives debug records of segments and checkpoints. Default:
	// discard.
	Logger *slog.Logger
}

// Default values of Config.
const (
	DefaultBufferSize      = 4 << 20
	DefaultBuffers         = 4
	DefaultCheckpointBytes = 64 << 20
	DefaultCheckpointEvery = time.Second
)

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		BufferSize:      DefaultBufferSize,
		Buffers:         DefaultBuffers,
		CheckpointBytes: DefaultCheckpointBytes,
		CheckpointEvery: DefaultCheckpointEvery,
		Logger:          slog.New(slog.DiscardHandler),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BufferSize <= 0 {
		c.BufferSize = d.BufferSize
	}
	c.BufferSize = alignUp(c.BufferSize, bufferAlign)
	switch {
	case c.Buffers == 0:
		c.Buffers = d.Buffers
	case c.Buffers < 2:
		c.Buffers = 2
	}
	if c.CheckpointBytes <= 0 {
		c.CheckpointBytes = d.CheckpointBytes
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = d.CheckpointEvery
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// Progress is a snapshot of a running copy.
type Progress struct {
	// Segment is the index of the segment being executed.
	Segment int
	// SegmentBytes and Bytes are the bytes committed in the segment and in
	// the whole job so far (including work done before a resume).
	SegmentBytes, Bytes int64
	// Total is the bytes the plan will move, or -1 when a stream source
	// makes it unknown.
	Total int64
	// Elapsed is the time since this Run started.
	Elapsed time.Duration
}

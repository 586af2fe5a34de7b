package drivemodel

import (
	"context"
	"errors"
	"sync"

	"github.com/ferry-san/ferry/storage/tape"
)

// Medium is the cartridge a Tape moves: the part of tape.Drive a copy
// uses, and Offset, the position in bytes of medium, which a locate's
// time depends on. *tape.Cartridge is one.
type Medium interface {
	ReadRecord(p []byte) (int, error)
	WriteRecord(p []byte) (earlyWarning bool, err error)
	WriteFilemarks(n int) (earlyWarning bool, err error)
	ReadPosition() (tape.Position, error)
	Locate(objectID uint64) error
	Space(u tape.SpaceUnit, count int64) error
	BlockSize() uint32
	Flush() error
	Offset() int64
}

// Tape is a cartridge in a modelled drive: every record, sync and motion
// takes the drive's time. Its waits end with ctx (the job's).
type Tape struct {
	Medium
	ctx   context.Context
	drive *Drive
}

// Tape returns m in the drive, pacing with ctx.
func (d *Drive) Tape(ctx context.Context, m Medium) *Tape {
	return &Tape{Medium: m, ctx: ctx, drive: d}
}

// ReadRecord reads the record, then waits for the drive to have read it.
func (t *Tape) ReadRecord(p []byte) (int, error) {
	n, err := t.Medium.ReadRecord(p)
	if n > 0 {
		if perr := t.drive.Read(t.ctx, n); perr != nil {
			return n, errors.Join(err, perr)
		}
	}
	return n, err
}

// WriteRecord waits for room in the drive's buffer, then writes.
func (t *Tape) WriteRecord(p []byte) (bool, error) {
	if err := t.drive.Write(t.ctx, len(p)); err != nil {
		return false, err
	}
	return t.Medium.WriteRecord(p)
}

// WriteFilemarks writes filemarks as the drive streams (they take no
// time); 0 filemarks is a sync.
func (t *Tape) WriteFilemarks(n int) (bool, error) {
	ew, err := t.Medium.WriteFilemarks(n)
	if err == nil && n == 0 {
		err = t.drive.Sync(t.ctx)
	}
	return ew, err
}

// Flush makes the medium durable, while the drive writes out its buffer,
// and waits for both.
func (t *Tape) Flush() error {
	if err := t.Medium.Flush(); err != nil {
		return err
	}
	return t.drive.Sync(t.ctx)
}

// Locate moves, then waits for the drive to have moved as far.
func (t *Tape) Locate(objectID uint64) error {
	return t.move(func() error { return t.Medium.Locate(objectID) })
}

// Space moves, then waits for the drive to have moved as far.
func (t *Tape) Space(u tape.SpaceUnit, count int64) error {
	return t.move(func() error { return t.Medium.Space(u, count) })
}

// Rewind, when the medium has it, moves to the beginning of medium.
func (t *Tape) Rewind() error {
	r, ok := t.Medium.(interface{ Rewind() error })
	if !ok {
		return t.Locate(0)
	}
	return t.move(r.Rewind)
}

func (t *Tape) move(f func() error) error { return t.drive.Move(t.ctx, t.Medium.Offset, f) }

// Move runs f, a motion of a cartridge whose position in bytes offset
// reports, and then waits for the drive to have moved as far (writing
// out its buffer first).
func (d *Drive) Move(ctx context.Context, offset func() int64, f func() error) error {
	from := offset()
	err := f()
	if perr := d.Locate(ctx, offset()-from); perr != nil {
		return errors.Join(err, perr)
	}
	return err
}

// Set is the drives of one node, by library and drive number, so that
// the jobs using a drive one after another share its state.
type Set struct {
	clock   Clock
	onStall func(library string, drive uint32)
	mu      sync.Mutex
	drives  map[driveKey]*Drive
}

type driveKey struct {
	library string
	drive   uint32
}

// NewSet returns an empty set; onStall, if set, runs at each stall of one
// of its drives. A nil clock is the machine's.
func NewSet(c Clock, onStall func(library string, drive uint32)) *Set {
	return &Set{clock: c, onStall: onStall, drives: map[driveKey]*Drive{}}
}

// Drive returns the drive of the library with model m, made on first use
// (or again when the model changed: a library removed and created anew).
func (s *Set) Drive(library string, drive uint32, m Model) *Drive {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := driveKey{library, drive}
	if d, ok := s.drives[k]; ok && d.model == m {
		return d
	}
	var stall func()
	if s.onStall != nil {
		stall = func() { s.onStall(library, drive) }
	}
	d := NewDrive(m, s.clock, stall)
	s.drives[k] = d
	return d
}

package tape

import "fmt"

// ReadPosition reports the logical position.
func (c *Cartridge) ReadPosition() (Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return Position{}, err
	}
	return Position{
		ObjectID:     c.pos,
		File:         uint64(c.idx.marksBefore(c.pos)),
		BOP:          c.pos == 0,
		EOD:          c.pos == c.idx.len(),
		EarlyWarning: c.idx.offset(c.pos) > c.ewPoint,
	}, nil
}

// Locate moves to just before the object with logical object identifier
// id. Locating to end of data itself is fine; past it the position is end
// of data and the error ErrEndOfData.
func (c *Cartridge) Locate(id uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.moving(); err != nil {
		return err
	}
	if n := c.idx.len(); id > n {
		c.pos = n
		return fmt.Errorf("tape: locate to object %d: %w at object %d", id, ErrEndOfData, n)
	}
	c.pos = id
	return nil
}

// Rewind moves to the beginning of the medium.
func (c *Cartridge) Rewind() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.moving(); err != nil {
		return err
	}
	c.pos = 0
	return nil
}

// Space moves count units forward, or backward when count is negative.
//
// Spacing records stops at a filemark with ErrFilemark: after it going
// forward, before it going backward. Spacing filemarks ends after the last
// one crossed going forward and before it going backward. Reaching end of
// data gives ErrEndOfData, reaching the beginning of medium going backward
// ErrBeginningOfMedium. An early stop is a ResidueError telling how many
// units were left.
func (c *Cartridge) Space(u SpaceUnit, count int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.moving(); err != nil {
		return err
	}
	switch u {
	case SpaceRecords:
		return c.spaceRecords(count)
	case SpaceFilemarks:
		return c.spaceFilemarks(count)
	case SpaceEndOfData:
		c.pos = c.idx.len()
		return nil
	}
	return fmt.Errorf("%w: space unit %v", ErrInvalidArgument, u)
}

func (c *Cartridge) spaceRecords(count int64) error {
	x := c.idx
	if count >= 0 {
		k := uint64(count)
		next := x.marksBefore(c.pos) // the first mark at or after pos
		if next < len(x.marks) && x.marks[next]-c.pos < k {
			spaced := x.marks[next] - c.pos
			c.pos = x.marks[next] + 1
			return &ResidueError{Residue: int64(k - spaced), Err: ErrFilemark}
		}
		if x.len()-c.pos < k {
			spaced := x.len() - c.pos
			c.pos = x.len()
			return &ResidueError{Residue: int64(k - spaced), Err: ErrEndOfData}
		}
		c.pos += k
		return nil
	}
	k := uint64(-count)
	if prev := x.marksBefore(c.pos) - 1; prev >= 0 && c.pos-x.marks[prev] <= k {
		spaced := c.pos - x.marks[prev] - 1
		c.pos = x.marks[prev]
		return &ResidueError{Residue: int64(k - spaced), Err: ErrFilemark}
	}
	if c.pos < k {
		spaced := c.pos
		c.pos = 0
		return &ResidueError{Residue: int64(k - spaced), Err: ErrBeginningOfMedium}
	}
	c.pos -= k
	return nil
}

func (c *Cartridge) spaceFilemarks(count int64) error {
	x := c.idx
	before := x.marksBefore(c.pos)
	if count >= 0 {
		k := uint64(count)
		if k == 0 {
			return nil
		}
		after := uint64(len(x.marks) - before)
		if after < k {
			c.pos = x.len()
			return &ResidueError{Residue: int64(k - after), Err: ErrEndOfData}
		}
		c.pos = x.marks[uint64(before)+k-1] + 1
		return nil
	}
	k := uint64(-count)
	if uint64(before) < k {
		c.pos = 0
		return &ResidueError{Residue: int64(k - uint64(before)), Err: ErrBeginningOfMedium}
	}
	c.pos = x.marks[uint64(before)-k]
	return nil
}

// moving is the precondition of the motion commands: buffered writes reach
// the image before the position leaves end of data.
func (c *Cartridge) moving() error {
	if err := c.ready(); err != nil {
		return err
	}
	return c.flushWrites()
}

// Offset is the position in bytes of medium (the image's byte offset of
// the next object): how far along the tape it is, from which a drive
// model (storage/drivemodel) tells how long a locate takes.
func (c *Cartridge) Offset() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.idx.offset(c.pos)
}

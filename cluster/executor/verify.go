package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ferry-san/ferry/mover"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/tape"
)

// imageStart is where an image plan put its destination before copying:
// the object id of the destination's last LOCATE before the TapeImage
// segment.
func imageStart(plan mover.Plan) (uint64, bool) {
	var at uint64
	for _, s := range plan.Segments {
		switch {
		case s.Kind == mover.Locate && s.Dst == 1:
			at = s.ObjectID
		case s.Kind == mover.TapeImage:
			return at, true
		}
	}
	return 0, false
}

// verifyCopy re-reads what a source → destination plan wrote and compares
// its SHA-256 with the one the mover computed while writing. A tape
// destination is read back from the tape file the plan ended (it stands just
// after that file's filemark).
func verifyCopy(plan mover.Plan, dst mover.Device, res mover.Result) error {
	want := res.SHA256
	h := sha256.New()
	switch {
	case dst.Block != nil:
		buf := make([]byte, hashChunk)
		for i, s := range plan.Segments {
			if s.Kind != mover.BlockToBlock && s.Kind != mover.StreamToBlock {
				continue
			}
			// What a segment wrote: its length, or for a tape source what
			// the tape held.
			length := res.Segments[i].Bytes
			for done := int64(0); done < length; {
				n := min(int64(len(buf)), length-done)
				if _, err := dst.Block.ReadAt(buf[:n], s.DstOffset+done); err != nil {
					return fmt.Errorf("verify: read back %s: %w", dst.Name, err)
				}
				h.Write(buf[:n])
				done += n
			}
		}
	case dst.Tape != nil:
		c, ok := dst.Tape.(*tape.Cartridge)
		if !ok {
			return errors.New("verify: tape is not a virtual cartridge")
		}
		if at, ok := imageStart(plan); ok {
			// An image copy wrote every file from where it located the
			// destination on: all of them are read back.
			if err := c.Locate(at); err != nil {
				return fmt.Errorf("verify: %s: %w", dst.Name, err)
			}
			buf := make([]byte, tape.MaxRecordSize)
			for {
				_, _, atMark, err := ReadTapeFile(context.Background(), c, buf, h)
				if err != nil {
					return fmt.Errorf("verify: read back %s: %w", dst.Name, err)
				}
				if !atMark {
					break
				}
			}
			break
		}
		pos, err := c.ReadPosition()
		if err != nil {
			return err
		}
		if pos.File == 0 {
			return errors.New("verify: the destination tape holds no data file")
		}
		if err := PositionAtFile(c, uint32(pos.File-1), false); err != nil {
			return fmt.Errorf("verify: %s: %w", dst.Name, err)
		}
		if _, _, _, err := ReadTapeFile(context.Background(), c, make([]byte, tape.MaxRecordSize), h); err != nil {
			return fmt.Errorf("verify: read back %s: %w", dst.Name, err)
		}
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		return fmt.Errorf("%w: %s reads back as sha256 %x, the copy wrote %x", sense.New(sense.Miscompare, sense.MiscompareDuringVerify), dst.Name, got, want)
	}
	return nil
}

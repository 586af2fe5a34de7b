package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/tape"
)

// tapeWrites says what a job left on each cartridge it wrote, for the
// catalog: from the position of its lowest write (mover Result.Written,
// which survives resumes, so a copy taken over reports where the job began
// and not where it resumed) to end of data, it reads back every file and
// counts and hashes its records. The tape is the truth: whatever the job's
// segments, resumes or failures did, the catalog gets what the medium holds.
//
// A write that began inside a file (a filemark closing a file a cancelled
// copy left open, an EXTENDED COPY writing mid-file) changed that file
// without writing it whole: it is reported as the first file, incomplete,
// without a job id (the catalog keeps its writer).
// The last file, if no filemark ends it, is incomplete when the job failed.
//
// last, when set, is the successful job's own hash and byte count of the
// one file a source → destination plan writes: that file (the last one) is
// then counted by its logical object ids instead of read again.
//
// Reading back is best effort: an error ends a cartridge's list where it
// happened, logged by the caller; from_file and used bytes stay right.
func tapeWrites(ctx context.Context, jobID string, devs []mover.Device, written map[int]mover.TapePos, failed bool, last *ferryv1.TapeFile) ([]*ferryv1.TapeWrite, error) {
	// Two descriptors of an EXTENDED COPY may name one cartridge: what
	// counts is the lowest write through either.
	starts := map[string]mover.TapePos{}
	carts := map[string]*tape.Cartridge{}
	for _, i := range slices.Sorted(maps.Keys(written)) {
		if i < 0 || i >= len(devs) {
			continue
		}
		d := unguarded(devs[i])
		c, ok := d.Tape.(*tape.Cartridge)
		barcode, named := strings.CutPrefix(d.Name, "tape:")
		if !ok || !named {
			continue
		}
		if p, seen := starts[barcode]; !seen || written[i].ObjectID < p.ObjectID {
			starts[barcode] = written[i]
		}
		carts[barcode] = c
	}
	var out []*ferryv1.TapeWrite
	var errs []error
	for _, b := range slices.Sorted(maps.Keys(starts)) {
		tw, err := readBack(ctx, jobID, carts[b], starts[b], failed, last)
		tw.Barcode = b
		out = append(out, tw)
		if err != nil {
			errs = append(errs, fmt.Errorf("read back tape %s for its catalog: %w", b, err))
		}
	}
	return out, errors.Join(errs...)
}

// readBack lists the files of c from the file holding position from on.
func readBack(ctx context.Context, jobID string, c *tape.Cartridge, from mover.TapePos, failed bool, last *ferryv1.TapeFile) (tw *ferryv1.TapeWrite, err error) {
	// File 0 is the label, never in a catalog: a job that wrote over it
	// replaced every file.
	first := uint32(min(max(from.File, 1), fsm.MaxTapeFiles+1))
	tw = &ferryv1.TapeWrite{FromFile: first}
	end, err := c.ReadPosition()
	tw.UsedBytes = uint64(c.Used())
	if err != nil {
		return tw, err
	}
	// Records are read whole whatever block size the job used.
	bs := c.BlockSize()
	if bs != 0 {
		if err := c.SetBlockSize(0); err != nil {
			return tw, err
		}
		defer func() { err = errors.Join(err, c.SetBlockSize(bs)) }()
	}
	if err := PositionAtFile(c, first, true); err != nil {
		return tw, err
	}
	start, err := c.ReadPosition()
	if err != nil {
		return tw, err
	}
	// The job's write began inside file `first` when it began past the
	// file's start.
	midFile := from.File >= 1 && start.ObjectID < from.ObjectID
	buf := make([]byte, tape.MaxRecordSize)
	for n := first; ; n++ {
		if n > fsm.MaxTapeFiles {
			return tw, fmt.Errorf("the catalog lists files up to %d, the tape holds more", fsm.MaxTapeFiles)
		}
		f := &ferryv1.TapeFile{Number: n}
		atMark := true
		if last != nil && !(midFile && n == first) && end.EOD && end.File >= 1 && uint64(n) == end.File-1 {
			// The job's own file: its filemark is the object before end
			// of data.
			f.Bytes, f.Sha256 = last.GetBytes(), last.GetSha256()
			f.Records = end.ObjectID - 1 - start.ObjectID
			if err := c.Locate(end.ObjectID); err != nil {
				return tw, err
			}
		} else {
			h := sha256.New()
			f.Bytes, f.Records, atMark, err = ReadTapeFile(ctx, c, buf, h)
			if err != nil {
				return tw, err
			}
			if !atMark && f.Records == 0 {
				return tw, nil // end of data right after a filemark
			}
			f.Sha256 = hex.EncodeToString(h.Sum(nil))
		}
		f.Incomplete = midFile && n == first || !atMark && failed
		if !(midFile && n == first) {
			f.JobId = jobID // the state machine keeps the writer of a file only changed
		}
		tw.Files = append(tw.Files, f)
		if !atMark {
			return tw, nil
		}
		if start, err = c.ReadPosition(); err != nil {
			return tw, err
		}
	}
}

// ReadTapeFile reads the records of c from its position up to the next
// filemark (atMark, positioned after it) or end of data, into h. A record
// flagged in the image as read with a medium error is still its data, as a
// copy reads it. The catalog's read-back, verify, Hash and tape import all
// read files through it.
func ReadTapeFile(ctx context.Context, c *tape.Cartridge, buf []byte, h hash.Hash) (bytes, records uint64, atMark bool, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return bytes, records, false, err
		}
		n, err := c.ReadRecord(buf)
		switch {
		case err == nil, errors.Is(err, tape.ErrMediumError):
			h.Write(buf[:n])
			bytes += uint64(n)
			records++
		case errors.Is(err, tape.ErrFilemark):
			return bytes, records, true, nil
		case errors.Is(err, tape.ErrEndOfData):
			return bytes, records, false, nil
		default:
			return bytes, records, false, fmt.Errorf("record %d: %w", records+1, err)
		}
	}
}

// Package cawcount is a counter stored on a LUN that iSCSI initiators
// increment with READ(16) and COMPARE AND WRITE, retrying on MISCOMPARE:
// the multi-process test of COMPARE AND WRITE and the iSCSI benchmark
// both use it, and both judge atomicity by it. If a COMPARE AND WRITE were
// not atomic with respect to the others, through whichever node, two
// initiators could both replace the same value and the final count would
// fall short of the increments that reported GOOD.
package cawcount

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ferry-san/ferry/iscsi/initiator"
	"github.com/ferry-san/ferry/scsi/sense"
)

// SCSI operation codes and statuses the counter uses.
const (
	opRead16          = 0x88
	opCompareAndWrite = 0x89
	statusGood        = 0x00
)

// ErrFailed marks a command that ended with a status other than GOOD
// (and, for COMPARE AND WRITE, other than MISCOMPARE).
var ErrFailed = errors.New("cawcount: command failed")

// Counter is a big-endian uint64 in the first 8 bytes of block LBA of
// LUN. Blocks is how many blocks, from LBA, each COMPARE AND WRITE
// compares and writes (at least 1): blocks after the first are compared
// and written back as read, so that a test can write them meanwhile and
// see whether any COMPARE AND WRITE lands in the middle of its write.
type Counter struct {
	LUN       uint64
	LBA       uint64
	BlockSize int
	Blocks    byte
}

// Read returns the counter and the Blocks blocks it was read from.
func (c Counter) Read(ctx context.Context, s *initiator.Session) (uint64, []byte, error) {
	n := int(max(c.Blocks, 1)) * c.BlockSize
	cdb := make([]byte, 16)
	cdb[0] = opRead16
	binary.BigEndian.PutUint64(cdb[2:10], c.LBA)
	binary.BigEndian.PutUint32(cdb[10:14], uint32(max(c.Blocks, 1)))
	res, err := s.Command(ctx, c.LUN, cdb, nil, uint32(n))
	if err != nil {
		return 0, nil, err
	}
	if res.Status != statusGood || len(res.Data) != n {
		return 0, nil, fmt.Errorf("%w: READ(16) status %#02x, %d bytes, sense % x", ErrFailed, res.Status, len(res.Data), res.Sense)
	}
	return binary.BigEndian.Uint64(res.Data), res.Data, nil
}

// Increment adds one to the counter: it reads the blocks, lets check (if
// not nil) judge what it read, and writes them back with the counter one
// higher by COMPARE AND WRITE, starting over when another writer changed
// them in between (MISCOMPARE). It returns the value it wrote and how many
// times it started over.
func (c Counter) Increment(ctx context.Context, s *initiator.Session, check func([]byte) error) (value uint64, retries int, err error) {
	cdb := make([]byte, 16)
	cdb[0] = opCompareAndWrite
	binary.BigEndian.PutUint64(cdb[2:10], c.LBA)
	cdb[13] = max(c.Blocks, 1)
	for ; ; retries++ {
		v, cur, err := c.Read(ctx, s)
		if err != nil {
			return 0, retries, err
		}
		if check != nil {
			if err := check(cur); err != nil {
				return 0, retries, err
			}
		}
		out := make([]byte, 2*len(cur))
		copy(out, cur)
		copy(out[len(cur):], cur)
		binary.BigEndian.PutUint64(out[len(cur):], v+1)
		res, err := s.Command(ctx, c.LUN, cdb, out, 0)
		if err != nil {
			return 0, retries, err
		}
		if res.Status == statusGood {
			return v + 1, retries, nil
		}
		if sn, perr := sense.Parse(res.Sense); perr != nil || sn.Key != sense.Miscompare {
			return 0, retries, fmt.Errorf("%w: COMPARE AND WRITE status %#02x, sense % x", ErrFailed, res.Status, res.Sense)
		}
	}
}

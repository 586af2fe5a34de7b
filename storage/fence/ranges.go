package fence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Range is the bytes [Offset, Offset+Length) of a device, which a Fence
// opened with OpenRange claims and writes under. Length is never 0 and
// Offset+Length never wraps.
type Range struct{ Offset, Length uint64 }

// End is one past the range's last byte.
func (r Range) End() uint64 { return r.Offset + r.Length }

// Overlaps reports whether the two ranges share a byte.
func (r Range) Overlaps(o Range) bool { return r.Offset < o.End() && o.Offset < r.End() }

// Contains reports whether every byte of o is in r.
func (r Range) Contains(o Range) bool { return r.Offset <= o.Offset && o.End() <= r.End() }

func (r Range) String() string { return fmt.Sprintf("bytes %d–%d", r.Offset, r.End()-1) }

func (r Range) valid() error {
	if r.Length == 0 || r.Offset > math.MaxUint64-r.Length {
		return fmt.Errorf("fence: range of %d bytes at %d: want at least one byte, ending before 2^64", r.Length, r.Offset)
	}
	return nil
}

// rangeClaim is one slot of the range table: a range claimed by an epoch.
type rangeClaim struct {
	Range
	Epoch uint64
}

// The range table follows the device record (see doc.go): slots of
// slotSize bytes from slotsStart on, after zero padding. slotsStart and
// slotSize are multiples of 32, so no slot straddles a 512-byte sector:
// each slot is rewritten with one pwrite and is never torn. A slot of
// zeros is free.
//
//	"FNR1" | offset u64 | length u64 | epoch u64 | CRC-32C of the 28 bytes before, all big-endian
const (
	slotsStart = 96
	slotSize   = 32
	// maxSlots bounds the table: a claim finding it full (after dropping
	// what newer claims hide) is refused with ErrTooManyRanges. Streams
	// of one job claim disjoint ranges and a claim of the whole device
	// empties the table, so only a long history of differently split
	// jobs with no whole-device write between them could fill it.
	maxSlots = 1024
)

var slotMagic = [4]byte{'F', 'N', 'R', '1'}

func encodeSlot(c rangeClaim) []byte {
	b := make([]byte, slotSize)
	copy(b[:4], slotMagic[:])
	binary.BigEndian.PutUint64(b[4:12], c.Offset)
	binary.BigEndian.PutUint64(b[12:20], c.Length)
	binary.BigEndian.PutUint64(b[20:28], c.Epoch)
	binary.BigEndian.PutUint32(b[28:], crc32c(b[:28]))
	return b
}

// decodeSlot returns the claim of slot i, ok false for a free slot.
func decodeSlot(b []byte, i int) (c rangeClaim, ok bool, err error) {
	if allZero(b) {
		return rangeClaim{}, false, nil
	}
	if !bytes.Equal(b[:4], slotMagic[:]) {
		return rangeClaim{}, false, fmt.Errorf("%w: range slot %d: magic %q, want %q", ErrCorrupt, i, b[:4], slotMagic[:])
	}
	if got, want := binary.BigEndian.Uint32(b[28:]), crc32c(b[:28]); got != want {
		return rangeClaim{}, false, fmt.Errorf("%w: range slot %d: checksum %#08x, want %#08x", ErrCorrupt, i, got, want)
	}
	c = rangeClaim{Range: Range{Offset: binary.BigEndian.Uint64(b[4:12]), Length: binary.BigEndian.Uint64(b[12:20])}, Epoch: binary.BigEndian.Uint64(b[20:28])}
	if err := c.valid(); err != nil {
		return rangeClaim{}, false, fmt.Errorf("%w: range slot %d: %v", ErrCorrupt, i, err)
	}
	return c, true, nil
}

// stored is the whole content of a fence file: the device record and the
// range table, slot by slot (free slots as nil), so that a claim can
// rewrite one slot where it is.
type stored struct {
	Record
	slots []*rangeClaim
}

// decodeFile returns what a fence file holds. A file of the device record
// alone is decoded as decode does; a longer one must be the record, zero
// padding and whole slots, and slots in use need a record with a cluster
// (a range claim writes the cluster first).
func decodeFile(b []byte) (stored, error) {
	if len(b) <= recordSize {
		r, err := decode(b)
		return stored{Record: r}, err
	}
	if len(b) < slotsStart || (len(b)-slotsStart)%slotSize != 0 || (len(b)-slotsStart)/slotSize > maxSlots {
		return stored{}, fmt.Errorf("%w: %d bytes: want %d, or %d and a whole number of %d-byte range slots (at most %d)",
			ErrCorrupt, len(b), recordSize, slotsStart, slotSize, maxSlots)
	}
	if !allZero(b[recordSize:slotsStart]) {
		return stored{}, fmt.Errorf("%w: bytes between the record and the range table", ErrCorrupt)
	}
	r, err := decode(b[:recordSize])
	if err != nil {
		return stored{}, err
	}
	s := stored{Record: r}
	for i := range (len(b) - slotsStart) / slotSize {
		c, ok, err := decodeSlot(b[slotsStart+i*slotSize:slotsStart+(i+1)*slotSize], i)
		if err != nil {
			return stored{}, err
		}
		if ok {
			s.slots = append(s.slots, &c)
		} else {
			s.slots = append(s.slots, nil)
		}
	}
	if r.Cluster == "" && s.claims() > 0 {
		return stored{}, fmt.Errorf("%w: range claims after a record without a cluster", ErrCorrupt)
	}
	return s, nil
}

// claims counts the slots in use.
func (s stored) claims() int {
	n := 0
	for _, c := range s.slots {
		if c != nil {
			n++
		}
	}
	return n
}

// newest returns the claim with the highest epoch among those overlapping
// r (all of them when r is nil), and whether there is one.
func (s stored) newest(r *Range) (rangeClaim, bool) {
	var best rangeClaim
	found := false
	for _, c := range s.slots {
		if c != nil && (r == nil || c.Overlaps(*r)) && (!found || c.Epoch > best.Epoch) {
			best, found = *c, true
		}
	}
	return best, found
}

// highest is the highest epoch the file holds, in the record or a slot.
func (s stored) highest() uint64 {
	c, _ := s.newest(nil)
	return max(s.Epoch, c.Epoch)
}

func slotOffset(i int) int64 { return int64(slotsStart + i*slotSize) }

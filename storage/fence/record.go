package fence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record is what a fence file holds: the cluster whose epochs the fence
// counts, and the highest epoch claimed.
type Record struct {
	// Cluster is the id of the cluster that last claimed the device; empty
	// for a fence never claimed, or claimed before fences carried a cluster
	// (a record of the first format, "FNC1").
	Cluster string
	Epoch   uint64
}

// Two formats, both a single pwrite at offset 0 and far smaller than a
// sector, so a record is never torn:
//
//   - "FNC1" (16 bytes, written by earlier versions): magic, epoch as a
//     big-endian uint64, CRC-32C of those 12 bytes.
//   - "FNC2" (80 bytes): magic, epoch, the cluster id's length (one byte,
//     at most MaxClusterIDLen) and the id zero-padded to MaxClusterIDLen
//     bytes, CRC-32C of the 76 bytes before it. A fixed size, so that a
//     record replacing one of another cluster leaves no tail behind.
const (
	recordV1Size = 16
	recordSize   = 80
	// MaxClusterIDLen is the longest cluster id a fence can carry (a
	// cluster's id is a 36-character UUID).
	MaxClusterIDLen = recordSize - 4 - 8 - 1 - 4
)

var (
	magicV1    = [4]byte{'F', 'N', 'C', '1'}
	magic      = [4]byte{'F', 'N', 'C', '2'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// encode returns the record of r in the current format. r.Cluster must be
// at most MaxClusterIDLen bytes (Open checks it).
func encode(r Record) []byte {
	b := make([]byte, recordSize)
	copy(b[:4], magic[:])
	binary.BigEndian.PutUint64(b[4:12], r.Epoch)
	b[12] = byte(len(r.Cluster))
	copy(b[13:13+MaxClusterIDLen], r.Cluster)
	binary.BigEndian.PutUint32(b[recordSize-4:], crc32c(b[:recordSize-4]))
	return b
}

// encodeV1 returns a record of the first format, as earlier versions wrote
// it (tests use it to stand for their fences).
func encodeV1(epoch uint64) []byte {
	b := make([]byte, recordV1Size)
	copy(b[:4], magicV1[:])
	binary.BigEndian.PutUint64(b[4:12], epoch)
	binary.BigEndian.PutUint32(b[12:], crc32c(b[:12]))
	return b
}

// decode returns the record stored in b, the whole content of a fence file.
// An empty file is epoch 0 of no cluster. So is a record of all zero bytes:
// that is what a crash leaves when the first Claim had extended the file but
// its data never reached the disk — and that Claim never returned, so nobody
// relied on it. A record overwritten in place is never torn to zeros (one
// sector), so this cannot hide a committed epoch. For the same reason an
// "FNC1" record followed by zeros up to the current size is that older
// record: a crash while the first claim of this version rewrote it.
func decode(b []byte) (Record, error) {
	switch {
	case len(b) == 0 || allZero(b) && (len(b) == recordV1Size || len(b) == recordSize):
		return Record{}, nil
	case len(b) == recordV1Size:
		return decodeV1(b)
	case len(b) == recordSize && bytes.Equal(b[:4], magicV1[:]) && allZero(b[recordV1Size:]):
		return decodeV1(b[:recordV1Size])
	case len(b) != recordSize:
		return Record{}, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), recordSize)
	case !bytes.Equal(b[:4], magic[:]):
		return Record{}, fmt.Errorf("%w: magic %q, want %q", ErrCorrupt, b[:4], magic[:])
	}
	if got, want := binary.BigEndian.Uint32(b[recordSize-4:]), crc32c(b[:recordSize-4]); got != want {
		return Record{}, fmt.Errorf("%w: checksum %#08x, want %#08x", ErrCorrupt, got, want)
	}
	n := int(b[12])
	// Records of this format are written with a cluster id, always.
	if n == 0 || n > MaxClusterIDLen || !allZero(b[13+n:recordSize-4]) {
		return Record{}, fmt.Errorf("%w: cluster id of %d bytes, or bytes after it", ErrCorrupt, n)
	}
	return Record{Cluster: string(b[13 : 13+n]), Epoch: binary.BigEndian.Uint64(b[4:12])}, nil
}

func decodeV1(b []byte) (Record, error) {
	if !bytes.Equal(b[:4], magicV1[:]) {
		return Record{}, fmt.Errorf("%w: magic %q, want %q", ErrCorrupt, b[:4], magicV1[:])
	}
	if got, want := binary.BigEndian.Uint32(b[12:]), crc32c(b[:12]); got != want {
		return Record{}, fmt.Errorf("%w: checksum %#08x, want %#08x", ErrCorrupt, got, want)
	}
	return Record{Epoch: binary.BigEndian.Uint64(b[4:12])}, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// crc32c is the checksum of every record and slot of a fence file.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

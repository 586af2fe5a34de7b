package fence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// recordSize is the length of a fence record: magic, epoch, CRC-32C.
const recordSize = 16

var (
	magic      = [4]byte{'F', 'N', 'C', '1'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	zeroRecord [recordSize]byte
)

// encode returns the record that stores epoch.
func encode(epoch uint64) [recordSize]byte {
	var r [recordSize]byte
	copy(r[:4], magic[:])
	binary.BigEndian.PutUint64(r[4:12], epoch)
	binary.BigEndian.PutUint32(r[12:], crc32.Checksum(r[:12], castagnoli))
	return r
}

// decode returns the epoch stored in b, the whole content of a fence file.
// An empty file is epoch 0. So is a record of all zero bytes: that is what a
// crash leaves when the first Claim had extended the file but its data never
// reached the disk — and that Claim never returned, so nobody relied on it.
// A record overwritten in place is never torn to zeros (one sector), so this
// cannot hide a committed epoch.
func decode(b []byte) (uint64, error) {
	switch {
	case len(b) == 0:
		return 0, nil
	case len(b) != recordSize:
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), recordSize)
	case bytes.Equal(b, zeroRecord[:]):
		return 0, nil
	case !bytes.Equal(b[:4], magic[:]):
		return 0, fmt.Errorf("%w: magic %q, want %q", ErrCorrupt, b[:4], magic[:])
	}
	if got, want := binary.BigEndian.Uint32(b[12:]), crc32.Checksum(b[:12], castagnoli); got != want {
		return 0, fmt.Errorf("%w: checksum %#08x, want %#08x", ErrCorrupt, got, want)
	}
	return binary.BigEndian.Uint64(b[4:12]), nil
}

package raftlog

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"google.golang.org/protobuf/proto"
)

// Every value Ferry stores (except the format marker) is sealed: a CRC-32C of
// the payload, big-endian, followed by the payload. bbolt validates its page
// structure but not the bytes of values, and a flipped bit in a log entry
// would otherwise be applied, and replicated, silently.
const checksumSize = 4

var errChecksum = errors.New("checksum mismatch")

func checksum(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// seal returns payload sealed in a new buffer.
func seal(payload []byte) []byte {
	v := make([]byte, checksumSize, checksumSize+len(payload))
	binary.BigEndian.PutUint32(v, checksum(payload))
	return append(v, payload...)
}

// sealProto encodes m sealed, with a single allocation.
func sealProto(m proto.Message) ([]byte, error) {
	v := make([]byte, checksumSize, checksumSize+proto.Size(m))
	v, err := proto.MarshalOptions{}.MarshalAppend(v, m)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(v, checksum(v[checksumSize:]))
	return v, nil
}

// unseal verifies a sealed value and returns its payload, which aliases v.
func unseal(v []byte) ([]byte, error) {
	if len(v) < checksumSize {
		return nil, errChecksum
	}
	payload := v[checksumSize:]
	if binary.BigEndian.Uint32(v) != checksum(payload) {
		return nil, errChecksum
	}
	return payload, nil
}

// unsealProto verifies a sealed value and decodes it into m.
func unsealProto(v []byte, m proto.Message) error {
	payload, err := unseal(v)
	if err != nil {
		return err
	}
	return proto.Unmarshal(payload, m)
}

package raftlog

import (
	"encoding/binary"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
)

// On-disk layout (format version 1); values marked * are sealed with a
// checksum (see seal):
//
//	meta/magic          formatMagic
//	meta/version        uint32 big-endian
//	meta/hardstate      *raftpb.HardState (protobuf), absent until first saved
//	meta/identity       *Identity (JSON), absent until SetIdentity
//	snapshot/metadata   *raftpb.SnapshotMetadata (protobuf), absent until the first snapshot
//	snapshot/data       *snapshot payload
//	entries/<index>     *raftpb.Entry (protobuf); key is the uint64 index big-endian so
//	                    cursor order is log order. The first key is the dummy entry.
var (
	bucketMeta     = []byte("meta")
	bucketSnapshot = []byte("snapshot")
	bucketEntries  = []byte("entries")

	keyMagic     = []byte("magic")
	keyVersion   = []byte("version")
	keyHardState = []byte("hardstate")
	keyIdentity  = []byte("identity")
	keySnapMeta  = []byte("metadata")
	keySnapData  = []byte("data")

	formatMagic = []byte("ferry.raftlog")
)

const formatVersion uint32 = 1

// entriesFillPercent packs pages tightly: entries are appended in key order and
// only removed from the ends, so pages rarely need room for inserts.
const entriesFillPercent = 0.9

func indexKey(i uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), i)
}

func keyIndex(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("entry key has %d bytes, want 8", len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

func encodeVersion(v uint32) []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), v)
}

// decodeEntry decodes the value stored under key k and checks it belongs there.
func decodeEntry(k, v []byte) (*pb.Entry, error) {
	i, err := keyIndex(k)
	if err != nil {
		return nil, err
	}
	e := &pb.Entry{}
	if err := unsealProto(v, e); err != nil {
		return nil, fmt.Errorf("entry %d: %w", i, err)
	}
	if e.GetIndex() != i {
		return nil, fmt.Errorf("entry stored under index %d claims index %d", i, e.GetIndex())
	}
	return e, nil
}

func dummyEntry(index, term uint64) *pb.Entry {
	return &pb.Entry{Index: new(index), Term: new(term)}
}

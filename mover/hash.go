package mover

import (
	"crypto/sha256"
	"encoding"
	"fmt"
	"hash"
)

// hashes is the running SHA-256 of the job and of the current segment.
//
// Hashing is the costliest CPU work of a copy, so while the job has written
// nothing before the current segment (the common single-segment job) the
// job's hash is not computed at all: it is the segment's, and is copied
// from it when the segment ends.
type hashes struct {
	job, seg hash.Hash
	follows  bool // job == seg so far; job is stale
}

func newHashes() *hashes {
	return &hashes{job: sha256.New(), seg: sha256.New(), follows: true}
}

// startSegment resets the segment hash.
func (h *hashes) startSegment(jobBytes int64) {
	h.seg = sha256.New()
	h.follows = jobBytes == 0
}

func (h *hashes) write(p []byte) {
	h.seg.Write(p)
	if !h.follows {
		h.job.Write(p)
	}
}

// states marshals the job and segment states.
func (h *hashes) states() (job, seg []byte) {
	seg = marshalHash(h.seg)
	if h.follows {
		return seg, seg
	}
	return marshalHash(h.job), seg
}

// endSegment returns the segment's digest and brings the job hash up to
// date.
func (h *hashes) endSegment() [32]byte {
	var sum [32]byte
	h.seg.Sum(sum[:0])
	if h.follows {
		h.job = cloneHash(h.seg)
		h.follows = false
	}
	return sum
}

func (h *hashes) jobSum() [32]byte {
	var sum [32]byte
	if h.follows {
		h.seg.Sum(sum[:0])
	} else {
		h.job.Sum(sum[:0])
	}
	return sum
}

// restore loads states saved in a checkpoint.
func (h *hashes) restore(job, seg []byte) error {
	h.job, h.seg = sha256.New(), sha256.New()
	if err := unmarshalHash(h.seg, seg); err != nil {
		return fmt.Errorf("segment hash: %w", err)
	}
	if err := unmarshalHash(h.job, job); err != nil {
		return fmt.Errorf("job hash: %w", err)
	}
	// Equal states mean the job hashed nothing before this segment.
	h.follows = string(job) == string(seg)
	return nil
}

func marshalHash(h hash.Hash) []byte {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		// crypto/sha256 marshals unconditionally.
		panic(fmt.Sprintf("mover: marshal sha256: %v", err))
	}
	return b
}

func unmarshalHash(h hash.Hash, b []byte) error {
	return h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b)
}

func cloneHash(h hash.Hash) hash.Hash {
	c := sha256.New()
	if err := unmarshalHash(c, marshalHash(h)); err != nil {
		panic(fmt.Sprintf("mover: clone sha256: %v", err))
	}
	return c
}

package tape

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// An index file (IMAGE.idx, beside the image) keeps the index of a closed
// cartridge, so that the next Open need not scan the image: a SIMH image
// says where a record ends only in the record's own header, so a scan reads
// one header per record across the whole image, which for a gigabyte of
// 10 KiB records with a cold cache took 1.6 s, and grows with the tape (an
// LTO-9-sized image holds tens of millions of records).
//
// The index file is a cache, never the truth. Open trusts it only when it
// is intact (its own SHA-256) and describes this very image: the same
// inode, size and modification time, and the same last 64 KiB (a hash).
// Anything else, a missing or damaged index file included, means a scan,
// as before. The stamp cannot tell an image rewritten in place with the
// same size, mtime and tail (a restored backup of another tape, say), so
// Open also reads the header and trailer words of a sample of the objects
// the index lists (verifySample) — a few dozen small reads — and scans
// when one of them disagrees. An Open for writing deletes the index file (durably, before it
// returns), so that an image modified and then cut short by a crash never
// meets a stale one; its Close writes it anew once the image is synced. A
// read-only Open uses the file but never writes one. Images with a damaged
// tail get none: their next Open must find the damage. Two writers of one
// image never both reach Close: the cluster closes a cartridge opened for
// writing under its fence (cluster/executor's closeTape), so an owner that
// lost the cartridge to a newer epoch never stamps its stale index onto the
// image the new owner writes.

// IndexPath is where the index file of the image at path is kept. Whoever
// deletes an image deletes it too.
func IndexPath(path string) string { return path + ".idx" }

const (
	indexMagic = "FERRYIX1"
	// indexTail is how much of the image's end the index file hashes.
	indexTail = 64 << 10
)

// imageStamp identifies the state of an image file.
type imageStamp struct {
	size, mtime int64
	ino         uint64
	tail        [sha256.Size]byte
}

func stampOf(f *os.File, st os.FileInfo) (imageStamp, error) {
	s := imageStamp{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.ino = uint64(sys.Ino)
	}
	n := min(st.Size(), indexTail)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, st.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return s, err
	}
	s.tail = sha256.Sum256(buf)
	return s, nil
}

// encodeIndex serializes idx for an image with stamp s: the header, then
// per object the gap before it (bytes skipped since the end of the previous
// object: erase gaps) and its header word, as uvarints, then a SHA-256 of
// everything before it.
func encodeIndex(s imageStamp, idx *index) []byte {
	b := make([]byte, 0, 64+len(idx.off)*5)
	b = append(b, indexMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.size))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.mtime))
	b = binary.LittleEndian.AppendUint64(b, s.ino)
	b = append(b, s.tail[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(idx.end))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(idx.off)))
	next := int64(0)
	for i, off := range idx.off {
		b = binary.AppendUvarint(b, uint64(off-next))
		b = binary.AppendUvarint(b, uint64(idx.word[i]))
		next = off + objectSize(idx.word[i])
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// decodeIndex reads an index file's bytes, checking that they are intact,
// that they describe an image with stamp want, and that the objects they
// list are well formed and lie within the image.
func decodeIndex(b []byte, want imageStamp) (*index, error) {
	bad := func(why string) (*index, error) { return nil, fmt.Errorf("index file: %s", why) }
	if len(b) < len(indexMagic)+5*8+sha256.Size+sha256.Size {
		return bad("too short")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return bad("checksum mismatch")
	}
	if string(body[:len(indexMagic)]) != indexMagic {
		return bad("not an index file")
	}
	r := body[len(indexMagic):]
	u64 := func() uint64 {
		v := binary.LittleEndian.Uint64(r)
		r = r[8:]
		return v
	}
	var got imageStamp
	got.size, got.mtime, got.ino = int64(u64()), int64(u64()), u64()
	copy(got.tail[:], r)
	r = r[sha256.Size:]
	if got != want {
		return bad("it describes another state of the image")
	}
	end, count := int64(u64()), u64()
	if end < 0 || end > want.size || count > uint64(len(r)) {
		return bad("bad header")
	}
	idx := &index{off: make([]int64, 0, count), word: make([]uint32, 0, count)}
	next := int64(0)
	for range count {
		gap, n := binary.Uvarint(r)
		if n <= 0 || gap%wordSize != 0 {
			return bad("bad object offset")
		}
		r = r[n:]
		w, n := binary.Uvarint(r)
		if n <= 0 || w > 0xFFFFFFFF {
			return bad("bad object word")
		}
		r = r[n:]
		word := uint32(w)
		if word != wordTapeMark && (word >= wordReserved || word&flagMustBeZero != 0 || word&lengthMask == 0) {
			return bad("invalid object word")
		}
		off := next + int64(gap)
		next = off + objectSize(word)
		if next > end {
			return bad("an object lies past end of data")
		}
		idx.add(off, word)
	}
	if len(r) != 0 {
		return bad("trailing bytes")
	}
	idx.end = end
	return idx, nil
}

// loadIndex returns the index its index file keeps for the image f (whose
// FileInfo is st), or nil when there is none it can trust.
func loadIndex(path string, f *os.File, st os.FileInfo) *index {
	b, err := os.ReadFile(IndexPath(path))
	if err != nil {
		return nil
	}
	stamp, err := stampOf(f, st)
	if err != nil {
		return nil
	}
	idx, err := decodeIndex(b, stamp)
	if err != nil {
		return nil
	}
	if verifySample(f, idx, indexSample) != nil {
		return nil
	}
	return idx
}

// indexSample is how many objects verifySample reads.
const indexSample = 64

// verifySample checks that n objects spread evenly over idx (the first and
// the last among them) have, in the image r, the header word the index
// says, and for records the same trailer word: an index of another image
// with the same stamp fails it unless that image has the same structure at
// every sampled object.
func verifySample(r io.ReaderAt, idx *index, n int) error {
	count := idx.len()
	if count == 0 {
		return nil
	}
	var w [wordSize]byte
	word := func(off int64) (uint32, error) {
		if _, err := r.ReadAt(w[:], off); err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint32(w[:]), nil
	}
	steps := uint64(max(n-1, 1))
	for i := uint64(0); i <= steps; i++ {
		id := i * (count - 1) / steps
		off, want := idx.off[id], idx.word[id]
		got, err := word(off)
		if err != nil {
			return fmt.Errorf("index file: object %d: %w", id, err)
		}
		if got != want {
			return fmt.Errorf("index file: object %d at %d: header %#x, the index says %#x", id, off, got, want)
		}
		if want == wordTapeMark {
			continue
		}
		if got, err = word(off + objectSize(want) - wordSize); err != nil || got != want {
			return fmt.Errorf("index file: object %d at %d: trailer %#x does not match its header %#x (%v)", id, off, got, want, err)
		}
	}
	return nil
}

// dropIndex deletes the image's index file durably, before anything may
// modify the image.
func dropIndex(path string) error {
	switch err := os.Remove(IndexPath(path)); {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("tape: remove the index file of %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("tape: remove the index file of %s: %w", path, err)
	}
	return nil
}

// saveIndex writes the index file of a synced image with index idx. It is a
// cache: failing to write it costs the next Open a scan, nothing else, so
// the error is only for the caller to log.
func saveIndex(path string, f *os.File, idx *index) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	stamp, err := stampOf(f, st)
	if err != nil {
		return err
	}
	tmp := IndexPath(path) + ".tmp"
	// A leftover (or planted) temporary file, a symlink included, is
	// removed, never written through.
	os.Remove(tmp)
	f2, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, werr := f2.Write(encodeIndex(stamp, idx))
	if err := errors.Join(werr, f2.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	// No fsync: an index file lost in a crash costs a scan; one that
	// survives half-written fails its checksum.
	if err := os.Rename(tmp, IndexPath(path)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

package tarbackup

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// A sparse file goes on the stream in the GNU PAX sparse format 1.0 (what
// GNU tar writes with --sparse --sparse-version=1.0, and what archive/tar
// and GNU tar read): a pax extended header with the GNU.sparse.* records,
// then a ustar header whose data is the map of the data extents followed by
// those extents only. archive/tar cannot write that (it drops GNU.sparse.*
// records), so the two header blocks are encoded here; archive/tar still
// encodes the ustar fields, only the type flag and checksum of the first
// block are set by hand.

// extent is a run of data in a sparse file.
type extent struct{ off, n int64 }

// Pax records of the GNU sparse format 1.0.
const (
	gnuSparseMajor    = "GNU.sparse.major"
	gnuSparseMinor    = "GNU.sparse.minor"
	gnuSparseName     = "GNU.sparse.name"
	gnuSparseRealSize = "GNU.sparse.realsize"
)

// isGNUSparse reports whether hdr came from a GNU sparse 1.0 entry.
func isGNUSparse(hdr *tar.Header) bool { return hdr.PAXRecords[gnuSparseMajor] != "" }

// sparseDataSize is the bytes of data (after the map) of an entry Backup
// wrote in the sparse format, -1 when unknown.
func sparseDataSize(hdr *tar.Header) int64 {
	if !isGNUSparse(hdr) {
		return -1
	}
	n, err := strconv.ParseInt(hdr.PAXRecords[sparseRecord], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// writeSparseEntry writes hdr (a regular file of hdr.Size bytes) and the
// data extents of f to w. ok is false when the file cannot be written this
// way (its fields do not fit ustar) and nothing was written.
func writeSparseEntry(w io.Writer, hdr *tar.Header, f *os.File, exts []extent, buf []byte) (ok bool, err error) {
	if hdr.Uid > 07777777 || hdr.Gid > 07777777 {
		return false, nil
	}
	size := hdr.Size
	// The map ends at the end of the file, with an empty extent when the
	// file ends in a hole: that is how a reader learns its length.
	if len(exts) == 0 || exts[len(exts)-1].off+exts[len(exts)-1].n < size {
		exts = append(exts, extent{size, 0})
	}
	var data int64
	var m strings.Builder
	fmt.Fprintf(&m, "%d\n", len(exts))
	for _, e := range exts {
		fmt.Fprintf(&m, "%d\n%d\n", e.off, e.n)
		data += e.n
	}
	mapBytes := pad512([]byte(m.String()))

	recs := [][2]string{
		{gnuSparseMajor, "1"}, {gnuSparseMinor, "0"},
		{gnuSparseName, hdr.Name}, {gnuSparseRealSize, strconv.FormatInt(size, 10)},
		{sparseRecord, strconv.FormatInt(data, 10)},
	}
	if ns := hdr.ModTime.Nanosecond(); ns != 0 {
		frac := strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
		recs = append(recs, [2]string{"mtime", strconv.FormatInt(hdr.ModTime.Unix(), 10) + "." + frac})
	}
	var pax bytes.Buffer
	for _, r := range recs {
		pax.WriteString(paxRecord(r[0], r[1]))
	}

	short := "GNUSparseFile.0/" + truncateName(baseName(hdr.Name), 80)
	xhdr, err := ustarBlock(&tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeaders.0/" + truncateName(baseName(hdr.Name), 80),
		Size: int64(pax.Len()), Mode: 0o644, ModTime: time.Unix(hdr.ModTime.Unix(), 0)})
	if err != nil {
		return false, nil
	}
	xhdr[156] = tar.TypeXHeader
	setChecksum(xhdr)
	fhdr, err := ustarBlock(&tar.Header{Typeflag: tar.TypeReg, Name: short, Size: int64(len(mapBytes)) + data,
		Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid, ModTime: time.Unix(hdr.ModTime.Unix(), 0)})
	if err != nil {
		return false, nil
	}

	for _, b := range [][]byte{xhdr, pad512(pax.Bytes()), fhdr, mapBytes} {
		if _, err := w.Write(b); err != nil {
			return true, err
		}
	}
	for _, e := range exts {
		if err := copyExtent(w, f, e, buf); err != nil {
			return true, err
		}
	}
	if rem := data % 512; rem != 0 {
		clear(buf[:512-rem])
		if _, err := w.Write(buf[:512-rem]); err != nil {
			return true, err
		}
	}
	return true, nil
}

// copyExtent writes e's bytes of f; a file that shrank since its extents
// were read gives zeros, so the entry keeps the length its header says.
func copyExtent(w io.Writer, f *os.File, e extent, buf []byte) error {
	off, left := e.off, e.n
	for left > 0 {
		chunk := buf[:min(int64(len(buf)), left)]
		n, err := f.ReadAt(chunk, off)
		if n < len(chunk) {
			clear(chunk[n:])
			if err == nil || err == io.EOF {
				n, err = len(chunk), nil
			}
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if _, err := w.Write(chunk[:n]); err != nil {
			return err
		}
		off, left = off+int64(n), left-int64(n)
	}
	return nil
}

// paxRecord encodes one pax record: its length (which counts itself),
// a space, key=value and a newline.
func paxRecord(k, v string) string {
	body := " " + k + "=" + v + "\n"
	n := len(body) + len(strconv.Itoa(len(body)))
	if m := len(body) + len(strconv.Itoa(n)); m != n {
		n = m // the length grew a digit
	}
	return strconv.Itoa(n) + body
}

// ustarBlock is the 512-byte ustar header archive/tar writes for h.
func ustarBlock(h *tar.Header) ([]byte, error) {
	h.Format = tar.FormatUSTAR
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	if b.Len() != 512 {
		return nil, fmt.Errorf("ustar header of %d bytes", b.Len())
	}
	return b.Bytes(), nil
}

// setChecksum recomputes a header block's checksum: the sum of its bytes
// with the checksum field as spaces, in six octal digits, NUL, space.
func setChecksum(blk []byte) {
	copy(blk[148:156], "        ")
	var sum int64
	for _, c := range blk {
		sum += int64(c)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

func pad512(b []byte) []byte {
	if rem := len(b) % 512; rem != 0 {
		b = append(b, make([]byte, 512-rem)...)
	}
	return b
}

func baseName(name string) string {
	name = strings.TrimSuffix(name, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func truncateName(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

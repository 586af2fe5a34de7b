package tarbackup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// RangeSource gives direct access to a stream.
type RangeSource interface {
	// ReadRange returns a reader of the stream's bytes [off, off+n); n may
	// reach past the stream's end. The reader of one call is read, or
	// abandoned, before the next call.
	ReadRange(ctx context.Context, off, n int64) (io.Reader, error)
}

// firstAsk is what is read at an entry's offset before its header says how
// long it is: its headers (a pax header and a long name fit) and the data of
// a small file, in one round trip to the tape.
const firstAsk = 16 << 10

// RecoverDirect restores the selections by direct access: each one with an
// Offset (its fh_info from the backup's file history) is read from there
// and no further than its own headers and data, a directory's entries up to
// the first one outside it. Selections without an offset are then restored
// in one sequential pass from the stream's start.
func RecoverDirect(ctx context.Context, src RangeSource, dest string, opts RecoverOptions) (Result, error) {
	rs, err := newRestorer(ctx, dest, opts)
	if err != nil {
		return Result{}, err
	}
	defer rs.close()
	var total int64
	var seq []int
	for i, s := range rs.sel {
		if s.Offset < 0 {
			seq = append(seq, i)
			continue
		}
		rr := &rangeReader{ctx: ctx, src: src, pos: s.Offset, progress: opts.Progress}
		err := rs.direct(rr, i)
		total += rr.read
		if err != nil {
			rs.res.Bytes = total
			return rs.finish(err)
		}
	}
	if len(rs.sel) == 0 || len(seq) > 0 {
		rr := &rangeReader{ctx: ctx, src: src, pos: 0, chunk: math.MaxInt64, progress: opts.Progress}
		err = rs.sequential(ctx, rr, seq)
		total += rr.read
	}
	rs.res.Bytes = total
	return rs.finish(err)
}

// direct restores selection i from the entry at its offset.
func (rs *restorer) direct(rr *rangeReader, i int) error {
	s := rs.sel[i]
	tr := tar.NewReader(rr)
	hdr, err := tr.Next()
	if err != nil {
		rs.errs[i] = fmt.Errorf("tarbackup: no entry at offset %d: %w", s.Offset, err)
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil || (name != s.Name && s.Name != ".") {
		// A stale index or a wrong tape: do not restore a stranger.
		rs.errs[i] = fmt.Errorf("tarbackup: the entry at offset %d is %q, not %q", s.Offset, hdr.Name, s.Name)
		return nil
	}
	// Ask for the rest of this entry exactly.
	if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
		n := hdr.Size
		if d := sparseDataSize(hdr); d >= 0 {
			n = d // the map is read; only the data extents follow
		}
		rr.need((n + 511) &^ 511)
	}
	if hdr.Typeflag == tar.TypeLink {
		if _, ok := rs.links[cleanOr(hdr.Linkname)]; !ok {
			return rs.directLink(rr, hdr, i)
		}
	}
	only := []int{i}
	if err := rs.entry(hdr, tr, s.Dest, i); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeDir {
		return nil
	}
	// A directory: its contents follow it in the stream.
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	rr.chunk = 1 << 20
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tarbackup: reading archive: %w", err)
		}
		n, err := cleanName(hdr.Name)
		if err == nil && !strings.HasPrefix(n, prefix) {
			return nil
		}
		target, idx, ok, err := rs.target(hdr.Name, only)
		if err != nil {
			if e := rs.skip(hdr.Name, err); e != nil {
				return e
			}
			continue
		}
		if ok {
			if err := rs.entry(hdr, tr, target, idx); err != nil {
				return err
			}
		}
	}
}

// rangeReader reads a stream from pos through a RangeSource, asking for a
// new range each time the current one is used up: first firstAsk bytes (or
// next), then what need says the entry still lacks.
type rangeReader struct {
	ctx      context.Context
	src      RangeSource
	cur      io.Reader
	pos, end int64 // next byte to read; end of the range asked for
	next     int64 // size of the next range to ask for, once; 0: chunk
	chunk    int64 // size of later ranges; 0: firstAsk
	eof      bool
	read     int64
	progress *Progress
}

// need says n more bytes past the current position are wanted.
func (r *rangeReader) need(n int64) {
	if more := n - (r.end - r.pos); more > 0 {
		r.next = more
	}
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	if r.cur == nil || r.pos >= r.end {
		n := r.next
		if n <= 0 {
			n = r.chunk
		}
		if n <= 0 {
			n = firstAsk
		}
		if n > math.MaxInt64-r.pos {
			n = math.MaxInt64 - r.pos
		}
		cur, err := r.src.ReadRange(r.ctx, r.pos, n)
		if err != nil {
			return 0, err
		}
		r.cur, r.end, r.next = cur, r.pos+n, 0
	}
	if max := r.end - r.pos; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := r.cur.Read(p)
	r.pos += int64(n)
	r.read += int64(n)
	r.progress.add(int64(n))
	if err == io.EOF && r.pos < r.end {
		// The stream ended before the range: that is its end.
		r.eof = true
		return n, io.EOF
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// directLink restores selection i, a hard link whose first name was not
// restored, as a file with the first name's data, read at the offset the
// link's header records.
func (rs *restorer) directLink(rr *rangeReader, link *tar.Header, i int) error {
	off, err := strconv.ParseInt(link.PAXRecords[linkOffsetRecord], 10, 64)
	if err != nil || off < 0 {
		rs.errs[i] = fmt.Errorf("tarbackup: hard link %q to %q, which was not restored", link.Name, link.Linkname)
		return nil
	}
	dr := &rangeReader{ctx: rr.ctx, src: rr.src, pos: off, progress: rr.progress}
	defer func() { rr.read += dr.read }()
	tr := tar.NewReader(dr)
	hdr, err := tr.Next()
	if err != nil || cleanOr(hdr.Name) != cleanOr(link.Linkname) || hdr.Typeflag != tar.TypeReg {
		rs.errs[i] = fmt.Errorf("tarbackup: the data of hard link %q is not at offset %d", link.Name, off)
		return nil
	}
	n := hdr.Size
	if d := sparseDataSize(hdr); d >= 0 {
		n = d
	}
	dr.need((n + 511) &^ 511)
	// The file takes the link's name; mode, owner and times are the
	// inode's, the same in both headers.
	return rs.entry(hdr, tr, rs.sel[i].Dest, i)
}

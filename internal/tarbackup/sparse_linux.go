//go:build linux

package tarbackup

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copySparse writes size bytes of f to w, reading only its data extents
// (SEEK_DATA/SEEK_HOLE) and writing zeros for the holes. It returns the
// bytes written, and errShort when f ended before size.
func copySparse(w io.Writer, f *os.File, size int64, buf []byte) (int64, error) {
	fd := int(f.Fd())
	var pos int64
	for pos < size {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = size // only a hole is left
		} else if err != nil {
			return pos, fmt.Errorf("seek data: %w", err)
		}
		data = min(data, size)
		if data > pos {
			if err := writeZeros(w, data-pos, buf); err != nil {
				return pos, err
			}
			pos = data
		}
		if pos >= size {
			break
		}
		hole, err := unix.Seek(fd, pos, unix.SEEK_HOLE)
		if err != nil {
			return pos, fmt.Errorf("seek hole: %w", err)
		}
		hole = min(hole, size)
		if _, err := f.Seek(pos, io.SeekStart); err != nil {
			return pos, err
		}
		for pos < hole {
			chunk := buf[:min(int64(len(buf)), hole-pos)]
			n, err := io.ReadFull(f, chunk)
			if n > 0 {
				if _, werr := w.Write(chunk[:n]); werr != nil {
					return pos, werr
				}
				pos += int64(n)
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return pos, errShort
			}
			if err != nil {
				return pos, fmt.Errorf("read: %w", err)
			}
		}
	}
	return pos, nil
}

// dataExtents lists the data extents of f's first size bytes
// (SEEK_DATA/SEEK_HOLE).
func dataExtents(f *os.File, size int64) ([]extent, error) {
	fd := int(f.Fd())
	var out []extent
	var pos int64
	for pos < size {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			return nil, fmt.Errorf("seek data: %w", err)
		}
		if data >= size {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("seek hole: %w", err)
		}
		hole = min(hole, size)
		out = append(out, extent{data, hole - data})
		pos = hole
	}
	return out, nil
}

package tarbackup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
)

// List reads a stream and calls fn for every entry with its offset, as
// Backup's FileHistory would have (without inode numbers or access times,
// which a stream does not carry): a DMA that lost its index rebuilds it.
func List(ctx context.Context, r io.Reader, progress *Progress, fn func(Entry) error) (Result, error) {
	cr := &countReader{r: r, progress: progress}
	tr := tar.NewReader(cr)
	var res Result
	next := int64(0) // where the next entry's first header starts
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			res.Bytes = cr.n
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("tarbackup: reading archive: %w", err)
		}
		off := next
		name, err := cleanName(hdr.Name)
		if err != nil {
			name = hdr.Name
		}
		e := Entry{Name: name, Header: hdr, Offset: off, Nlink: 1}
		if err := fn(e); err != nil {
			return res, err
		}
		res.Entries++
		// The data is read through, so that the count stops at its end;
		// its padding then leads to the next header.
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return res, fmt.Errorf("tarbackup: reading archive: %w", err)
		}
		// Headers and data start on 512-byte blocks.
		next = (cr.n + 511) &^ 511
	}
}

//go:build !linux

package tape

import (
	"io"
	"os"
)

// prefetch has no portable equivalent.
func prefetch(io.ReaderAt, int64, int64) {}

// adviseSequential has no portable equivalent.
func adviseSequential(*os.File) {}

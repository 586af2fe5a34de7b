//go:build !linux

package tape

import "io"

// prefetch has no portable equivalent.
func prefetch(io.ReaderAt, int64, int64) {}

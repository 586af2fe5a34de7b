//go:build !linux

package fence

import "os"

// datasync makes f durable; elsewhere than Linux it is a full fsync.
func datasync(f *os.File) error { return f.Sync() }

package fence

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's data durable, and its size, without the timestamps a
// full fsync also writes.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

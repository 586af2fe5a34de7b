//go:build unix

package grpcapi

import (
	"io/fs"
	"syscall"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// fileIdentity is the file's device and inode numbers, and for a block or
// character device the device it is.
func fileIdentity(info fs.FileInfo) (*ferryv1.FileIdentity, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, false
	}
	id := &ferryv1.FileIdentity{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // widths differ between systems
	if info.Mode()&fs.ModeDevice != 0 {
		id.Rdev = uint64(st.Rdev) //nolint:unconvert
	}
	return id, true
}

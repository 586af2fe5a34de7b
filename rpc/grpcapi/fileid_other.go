//go:build !unix

package grpcapi

import (
	"io/fs"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// fileIdentity is not known on this system: devices are told apart by
// their canonical paths alone.
func fileIdentity(fs.FileInfo) (*ferryv1.FileIdentity, bool) { return nil, false }

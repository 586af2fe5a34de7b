//go:build !linux

package disk

import (
	"errors"
	"os"
)

// blockDeviceGeometry is only implemented on Linux.
func blockDeviceGeometry(*os.File) (int64, uint32, error) {
	return 0, 0, errors.New("block devices are only supported on Linux")
}

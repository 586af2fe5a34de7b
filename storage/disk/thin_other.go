//go:build !linux

package disk

import "os"

// punch is only implemented on Linux.
func punch(*os.File, int64, int64) error { return ErrUnmapUnsupported }

// seekExtent reports every byte allocated where holes are not looked for.
func seekExtent(_ *os.File, _, size int64) (bool, int64, error) { return true, size, nil }

// allocatedBytes cannot tell outside Linux.
func allocatedBytes(*os.File) (int64, error) { return 0, nil }

// statAllocated cannot tell outside Linux.
func statAllocated(string) (int64, error) { return 0, nil }

// probe: unmapping is only implemented on Linux.
func probe(*os.File, string, bool) Provisioning {
	return Provisioning{Reason: "unmapping is only implemented on Linux"}
}

package disk

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockDeviceGeometry asks the kernel for a block device's size in bytes
// and its logical block size.
func blockDeviceGeometry(f *os.File) (size int64, logical uint32, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var bytes uint64
	var ssz int
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&bytes))); e != 0 {
			ioErr = fmt.Errorf("ioctl BLKGETSIZE64: %w", e)
			return
		}
		if ssz, ioErr = unix.IoctlGetInt(int(fd), unix.BLKSSZGET); ioErr != nil {
			ioErr = fmt.Errorf("ioctl BLKSSZGET: %w", ioErr)
		}
	}); err != nil {
		return 0, 0, err
	}
	if ioErr != nil {
		return 0, 0, ioErr
	}
	return int64(bytes), uint32(ssz), nil
}

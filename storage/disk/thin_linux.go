package disk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// withFd runs fn on f's descriptor.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// punch deallocates [off, off+n) of f so that it reads as zeroes. On a file
// it punches a hole, zeroing the ragged ends in place; on a block device
// the kernel turns it into a WRITE ZEROES that may unmap, and refuses
// (EOPNOTSUPP) a device that cannot guarantee the zeroes.
func punch(f *os.File, off, n int64) error {
	return withFd(f, func(fd int) error {
		if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
			return fmt.Errorf("fallocate punch hole: %w", err)
		}
		return nil
	})
}

// seekExtent reports whether byte off of f is allocated and where that
// run of allocated bytes (or hole) ends, at most at size.
func seekExtent(f *os.File, off, size int64) (mapped bool, end int64, err error) {
	err = withFd(f, func(fd int) error {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO): // no data from off to the end of the file
			mapped, end = false, size
			return nil
		case err != nil:
			return fmt.Errorf("lseek SEEK_DATA: %w", err)
		case data > off:
			mapped, end = false, data
			return nil
		}
		hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("lseek SEEK_HOLE: %w", err)
		}
		mapped, end = true, hole
		return nil
	})
	return mapped, min(end, size), err
}

// allocatedBytes is st_blocks × 512 of f.
func allocatedBytes(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return stBlocks(st), nil
}

// statAllocated is st_blocks × 512 of the file at path; 0 for a device.
func statAllocated(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return stBlocks(st), nil
}

func stBlocks(st os.FileInfo) int64 {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || !st.Mode().IsRegular() {
		return 0
	}
	return sys.Blocks * 512
}

// probe finds out what the store behind f does with unmapped ranges.
func probe(f *os.File, path string, device bool) Provisioning {
	if device {
		return probeDevice(f)
	}
	st, err := f.Stat()
	if err != nil {
		return Provisioning{Reason: err.Error()}
	}
	gran := uint32(4096)
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Blksize > 0 && sys.Blksize <= 1<<20 {
		gran = uint32(sys.Blksize)
	}
	return probeFile(filepath.Dir(path), gran)
}

// probeFile punches a hole in a scratch file beside the LUN's, on the same
// file system, never in the LUN's own: a probe there would race with the
// writes of initiators and of other nodes. Thin only if the hole reads
// back as zeroes and the data beside it is intact.
func probeFile(dir string, gran uint32) (p Provisioning) {
	p.Granularity = gran
	tmp, err := os.CreateTemp(dir, ".ferry-thin-probe-*")
	if err != nil {
		p.Reason = fmt.Sprintf("cannot probe the file system for holes: %v", err)
		return p
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	data := bytes.Repeat([]byte{0xA5}, 2*int(gran))
	if _, err := tmp.WriteAt(data, 0); err != nil {
		p.Reason = fmt.Sprintf("cannot probe the file system for holes: %v", err)
		return p
	}
	if err := punch(tmp, 0, int64(gran)); err != nil {
		p.Reason = fmt.Sprintf("the file system cannot punch holes: %v", err)
		return p
	}
	got := make([]byte, len(data))
	if _, err := tmp.ReadAt(got, 0); err != nil {
		p.Reason = fmt.Sprintf("cannot probe the file system for holes: %v", err)
		return p
	}
	if !bytes.Equal(got[:gran], make([]byte, gran)) || !bytes.Equal(got[gran:], data[gran:]) {
		p.Reason = "the file system does not read a punched hole back as zeroes"
		return p
	}
	p.Thin = true
	if mapped, end, err := seekExtent(tmp, 0, int64(len(data))); err == nil && !mapped && end == int64(gran) {
		p.ReportsHoles = true
	}
	return p
}

// probeDevice asks sysfs whether the block device can write zeroes, which
// the kernel's punch on a device needs (it never falls back to writing
// zero-filled buffers for it).
func probeDevice(f *os.File) Provisioning {
	p := Provisioning{Reason: "the block device cannot unmap with zeroes read back (no WRITE ZEROES)"}
	st, err := f.Stat()
	if err != nil {
		p.Reason = err.Error()
		return p
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return p
	}
	base := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(sys.Rdev), unix.Minor(sys.Rdev))
	for _, q := range []string{base + "/queue", base + "/../queue"} { // a whole disk, a partition
		max, err := sysfsUint(q + "/write_zeroes_max_bytes")
		if err != nil {
			continue
		}
		if max > 0 {
			p = Provisioning{Thin: true, Granularity: 512}
			if g, err := sysfsUint(q + "/discard_granularity"); err == nil && g > 0 && g <= 1<<20 {
				p.Granularity = uint32(g)
			}
		}
		return p
	}
	return p
}

func sysfsUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

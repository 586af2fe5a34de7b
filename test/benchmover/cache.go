package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// cacheControl empties the page cache the same way before every run.
type cacheControl struct {
	dropAll bool // drop_caches works; otherwise evict the files only
	why     string
}

func newCacheControl() *cacheControl {
	c := &cacheControl{}
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		c.dropAll = true
		return c
	}
	c.why = err.Error()
	return c
}

func (c *cacheControl) describe() string {
	if c.dropAll {
		return "sync; echo 3 > /proc/sys/vm/drop_caches before every run"
	}
	return "posix_fadvise(DONTNEED) on source and destination before every run (drop_caches: " + c.why + ")"
}

// drop writes back dirty pages and evicts the cache.
func (c *cacheControl) drop(paths ...string) error {
	unix.Sync()
	if c.dropAll {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
			return fmt.Errorf("drop caches: %w", err)
		}
		return nil
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			return fmt.Errorf("fadvise %s: %w", p, err)
		}
	}
	return nil
}

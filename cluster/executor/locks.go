package executor

import (
	"context"
	"encoding/hex"
	"slices"
	"sync"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// deviceLocks keeps two copies on this node from using a device in
// conflicting ways: any number may read it, one may write it. The state
// machine frees a cancelled job's drive at once, while its copy may still be
// writing for a moment; the next job on that cartridge waits here until the
// old copy has stopped and closed it.
type deviceLocks struct {
	mu      sync.Mutex
	readers map[string]int
	writers map[string]bool
	changed chan struct{}
}

func newDeviceLocks() *deviceLocks {
	return &deviceLocks{readers: map[string]int{}, writers: map[string]bool{}, changed: make(chan struct{})}
}

// acquire takes all the locks at once, or waits until it can: taking them
// one by one could deadlock two jobs that copy in opposite directions.
func (l *deviceLocks) acquire(ctx context.Context, reads, writes []string) (release func(), err error) {
	reads = slices.DeleteFunc(slices.Clone(reads), func(p string) bool { return slices.Contains(writes, p) })
	for {
		l.mu.Lock()
		if l.freeLocked(reads, writes) {
			for _, p := range reads {
				l.readers[p]++
			}
			for _, p := range writes {
				l.writers[p] = true
			}
			l.mu.Unlock()
			return func() { l.release(reads, writes) }, nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *deviceLocks) freeLocked(reads, writes []string) bool {
	for _, p := range reads {
		if l.writers[p] {
			return false
		}
	}
	for _, p := range writes {
		if l.writers[p] || l.readers[p] > 0 {
			return false
		}
	}
	return true
}

func (l *deviceLocks) release(reads, writes []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range reads {
		if l.readers[p]--; l.readers[p] == 0 {
			delete(l.readers, p)
		}
	}
	for _, p := range writes {
		delete(l.writers, p)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// devicePaths lists the files a job reads and writes. An EXTENDED COPY
// list's targets all count as written: any of them may be a destination.
// Devices that do not resolve are left out; opening them fails later.
func devicePaths(reg *fsm.FSM, spec *ferryv1.JobSpec) (reads, writes []string) {
	path := func(d fsm.Device) string {
		if d.Disk != nil {
			return d.Disk.GetPath()
		}
		return d.Cartridge.GetPath()
	}
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
		if err != nil {
			return nil, nil
		}
		for _, t := range pl.Targets {
			if d, err := reg.ResolveDevice(&ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: hex.EncodeToString(t.NAA)}}); err == nil {
				writes = append(writes, path(d))
			}
		}
		return nil, writes
	}
	if d, err := reg.ResolveDevice(spec.GetSource().GetDevice()); err == nil {
		reads = append(reads, path(d))
	}
	if d, err := reg.ResolveDevice(spec.GetDestination().GetDevice()); err == nil {
		writes = append(writes, path(d))
	}
	return reads, writes
}

package executor

import (
	"context"
	"slices"
	"sync"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
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

// devicePaths lists the files a job reads and writes, as the state machine
// resolves its devices (fsm.FSM.JobAccess): an EXTENDED COPY list's targets
// count as written when a segment writes them, as the copy opens only those
// for writing. Devices that do not resolve are left out; opening them fails
// later.
func devicePaths(reg *fsm.FSM, spec *ferryv1.JobSpec) (reads, writes []string) {
	acc, _ := reg.JobAccess(spec) // the job was accepted; what it touches is what counts
	for _, d := range acc.Devices {
		path := d.Device.Cartridge.GetPath()
		if d.Device.Disk != nil {
			path = d.Device.Disk.GetPath()
		}
		if d.Write {
			writes = append(writes, path)
		} else {
			reads = append(reads, path)
		}
	}
	return reads, writes
}

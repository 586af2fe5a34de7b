package executor

import (
	"context"
	"slices"
	"sync"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/fence"
)

// deviceLocks keeps two copies on this node from using a device in
// conflicting ways: any number may read it, one may write it — except
// that the streams of one multi-stream job share their disks
// (fsm.SharesDisks), as their ranges never overlap. The state machine
// frees a cancelled job's drive at once, while its copy may still be
// writing for a moment; the next job on that cartridge waits here until
// the old copy has stopped and closed it.
type deviceLocks struct {
	mu      sync.Mutex
	held    map[string][]*deviceHold // path → the copies using it
	changed chan struct{}
}

// deviceHold is one copy's use of a device.
type deviceHold struct {
	job *ferryv1.Job
	use deviceUse
}

// deviceUse is how a copy uses one device file.
type deviceUse struct {
	path  string
	write bool
	// disk: the device is a disk, which streams of one job may share.
	disk bool
}

func newDeviceLocks() *deviceLocks {
	return &deviceLocks{held: map[string][]*deviceHold{}, changed: make(chan struct{})}
}

// acquire takes the locks of all of job's uses at once, or waits until it
// can: taking them one by one could deadlock two jobs that copy in
// opposite directions.
func (l *deviceLocks) acquire(ctx context.Context, job *ferryv1.Job, uses []deviceUse) (release func(), err error) {
	holds := make([]*deviceHold, len(uses))
	for i, u := range uses {
		holds[i] = &deviceHold{job: job, use: u}
	}
	for {
		l.mu.Lock()
		if l.freeLocked(holds) {
			for _, h := range holds {
				l.held[h.use.path] = append(l.held[h.use.path], h)
			}
			l.mu.Unlock()
			return func() { l.release(holds) }, nil
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

func (l *deviceLocks) freeLocked(holds []*deviceHold) bool {
	for _, h := range holds {
		for _, o := range l.held[h.use.path] {
			if (h.use.write || o.use.write) && !(h.use.disk && fsm.SharesDisks(h.job, o.job)) {
				return false
			}
		}
	}
	return true
}

func (l *deviceLocks) release(holds []*deviceHold) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range holds {
		p := h.use.path
		if l.held[p] = slices.DeleteFunc(l.held[p], func(o *deviceHold) bool { return o == h }); len(l.held[p]) == 0 {
			delete(l.held, p)
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// deviceUses lists the files a job reads and writes, as the state machine
// resolves its devices (fsm.FSM.JobAccess): an EXTENDED COPY list's
// targets count as written when a segment writes them, as the copy opens
// only those for writing. Devices that do not resolve are left out;
// opening them fails later. ranges are the disks the job's writes are
// fenced by a range of, not the whole disk (fsm.DiskFenceRange).
func deviceUses(reg *fsm.FSM, job *ferryv1.Job) (uses []deviceUse, ranges map[string]fence.Range) {
	acc, _ := reg.JobAccess(job.GetSpec()) // the job was accepted; what it touches is what counts
	for _, d := range acc.Devices {
		u := deviceUse{path: d.Device.Cartridge.GetPath(), write: d.Write, disk: d.Device.Disk != nil}
		if u.disk {
			u.path = d.Device.Disk.GetPath()
		}
		if r, ok := fsm.DiskFenceRange(job, d); ok {
			if ranges == nil {
				ranges = map[string]fence.Range{}
			}
			ranges[u.path] = fence.Range{Offset: r.Offset, Length: r.Length}
		}
		uses = append(uses, u)
	}
	return uses, ranges
}

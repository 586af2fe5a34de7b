package fence

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// Fence is the fence of one device, bound to the fence file it opened. Write
// and Epoch may be called from many goroutines at once, and alongside Claim;
// Close must not be.
type Fence struct {
	devicePath string
	path       string
	// cluster is the id of the cluster whose epochs this Fence claims and
	// writes under.
	cluster string
	// rng is the range the Fence claims and writes, nil for the whole
	// device (see OpenRange).
	rng *Range
	// file is the fence file, on which Write holds its shared lock; gate is
	// the device file, Write's side of the turnstile. Claim opens its own
	// descriptors so that its locks conflict with these as another process's
	// would (flock locks belong to an open file description).
	file *os.File
	gate *os.File
	// info identifies file, to notice it being deleted or replaced.
	info fs.FileInfo

	// gateMu lets one goroutine at a time through the turnstile: they share
	// gate, and one's unlock would drop another's lock.
	gateMu sync.Mutex
	// holdersMu guards holders, the Writes and Epochs inside the shared lock
	// on file. They share one descriptor, so the first takes the lock and the
	// last drops it.
	holdersMu sync.Mutex
	holders   int
}

// Path is the fence file of the device at devicePath: devicePath + ".fence",
// in the same directory. Whoever deletes a device's files deletes it too.
func Path(devicePath string) string { return devicePath + ".fence" }

// Open opens the fence of the device at devicePath for the cluster whose
// id is cluster: the file Path(devicePath),
// created (mode 0644, epoch 0) if missing. It fails with an error wrapping
// ErrUnsupported if devicePath is not a regular file; such a device is not
// even opened, as opening a tape drive can move its tape.
func Open(devicePath, cluster string) (*Fence, error) {
	if err := checkCluster(cluster); err != nil {
		return nil, err
	}
	gate, err := openDevice(devicePath)
	if err != nil {
		return nil, err
	}
	path := Path(devicePath)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("fence: %w", err), gate.Close())
	}
	info, err := file.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("%s is a %v, not a regular file", path, info.Mode().Type())
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("fence: %w", err), file.Close(), gate.Close())
	}
	return &Fence{devicePath: devicePath, path: path, cluster: cluster, file: file, gate: gate, info: info}, nil
}

// OpenRange opens the fence of the device at devicePath, as Open does, to
// claim and write only the bytes of r: a Fence of one stream of a job whose
// streams write disjoint ranges of one device at once, each under its own
// epoch. Its Claim refuses only when the device record or a claim on a
// range overlapping r holds a newer epoch, and records r's claim in the
// fence's range table; its Writes are refused exactly when its Claim would
// be. A Fence of the whole device (Open) is held back by every claim, of
// the device or of any range, and its Claim supersedes them all.
func OpenRange(devicePath, cluster string, r Range) (*Fence, error) {
	if err := r.valid(); err != nil {
		return nil, err
	}
	f, err := Open(devicePath, cluster)
	if err != nil {
		return nil, err
	}
	f.rng = &r
	return f, nil
}

// Range returns the range the Fence claims and writes, ok false for a
// Fence of the whole device.
func (f *Fence) Range() (r Range, ok bool) {
	if f.rng == nil {
		return Range{}, false
	}
	return *f.rng, true
}

func checkCluster(id string) error {
	if id == "" || len(id) > MaxClusterIDLen {
		return fmt.Errorf("fence: cluster id %q: want 1 to %d bytes", id, MaxClusterIDLen)
	}
	return nil
}

// Read returns the record of the fence beside the device at devicePath
// without creating or locking it: the zero Record if there is none. Its
// Epoch is the highest the fence holds, of the device or of any range. It
// is for a look before a device is registered, not for deciding a write.
func Read(devicePath string) (Record, error) {
	b, err := os.ReadFile(Path(devicePath))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("fence: %w", err)
	}
	s, err := decodeFile(b)
	if err != nil {
		return Record{}, fmt.Errorf("fence %s.fence: %w", devicePath, err)
	}
	return Record{Cluster: s.Cluster, Epoch: s.highest()}, nil
}

// openDevice opens the device file read-only, for the turnstile, after
// making sure it is a regular file.
func openDevice(devicePath string) (*os.File, error) {
	info, err := os.Stat(devicePath)
	if err != nil {
		return nil, fmt.Errorf("fence: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, unsupported(devicePath, info)
	}
	f, err := os.Open(devicePath)
	if err != nil {
		return nil, fmt.Errorf("fence: %w", err)
	}
	// The path may have been replaced since the Stat.
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		if err == nil {
			err = unsupported(devicePath, info)
		}
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

func unsupported(devicePath string, info fs.FileInfo) error {
	kind := "directory"
	if !info.IsDir() {
		kind = fmt.Sprintf("%v file", info.Mode().Type())
	}
	return fmt.Errorf("fence: %s is a %s: %w", devicePath, kind, ErrUnsupported)
}

// Write runs fn, the device write, only if the fence counts this Fence's
// cluster's epochs and epoch is not older than the stored one; otherwise it
// returns an error wrapping ErrOtherCluster or ErrFenced without calling
// fn. The stored epoch is read afresh on every call, and the check
// and fn run under one shared lock, so a Claim either completes before the
// check or waits until fn has returned. fn's error is returned as it is.
func (f *Fence) Write(epoch uint64, fn func() error) (err error) {
	if fn == nil {
		return errors.New("fence: Write with a nil write function")
	}
	if err := f.lockShared(); err != nil {
		return err
	}
	defer keepErr(&err, f.unlockShared)
	s, err := f.read(f.file)
	if err != nil {
		return err
	}
	if err := f.refuses("write", epoch, s); err != nil {
		return err
	}
	return fn()
}

// Hold is Write for a run of writes: it passes the turnstile, takes the
// shared lock and checks epoch once, as Write does, and keeps the lock
// until release is called; fn's of the run go straight to the device. A
// Claim waits for the release, so a holder releases soon (a few
// milliseconds of writes) and whenever it stops writing, and calls no
// Write, Epoch or Claim of its own while it holds (a Claim waiting at the
// turnstile would wait for the hold, and the call for the Claim).
func (f *Fence) Hold(epoch uint64) (release func() error, err error) {
	if err := f.lockShared(); err != nil {
		return nil, err
	}
	s, err := f.read(f.file)
	if err == nil {
		err = f.refuses("write", epoch, s)
	}
	if err != nil {
		return nil, errors.Join(err, f.unlockShared())
	}
	var once sync.Once
	return func() (err error) {
		once.Do(func() { err = f.unlockShared() })
		return err
	}, nil
}

// refuses says why a claim or write with epoch may not go ahead over what
// the fence file holds, if it may not: the device is another cluster's,
// or a newer epoch holds it — the device record's, or that of a range
// claim overlapping the Fence's range (any range claim, for a Fence of the
// whole device). A record without a cluster (never claimed, or claimed
// before fences carried one) counts as this cluster's.
func (f *Fence) refuses(what string, epoch uint64, s stored) error {
	if s.Cluster != "" && s.Cluster != f.cluster {
		return &OtherClusterError{Device: f.devicePath, Cluster: s.Cluster, Epoch: s.highest(), This: f.cluster}
	}
	if epoch < s.Epoch {
		return fmt.Errorf("fence %s: %s%s with epoch %d refused, device claimed by epoch %d: %w",
			f.devicePath, what, f.rangeText(), epoch, s.Epoch, ErrFenced)
	}
	if c, ok := s.newest(f.rng); ok && epoch < c.Epoch {
		return fmt.Errorf("fence %s: %s%s with epoch %d refused, %s claimed by epoch %d: %w",
			f.devicePath, what, f.rangeText(), epoch, c.Range, c.Epoch, ErrFenced)
	}
	return nil
}

// rangeText names the Fence's range in messages: "" for the whole device.
func (f *Fence) rangeText() string {
	if f.rng == nil {
		return ""
	}
	return " of " + f.rng.String()
}

// Epoch returns the newest epoch that holds the Fence's writes back (the
// device record's, or an overlapping range claim's), 0 for a fence never
// claimed.
func (f *Fence) Epoch() (epoch uint64, err error) {
	if err := f.lockShared(); err != nil {
		return 0, err
	}
	defer keepErr(&err, f.unlockShared)
	s, err := f.read(f.file)
	c, _ := s.newest(f.rng)
	return max(s.Epoch, c.Epoch), err
}

// Close closes the fence's files, which drops its locks.
func (f *Fence) Close() error {
	return errors.Join(f.file.Close(), f.gate.Close())
}

// lockShared passes the turnstile and joins the shared lock on the fence
// file. It waits while a Claim holds either.
func (f *Fence) lockShared() error {
	f.gateMu.Lock()
	defer f.gateMu.Unlock()
	if err := flockWait(f.gate, lockExclusive); err != nil {
		return fmt.Errorf("fence %s: turnstile: %w", f.devicePath, err)
	}
	err := f.addHolder()
	if uerr := funlock(f.gate); uerr != nil {
		uerr = fmt.Errorf("fence %s: turnstile: %w", f.devicePath, uerr)
		if err == nil {
			err = errors.Join(uerr, f.unlockShared())
		}
	}
	return err
}

func (f *Fence) addHolder() error {
	f.holdersMu.Lock()
	defer f.holdersMu.Unlock()
	if f.holders == 0 {
		if err := flockWait(f.file, lockShared); err != nil {
			return fmt.Errorf("fence %s: shared lock: %w", f.path, err)
		}
	}
	f.holders++
	return nil
}

// unlockShared leaves the shared lock, dropping it if no one else is in.
func (f *Fence) unlockShared() error {
	f.holdersMu.Lock()
	defer f.holdersMu.Unlock()
	f.holders--
	if f.holders > 0 {
		return nil
	}
	if err := funlock(f.file); err != nil {
		return fmt.Errorf("fence %s: unlock: %w", f.path, err)
	}
	return nil
}

// read returns what file, which must be locked, holds. It fails with
// ErrReplaced if the fence's path no longer names the file the fence
// opened: the epoch other nodes see would be in another file.
func (f *Fence) read(file *os.File) (stored, error) {
	now, err := os.Stat(f.path)
	if err != nil || !os.SameFile(now, f.info) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return stored{}, fmt.Errorf("fence: %w", err)
		}
		return stored{}, fmt.Errorf("fence %s: %w", f.path, ErrReplaced)
	}
	// One byte more than the file holds (or than a record, the common
	// case, without an allocation), to notice a file that grew.
	var small [recordSize + 1]byte
	buf := small[:]
	if size := now.Size(); size >= recordSize && size <= slotsStart+maxSlots*slotSize {
		buf = make([]byte, size+1)
	}
	n, err := file.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return stored{}, fmt.Errorf("fence: %w", err)
	}
	s, err := decodeFile(buf[:n])
	if err != nil {
		return stored{}, fmt.Errorf("fence %s: %w", f.path, err)
	}
	return s, nil
}

// keepErr runs release and adds its error, if any, to *err; an error of
// the caller's own is kept as it is when release succeeds.
func keepErr(err *error, release func() error) {
	if rerr := release(); rerr != nil {
		*err = errors.Join(*err, rerr)
	}
}

// Remove deletes the fence of a device that has just been created: no one
// can have written the new device under any epoch, and a fence left by an
// earlier device at the same path (of another cluster, whose epochs may be
// higher than this one's) would refuse every writer. A Fence still open on
// the old file reports ErrReplaced from then on.
func Remove(devicePath string) error {
	if err := os.Remove(Path(devicePath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fence: %w", err)
	}
	return nil
}

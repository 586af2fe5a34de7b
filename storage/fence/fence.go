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

func checkCluster(id string) error {
	if id == "" || len(id) > MaxClusterIDLen {
		return fmt.Errorf("fence: cluster id %q: want 1 to %d bytes", id, MaxClusterIDLen)
	}
	return nil
}

// Read returns the record of the fence beside the device at devicePath
// without creating or locking it: the zero Record if there is none. It is
// for a look before a device is registered, not for deciding a write.
func Read(devicePath string) (Record, error) {
	b, err := os.ReadFile(Path(devicePath))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("fence: %w", err)
	}
	r, err := decode(b)
	if err != nil {
		return Record{}, fmt.Errorf("fence %s.fence: %w", devicePath, err)
	}
	return r, nil
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
	stored, err := f.read(f.file)
	if err != nil {
		return err
	}
	if err := f.refuses("write", epoch, stored); err != nil {
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
	stored, err := f.read(f.file)
	if err == nil {
		err = f.refuses("write", epoch, stored)
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

// refuses says why a claim or write with epoch may not go ahead over the
// stored record, if it may not: the device is another cluster's, or a
// newer epoch holds it. A record without a cluster (never claimed, or
// claimed before fences carried one) counts as this cluster's.
func (f *Fence) refuses(what string, epoch uint64, stored Record) error {
	if stored.Cluster != "" && stored.Cluster != f.cluster {
		return &OtherClusterError{Device: f.devicePath, Cluster: stored.Cluster, Epoch: stored.Epoch, This: f.cluster}
	}
	if epoch < stored.Epoch {
		return fmt.Errorf("fence %s: %s with epoch %d refused, device claimed by epoch %d: %w",
			f.devicePath, what, epoch, stored.Epoch, ErrFenced)
	}
	return nil
}

// Epoch returns the stored epoch, 0 for a fence never claimed.
func (f *Fence) Epoch() (epoch uint64, err error) {
	if err := f.lockShared(); err != nil {
		return 0, err
	}
	defer keepErr(&err, f.unlockShared)
	r, err := f.read(f.file)
	return r.Epoch, err
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

// read returns the record stored in file, which must be locked. It fails
// with ErrReplaced if the fence's path no longer names the file the fence
// opened: the epoch other nodes see would be in another file.
func (f *Fence) read(file *os.File) (Record, error) {
	if now, err := os.Stat(f.path); err != nil || !os.SameFile(now, f.info) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Record{}, fmt.Errorf("fence: %w", err)
		}
		return Record{}, fmt.Errorf("fence %s: %w", f.path, ErrReplaced)
	}
	// One byte more than a record, to notice a file that is too long.
	var buf [recordSize + 1]byte
	n, err := file.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return Record{}, fmt.Errorf("fence: %w", err)
	}
	r, err := decode(buf[:n])
	if err != nil {
		return Record{}, fmt.Errorf("fence %s: %w", f.path, err)
	}
	return r, nil
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

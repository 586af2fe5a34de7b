package tape

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// Options configures a Cartridge.
type Options struct {
	// Capacity is the size of the medium in image bytes, record headers
	// and filemarks included. 0 means unlimited.
	Capacity int64
	// EarlyWarning is the size of the early-warning zone that ends at
	// Capacity. Default: 2% of Capacity, at least 1 MiB, at most Capacity.
	// Ignored when Capacity is 0.
	EarlyWarning int64
	// ReadOnly write-protects the cartridge; the image is opened read-only.
	ReadOnly bool
	// BlockSize selects fixed mode with records of that many bytes; 0
	// (the default) is variable mode. SetBlockSize changes it later.
	BlockSize uint32
	// Recover opens an image whose tail is damaged (typically a record cut
	// short by a crash) instead of failing with ErrCorrupt: end of data is
	// put just before the damage, which the next write overwrites. Damage
	// reports what was found. With ReadOnly the image is left as it is:
	// the damaged tail is simply end of data for a reader.
	Recover bool
}

// minEarlyWarning is the smallest default early-warning zone: room for a
// few large records and the filemarks that close a tape file.
const minEarlyWarning = 1 << 20

// DefaultEarlyWarning is the early-warning zone of a cartridge of the
// capacity (> 0) when Options leave it 0: 2% of it, at least 1 MiB, at
// most all of it. Whoever judges a cartridge full from its catalog (the
// state machine's pools) uses it too, so "full" means what a drive says.
func DefaultEarlyWarning(capacity int64) int64 {
	return min(max(capacity/50, minEarlyWarning), capacity)
}

func (o Options) normalized() (Options, error) {
	switch {
	case o.Capacity < 0:
		return o, fmt.Errorf("%w: capacity %d is negative", ErrInvalidArgument, o.Capacity)
	case o.EarlyWarning < 0:
		return o, fmt.Errorf("%w: early-warning zone %d is negative", ErrInvalidArgument, o.EarlyWarning)
	case o.BlockSize > MaxRecordSize:
		return o, fmt.Errorf("%w: block size %d is above the maximum record size %d", ErrInvalidArgument, o.BlockSize, MaxRecordSize)
	case o.Capacity > 0 && o.EarlyWarning > o.Capacity:
		return o, fmt.Errorf("%w: early-warning zone %d is larger than the capacity %d", ErrInvalidArgument, o.EarlyWarning, o.Capacity)
	}
	if o.Capacity > 0 && o.EarlyWarning == 0 {
		o.EarlyWarning = DefaultEarlyWarning(o.Capacity)
	}
	return o, nil
}

// Cartridge is a virtual tape cartridge: one open SIMH image, loaded in a
// virtual drive. It implements Drive. Its methods are safe for concurrent
// use, though a tape, having one position, is naturally used by one
// goroutine at a time.
type Cartridge struct {
	mu      sync.Mutex
	path    string
	f       *os.File // nil once closed
	opt     Options
	ewPoint int64 // writes ending past this offset report early warning

	idx       *index
	pos       uint64 // object id of the next object to read or write
	blockSize uint32

	wb writeBuffer
	// writeback is where the image's bytes start that were handed to the
	// file but whose write-back was not yet started (see startWriteback).
	writeback int64
	// syncing counts Flush calls in their fsync, made without mu so that
	// writes go on meanwhile; Close waits on idle until there are none.
	syncing int
	idle    sync.Cond
	// trunc: the image has bytes after the end of data (a damaged tail,
	// an end-of-medium marker, a failed write) that the next write cuts.
	trunc bool
	// dirty: written since the last fsync.
	dirty bool
	// failed: a buffered write could not reach the image, so records that
	// were acknowledged are missing; every later operation reports it.
	failed error
	damage *CorruptError
	// fromIndexFile: the index came from the image's index file.
	fromIndexFile bool
}

var _ Drive = (*Cartridge)(nil)

// Create makes a blank cartridge image at path, which must not exist.
func Create(path string, opt Options) (*Cartridge, error) {
	opt, err := opt.normalized()
	if err != nil {
		return nil, err
	}
	if opt.ReadOnly {
		return nil, fmt.Errorf("%w: a new cartridge cannot be write protected", ErrInvalidArgument)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("tape: create cartridge: %w", err)
	}
	// The new name must survive a crash as well as the records later
	// flushed into it.
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("tape: create cartridge %s: %w", path, err)
	}
	return newCartridge(path, f, opt, &index{}), nil
}

// Open loads an existing cartridge image, indexing its records with one
// scan of their headers, or from the index file the last Close left when
// it still describes the image (indexfile.go). A structurally invalid image
// fails with a CorruptError (errors.Is ErrCorrupt) unless opt.Recover is
// set.
func Open(path string, opt Options) (*Cartridge, error) {
	opt, err := opt.normalized()
	if err != nil {
		return nil, err
	}
	flag := os.O_RDWR
	if opt.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("tape: open cartridge: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tape: open cartridge: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidArgument, path)
	}
	idx := loadIndex(path, f, st)
	saved := idx != nil
	var damage *CorruptError
	if idx == nil {
		if idx, damage, err = scan(f, st.Size(), path); err != nil {
			f.Close()
			return nil, err
		}
	}
	if damage != nil && !opt.Recover {
		f.Close()
		return nil, damage
	}
	if !opt.ReadOnly && saved {
		// From here on the image may change: the index file must be gone
		// before it does (Close writes it again).
		if err := dropIndex(path); err != nil {
			f.Close()
			return nil, err
		}
		saved = false
	}
	c := newCartridge(path, f, opt, idx)
	c.damage = damage
	c.trunc = st.Size() > idx.end
	c.fromIndexFile = saved
	return c, nil
}

func newCartridge(path string, f *os.File, opt Options, idx *index) *Cartridge {
	c := &Cartridge{path: path, f: f, opt: opt, idx: idx, blockSize: opt.BlockSize, ewPoint: math.MaxInt64, writeback: idx.end}
	c.idle.L = &c.mu
	adviseSequential(f)
	if opt.Capacity > 0 {
		c.ewPoint = opt.Capacity - opt.EarlyWarning
	}
	return c
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path is the image file.
func (c *Cartridge) Path() string { return c.path }

// Damage reports the defect that Open with Recover stopped at, or nil.
func (c *Cartridge) Damage() *CorruptError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.damage
}

// Used is how many bytes of the medium hold data: the image size up to end
// of data.
func (c *Cartridge) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.idx.end
}

// Capacity is the size of the medium, 0 when unlimited.
func (c *Cartridge) Capacity() int64 { return c.opt.Capacity }

// ReadOnly reports write protection.
func (c *Cartridge) ReadOnly() bool { return c.opt.ReadOnly }

// SetBlockSize selects fixed mode with n-byte records, or variable mode
// when n is 0.
func (c *Cartridge) SetBlockSize(n uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return err
	}
	if n > MaxRecordSize {
		return fmt.Errorf("%w: block size %d is above the maximum record size %d", ErrInvalidArgument, n, MaxRecordSize)
	}
	c.blockSize = n
	return nil
}

// BlockSize is the fixed-mode record size, 0 in variable mode.
func (c *Cartridge) BlockSize() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blockSize
}

// Flush writes buffered records to the image and fsyncs it: everything
// acknowledged before the call survives a crash. The fsync runs without
// holding the cartridge, so another goroutine may go on writing meanwhile
// (what it writes is not covered): a copy need not stop for a checkpoint.
func (c *Cartridge) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return err
	}
	if err := c.flushWrites(); err != nil {
		return err
	}
	if !c.dirty {
		return nil
	}
	// Writes after this point set dirty again; only an fsync that started
	// after them may clear it.
	c.dirty = false
	c.syncing++
	c.mu.Unlock()
	err := datasync(c.f)
	c.mu.Lock()
	c.syncing--
	c.idle.Broadcast()
	if err != nil {
		c.dirty = true
		if c.failed == nil {
			c.failed = fmt.Errorf("tape: fsync %s: %w", c.path, err)
		}
		return c.failed
	}
	return nil
}

// sync is Flush for callers that hold mu throughout.
func (c *Cartridge) sync() error {
	if err := c.flushWrites(); err != nil {
		return err
	}
	if !c.dirty {
		return nil
	}
	if err := c.f.Sync(); err != nil {
		c.failed = fmt.Errorf("tape: fsync %s: %w", c.path, err)
		return c.failed
	}
	c.dirty = false
	return nil
}

// Close flushes and fsyncs what was written, as a drive does on unload,
// and closes the image. Every later call returns ErrNotLoaded.
func (c *Cartridge) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return fmt.Errorf("tape: close %s: %w", c.path, ErrNotLoaded)
	}
	for c.syncing > 0 {
		c.idle.Wait()
	}
	if c.f == nil { // closed by another Close while this one waited
		return fmt.Errorf("tape: close %s: %w", c.path, ErrNotLoaded)
	}
	err := c.failed
	if err == nil {
		err = c.sync()
	}
	if err == nil && !c.opt.ReadOnly && !c.trunc && c.damage == nil {
		// The next Open reads the index instead of scanning the image. A
		// cache: failing to write it is not the unload's failure. A
		// read-only Open leaves no file behind (an image being imported,
		// a golden image under testdata).
		_ = saveIndex(c.path, c.f, c.idx)
	}
	err = errors.Join(err, c.f.Close())
	c.f = nil
	return err
}

// ready is the precondition of every operation.
func (c *Cartridge) ready() error {
	if c.f == nil {
		return fmt.Errorf("tape: %s: %w", c.path, ErrNotLoaded)
	}
	return c.failed
}

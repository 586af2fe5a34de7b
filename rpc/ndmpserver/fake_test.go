package ndmpserver

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-san/ferry/storage/library"
	"github.com/ferry-san/ferry/storage/tape"
)

// fakeCluster is a Cluster over one in-memory library whose cartridges are
// real SIMH images in a temporary directory: the services' tests run
// against real tape semantics without a cluster. Holds are per drive.
type fakeCluster struct {
	t   testing.TB
	dir string

	mu        sync.Mutex
	lib       *library.State
	held      map[int]string // drive → holder
	protected map[string]bool
	// Capacity of new cartridges (0: unlimited).
	Capacity int64
}

// newFakeCluster makes library "lib" with 4 slots, 2 drives and 1
// import/export slot, holding cartridges in slots 1.. as given.
func newFakeCluster(t testing.TB, barcodes ...string) *fakeCluster {
	t.Helper()
	lib, err := library.New("lib", 4, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range barcodes {
		if err := lib.Add(b, library.AtSlot(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	return &fakeCluster{t: t, dir: t.TempDir(), lib: lib, held: map[int]string{}, protected: map[string]bool{}}
}

func (c *fakeCluster) NodeName() string { return "n1" }

func (c *fakeCluster) Libraries(context.Context) ([]LibraryView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := LibraryView{State: c.lib.Clone(), Holders: map[int]string{}, Busy: map[string]string{}}
	for d, h := range c.held {
		v.Holders[d] = h
		if b, ok := c.lib.At(library.AtDrive(d)); ok {
			v.Busy[b] = h
		}
	}
	return []LibraryView{v}, nil
}

func (c *fakeCluster) Move(_ context.Context, lib string, from, to library.Location, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lib != c.lib.Name {
		return fmt.Errorf("%w: library %q", ErrNoDevice, lib)
	}
	b, ok := c.lib.At(from)
	if !ok {
		return fmt.Errorf("%v: %w", from, library.ErrEmpty)
	}
	if from.Kind == library.Drive {
		if h, ok := c.held[from.Index]; ok {
			return fmt.Errorf("%s: %w by %s", b, ErrHeld, h)
		}
	}
	return c.lib.Move(b, to)
}

func (c *fakeCluster) OpenDrive(_ context.Context, req DriveRequest) (Drive, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.Library != c.lib.Name || req.Drive < 0 || req.Drive >= c.lib.Drives {
		return nil, fmt.Errorf("%w: %s", ErrNoDevice, DriveName(req.Library, req.Drive))
	}
	b, ok := c.lib.At(library.AtDrive(req.Drive))
	if !ok {
		return nil, ErrNoTape
	}
	if h, ok := c.held[req.Drive]; ok {
		return nil, fmt.Errorf("%w by %s", ErrHeld, h)
	}
	if req.ReadWrite && c.protected[b] {
		return nil, ErrWriteProtected
	}
	path := filepath.Join(c.dir, b+".tap")
	opt := tape.Options{Capacity: c.Capacity, ReadOnly: !req.ReadWrite || c.protected[b], Recover: true}
	t, err := tape.Open(path, opt)
	if err != nil {
		if t, err = tape.Create(path, opt); err != nil {
			return nil, err
		}
	}
	c.held[req.Drive] = "NDMP session from " + req.DMA
	return &fakeDrive{Cartridge: t, c: c, drive: req.Drive, barcode: b, protected: c.protected[b]}, nil
}

type fakeDrive struct {
	*tape.Cartridge
	c         *fakeCluster
	drive     int
	barcode   string
	protected bool
	once      sync.Once
}

func (d *fakeDrive) Barcode() string      { return d.barcode }
func (d *fakeDrive) WriteProtected() bool { return d.protected }

func (d *fakeDrive) Release(context.Context) error {
	var err error
	d.once.Do(func() {
		err = d.Cartridge.Close()
		d.c.mu.Lock()
		delete(d.c.held, d.drive)
		d.c.mu.Unlock()
	})
	return err
}

func (d *fakeDrive) Close() error { return d.Release(context.Background()) }

// holds reports whether a drive is held.
func (c *fakeCluster) holds(drive int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.held[drive]
	return ok
}

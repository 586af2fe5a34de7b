package smc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-san/ferry/internal/goldenhex"
	"github.com/ferry-san/ferry/storage/library"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex golden files")

func checkGolden(t *testing.T, name, title string, got []byte) {
	t.Helper()
	goldenhex.Check(t, filepath.Join("testdata", name+".hex"), title, got, *update)
}

// fakeLibrary is a cluster library in memory: a real library.State, with
// holders and busy cartridges the test sets, and moves applied by the
// library package's own rules.
type fakeLibrary struct {
	mu      sync.Mutex
	state   *library.State
	holders map[int]string
	busy    map[string]string
	// snapErr and moveErr, when set, are returned instead.
	snapErr, moveErr error
	moves            []Move
}

// newFixture is lib1: 4 slots, 1 import/export slot, 2 drives, so the
// transport is @0, slots @1-4, the mail slot @5, drives @6-7. A00001L9 is
// in slot 1, B00001L9 in slot 2, C00001L9 in drive 1 (from slot 3),
// CLN001L1 in the mail slot.
func newFixture(t testing.TB) *fakeLibrary {
	t.Helper()
	s, err := library.New("lib1", 4, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		s.Add("A00001L9", library.AtSlot(1)),
		s.Add("B00001L9", library.AtSlot(2)),
		s.Add("C00001L9", library.AtSlot(3)),
		s.Load("C00001L9", 1),
		s.Add("CLN001L1", library.AtIE(1)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return &fakeLibrary{state: s, holders: map[int]string{}, busy: map[string]string{}}
}

func (f *fakeLibrary) Snapshot(context.Context) (Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapErr != nil {
		return Snapshot{}, f.snapErr
	}
	h := make(map[int]string, len(f.holders))
	for k, v := range f.holders {
		h[k] = v
	}
	b := make(map[string]string, len(f.busy))
	for k, v := range f.busy {
		b[k] = v
	}
	return Snapshot{State: f.state.Clone(), Holders: h, Busy: b}, nil
}

func (f *fakeLibrary) Move(_ context.Context, from, to library.Location) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.moveErr != nil {
		return f.moveErr
	}
	barcode, ok := f.state.At(from)
	if !ok {
		return &library.Error{Err: library.ErrEmpty, Msg: fmt.Sprintf("%v is empty", from)}
	}
	if _, busy := f.busy[barcode]; busy {
		return fmt.Errorf("%s: %w", barcode, ErrHeld)
	}
	if err := f.state.Move(barcode, to); err != nil {
		return err
	}
	f.moves = append(f.moves, Move{From: from, To: to})
	return nil
}

var errNoQuorum = errors.New("no quorum")

// run executes one CDB with a generous data-in buffer.
func run(t testing.TB, d *Device, cdb ...byte) Response {
	t.Helper()
	return d.Execute(context.Background(), Command{CDB: cdb, MaxIn: 1 << 16})
}

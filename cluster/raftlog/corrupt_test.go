// The race detector's runtime dereferences shadow memory for every access, so
// a wild page pointer read from a damaged file crashes it inside C code before
// Go's fault handling (debug.SetPanicOnFault) can turn the fault into the panic
// Store recovers from. This test therefore runs only without -race.

//go:build !race

package raftlog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestDamagedPagesNeverPanic damages a real store's data pages (the two meta
// pages stay intact, so bbolt opens the file) and checks that every operation
// either works or returns an error: a damaged disk must not crash the agent.
func TestDamagedPagesNeverPanic(t *testing.T) {
	template := filepath.Join(t.TempDir(), "template.db")
	s, err := Open(template, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 300; i += 10 {
		batch := make([][2]uint64, 10)
		for j := range batch {
			batch[j] = [2]uint64{i + uint64(j), 1}
		}
		mustSave(t, s, hardState(1, 1, i), ents(batch...), nil)
	}
	if _, err := s.CreateSnapshot(150, nil, make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIdentity(Identity{ClusterID: "c", NodeName: "n", RaftID: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clean, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	if len(clean) < 4*pageSize {
		t.Fatalf("template is only %d bytes", len(clean))
	}
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			damaged := append([]byte(nil), clean...)
			for range 1 + rng.IntN(20) {
				off := 2*pageSize + rng.IntN(len(damaged)-2*pageSize)
				damaged[off] = byte(rng.Uint32())
			}
			path := filepath.Join(t.TempDir(), "raft.db")
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			exercise(t, path)
		})
	}
}

// exercise opens path and uses every read method, then, if the damage went
// unnoticed by all of them, writes. The test fails only by panicking.
func exercise(t *testing.T, path string) {
	s, err := Open(path, Options{CacheEntries: -1})
	if err != nil {
		return
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	var errs []error
	for i := first - 1; i <= last; i++ {
		_, err := s.Term(i)
		errs = append(errs, err)
	}
	if last >= first {
		_, err := s.Entries(first, last+1, noLimit)
		errs = append(errs, err)
	}
	_, _, err = s.InitialState()
	errs = append(errs, err)
	_, err = s.Snapshot()
	errs = append(errs, err)
	_, _, err = s.Identity()
	errs = append(errs, err)
	if errors.Join(errs...) != nil {
		return
	}
	t.Logf("damage not detected by reads; writing")
	_ = s.Save(hardState(2, 2, 2), ents([2]uint64{last + 1, 2}), nil)
	_ = s.Compact(first + 5)
}

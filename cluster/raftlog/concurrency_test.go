package raftlog

import (
	"sync"
	"testing"
)

// TestConcurrentReaders runs status-style readers against a writer; the race
// detector and the invariants checked here catch unsynchronized state.
func TestConcurrentReaders(t *testing.T) {
	s, _ := openTemp(t, Options{CacheEntries: 8})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				if first > last+1 {
					t.Errorf("FirstIndex %d > LastIndex %d + 1", first, last)
					return
				}
				if _, err := s.Snapshot(); err != nil {
					t.Errorf("Snapshot: %v", err)
					return
				}
				if _, _, err := s.InitialState(); err != nil {
					t.Errorf("InitialState: %v", err)
					return
				}
				// Entries may race with a compaction, which is the only
				// error allowed here.
				if last >= first {
					if es, err := s.Entries(first, last+1, noLimit); err == nil && len(es) == 0 {
						t.Errorf("Entries(%d, %d) returned nothing", first, last+1)
						return
					}
				}
			}
		})
	}
	for i := uint64(1); i <= 200; i++ {
		mustSave(t, s, hardState(1, 1, i), ents([2]uint64{i, 1}), nil)
		if i%50 == 0 {
			if _, err := s.CreateSnapshot(i-10, nil, []byte("snap")); err != nil {
				t.Fatal(err)
			}
			if err := s.Compact(i - 20); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
}

package test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/cawcount"
	"github.com/ferry-san/ferry/iscsi/initiator"
)

// cawInitiator is the initiator name of the COMPARE AND WRITE test's
// sessions.
const cawInitiator = "iqn.2026-11.io.ferry:caw-test"

// TestISCSICompareAndWriteAcrossNodes: four initiators, two through n1's
// portal and two through n2's, each add one to a counter stored on the
// same LUN cawRounds times by READ(16) and COMPARE AND WRITE (retrying on
// MISCOMPARE), while two more write, one through each portal, blocks that
// every COMPARE AND WRITE compares and writes back as it read them. The
// agents are separate processes on one image file, so only a lock that
// holds across processes keeps a COMPARE AND WRITE through one node from
// interleaving with another node's: the counter must end at exactly
// 4×cawRounds (no lost update), and no COMPARE AND WRITE may put back a
// block older than a write that had completed before it read (no
// ordinary write lands between its compare and its write).
func TestISCSICompareAndWriteAcrossNodes(t *testing.T) {
	const (
		incrementers = 4
		writers      = 2
		cawRounds    = 100
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m.addEmptyDisk(ctx, "caw", 16<<20)
	nodes := []string{mustNode(t, m.c, "n1").ISCSIAddr(), mustNode(t, m.c, "n2").ISCSIAddr()}
	dial := func(i int) *initiator.Session {
		s, err := initiator.Dial(ctx, nodes[i%2], fmt.Sprintf("%s:%d", cawInitiator, i), iscsiTarget)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		waitLUNs(t, ctx, s, 1)
		return s
	}
	// Block 100 holds the counter; 101 and 102 are the writers'.
	c := cawcount.Counter{LUN: 1, LBA: 100, BlockSize: 512, Blocks: 1 + writers}
	var lastDone [writers]atomic.Uint64 // each writer's last sequence number written with GOOD
	// check judges the blocks a COMPARE AND WRITE is about to compare: each
	// writer's block holds its sequence number, which may not be older
	// than its last write that completed before the read began. (A read
	// is not atomic with respect to a write, so only the first word is
	// judged: it is from one write or the other, both new enough.)
	check := func(before [writers]uint64) func([]byte) error {
		return func(cur []byte) error {
			for w := range writers {
				if seq := binary.BigEndian.Uint64(cur[(1+w)*512:]); seq < before[w] {
					return fmt.Errorf("writer %d's block holds write %d, but write %d had completed: a COMPARE AND WRITE put back what it compared over a write", w, seq, before[w])
				}
			}
			return nil
		}
	}

	incSessions := make([]*initiator.Session, incrementers)
	for i := range incSessions {
		incSessions[i] = dial(i)
	}
	writeSessions := make([]*initiator.Session, writers)
	for i := range writeSessions {
		writeSessions[i] = dial(i)
	}
	start, _, err := c.Read(ctx, incSessions[0])
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wwg sync.WaitGroup
	for w, s := range writeSessions {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			block := make([]byte, 512)
			cdb := make([]byte, 16)
			cdb[0] = 0x8A // WRITE(16)
			binary.BigEndian.PutUint64(cdb[2:10], c.LBA+1+uint64(w))
			cdb[13] = 1
			for seq := uint64(1); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				for i := 0; i < len(block); i += 8 {
					binary.BigEndian.PutUint64(block[i:], seq)
				}
				res, err := s.Command(ctx, 1, cdb, block, 0)
				if err != nil || res.Status != 0 {
					t.Errorf("writer %d: WRITE(16): %v, status %#02x, sense % x", w, err, res.Status, res.Sense)
					return
				}
				lastDone[w].Store(seq)
			}
		}()
	}

	var iwg sync.WaitGroup
	var retries atomic.Int64
	for i, s := range incSessions {
		iwg.Add(1)
		go func() {
			defer iwg.Done()
			for range cawRounds {
				var before [writers]uint64
				for w := range writers {
					before[w] = lastDone[w].Load()
				}
				_, r, err := c.Increment(ctx, s, check(before))
				retries.Add(int64(r))
				if err != nil {
					t.Errorf("incrementer %d (through %s): %v", i, nodes[i%2], err)
					return
				}
			}
		}()
	}
	iwg.Wait()
	close(stop)
	wwg.Wait()
	if t.Failed() {
		return
	}

	end, blocks, err := c.Read(ctx, incSessions[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counter %d → %d through two portals, %d MISCOMPAREs retried", start, end, retries.Load())
	if end-start != incrementers*cawRounds {
		t.Errorf("counter rose by %d, want %d: increments were lost", end-start, incrementers*cawRounds)
	}
	for w := range writers {
		if got, want := binary.BigEndian.Uint64(blocks[(1+w)*512:]), lastDone[w].Load(); got != want {
			t.Errorf("writer %d's block holds write %d after its last write %d", w, got, want)
		}
	}
}

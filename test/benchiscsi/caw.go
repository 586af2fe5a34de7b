package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ferry-san/ferry/internal/cawcount"
	"github.com/ferry-san/ferry/iscsi/initiator"
)

// cawInitiators is how many initiators the COMPARE AND WRITE row runs,
// spread over the portals it is given.
const cawInitiators = 4

// cawResult is one run of the COMPARE AND WRITE row: increments of a
// counter on one LUN by initiators through two nodes' portals.
type cawResult struct {
	ops        int           // COMPARE AND WRITEs that returned GOOD
	miscompare int           // COMPARE AND WRITEs refused because another changed the counter first
	elapsed    time.Duration // from the first command to the last answer
}

// perSecond is the successful COMPARE AND WRITEs per second.
func (r cawResult) perSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// cawRun has cawInitiators initiators, spread round-robin over addrs (two
// nodes' portals of one target), add one to a counter in block 0 of LUN
// lun for d, each by READ(16) and COMPARE AND WRITE, starting over on
// MISCOMPARE. The counter must rise by exactly the number of COMPARE AND
// WRITEs that returned GOOD, or an update was lost and the run fails: the
// figure counts only atomic operations.
func cawRun(ctx context.Context, addrs []string, iqn string, lun uint32, d time.Duration) (cawResult, error) {
	c := cawcount.Counter{LUN: uint64(lun), LBA: 0, BlockSize: blockSize, Blocks: 1}
	sessions := make([]*initiator.Session, cawInitiators)
	for i := range sessions {
		s, err := initiator.Dial(ctx, addrs[i%len(addrs)], fmt.Sprintf("%s:caw%d", initiatorName, i), iqn)
		if err != nil {
			return cawResult{}, err
		}
		defer s.Close()
		if _, err := capacity(ctx, s, lun); err != nil { // clears a first UNIT ATTENTION
			return cawResult{}, err
		}
		sessions[i] = s
	}
	before, _, err := c.Read(ctx, sessions[0])
	if err != nil {
		return cawResult{}, err
	}
	var (
		mu   sync.Mutex
		res  cawResult
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ops, retries int
			for time.Since(start) < d {
				_, r, err := c.Increment(ctx, s, nil)
				retries += r
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("initiator %d through %s: %w", i, addrs[i%len(addrs)], err))
					mu.Unlock()
					break
				}
				ops++
			}
			mu.Lock()
			res.ops += ops
			res.miscompare += retries
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if len(errs) > 0 {
		return cawResult{}, errs[0]
	}
	after, _, err := c.Read(ctx, sessions[0])
	if err != nil {
		return cawResult{}, err
	}
	if after-before != uint64(res.ops) {
		return cawResult{}, fmt.Errorf("COMPARE AND WRITE lost updates: the counter rose by %d, but %d returned GOOD", after-before, res.ops)
	}
	return res, nil
}

// measureCAW runs cawRun -rounds times on the destination LUN through n1's
// and n2's portals.
func measureCAW(ctx context.Context, o options, f *ferryNode, log *slog.Logger) ([]cawResult, error) {
	var runs []cawResult
	for round := range o.rounds {
		r, err := cawRun(ctx, []string{f.addr, f.addr2}, f.iqn, f.dst.GetLun(), o.runFor)
		if err != nil {
			return nil, fmt.Errorf("COMPARE AND WRITE, round %d: %w", round+1, err)
		}
		log.Info("run", "workload", "COMPARE AND WRITE", "round", round+1, "ops/s", fmt.Sprintf("%.0f", r.perSecond()),
			"miscompares", r.miscompare)
		runs = append(runs, r)
	}
	return runs, nil
}

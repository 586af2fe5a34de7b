package fence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// pollInterval is how often a waiting Claim retries its locks. It is short
// next to a device write, so a claim waits little past the write it waits
// for, and a few hundred failed flock calls a second cost nothing measurable.
const pollInterval = 2 * time.Millisecond

// Claim raises the device's epoch to epoch, durably, for the Fence's
// cluster (for a Fence of a range, OpenRange, the range's epoch). It refuses with an error wrapping ErrFenced if a higher epoch is
// stored, and with an *OtherClusterError (errors.Is ErrOtherCluster) if
// another cluster's epochs are; the same epoch is claimed again (an owner
// restarted keeps its epoch). It waits for the device's writes in flight
// to return, and holds back new ones meanwhile; cancelling ctx gives up
// the wait.
func (f *Fence) Claim(ctx context.Context, epoch uint64) error {
	return f.claim(ctx, epoch, false)
}

// TakeOver makes the fence this cluster's at epoch, whatever it held: the
// operator's decision that a device another cluster fenced (a cluster
// rebuilt, a LUN or cartridge moved between clusters) is this one's now.
// Epochs of different clusters do not compare, so the stored one is
// replaced, not raised. Like Claim it waits for writes in flight; a writer
// of the other cluster still running is refused from then on.
func (f *Fence) TakeOver(ctx context.Context, epoch uint64) error {
	return f.claim(ctx, epoch, true)
}

func (f *Fence) claim(ctx context.Context, epoch uint64, takeOver bool) (err error) {
	if takeOver && f.rng != nil {
		return fmt.Errorf("fence %s: a take-over is of the whole device, not of %s", f.devicePath, f.rng)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fence %s: claim epoch %d: %w", f.devicePath, epoch, err)
	}
	// Descriptors of the claim's own, so that its locks conflict with this
	// Fence's Writes too. Closing them drops the locks.
	gate, err := openDevice(f.devicePath)
	if err != nil {
		return err
	}
	defer keepErr(&err, gate.Close)
	file, err := os.OpenFile(f.path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fence %s: %w", f.path, ErrReplaced)
	}
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	defer keepErr(&err, file.Close)

	// The turnstile first: holding it keeps new writes from overlapping the
	// ones in flight forever while we wait for those to drain.
	if err := pollLock(ctx, gate); err != nil {
		return fmt.Errorf("fence %s: claim epoch %d: turnstile: %w", f.devicePath, epoch, err)
	}
	if err := pollLock(ctx, file); err != nil {
		return fmt.Errorf("fence %s: claim epoch %d: %w", f.path, epoch, err)
	}
	s, err := f.read(file)
	if err != nil {
		return err
	}
	if !takeOver {
		if err := f.refuses("claim", epoch, s); err != nil {
			return err
		}
	}
	if f.rng != nil {
		return f.claimRange(file, epoch, s)
	}
	if err := f.writeRecord(file, Record{Cluster: f.cluster, Epoch: epoch}, s); err != nil {
		return err
	}
	if len(s.slots) > 0 {
		// The device's epoch now holds back every writer a range claim
		// did (none was newer, or the claim was refused), and after a
		// TakeOver the ranges' epochs are another cluster's: the table
		// goes. Only after the record is durable, so that a crash in
		// between leaves both, which refuse no less than the record.
		if err := file.Truncate(recordSize); err != nil {
			return fmt.Errorf("fence: %w", err)
		}
		if err := datasync(file); err != nil {
			return fmt.Errorf("fence %s: sync: %w", f.path, err)
		}
	}
	return nil
}

// writeRecord stores the device record r over s, the file's content,
// durably.
func (f *Fence) writeRecord(file *os.File, r Record, s stored) error {
	if _, err := file.WriteAt(encode(r), 0); err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	if err := datasync(file); err != nil {
		return fmt.Errorf("fence %s: sync: %w", f.path, err)
	}
	if s.Record == (Record{}) && len(s.slots) == 0 {
		// Possibly the first record of a file Open just created: its
		// directory entry must be durable too, or a crash could take the
		// whole file, and the epoch, away.
		if err := syncDir(filepath.Dir(f.path)); err != nil {
			return fmt.Errorf("fence %s: sync directory: %w", f.path, err)
		}
	}
	return nil
}

// claimRange records the claim of the Fence's range by epoch in the range
// table of file, whose content is s; refuses has let it through. Every
// step is one pwrite of a record or a slot (never torn), and each leaves
// a file that refuses at least every write the file before it refused:
//
//  1. a record without a cluster gets this cluster's, at its epoch;
//  2. the claim goes into a slot that decides nothing (the same range at
//     an epoch no newer, which the claim supersedes; a free slot; one
//     whose epoch the record's covers; or a new one at the end), durably;
//  3. only then are the slots the new claim covers (a range inside its
//     own at an epoch no newer) freed, which changes no decision.
//
// A crash between steps leaves slots that decide nothing, reused or freed
// by later claims.
func (f *Fence) claimRange(file *os.File, epoch uint64, s stored) error {
	r := *f.rng
	if s.Cluster == "" {
		if err := f.writeRecord(file, Record{Cluster: f.cluster, Epoch: s.Epoch}, s); err != nil {
			return err
		}
	}
	at := slices.IndexFunc(s.slots, func(c *rangeClaim) bool { return c != nil && c.Range == r })
	if at < 0 {
		at = slices.IndexFunc(s.slots, func(c *rangeClaim) bool { return c == nil || c.Epoch <= s.Epoch })
	}
	if at < 0 {
		if len(s.slots) >= maxSlots {
			return fmt.Errorf("fence %s: claim %s with epoch %d: %d range claims: %w", f.devicePath, r, epoch, len(s.slots), ErrTooManyRanges)
		}
		at = len(s.slots)
		s.slots = append(s.slots, nil)
	}
	if _, err := file.WriteAt(encodeSlot(rangeClaim{Range: r, Epoch: epoch}), slotOffset(at)); err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	if err := datasync(file); err != nil {
		return fmt.Errorf("fence %s: sync: %w", f.path, err)
	}
	free := make([]byte, slotSize)
	for i, c := range s.slots {
		if i == at || c == nil || !(r.Contains(c.Range) && c.Epoch <= epoch || c.Epoch <= s.Epoch) {
			continue
		}
		if _, err := file.WriteAt(free, slotOffset(i)); err != nil {
			return fmt.Errorf("fence: %w", err)
		}
	}
	return nil
}

// pollLock takes an exclusive lock on file, retrying every pollInterval
// until ctx is done.
func pollLock(ctx context.Context, file *os.File) error {
	var retry *time.Timer
	for {
		ok, err := flockTry(file, lockExclusive)
		if err != nil || ok {
			return err
		}
		if retry == nil {
			retry = time.NewTimer(pollInterval)
			defer retry.Stop()
		} else {
			retry.Reset(pollInterval)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-retry.C:
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

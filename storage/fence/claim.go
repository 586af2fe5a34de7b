package fence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// pollInterval is how often a waiting Claim retries its locks. It is short
// next to a device write, so a claim waits little past the write it waits
// for, and a few hundred failed flock calls a second cost nothing measurable.
const pollInterval = 2 * time.Millisecond

// Claim raises the device's epoch to epoch, durably, for the Fence's
// cluster. It refuses with an error wrapping ErrFenced if a higher epoch is
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
	stored, err := f.read(file)
	if err != nil {
		return err
	}
	if !takeOver {
		if err := f.refuses("claim", epoch, stored); err != nil {
			return err
		}
	}
	rec := encode(Record{Cluster: f.cluster, Epoch: epoch})
	if _, err := file.WriteAt(rec, 0); err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	if err := datasync(file); err != nil {
		return fmt.Errorf("fence %s: sync: %w", f.path, err)
	}
	if stored == (Record{}) {
		// Possibly the first record of a file Open just created: its
		// directory entry must be durable too, or a crash could take the
		// whole file, and the epoch, away.
		if err := syncDir(filepath.Dir(f.path)); err != nil {
			return fmt.Errorf("fence %s: sync directory: %w", f.path, err)
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

package fence

import (
	"errors"
	"fmt"
)

var (
	// ErrFenced reports that a newer epoch than the caller's holds the device.
	ErrFenced = errors.New("fence: a newer epoch holds the device")
	// ErrUnsupported reports a device that is not a regular file (a tape
	// drive such as /dev/nst0, a block device, a directory): no fence file
	// can sit beside it, or flock is not available on this system.
	ErrUnsupported = errors.New("fence: device cannot be fenced (not a regular file)")
	// ErrCorrupt reports a fence file that holds no valid record. Neither
	// Claim nor Write proceeds until it is repaired.
	ErrCorrupt = errors.New("fence: damaged fence record")
	// ErrReplaced reports that the fence file a Fence opened is no longer
	// the one at its path (it was deleted or replaced), so the epoch it holds
	// may not be the one other nodes see. Open the fence again.
	ErrReplaced = errors.New("fence: fence file was removed or replaced since it was opened")
	// ErrOtherCluster reports a device whose fence counts another cluster's
	// epochs: its epochs cannot be compared with this cluster's, so the
	// device is refused until an operator takes it over.
	ErrOtherCluster = errors.New("fence: the device is fenced by another cluster")
	// ErrTooManyRanges reports a range claim refused because the fence's
	// range table is full of claims that still decide writes. A claim of
	// the whole device empties it.
	ErrTooManyRanges = errors.New("fence: too many range claims on the device")
)

// OtherClusterError is a claim or write refused because another cluster's
// epochs fence the device. errors.Is(err, ErrOtherCluster) holds.
type OtherClusterError struct {
	Device string
	// Cluster and Epoch are what the fence holds; This is the refused
	// cluster's id.
	Cluster string
	Epoch   uint64
	This    string
}

func (e *OtherClusterError) Error() string {
	return fmt.Sprintf("fence %s: the device is fenced by cluster %s (epoch %d), not by this cluster (%s)", e.Device, e.Cluster, e.Epoch, e.This)
}

func (e *OtherClusterError) Is(target error) bool { return target == ErrOtherCluster }

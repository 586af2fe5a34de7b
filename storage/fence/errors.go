package fence

import "errors"

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
)

package raftlog

import "errors"

// Sentinel errors returned (wrapped, with the file's path) by Open. Check them
// with errors.Is.
var (
	// ErrCorrupt means the file exists but cannot be read as a Ferry raft
	// log: it is not a valid bbolt file, or a Ferry value fails to decode.
	ErrCorrupt = errors.New("raft log file is corrupt")
	// ErrNotRaftLog means the file is a valid bbolt database that was not
	// written by Ferry's raftlog (or by an unsupported format version).
	ErrNotRaftLog = errors.New("file is not a Ferry raft log")
	// ErrLocked means another process holds the file open.
	ErrLocked = errors.New("raft log file is locked")
)

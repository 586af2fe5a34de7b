package raftlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Options configure Open. Zero values mean the documented defaults.
type Options struct {
	// LockTimeout bounds waiting for another process's lock on the file
	// (default 1s); on timeout Open returns an error wrapping ErrLocked saying
	// the data dir is in use by another process.
	LockTimeout time.Duration
	// CacheEntries bounds how many of the most recent log entries are kept in
	// memory to serve Entries and Term without decoding them from the file
	// (default 1024; negative disables the cache). The cache also never holds
	// more than 16 MiB of entries.
	CacheEntries int
}

const (
	defaultLockTimeout  = time.Second
	defaultCacheEntries = 1024
	cacheMaxBytes       = 16 << 20
)

func (o Options) withDefaults() Options {
	if o.LockTimeout <= 0 {
		o.LockTimeout = defaultLockTimeout
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = defaultCacheEntries
	}
	return o
}

// Store is a raft.Storage persisted in one bbolt file. It is safe for
// concurrent use.
type Store struct {
	path string
	db   *bolt.DB

	// first and last mirror the log bounds so FirstIndex and LastIndex do no
	// IO and never wait behind a Save's fsync. Written only with mu held.
	first, last atomic.Uint64

	// mu is held exclusively for a whole write transaction, so readers never
	// combine in-memory bounds with file contents from a different state.
	mu         sync.RWMutex
	hardState  *pb.HardState
	snapMeta   *pb.SnapshotMetadata
	dummyIndex uint64 // the compaction point: the entry before FirstIndex
	dummyTerm  uint64
	cache      entryCache
}

// Open opens the raft log at path, creating the file (and its parent
// directory) if missing.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("raftlog: create data dir for %s: %w", path, err)
	}
	db, err := openBolt(path, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	s := &Store{
		path:  path,
		db:    db,
		cache: newEntryCache(opts.CacheEntries, cacheMaxBytes),
	}
	if err := s.initIfFresh(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the file and its lock. The Store must not be used afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raftlog: close %s: %w", s.path, err)
	}
	return nil
}

func openBolt(path string, lockTimeout time.Duration) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(path, &err)
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      lockTimeout,
		FreelistType: bolt.FreelistMapType,
		// The freelist stays synced (NoFreelistSync off): rebuilding it at
		// open walks every page in a goroutine of bbolt's own, where a
		// corrupt page would crash the process beyond our recover.
	})
	if err == nil {
		return db, nil
	}
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("raftlog: %s: data dir is in use by another process (lock not acquired within %s): %w",
			path, lockTimeout, ErrLocked)
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		// Permissions, missing disk and the like: the file's content is not at fault.
		return nil, fmt.Errorf("raftlog: open %s: %w", path, err)
	}
	// bbolt rejected the content (bad meta pages, wrong size, bad checksum).
	return nil, fmt.Errorf("raftlog: %s is not a valid bbolt file (%v): %w", path, err, ErrCorrupt)
}

// recoverCorrupt turns a bbolt panic, which it raises on some corrupt pages,
// into an ErrCorrupt error for the deferring function. Callers also enable
// debug.SetPanicOnFault so that a corrupt page reference faulting outside the
// mmap panics (recoverably) instead of crashing the process.
func recoverCorrupt(path string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("raftlog: %s: reading the file failed (%v): %w", path, r, ErrCorrupt)
	}
}

func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(s.path, &err)
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(s.path, &err)
	return s.db.Update(fn)
}

func (s *Store) corrupt(format string, args ...any) error {
	return fmt.Errorf("raftlog: %s: %s: %w", s.path, fmt.Sprintf(format, args...), ErrCorrupt)
}

// initIfFresh writes the format marker and an empty log into a database with
// no buckets at all: a new file, or one whose creation was interrupted before
// the marker was committed. Any other content is left untouched.
func (s *Store) initIfFresh() error {
	fresh := true
	err := s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func([]byte, *bolt.Bucket) error {
			fresh = false
			return nil
		})
	})
	if err != nil || !fresh {
		return err
	}
	err = s.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyMagic, formatMagic); err != nil {
			return err
		}
		if err := meta.Put(keyVersion, encodeVersion(formatVersion)); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketSnapshot); err != nil {
			return err
		}
		ents, err := tx.CreateBucket(bucketEntries)
		if err != nil {
			return err
		}
		return putEntry(ents, dummyEntry(0, 0))
	})
	if err != nil {
		return fmt.Errorf("raftlog: initialize %s: %w", s.path, err)
	}
	return nil
}

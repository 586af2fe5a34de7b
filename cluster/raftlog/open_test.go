package raftlog

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpenRejects covers files Open must refuse, with an error naming the file.
func TestOpenRejects(t *testing.T) {
	randomFile := func(size int) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			rng := rand.New(rand.NewPCG(uint64(size), 42))
			b := make([]byte, size)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// withBolt writes a bbolt file the way another program (or a damaged
	// Ferry file) would look.
	withBolt := func(fn func(tx *bolt.Tx) error) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(fn); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// ferryThen creates a real store, then damages it.
	ferryThen := func(fn func(tx *bolt.Tx) error) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Save(hardState(1, 1, 1), ents([2]uint64{1, 1}, [2]uint64{2, 1}, [2]uint64{3, 1}), nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			withBolt(fn)(t, path)
		}
	}
	put := func(bucket, key, value []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, value) }
	}
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		wantErr error
	}{
		{"random 10 bytes", randomFile(10), ErrCorrupt},
		{"random 100 bytes", randomFile(100), ErrCorrupt},
		{"random 4 KiB", randomFile(4096), ErrCorrupt},
		{"random 64 KiB", randomFile(64 << 10), ErrCorrupt},
		{"random 1 MiB", randomFile(1 << 20), ErrCorrupt},
		{"other program's bbolt", withBolt(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("users"))
			if err != nil {
				return err
			}
			return b.Put([]byte("alice"), []byte("admin"))
		}), ErrNotRaftLog},
		{"other program's meta bucket", withBolt(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("meta"))
			if err != nil {
				return err
			}
			return b.Put([]byte("magic"), []byte("something else"))
		}), ErrNotRaftLog},
		{"future format version", ferryThen(put(bucketMeta, keyVersion, encodeVersion(2))), ErrNotRaftLog},
		{"bad version value", ferryThen(put(bucketMeta, keyVersion, []byte{1})), ErrCorrupt},
		{"bad hard state", ferryThen(put(bucketMeta, keyHardState, []byte{0xff, 0xff, 0xff})), ErrCorrupt},
		{"bad identity", ferryThen(put(bucketMeta, keyIdentity, []byte("{not json"))), ErrCorrupt},
		{"bad snapshot metadata", ferryThen(put(bucketSnapshot, keySnapMeta, []byte{0x0a, 0x05, 0x01})), ErrCorrupt},
		{"bad last entry", ferryThen(put(bucketEntries, indexKey(3), []byte{0xff})), ErrCorrupt},
		{"entry under wrong key", ferryThen(func(tx *bolt.Tx) error {
			v, err := sealProto(ent(7, 1))
			if err != nil {
				return err
			}
			return tx.Bucket(bucketEntries).Put(indexKey(3), v)
		}), ErrCorrupt},
		{"damaged middle entry", ferryThen(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEntries)
			v := bytes.Clone(b.Get(indexKey(2)))
			v[len(v)-1] ^= 1
			return b.Put(indexKey(2), v)
		}), ErrCorrupt},
		{"checksum mismatch", ferryThen(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			v := bytes.Clone(b.Get(keyHardState))
			v[len(v)-1] ^= 1
			return b.Put(keyHardState, v)
		}), ErrCorrupt},
		{"gap in log", ferryThen(func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Delete(indexKey(2)) }), ErrCorrupt},
		{"bad entry key", ferryThen(put(bucketEntries, []byte("x"), []byte{})), ErrCorrupt},
		{"entries bucket missing", ferryThen(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketEntries) }), ErrCorrupt},
		{"snapshot bucket missing", ferryThen(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketSnapshot) }), ErrCorrupt},
		{"log empty", ferryThen(func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(bucketEntries); err != nil {
				return err
			}
			_, err := tx.CreateBucket(bucketEntries)
			return err
		}), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			tt.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error %q does not name the file %s", err, path)
			}
			if tt.wantErr == ErrNotRaftLog {
				after, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if string(after) != string(before) {
					t.Fatal("Open modified a file that is not a Ferry raft log")
				}
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	s, path := openTemp(t, Options{})
	start := time.Now()
	s2, err := Open(path, Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open error = %v, want ErrLocked saying the data dir is in use", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("second Open waited %s despite a 200ms lock timeout", waited)
	}
	// Once the holder closes, the file opens again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	_ = s3.Close()
}

// TestOpenEmptyBolt covers a creation interrupted after bbolt wrote its meta
// pages but before Ferry's marker was committed: the store is initialized.
func TestOpenEmptyBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of an empty bbolt file: %v", err)
	}
	defer s.Close()
	if last, _ := s.LastIndex(); last != 0 {
		t.Fatalf("LastIndex = %d, want 0", last)
	}
}

func TestOpenUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	_, err := Open(filepath.Join(dir, "raft.db"), Options{})
	if err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotRaftLog) {
		t.Fatalf("Open in a read-only dir: error = %v, want a plain I/O error", err)
	}
}

// TestDamagedValuesDetected damages values behind an open store's back (as a
// failing disk would) and checks the read that meets them reports ErrCorrupt
// instead of returning altered data.
func TestDamagedValuesDetected(t *testing.T) {
	flip := func(bucket, key []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			v := bytes.Clone(b.Get(key))
			v[len(v)-1] ^= 0x10
			return b.Put(key, v)
		}
	}
	tests := []struct {
		name   string
		damage func(tx *bolt.Tx) error
		read   func(s *Store) error
	}{
		{"entry via Entries", flip(bucketEntries, indexKey(2)), func(s *Store) error {
			_, err := s.Entries(1, 4, noLimit)
			return err
		}},
		{"entry via Term", flip(bucketEntries, indexKey(2)), func(s *Store) error {
			_, err := s.Term(2)
			return err
		}},
		{"snapshot data", flip(bucketSnapshot, keySnapData), func(s *Store) error {
			_, err := s.Snapshot()
			return err
		}},
		{"identity", flip(bucketMeta, keyIdentity), func(s *Store) error {
			_, _, err := s.Identity()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t, Options{CacheEntries: -1})
			mustSave(t, s, hardState(1, 1, 3), ents([2]uint64{1, 1}, [2]uint64{2, 1}, [2]uint64{3, 1}), nil)
			if _, err := s.CreateSnapshot(2, nil, []byte("state")); err != nil {
				t.Fatal(err)
			}
			if err := s.SetIdentity(Identity{NodeName: "a"}); err != nil {
				t.Fatal(err)
			}
			if err := s.update(tt.damage); err != nil {
				t.Fatal(err)
			}
			if err := tt.read(s); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read of a damaged value: error = %v, want ErrCorrupt", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Open checks the log and identity up front; the snapshot data,
			// possibly large, is checked when read.
			s2, err := Open(path, Options{})
			if err == nil {
				err = tt.read(s2)
				_ = s2.Close()
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("reopen and read: error = %v, want ErrCorrupt", err)
			}
		})
	}
}

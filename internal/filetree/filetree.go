// Package filetree generates directory trees that a backup must carry
// whole — many files, long and non-ASCII names, symbolic and hard links, a
// sparse file, every permission, old modification times — and compares a
// recovered tree with its original, for the NDMP tests and benchmark.
//
// Generate is deterministic for a seed, so two runs back up the same tree.
// Compare checks what a restore must reproduce: the set of names, each
// entry's type, permission bits and modification time (to the second, as
// ustar keeps it), regular files' bytes, symbolic links' targets and which
// names are hard links of one another. Ownership is not compared (a test
// may run unprivileged), nor symbolic links' own times.
package filetree

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Spec describes a tree.
type Spec struct {
	// Bytes is roughly the data the regular files hold (the sparse file's
	// holes not counted).
	Bytes int64
	// Files is the number of regular files, links not counted.
	Files int
	// Seed makes the tree reproducible.
	Seed uint64
}

// Stats is what Generate made.
type Stats struct {
	Files, Dirs, Symlinks, HardLinks int
	// Bytes is the data written to regular files.
	Bytes int64
	// Sample is the relative path of one small regular file deep in the
	// tree, for a single-file restore.
	Sample string
	// Sparse is the relative path of the sparse file.
	Sparse string
}

// perms are the permission bits files and directories get in turn.
var (
	filePerms = []fs.FileMode{0o644, 0o600, 0o755, 0o444, 0o640, 0o700, 0o664, 0o400}
	dirPerms  = []fs.FileMode{0o755, 0o750, 0o700, 0o775}
)

// Generate creates the tree in dir, which must be empty or absent.
func Generate(dir string, spec Spec) (Stats, error) {
	var st Stats
	if spec.Files < 10 {
		return st, errors.New("filetree: at least 10 files")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, err
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	// File contents from AES-CTR keyed by the seed: deterministic, as
	// incompressible as real data, and fast even in a race-detector build
	// (the cipher is assembly, which the detector does not instrument).
	data, err := newStream(spec.Seed)
	if err != nil {
		return st, err
	}

	// Directories: about one per 100 files, up to three deep, some with
	// names long enough that a path no longer fits ustar's 100+155 bytes.
	nDirs := max(spec.Files/100, 3)
	dirs := []string{"."}
	for i := range nDirs {
		parent := dirs[rng.IntN(len(dirs))]
		if strings.Count(parent, "/") >= 3 {
			parent = "."
		}
		name := fmt.Sprintf("dir%03d", i)
		switch i % 7 {
		case 3:
			name += "-" + strings.Repeat("long-directory-name-", 8)
		case 5:
			name += "-répertoire-目录"
		}
		dirs = append(dirs, filepath.Join(parent, name))
		if err := os.Mkdir(filepath.Join(dir, dirs[len(dirs)-1]), 0o755); err != nil {
			return st, err
		}
		st.Dirs++
	}
	if err := os.Mkdir(filepath.Join(dir, "empty-dir"), 0o755); err != nil {
		return st, err
	}
	dirs = append(dirs, "empty-dir")
	st.Dirs++

	// One big file holds a quarter of the bytes, a sparse file a little;
	// the rest is spread over the small files, sizes drawn around their
	// mean (some empty).
	big := spec.Bytes / 4
	const sparseData = 1 << 20
	small := spec.Bytes - big - 2*sparseData
	mean := max(small/int64(spec.Files-2), 1)
	buf := make([]byte, 1<<20)
	write := func(path string, size int64, perm fs.FileMode) error {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		for left := size; left > 0; {
			chunk := buf[:min(left, int64(len(buf)))]
			data.read(chunk)
			if _, err := f.Write(chunk); err != nil {
				f.Close()
				return err
			}
			left -= int64(len(chunk))
		}
		if err := f.Close(); err != nil {
			return err
		}
		st.Bytes += size
		return os.Chmod(path, perm)
	}
	var files []string
	for i := range spec.Files - 2 {
		d := dirs[rng.IntN(len(dirs)-1)] // never in empty-dir
		name := fmt.Sprintf("f%05d.dat", i)
		switch {
		case i%50 == 7:
			name = fmt.Sprintf("f%05d-%s.dat", i, strings.Repeat("a-rather-long-file-name-", 9)) // > 200 bytes
		case i%97 == 11:
			name = fmt.Sprintf("fichier-%05d-ünïcødé-ファイル.txt", i)
		case i%61 == 13:
			name = fmt.Sprintf("with spaces and 'quotes' %05d", i)
		}
		var size int64
		switch {
		case i%40 == 0:
			size = 0
		default:
			size = rng.Int64N(2*mean + 1)
		}
		rel := filepath.Join(d, name)
		if err := write(filepath.Join(dir, rel), size, filePerms[i%len(filePerms)]); err != nil {
			return st, err
		}
		files = append(files, rel)
		st.Files++
	}
	if err := write(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		return st, err
	}
	files = append(files, "big.bin")
	st.Files++
	// The sparse file: 16 MiB long, data at its start and at 8 MiB.
	st.Sparse = filepath.Join(dirs[1], "sparse.img")
	if err := writeSparse(filepath.Join(dir, st.Sparse), 16<<20, sparseData, data); err != nil {
		return st, err
	}
	st.Bytes += 2 * sparseData
	st.Files++
	for _, f := range files {
		if strings.Count(f, "/") >= 2 && !strings.Contains(f, "long") && !strings.Contains(f, " ") {
			st.Sample = f
			break
		}
	}
	if st.Sample == "" {
		st.Sample = files[len(files)/2]
	}

	// Hard links: one per 200 files, some across directories.
	for i := range max(spec.Files/200, 2) {
		target := files[rng.IntN(len(files)-1)]
		link := filepath.Join(dirs[rng.IntN(len(dirs)-1)], fmt.Sprintf("hardlink%03d", i))
		if err := os.Link(filepath.Join(dir, target), filepath.Join(dir, link)); err != nil {
			return st, err
		}
		st.HardLinks++
	}
	// Symbolic links: to files (relative and absolute), to directories,
	// dangling.
	for i := range max(spec.Files/200, 4) {
		d := dirs[rng.IntN(len(dirs)-1)]
		var target string
		switch i % 4 {
		case 0:
			rel, err := filepath.Rel(d, files[rng.IntN(len(files))])
			if err != nil {
				return st, err
			}
			target = rel
		case 1:
			target = "/etc/hostname"
		case 2:
			rel, err := filepath.Rel(d, dirs[rng.IntN(len(dirs))])
			if err != nil {
				return st, err
			}
			target = rel
		default:
			target = fmt.Sprintf("nowhere/dangling-%d", i)
		}
		if err := os.Symlink(target, filepath.Join(dir, d, fmt.Sprintf("symlink%03d", i))); err != nil {
			return st, err
		}
		st.Symlinks++
	}

	// Times last, deepest first, so that creating entries does not move
	// their directories' times again; permissions of directories last of
	// all (a read-only directory would refuse the times of its entries).
	base := time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC)
	span := int64(24 * 365 * 24 * time.Hour / time.Second)
	var all []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		all = append(all, path)
		return nil
	})
	if err != nil {
		return st, err
	}
	slices.Reverse(all)
	for _, p := range all {
		t := base.Add(time.Duration(rng.Int64N(span)) * time.Second)
		fi, err := os.Lstat(p)
		if err != nil {
			return st, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if err := os.Chtimes(p, t, t); err != nil {
			return st, err
		}
	}
	i := 0
	for _, p := range all {
		fi, err := os.Lstat(p)
		if err != nil {
			return st, err
		}
		if fi.IsDir() && p != dir {
			mt := fi.ModTime()
			if err := os.Chmod(p, dirPerms[i%len(dirPerms)]); err != nil {
				return st, err
			}
			if err := os.Chtimes(p, mt, mt); err != nil {
				return st, err
			}
			i++
		}
	}
	return st, nil
}

func writeSparse(path string, size, chunk int64, data *stream) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, chunk)
	for _, off := range []int64{0, size / 2} {
		data.read(buf)
		if _, err := f.WriteAt(buf, off); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Compare reports how got differs from want: at most limit differences
// (0: all), each one line naming the relative path.
func Compare(want, got string, limit int) ([]string, error) {
	var diffs []string
	add := func(format string, args ...any) bool {
		diffs = append(diffs, fmt.Sprintf(format, args...))
		return limit > 0 && len(diffs) >= limit
	}
	type inode struct{ dev, ino uint64 }
	wantLinks := map[inode][]string{}
	seen := map[string]bool{}
	errLimit := errors.New("limit")
	bufA, bufB := make([]byte, 256<<10), make([]byte, 256<<10) // reused: 10,000 files
	err := filepath.WalkDir(want, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(want, path)
		if err != nil {
			return err
		}
		seen[rel] = true
		wi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		gi, err := os.Lstat(filepath.Join(got, rel))
		if err != nil {
			if add("%s: missing (%v)", rel, errors.Unwrap(err)) {
				return errLimit
			}
			if wi.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if wi.Mode().Type() != gi.Mode().Type() {
			if add("%s: %v, want %v", rel, gi.Mode().Type(), wi.Mode().Type()) {
				return errLimit
			}
			return nil
		}
		if ws, ok := wi.Sys().(*syscall.Stat_t); ok && ws.Nlink > 1 && wi.Mode().IsRegular() {
			k := inode{uint64(ws.Dev), ws.Ino}
			wantLinks[k] = append(wantLinks[k], rel)
		}
		switch {
		case wi.Mode()&fs.ModeSymlink != 0:
			wt, _ := os.Readlink(path)
			gt, _ := os.Readlink(filepath.Join(got, rel))
			if wt != gt && add("%s: symlink to %q, want %q", rel, gt, wt) {
				return errLimit
			}
			return nil
		case wi.Mode().IsRegular():
			if wi.Size() != gi.Size() {
				if add("%s: %d bytes, want %d", rel, gi.Size(), wi.Size()) {
					return errLimit
				}
			} else if same, err := sameContent(path, filepath.Join(got, rel), bufA, bufB); err != nil {
				return err
			} else if !same && add("%s: content differs", rel) {
				return errLimit
			}
		}
		if wi.Mode().Perm() != gi.Mode().Perm() && rel != "." {
			if add("%s: mode %v, want %v", rel, gi.Mode().Perm(), wi.Mode().Perm()) {
				return errLimit
			}
		}
		if !wi.ModTime().Truncate(time.Second).Equal(gi.ModTime().Truncate(time.Second)) && rel != "." {
			if add("%s: mtime %s, want %s", rel, gi.ModTime().UTC().Format(time.RFC3339), wi.ModTime().UTC().Format(time.RFC3339)) {
				return errLimit
			}
		}
		return nil
	})
	if errors.Is(err, errLimit) {
		return diffs, nil
	}
	if err != nil {
		return diffs, err
	}
	for _, names := range wantLinks {
		var first *syscall.Stat_t
		for _, n := range names {
			gi, err := os.Lstat(filepath.Join(got, n))
			if err != nil {
				continue
			}
			gs := gi.Sys().(*syscall.Stat_t)
			if first == nil {
				first = gs
				continue
			}
			if gs.Ino != first.Ino || gs.Dev != first.Dev {
				if add("%s: not a hard link of %s", n, names[0]) {
					return diffs, nil
				}
			}
		}
	}
	err = filepath.WalkDir(got, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(got, path)
		if err != nil {
			return err
		}
		if !seen[rel] {
			if add("%s: not in the original", rel) {
				return errLimit
			}
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	if errors.Is(err, errLimit) {
		err = nil
	}
	return diffs, err
}

func sameContent(a, b string, ba, bb []byte) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea != nil || eb != nil {
			if (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF) {
				return true, nil
			}
			return false, errors.Join(ea, eb)
		}
	}
}

// stream is the pseudo-random byte stream of a seed.
type stream struct{ ctr cipher.Stream }

func newStream(seed uint64) (*stream, error) {
	var key [16]byte
	binary.BigEndian.PutUint64(key[:], seed)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return &stream{ctr: cipher.NewCTR(block, make([]byte, aes.BlockSize))}, nil
}

// read fills p with the stream's next bytes.
func (s *stream) read(p []byte) {
	clear(p)
	s.ctr.XORKeyStream(p, p)
}

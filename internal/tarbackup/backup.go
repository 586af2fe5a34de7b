package tarbackup

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bufSize is the size of the stream buffer and of each file read: large
// enough that a tape record is filled by few writes and a file by few reads.
const bufSize = 1 << 20

// sparseRecord is the pax record that marks a file that was sparse on the
// source, so that Recover punches its zero runs back into holes.
const sparseRecord = "FERRY.sparse"

// linkOffsetRecord, on a hard link, is the stream offset of the entry that
// holds the data (the inode's first name): a direct-access recover of the
// link alone reads it from there.
const linkOffsetRecord = "FERRY.linkoffset"

// Entry is one file of a backup as FileHistory sees it.
type Entry struct {
	// Name is the slash-separated path relative to the backup's root; the
	// root itself is ".".
	Name string
	// Header is the tar header written for the entry (a hard link's has
	// Typeflag TypeLink and the first name in Linkname).
	Header *tar.Header
	// Offset is the byte offset in the stream of the entry's first header
	// block (its pax extended header when it has one): the entry can be read
	// back starting there.
	Offset int64
	// Inode numbers of the entry and of its parent directory (the root's
	// parent is the root), with the device, the link count and the access
	// and change times from lstat.
	Ino, ParentIno, Dev, Nlink uint64
	Atime, Ctime               time.Time
}

// BackupOptions tunes Backup. The zero value backs up the whole tree.
type BackupOptions struct {
	// FileHistory, when set, is called for every entry in stream order, on
	// Backup's goroutine; an error from it ends the backup.
	FileHistory func(Entry) error
	// Files restricts the backup to these paths relative to the root (and
	// everything below them); their parent directories are written too, so
	// that a recover recreates them with their modes. Empty: the whole tree.
	Files []string
	// Exclude skips entries whose base name matches one of these path.Match
	// patterns (and, for a directory, all below it).
	Exclude []string
	// NoRecurse writes the directories named (or the root) without their
	// contents.
	NoRecurse bool
	// Progress, when set, counts the bytes written and estimates the rest.
	Progress *Progress
	// Skipped, when set, is told about a file that vanished or could not be
	// read; the backup goes on without it. Nil: such a file ends the backup.
	Skipped func(name string, err error)
}

// Result sums up a finished backup or recover.
type Result struct {
	Bytes   int64 // stream bytes written or read
	Entries int   // entries written or restored
	Skipped int   // entries left out (Backup: unreadable; Recover: refused or failed)
}

// Backup writes the tree at root to w as a tar stream and returns what it
// wrote. It never follows a symbolic link below root.
func Backup(ctx context.Context, root string, w io.Writer, opts BackupOptions) (Result, error) {
	root = filepath.Clean(root)
	st, err := os.Stat(root)
	if err != nil {
		return Result{}, fmt.Errorf("tarbackup: backup root: %w", err)
	}
	if !st.IsDir() {
		return Result{}, fmt.Errorf("tarbackup: backup root %s is not a directory", root)
	}
	files, err := cleanFiles(opts.Files)
	if err != nil {
		return Result{}, err
	}
	for _, pat := range opts.Exclude {
		if _, err := path.Match(pat, ""); err != nil {
			return Result{}, fmt.Errorf("tarbackup: exclude pattern %q: %w", pat, err)
		}
	}

	cw := &countWriter{w: w, progress: opts.Progress}
	buf := bufio.NewWriterSize(cw, bufSize)
	b := &backup{
		ctx:   ctx,
		root:  root,
		opts:  opts,
		count: &countWriter{w: buf, progress: nil},
		links: make(map[devIno]linkFirst),
		buf:   make([]byte, bufSize),
	}
	b.tw = tar.NewWriter(b.count)

	// The estimate walks the same tree with lstat only, on its own
	// goroutine, so that the stream starts at once.
	estCtx, stopEstimate := context.WithCancel(ctx)
	estDone := make(chan struct{})
	go func() {
		defer close(estDone)
		estimate(estCtx, root, files, opts)
	}()
	defer func() { stopEstimate(); <-estDone }()

	if err := b.run(files); err != nil {
		return b.result(), err
	}
	if err := b.tw.Close(); err != nil {
		return b.result(), fmt.Errorf("tarbackup: end of archive: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return b.result(), fmt.Errorf("tarbackup: write: %w", err)
	}
	return b.result(), nil
}

type devIno struct{ dev, ino uint64 }

// linkFirst is an inode's first name in the stream and its offset.
type linkFirst struct {
	name   string
	offset int64
}

type backup struct {
	ctx     context.Context
	root    string
	opts    BackupOptions
	tw      *tar.Writer
	count   *countWriter // between the tar writer and the buffer: stream offsets
	links   map[devIno]linkFirst
	buf     []byte
	entries int
	skipped int
	written map[string]bool // with Files: directories already written
	lastDir bool            // walkOne's entry was a directory
}

func (b *backup) result() Result {
	return Result{Bytes: b.count.n, Entries: b.entries, Skipped: b.skipped}
}

func (b *backup) run(files []string) error {
	rootIno := uint64(0)
	if st, err := os.Lstat(b.root); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			rootIno = sys.Ino
		}
	}
	if len(files) == 0 {
		return b.walk(".", rootIno, !b.opts.NoRecurse)
	}
	// A selection: the root and each named path's parents first, once.
	b.written = make(map[string]bool)
	for _, f := range files {
		parentIno := rootIno
		for _, dir := range parents(f) {
			ino, err := b.walkOne(dir, parentIno, true)
			if err != nil {
				return err
			}
			parentIno = ino
		}
		if err := b.walk(f, parentIno, !b.opts.NoRecurse); err != nil {
			return err
		}
	}
	return nil
}

// parents lists "." and every directory above name, top down.
func parents(name string) []string {
	out := []string{"."}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			out = append(out, name[:i])
		}
	}
	return out
}

func (b *backup) full(name string) string {
	if name == "." {
		return b.root
	}
	return filepath.Join(b.root, filepath.FromSlash(name))
}

// walk writes name and, when recurse is set and it is a directory,
// everything below it.
func (b *backup) walk(name string, parentIno uint64, recurse bool) error {
	if b.written[name] && name != "." {
		return nil
	}
	ino, err := b.walkOne(name, parentIno, true)
	if err != nil || !recurse || ino == 0 {
		return err
	}
	if !b.lastDir {
		return nil
	}
	ents, err := os.ReadDir(b.full(name))
	if err != nil {
		return b.skip(name, err)
	}
	// ReadDir sorts by name: the stream is the same for the same tree.
	for _, e := range ents {
		child := e.Name()
		if name != "." {
			child = name + "/" + e.Name()
		}
		if b.excluded(e.Name()) {
			continue
		}
		if err := b.walk(child, ino, true); err != nil {
			return err
		}
	}
	return nil
}

func (b *backup) excluded(base string) bool {
	for _, pat := range b.opts.Exclude {
		if ok, _ := path.Match(pat, base); ok {
			return true
		}
	}
	return false
}

func (b *backup) skip(name string, err error) error {
	if b.opts.Skipped == nil {
		return fmt.Errorf("tarbackup: %s: %w", name, err)
	}
	b.skipped++
	b.opts.Skipped(name, err)
	return nil
}

// walkOne writes one entry and returns its inode number (0 when skipped).
// A written directory is not written again when its contents follow.
func (b *backup) walkOne(name string, parentIno uint64, mark bool) (_ uint64, err error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if name != "." && b.written[name] {
		st, err := os.Lstat(b.full(name))
		if err != nil {
			return 0, b.skip(name, err)
		}
		b.lastDir = st.IsDir()
		return st.Sys().(*syscall.Stat_t).Ino, nil
	}
	full := b.full(name)
	fi, err := os.Lstat(full)
	if err != nil {
		return 0, b.skip(name, err)
	}
	b.lastDir = fi.IsDir()
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, b.skip(name, errors.New("no stat"))
	}
	if name == "." {
		parentIno = sys.Ino
		if b.written != nil && b.written["."] {
			return sys.Ino, nil
		}
	}
	hdr := &tar.Header{
		Name:    tarName(name, fi.IsDir()),
		Mode:    int64(sys.Mode & 07777),
		Uid:     int(sys.Uid),
		Gid:     int(sys.Gid),
		ModTime: fi.ModTime(),
	}
	if hdr.ModTime.Nanosecond() != 0 {
		// Only pax keeps sub-second times; ustar headers are smaller, so
		// whole-second files stay ustar.
		hdr.Format = tar.FormatPAX
	}
	var file *os.File
	var off int64
	id := devIno{uint64(sys.Dev), sys.Ino}
	sparse := false
	switch fi.Mode().Type() {
	case 0:
		if first, ok := b.links[id]; ok && sys.Nlink > 1 {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first.name
			hdr.PAXRecords = map[string]string{linkOffsetRecord: strconv.FormatInt(first.offset, 10)}
			break
		}
		file, err = os.Open(full)
		if err != nil {
			return 0, b.skip(name, err)
		}
		defer file.Close()
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
		firstLink := sys.Nlink > 1
		defer func() {
			if firstLink && err == nil {
				b.links[id] = linkFirst{hdr.Name, off}
			}
		}()
		if sys.Blocks*512 < fi.Size() && fi.Size() > 0 {
			sparse = true
			hdr.PAXRecords = map[string]string{sparseRecord: "1"}
		}
	case fs.ModeDir:
		hdr.Typeflag = tar.TypeDir
	case fs.ModeSymlink:
		target, err := os.Readlink(full)
		if err != nil {
			return 0, b.skip(name, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case fs.ModeNamedPipe:
		hdr.Typeflag = tar.TypeFifo
	case fs.ModeDevice:
		hdr.Typeflag = tar.TypeBlock
		hdr.Devmajor, hdr.Devminor = int64(major(uint64(sys.Rdev))), int64(minor(uint64(sys.Rdev)))
	case fs.ModeDevice | fs.ModeCharDevice:
		hdr.Typeflag = tar.TypeChar
		hdr.Devmajor, hdr.Devminor = int64(major(uint64(sys.Rdev))), int64(minor(uint64(sys.Rdev)))
	default:
		// Sockets and the like cannot be restored; tar leaves them out too.
		return 0, nil
	}

	// Flush writes the previous entry's padding, so the count is now this
	// entry's first header block.
	if err := b.tw.Flush(); err != nil {
		return 0, fmt.Errorf("tarbackup: %s: %w", name, err)
	}
	off = b.count.n
	if sparse {
		// Only the data extents go on the stream, behind a sparse map;
		// should the file not fit that format, it goes whole below.
		if exts, err := dataExtents(file, hdr.Size); err == nil {
			ok, err := writeSparseEntry(b.count, hdr, file, exts, b.buf)
			if err != nil {
				return 0, fmt.Errorf("tarbackup: %s: %w", name, err)
			}
			if ok {
				file = nil
			}
		}
	}
	if file == nil && sparse {
		// written as a sparse entry
	} else if err := b.tw.WriteHeader(hdr); err != nil {
		return 0, fmt.Errorf("tarbackup: %s: header: %w", name, err)
	}
	if file != nil {
		if err := b.copyFile(name, file, hdr.Size, sparse); err != nil {
			return 0, err
		}
	}
	b.entries++
	if mark && b.written != nil {
		b.written[name] = true
	}
	if b.opts.FileHistory != nil {
		e := Entry{
			Name: name, Header: hdr, Offset: off,
			Ino: sys.Ino, ParentIno: parentIno, Dev: uint64(sys.Dev), Nlink: uint64(sys.Nlink),
			Atime: time.Unix(sys.Atim.Sec, sys.Atim.Nsec), Ctime: time.Unix(sys.Ctim.Sec, sys.Ctim.Nsec),
		}
		if err := b.opts.FileHistory(e); err != nil {
			return 0, fmt.Errorf("tarbackup: file history: %w", err)
		}
	}
	return sys.Ino, nil
}

// copyFile writes exactly size bytes of f: a file that shrank meanwhile is
// padded with zeros and one that grew is cut, since the header is written.
func (b *backup) copyFile(name string, f *os.File, size int64, sparse bool) error {
	var left = size
	if sparse {
		n, err := copySparse(b.tw, f, size, b.buf)
		left -= n
		if err != nil && !errors.Is(err, errShort) {
			return fmt.Errorf("tarbackup: %s: %w", name, err)
		}
	} else {
		for left > 0 {
			chunk := b.buf
			if int64(len(chunk)) > left {
				chunk = chunk[:left]
			}
			n, err := io.ReadFull(f, chunk)
			if n > 0 {
				if _, werr := b.tw.Write(chunk[:n]); werr != nil {
					return fmt.Errorf("tarbackup: %s: %w", name, werr)
				}
				left -= int64(n)
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				return fmt.Errorf("tarbackup: %s: read: %w", name, err)
			}
		}
	}
	if left > 0 {
		if b.opts.Skipped != nil {
			b.opts.Skipped(name, fmt.Errorf("file shrank by %d bytes while being read; padded with zeros", left))
		}
		if err := writeZeros(b.tw, left, b.buf); err != nil {
			return fmt.Errorf("tarbackup: %s: %w", name, err)
		}
	}
	return nil
}

var errShort = errors.New("short file")

// writeZeros writes n zero bytes using buf as scratch.
func writeZeros(w io.Writer, n int64, buf []byte) error {
	clear(buf)
	for n > 0 {
		chunk := buf
		if int64(len(chunk)) > n {
			chunk = chunk[:n]
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		n -= int64(len(chunk))
	}
	return nil
}

// tarName is name as archived: directories end in "/", the root is "./".
func tarName(name string, dir bool) string {
	if name == "." {
		return "./"
	}
	if dir {
		return name + "/"
	}
	return name
}

// cleanFiles checks a Files list: relative, inside the root, no duplicates.
func cleanFiles(in []string) ([]string, error) {
	var out []string
	for _, f := range in {
		c := path.Clean("/" + strings.TrimPrefix(filepath.ToSlash(f), "./"))
		c = strings.TrimPrefix(c, "/")
		if c == "" || c == "." {
			return nil, nil // the root: the whole tree
		}
		if !fs.ValidPath(c) {
			return nil, fmt.Errorf("tarbackup: file %q is outside the backup root", f)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// countWriter counts the bytes passed to w.
type countWriter struct {
	w        io.Writer
	n        int64
	progress *Progress
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.progress.add(int64(n))
	return n, err
}

func major(dev uint64) uint64 { return ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000) }
func minor(dev uint64) uint64 { return (dev & 0xff) | ((dev >> 12) & 0xffffff00) }

// estimate walks the tree with lstat only and records the stream length to
// expect (headers and padded data), a little at a time so that get_state
// shows a growing figure on a large tree.
func estimate(ctx context.Context, root string, files []string, opts BackupOptions) {
	if opts.Progress == nil {
		return
	}
	var total int64 = 1024 // end of archive
	n := 0
	walkFn := func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return nil
		}
		if p != root && len(opts.Exclude) > 0 {
			for _, pat := range opts.Exclude {
				if ok, _ := path.Match(pat, d.Name()); ok {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
		}
		total += 512
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += (fi.Size() + 511) &^ 511
			}
		}
		if n++; n%1024 == 0 {
			opts.Progress.setEstimate(total, false)
		}
		if opts.NoRecurse && d.IsDir() && p != root {
			return filepath.SkipDir
		}
		return nil
	}
	if len(files) == 0 {
		_ = filepath.WalkDir(root, walkFn)
	} else {
		for _, f := range files {
			_ = filepath.WalkDir(filepath.Join(root, filepath.FromSlash(f)), walkFn)
		}
	}
	if ctx.Err() == nil {
		opts.Progress.setEstimate(total, true)
	}
}

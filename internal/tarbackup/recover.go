package tarbackup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotFound is given to RecoverOptions.Done for a selection that matched no
// entry of the archive.
var ErrNotFound = errors.New("tarbackup: not in the archive")

// ErrUnsafeName refuses an entry whose name or link would leave the
// destination.
var ErrUnsafeName = errors.New("tarbackup: name escapes the destination")

// Selection names what to restore and where.
type Selection struct {
	// Name is the entry's path in the archive, relative to the backup's
	// root; a leading "/" or "./" is ignored. A directory selects everything
	// below it; "" or "." selects the whole archive.
	Name string
	// Dest is where it goes, relative to the recover's destination; ""
	// keeps Name.
	Dest string
	// Offset is the entry's fh_info, the stream offset of its first header,
	// for RecoverDirect; negative when unknown.
	Offset int64
}

// RecoverOptions tunes Recover and RecoverDirect.
type RecoverOptions struct {
	// Select restricts the recover; empty restores everything.
	Select []Selection
	// Progress, when set, counts the stream bytes read.
	Progress *Progress
	// Done, when set, is called once for every selection when the recover
	// ends: nil when it was restored, ErrNotFound or the first error met.
	Done func(i int, err error)
	// Skipped, when set, is told about each entry refused (ErrUnsafeName)
	// or that could not be created; the recover goes on. Nil: the first
	// such entry ends the recover.
	Skipped func(name string, err error)
	// MaxFileSize refuses files larger than this; 0 means 16 TiB, the
	// largest file ext4 holds. It bounds what a hostile sparse entry (a
	// few bytes on the tape, any length on disk) can make Recover do.
	MaxFileSize int64
}

// defaultMaxFileSize is ext4's largest file.
const defaultMaxFileSize = 16 << 40

// Recover reads a tar stream from r and restores it under dest (created if
// missing). Nothing is ever written outside dest.
func Recover(ctx context.Context, r io.Reader, dest string, opts RecoverOptions) (Result, error) {
	rs, err := newRestorer(ctx, dest, opts)
	if err != nil {
		return Result{}, err
	}
	defer rs.close()
	cr := &countReader{r: r, progress: opts.Progress}
	err = rs.sequential(ctx, cr, rs.pending())
	rs.res.Bytes = cr.n
	return rs.finish(err)
}

type restorer struct {
	ctx      context.Context
	root     *os.Root
	opts     RecoverOptions
	sel      []Selection // cleaned
	found    []bool
	isDirSel []bool
	errs     []error
	dirs     []dirMeta
	links    map[string]string // archive name → restored path, for hard links
	buf      []byte
	zero     []byte
	asRoot   bool
	res      Result
	stopped  bool
}

type dirMeta struct {
	path     string
	mode     fs.FileMode
	uid, gid int
	mtime    time.Time
	atime    time.Time
}

func newRestorer(ctx context.Context, dest string, opts RecoverOptions) (*restorer, error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, fmt.Errorf("tarbackup: destination: %w", err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, fmt.Errorf("tarbackup: destination: %w", err)
	}
	rs := &restorer{
		ctx:    ctx,
		root:   root,
		opts:   opts,
		links:  make(map[string]string),
		buf:    make([]byte, bufSize),
		zero:   make([]byte, 64<<10),
		asRoot: os.Geteuid() == 0,
	}
	for _, s := range opts.Select {
		name, err := cleanSelection(s.Name)
		if err != nil {
			root.Close()
			return nil, fmt.Errorf("tarbackup: selection %q: %w", s.Name, err)
		}
		d := name
		if s.Dest != "" {
			if d, err = cleanSelection(s.Dest); err != nil {
				root.Close()
				return nil, fmt.Errorf("tarbackup: destination %q: %w", s.Dest, err)
			}
		}
		rs.sel = append(rs.sel, Selection{Name: name, Dest: d, Offset: s.Offset})
	}
	if rs.opts.MaxFileSize <= 0 {
		rs.opts.MaxFileSize = defaultMaxFileSize
	}
	rs.found = make([]bool, len(rs.sel))
	rs.isDirSel = make([]bool, len(rs.sel))
	rs.errs = make([]error, len(rs.sel))
	return rs, nil
}

func (rs *restorer) close() { rs.root.Close() }

// pending lists the selections not yet found.
func (rs *restorer) pending() []int {
	var out []int
	for i := range rs.sel {
		if !rs.found[i] {
			out = append(out, i)
		}
	}
	return out
}

// finish applies the directories' metadata, deepest first, and reports each
// selection.
func (rs *restorer) finish(err error) (Result, error) {
	slices.SortStableFunc(rs.dirs, func(a, b dirMeta) int {
		return strings.Count(b.path, "/") - strings.Count(a.path, "/")
	})
	for _, d := range rs.dirs {
		if e := rs.meta(d.path, d.mode, d.uid, d.gid, d.atime, d.mtime); e != nil && err == nil {
			rs.skip(d.path, e)
		}
	}
	if rs.opts.Done != nil {
		for i := range rs.sel {
			e := rs.errs[i]
			if e == nil && !rs.found[i] {
				e = ErrNotFound
			}
			rs.opts.Done(i, e)
		}
	}
	return rs.res, err
}

// sequential restores the entries of one stream read from its start that
// match the selections in only (all when there is no selection).
func (rs *restorer) sequential(ctx context.Context, r io.Reader, only []int) error {
	if len(rs.sel) > 0 && len(only) == 0 {
		return nil
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tarbackup: reading archive: %w", err)
		}
		target, idx, ok, err := rs.target(hdr.Name, only)
		if err != nil {
			if e := rs.skip(hdr.Name, err); e != nil {
				return e
			}
			continue
		}
		if !ok {
			continue
		}
		if err := rs.entry(hdr, tr, target, idx); err != nil {
			return err
		}
		if rs.allFiles(only) {
			// Every selection was a single file and is done: the rest of
			// the stream is not needed.
			return nil
		}
	}
}

// allFiles reports whether every selection in only is found and is not a
// directory (nothing more can match it).
func (rs *restorer) allFiles(only []int) bool {
	if len(only) == 0 {
		return false
	}
	for _, i := range only {
		if !rs.found[i] || rs.stopped {
			return false
		}
	}
	return rs.noDirSelected(only)
}

func (rs *restorer) noDirSelected(only []int) bool {
	for _, i := range only {
		if rs.sel[i].Name == "." || rs.isDirSel[i] {
			return false
		}
	}
	return true
}

// target maps an archive name to the path it is restored to, and the
// selection it matched (-1 without a selection).
func (rs *restorer) target(raw string, only []int) (string, int, bool, error) {
	name, err := cleanName(raw)
	if err != nil {
		return "", -1, false, err
	}
	if len(rs.sel) == 0 {
		return name, -1, true, nil
	}
	for _, i := range only {
		s := rs.sel[i]
		switch {
		case s.Name == ".":
			return joinRel(s.Dest, name), i, true, nil
		case name == s.Name:
			return s.Dest, i, true, nil
		case strings.HasPrefix(name, s.Name+"/"):
			return joinRel(s.Dest, name[len(s.Name)+1:]), i, true, nil
		}
	}
	return "", -1, false, nil
}

func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	if name == "." {
		return dir
	}
	return dir + "/" + name
}

// cleanName turns an archive name into a clean relative path ("." for the
// root), refusing what would leave the destination.
func cleanName(raw string) (string, error) {
	return cleanPath(raw, false)
}

// cleanSelection is cleanName for a DMA's names, which may start with "/"
// (the backup's root) or "./".
func cleanSelection(raw string) (string, error) {
	return cleanPath(raw, true)
}

func cleanPath(raw string, rooted bool) (string, error) {
	if rooted {
		raw = strings.TrimLeft(raw, "/")
		for strings.HasPrefix(raw, "./") {
			raw = strings.TrimLeft(raw[2:], "/")
		}
	}
	if strings.IndexByte(raw, 0) >= 0 {
		return "", ErrUnsafeName
	}
	if strings.HasPrefix(raw, "/") {
		// Backup writes relative names only; an absolute one is a hostile
		// or foreign archive's, refused rather than silently relocated.
		return "", ErrUnsafeName
	}
	name := raw
	// ".." is refused outright rather than resolved.
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", ErrUnsafeName
		}
	}
	name = path.Clean("/" + name)[1:]
	if name == "" {
		return ".", nil
	}
	if !fs.ValidPath(name) {
		return "", ErrUnsafeName
	}
	return name, nil
}

func (rs *restorer) skip(name string, err error) error {
	rs.res.Skipped++
	if rs.opts.Skipped == nil {
		return fmt.Errorf("tarbackup: %s: %w", name, err)
	}
	rs.opts.Skipped(name, err)
	return nil
}

// entry restores one entry to target; idx is the selection it matched.
func (rs *restorer) entry(hdr *tar.Header, r io.Reader, target string, idx int) error {
	if idx >= 0 {
		if !rs.found[idx] {
			rs.found[idx] = true
			rs.isDirSel[idx] = hdr.Typeflag == tar.TypeDir
		}
	}
	err := rs.create(hdr, r, target)
	if err != nil {
		if idx >= 0 && rs.errs[idx] == nil {
			rs.errs[idx] = err
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		return rs.skip(hdr.Name, err)
	}
	rs.res.Entries++
	return nil
}

// fatalError is a failure of the stream itself, not of one entry.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

func (rs *restorer) create(hdr *tar.Header, r io.Reader, target string) error {
	mode := hdr.FileInfo().Mode()
	if target != "." {
		if dir := path.Dir(target); dir != "." {
			if err := rs.root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if target != "." {
			if fi, err := rs.root.Lstat(target); err == nil && !fi.IsDir() {
				if err := rs.root.Remove(target); err != nil {
					return err
				}
			}
			// Owner-writable until finish sets the archived mode, so that
			// a read-only directory can still be filled.
			if err := rs.root.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		rs.dirs = append(rs.dirs, dirMeta{target, mode, hdr.Uid, hdr.Gid, hdr.ModTime, hdr.AccessTime})
		return nil
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		if hdr.Size < 0 || hdr.Size > rs.opts.MaxFileSize {
			return fmt.Errorf("a file of %d bytes: the limit is %d", hdr.Size, rs.opts.MaxFileSize)
		}
		if err := rs.replace(target); err != nil {
			return err
		}
		f, err := rs.root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		werr := rs.writeFile(f, r, hdr.Size, hdr.PAXRecords[sparseRecord] != "" || isGNUSparse(hdr))
		cerr := f.Close()
		if werr != nil {
			return werr
		}
		if cerr != nil {
			return cerr
		}
		rs.links[cleanOr(hdr.Name)] = target
		return rs.meta(target, mode, hdr.Uid, hdr.Gid, hdr.AccessTime, hdr.ModTime)
	case tar.TypeLink:
		src, ok := rs.links[cleanOr(hdr.Linkname)]
		if !ok {
			// The first name was not restored (not selected, or refused):
			// the link has nothing to point at in dest.
			return fmt.Errorf("hard link to %q, which was not restored", hdr.Linkname)
		}
		if err := rs.replace(target); err != nil {
			return err
		}
		if err := rs.root.Link(src, target); err != nil {
			return err
		}
		rs.links[cleanOr(hdr.Name)] = target
		return nil
	case tar.TypeSymlink:
		if err := rs.replace(target); err != nil {
			return err
		}
		// The link's text may point anywhere, as tar allows; it is the
		// os.Root that keeps later entries from being written through it.
		if err := rs.root.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
		return rs.linkMeta(target, hdr)
	case tar.TypeFifo, tar.TypeChar, tar.TypeBlock:
		if hdr.Typeflag != tar.TypeFifo && !rs.asRoot {
			return fmt.Errorf("device %s: only root may create devices", hdr.Name)
		}
		if err := rs.replace(target); err != nil {
			return err
		}
		if err := rs.mknod(target, hdr); err != nil {
			return err
		}
		return rs.meta(target, mode, hdr.Uid, hdr.Gid, hdr.AccessTime, hdr.ModTime)
	default:
		// pax globals, GNU volume labels and the like carry no file.
		return nil
	}
}

func cleanOr(name string) string {
	c, err := cleanName(name)
	if err != nil {
		return name
	}
	return c
}

// replace removes a non-directory at target so that a new one is created
// rather than an existing one (or a symlink's target) written through.
func (rs *restorer) replace(target string) error {
	fi, err := rs.root.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", target)
	}
	return rs.root.Remove(target)
}

// writeFile copies size bytes of r to f; a sparse file's zero runs become
// holes again.
func (rs *restorer) writeFile(f *os.File, r io.Reader, size int64, sparse bool) error {
	var pos int64
	hole := false
	for pos < size {
		// A large sparse file is mostly holes read as zeros, no stream
		// bytes: DATA_ABORT must still stop it.
		if err := rs.ctx.Err(); err != nil {
			return &fatalError{err}
		}
		chunk := rs.buf[:min(int64(len(rs.buf)), size-pos)]
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			if sparse {
				hole, err = rs.writeSparse(f, chunk[:n], pos)
				if err != nil {
					return err
				}
			} else if _, err := f.Write(chunk[:n]); err != nil {
				return err
			}
			pos += int64(n)
		}
		if err != nil {
			return &fatalError{fmt.Errorf("tarbackup: reading archive: %w", err)}
		}
	}
	if hole {
		// The file ended in a hole: give it its length.
		return f.Truncate(size)
	}
	return nil
}

// writeSparse writes p at off skipping 64 KiB zero runs; it reports whether
// the last run was skipped.
func (rs *restorer) writeSparse(f *os.File, p []byte, off int64) (bool, error) {
	hole := false
	for len(p) > 0 {
		n := min(len(p), len(rs.zero))
		if bytes.Equal(p[:n], rs.zero[:n]) {
			hole = true
		} else {
			if _, err := f.WriteAt(p[:n], off); err != nil {
				return false, err
			}
			hole = false
		}
		p, off = p[n:], off+int64(n)
	}
	return hole, nil
}

// meta sets mode, owner and times of a file or directory (not a symlink).
func (rs *restorer) meta(target string, mode fs.FileMode, uid, gid int, atime, mtime time.Time) error {
	if rs.asRoot {
		if err := rs.root.Lchown(target, uid, gid); err != nil {
			return err
		}
	}
	// Chmod after chown: chown clears setuid and setgid.
	if err := rs.root.Chmod(target, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if atime.IsZero() {
		atime = mtime
	}
	return rs.root.Chtimes(target, atime, mtime)
}

// linkMeta sets a symlink's owner and times without following it.
func (rs *restorer) linkMeta(target string, hdr *tar.Header) error {
	if rs.asRoot {
		if err := rs.root.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	dir, err := rs.root.Open(path.Dir(target))
	if err != nil {
		return err
	}
	defer dir.Close()
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(int(dir.Fd()), path.Base(target), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("symlink times: %w", err)
	}
	return nil
}

func (rs *restorer) mknod(target string, hdr *tar.Header) error {
	dir, err := rs.root.Open(path.Dir(target))
	if err != nil {
		return err
	}
	defer dir.Close()
	mode := uint32(hdr.Mode & 07777)
	switch hdr.Typeflag {
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	return unix.Mknodat(int(dir.Fd()), path.Base(target), mode, int(dev))
}

// countReader counts the bytes read from r.
type countReader struct {
	r        io.Reader
	n        int64
	progress *Progress
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress.add(int64(n))
	return n, err
}

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
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeTree builds a tree with what a backup must keep: long names, symlinks,
// hard links, a sparse file, odd modes and sub-second mtimes.
func makeTree(t *testing.T, root string) {
	t.Helper()
	long := strings.Repeat("long-name-", 12) // 120 bytes: beyond ustar's 100
	deep := filepath.Join(root, "dir", strings.Repeat("d", 90), strings.Repeat("e", 90))
	must(t, os.MkdirAll(deep, 0o755))
	must(t, os.WriteFile(filepath.Join(root, "small.txt"), []byte("hello\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(deep, long), bytes.Repeat([]byte("x"), 70000), 0o600))
	must(t, os.WriteFile(filepath.Join(root, "dir", "exec"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.Chmod(filepath.Join(root, "dir", "exec"), 0o4755))
	must(t, os.WriteFile(filepath.Join(root, "empty"), nil, 0o640))
	must(t, os.Symlink("small.txt", filepath.Join(root, "link-rel")))
	must(t, os.Symlink("/nonexistent/target", filepath.Join(root, "link-abs")))
	must(t, os.Link(filepath.Join(root, "small.txt"), filepath.Join(root, "dir", "hard")))
	must(t, os.Link(filepath.Join(root, "small.txt"), filepath.Join(root, "hard2")))
	must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o620))
	// A sparse file: 8 MiB with data at 1 MiB and at its end.
	f, err := os.Create(filepath.Join(root, "sparse"))
	must(t, err)
	_, err = f.WriteAt([]byte("in the middle"), 1<<20)
	must(t, err)
	_, err = f.WriteAt([]byte("at the end"), 8<<20-10)
	must(t, err)
	must(t, f.Close())
	must(t, os.MkdirAll(filepath.Join(root, "ro"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "ro", "inside"), []byte("ro"), 0o444))
	must(t, os.Chmod(filepath.Join(root, "ro"), 0o555))
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "ro"), 0o755) })
	// Sub-second times, directories last so that creating files does not
	// move them.
	when := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 || d.IsDir() {
			return err
		}
		when = when.Add(time.Minute)
		return os.Chtimes(p, when, when)
	}))
	var dirs []string
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	}))
	for i := len(dirs) - 1; i >= 0; i-- {
		when = when.Add(time.Hour)
		must(t, os.Chtimes(dirs[i], when, when))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot describes a tree for comparison: type, mode, mtime, content or
// link target, and which names share an inode.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	inodes := make(map[uint64]string)
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v", fi.Mode())
		if fi.Mode().Type() != fs.ModeSymlink {
			desc += " " + fi.ModTime().UTC().Format(time.RFC3339Nano)
		}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d %x", len(b), bytes.Count(b, []byte{0}))
			ino := fi.Sys().(*syscall.Stat_t).Ino
			if first, ok := inodes[ino]; ok {
				desc += " same-as " + first
			} else {
				inodes[ino] = rel
				desc += " " + string(b[:min(len(b), 40)])
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		out[rel] = desc
		return nil
	}))
	return out
}

func TestRoundTrip(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	makeTree(t, src)
	var stream bytes.Buffer
	var hist []Entry
	prog := &Progress{}
	res, err := Backup(context.Background(), src, &stream, BackupOptions{
		Progress:    prog,
		FileHistory: func(e Entry) error { hist = append(hist, e); return nil },
	})
	must(t, err)
	if res.Bytes != int64(stream.Len()) || prog.Processed() != res.Bytes {
		t.Errorf("Backup counted %d bytes, progress %d, stream has %d", res.Bytes, prog.Processed(), stream.Len())
	}
	want := snapshot(t, src)
	if res.Entries != len(want) || len(hist) != len(want) {
		t.Errorf("Backup wrote %d entries, history %d, tree has %d", res.Entries, len(hist), len(want))
	}
	// Every history offset points at its entry's header.
	for _, e := range hist {
		tr := tar.NewReader(bytes.NewReader(stream.Bytes()[e.Offset:]))
		h, err := tr.Next()
		if err != nil || h.Name != e.Header.Name {
			t.Errorf("offset %d of %s: %v %v", e.Offset, e.Name, h, err)
		}
	}
	if hist[0].Name != "." || hist[0].Ino != hist[0].ParentIno {
		t.Errorf("first entry %+v, want the root as its own parent", hist[0])
	}
	// List finds the same entries at the same offsets.
	var listed []Entry
	if _, err := List(context.Background(), bytes.NewReader(stream.Bytes()), nil, func(e Entry) error {
		listed = append(listed, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(hist) {
		t.Fatalf("List found %d entries, Backup wrote %d", len(listed), len(hist))
	}
	for i := range hist {
		if listed[i].Name != hist[i].Name || listed[i].Offset != hist[i].Offset {
			t.Errorf("List: %s at %d, Backup: %s at %d", listed[i].Name, listed[i].Offset, hist[i].Name, hist[i].Offset)
		}
	}
	// GNU tar-style readers: the stream is a plain archive.
	tr := tar.NewReader(bytes.NewReader(stream.Bytes()))
	for {
		if _, err := tr.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("archive/tar reading the stream: %v", err)
		}
	}

	rres, err := Recover(context.Background(), bytes.NewReader(stream.Bytes()), dst, RecoverOptions{})
	must(t, err)
	if rres.Entries != res.Entries || rres.Skipped != 0 {
		t.Errorf("Recover restored %d entries (%d skipped), want %d", rres.Entries, rres.Skipped, res.Entries)
	}
	got := snapshot(t, dst)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s:\n got %s\nwant %s", k, got[k], w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s restored but not in the source", k)
		}
	}
	// The sparse file is sparse again.
	fi, err := os.Stat(filepath.Join(dst, "sparse"))
	must(t, err)
	if blocks := fi.Sys().(*syscall.Stat_t).Blocks * 512; blocks >= fi.Size()/2 {
		t.Errorf("sparse file restored with %d bytes allocated of %d", blocks, fi.Size())
	}
	os.Chmod(filepath.Join(dst, "ro"), 0o755)
}

// TestSelection restores a file and a directory under new names.
func TestSelection(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	makeTree(t, src)
	var stream bytes.Buffer
	_, err := Backup(context.Background(), src, &stream, BackupOptions{})
	must(t, err)
	done := map[int]error{}
	_, err = Recover(context.Background(), &stream, dst, RecoverOptions{
		Select: []Selection{
			{Name: "/small.txt", Dest: "renamed.txt"},
			{Name: "dir", Dest: "/restored/dir"},
			{Name: "/not/there"},
		},
		Done: func(i int, err error) { done[i] = err },
	})
	must(t, err)
	if done[0] != nil || done[1] != nil || !errors.Is(done[2], ErrNotFound) {
		t.Errorf("Done: %v", done)
	}
	b, err := os.ReadFile(filepath.Join(dst, "renamed.txt"))
	if err != nil || string(b) != "hello\n" {
		t.Errorf("renamed.txt: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "restored", "dir", "exec")); err != nil {
		t.Error(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "small.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("small.txt restored under its own name too: %v", err)
	}
}

// TestBackupFiles backs up a subset named by Files, with its parents.
func TestBackupFiles(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	makeTree(t, src)
	var stream bytes.Buffer
	var names []string
	_, err := Backup(context.Background(), src, &stream, BackupOptions{
		Files:       []string{"dir/exec", "/small.txt"},
		Exclude:     []string{"*.bak"},
		FileHistory: func(e Entry) error { names = append(names, e.Name); return nil },
	})
	must(t, err)
	if got := strings.Join(names, " "); got != ". dir dir/exec small.txt" {
		t.Errorf("entries %q", got)
	}
	_, err = Recover(context.Background(), &stream, dst, RecoverOptions{})
	must(t, err)
	if _, err := os.Stat(filepath.Join(dst, "dir", "exec")); err != nil {
		t.Error(err)
	}
}

// rangeBytes serves ranges of a byte slice and counts what it served.
type rangeBytes struct {
	b      []byte
	served int64
	asks   []string
}

func (r *rangeBytes) ReadRange(_ context.Context, off, n int64) (io.Reader, error) {
	r.asks = append(r.asks, fmt.Sprintf("%d+%d", off, n))
	if off > int64(len(r.b)) {
		return nil, errors.New("past the end")
	}
	end := min(int64(len(r.b)), off+min(n, int64(len(r.b))))
	r.served += end - off
	return bytes.NewReader(r.b[off:end]), nil
}

func TestRecoverDirect(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	must(t, os.WriteFile(filepath.Join(src, "zz-big"), big, 0o644))
	var stream bytes.Buffer
	offsets := map[string]int64{}
	_, err := Backup(context.Background(), src, &stream, BackupOptions{
		FileHistory: func(e Entry) error { offsets[e.Name] = e.Offset; return nil },
	})
	must(t, err)

	tests := []struct {
		name    string
		sel     []Selection
		check   string
		maxRead int64
		wantErr []error
	}{
		{"small file", []Selection{{Name: "/small.txt", Dest: "x/one", Offset: offsets["small.txt"]}}, "x/one", 2 * firstAsk, []error{nil}},
		{"big file", []Selection{{Name: "zz-big", Offset: offsets["zz-big"]}}, "zz-big", int64(len(big)) + firstAsk, []error{nil}},
		{"directory", []Selection{{Name: "ro", Offset: offsets["ro"]}}, "ro/inside", 2 << 20, []error{nil}},
		{"wrong offset", []Selection{{Name: "small.txt", Offset: offsets["empty"]}}, "", firstAsk, []error{errAny}},
		{"no offset", []Selection{{Name: "empty", Offset: -1}}, "empty", int64(stream.Len()), []error{nil}},
		{"sparse file", []Selection{{Name: "sparse", Offset: offsets["sparse"]}}, "sparse", 2 * firstAsk, []error{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			t.Cleanup(func() { os.Chmod(filepath.Join(dst, "ro"), 0o755) })
			src := &rangeBytes{b: stream.Bytes()}
			var errs []error
			_, err := RecoverDirect(context.Background(), src, dst, RecoverOptions{
				Select: tc.sel,
				Done:   func(i int, err error) { errs = append(errs, err) },
			})
			must(t, err)
			for i, e := range tc.wantErr {
				if (e == nil) != (errs[i] == nil) {
					t.Errorf("selection %d: %v", i, errs[i])
				}
			}
			if tc.check != "" {
				if _, err := os.Lstat(filepath.Join(dst, tc.check)); err != nil {
					t.Error(err)
				}
			}
			if src.served > tc.maxRead {
				t.Errorf("read %d bytes of %d (asks %v), want at most %d", src.served, len(src.b), src.asks, tc.maxRead)
			}
			t.Logf("read %d of %d bytes in %d ranges", src.served, len(src.b), len(src.asks))
		})
	}
}

var errAny = errors.New("any")

// hostile builds an archive from headers (with their bodies).
func hostile(t testing.TB, entries ...any) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i < len(entries); i++ {
		h := entries[i].(*tar.Header)
		var body []byte
		if i+1 < len(entries) {
			if s, ok := entries[i+1].(string); ok {
				body = []byte(s)
				h.Size = int64(len(body))
				i++
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestHostileArchives(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	must(t, os.Mkdir(outside, 0o755))
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg} }
	tests := []struct {
		name    string
		archive []byte
		pre     func(dest string)
	}{
		{"dot-dot", hostile(t, reg("../outside/pwned"), "x"), nil},
		{"dot-dot inside", hostile(t, reg("a/../../outside/pwned"), "x"), nil},
		{"absolute", hostile(t, reg(outside+"/pwned"), "x"), nil},
		{"symlink then through it", hostile(t,
			&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside},
			reg("link/pwned"), "x"), nil},
		{"relative symlink then through it", hostile(t,
			&tar.Header{Name: "d/link", Typeflag: tar.TypeSymlink, Linkname: "../../outside"},
			reg("d/link/pwned"), "x"), nil},
		{"symlink as a directory", hostile(t,
			&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside},
			&tar.Header{Name: "link/sub/", Typeflag: tar.TypeDir, Mode: 0o777}), nil},
		{"symlink then file over it", hostile(t,
			&tar.Header{Name: "f", Typeflag: tar.TypeSymlink, Linkname: outside + "/pwned"},
			reg("f"), "x"), nil},
		{"hard link out", hostile(t,
			&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside/victim"}), nil},
		{"hard link to an outside symlink then write", hostile(t,
			&tar.Header{Name: "s", Typeflag: tar.TypeSymlink, Linkname: outside + "/pwned"},
			&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "s"},
			reg("h"), "x"), nil},
		{"existing symlink in dest", hostile(t, reg("pre/pwned"), "x"), func(dest string) {
			os.Symlink(outside, filepath.Join(dest, "pre"))
		}},
		{"chmod through a symlink", hostile(t,
			&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o700},
			&tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: outside}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			must(t, os.Mkdir(dest, 0o755))
			if tc.pre != nil {
				tc.pre(dest)
			}
			var skipped []string
			_, err := Recover(context.Background(), bytes.NewReader(tc.archive), dest, RecoverOptions{
				Skipped: func(name string, err error) { skipped = append(skipped, name+": "+err.Error()) },
			})
			if err != nil {
				t.Logf("Recover: %v", err)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 0 {
				t.Fatalf("wrote outside dest: %v", ents)
			}
			fi, _ := os.Stat(outside)
			if fi.Mode().Perm() != 0o755 {
				t.Fatalf("outside's mode changed to %v", fi.Mode())
			}
			if len(skipped) == 0 {
				t.Logf("nothing refused (harmless here)")
			}
			t.Logf("refused: %v", skipped)
		})
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"./", ".", false}, {"a/b/", "a/b", false}, {"./a//b", "a/b", false},
		{"../a", "", true}, {"a/../../b", "", true}, {"/etc/passwd", "", true}, {"a\x00b", "", true},
		{"a/./b", "a/b", false},
	}
	for _, tc := range tests {
		got, err := cleanName(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("cleanName(%q) = %q, %v", tc.in, got, err)
		}
	}
	if got, err := cleanSelection("/./a/b"); err != nil || got != "a/b" {
		t.Errorf("cleanSelection: %q %v", got, err)
	}
}

func TestBackupCancel(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Backup(ctx, src, io.Discard, BackupOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Backup after cancel: %v", err)
	}
}

func FuzzRecover(f *testing.F) {
	f.Add(hostile(f, &tar.Header{Name: "a", Typeflag: tar.TypeReg}, "data"))
	f.Add(hostile(f, &tar.Header{Name: "../x", Typeflag: tar.TypeReg}, "data"))
	f.Add(hostile(f, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
		&tar.Header{Name: "l/x", Typeflag: tar.TypeReg}, "d"))
	f.Add(hostile(f, &tar.Header{Name: "d/", Typeflag: tar.TypeDir},
		&tar.Header{Name: "d/h", Typeflag: tar.TypeLink, Linkname: "d"},
		&tar.Header{Name: strings.Repeat("n", 200), Typeflag: tar.TypeReg, PAXRecords: map[string]string{sparseRecord: "1"}}, "\x00\x00z"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dest := filepath.Join(base, "dest")
		_, _ = Recover(context.Background(), bytes.NewReader(data), dest, RecoverOptions{
			Skipped:     func(string, error) {},
			MaxFileSize: 1 << 20,
		})
		_ = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				os.Chmod(p, 0o755) // let TempDir's cleanup remove it
			}
			return nil
		})
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "dest" {
				t.Fatalf("Recover wrote %s outside dest", e.Name())
			}
		}
	})
}

// TestGNUTarReadsTheStream: GNU tar lists and extracts a backup, sparse
// file included, under the right names with the right content.
func TestGNUTarReadsTheStream(t *testing.T) {
	gtar, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar")
	}
	src, dst := t.TempDir(), t.TempDir()
	makeTree(t, src)
	var stream bytes.Buffer
	_, err = Backup(context.Background(), src, &stream, BackupOptions{})
	must(t, err)
	fi, err := os.Stat(filepath.Join(src, "sparse"))
	must(t, err)
	if int64(stream.Len()) >= fi.Size() {
		t.Errorf("the stream (%d bytes) carries the sparse file's holes (%d bytes)", stream.Len(), fi.Size())
	}
	archive := filepath.Join(t.TempDir(), "a.tar")
	must(t, os.WriteFile(archive, stream.Bytes(), 0o644))
	out, err := exec.Command(gtar, "-tvf", archive).CombinedOutput()
	if err != nil || !strings.Contains(string(out), " sparse\n") || strings.Contains(string(out), "GNUSparseFile") {
		t.Fatalf("tar -tvf: %v\n%s", err, out)
	}
	if out, err := exec.Command(gtar, "-C", dst, "-xf", archive).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v\n%s", err, out)
	}
	os.Chmod(filepath.Join(dst, "ro"), 0o755)
	for _, name := range []string{"sparse", "small.txt", "dir/exec"} {
		want, _ := os.ReadFile(filepath.Join(src, name))
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s as GNU tar extracts it: %d bytes, %v", name, len(got), err)
		}
	}
}

package disk

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		size    int64
		bs      uint32
		wantErr error
		wantMsg string
		exists  bool // the file must exist afterwards
	}{
		{name: "512", path: filepath.Join(dir, "a"), size: 1 << 20, bs: 512, exists: true},
		{name: "4096", path: filepath.Join(dir, "b"), size: 1 << 20, bs: 4096, exists: true},
		{name: "bad block size", path: filepath.Join(dir, "c"), size: 1 << 20, bs: 1024, wantErr: ErrBlockSize},
		{name: "not a multiple", path: filepath.Join(dir, "d"), size: 4096 + 512, bs: 4096, wantErr: ErrSize},
		{name: "zero size", path: filepath.Join(dir, "e"), size: 0, bs: 512, wantErr: ErrSize},
		{name: "exists", path: existing, size: 4096, bs: 512, wantErr: os.ErrExist, exists: true},
		{name: "directory", path: dir, size: 4096, bs: 512, wantErr: os.ErrExist, wantMsg: "is a directory", exists: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Create(tc.path, tc.size, tc.bs)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantMsg)) {
				t.Fatalf("Create: %v, want %v %q", err, tc.wantErr, tc.wantMsg)
			}
			_, statErr := os.Stat(tc.path)
			if tc.exists != (statErr == nil) {
				t.Fatalf("file exists = %v, want %v", statErr == nil, tc.exists)
			}
			if err != nil {
				return
			}
			l, err := Open(tc.path, Options{BlockSize: tc.bs})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if got, want := l.Blocks(), uint64(tc.size)/uint64(tc.bs); got != want {
				t.Fatalf("Blocks = %d, want %d", got, want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	if err := Create(img, 64<<10, 4096); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "odd")
	if err := os.WriteFile(odd, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		path       string
		opt        Options
		wantBS     uint32
		wantBlocks uint64
		wantErr    error
		wantMsg    string
	}{
		{name: "default 512", path: img, wantBS: 512, wantBlocks: 128},
		{name: "4096", path: img, opt: Options{BlockSize: 4096}, wantBS: 4096, wantBlocks: 16},
		{name: "read-only", path: img, opt: Options{ReadOnly: true}, wantBS: 512, wantBlocks: 128},
		{name: "bad block size", path: img, opt: Options{BlockSize: 2048}, wantErr: ErrBlockSize},
		{name: "size not a multiple", path: odd, wantErr: ErrSize},
		{name: "missing", path: filepath.Join(dir, "missing"), wantErr: os.ErrNotExist},
		{name: "directory", path: dir, opt: Options{ReadOnly: true}, wantMsg: "is a directory: want a disk image file or a block device"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Open(tc.path, tc.opt)
			if tc.wantErr != nil || tc.wantMsg != "" {
				if err == nil {
					l.Close()
					t.Fatal("Open succeeded")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open: %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("Open: %v, want %q", err, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.BlockSize() != tc.wantBS || l.Blocks() != tc.wantBlocks || l.ReadOnly() != tc.opt.ReadOnly {
				t.Fatalf("got bs %d blocks %d ro %v", l.BlockSize(), l.Blocks(), l.ReadOnly())
			}
		})
	}
}

func TestAccess(t *testing.T) {
	img := filepath.Join(t.TempDir(), "img")
	if err := Create(img, 16*512, 512); err != nil {
		t.Fatal(err)
	}
	l, err := Open(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ro, err := Open(img, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()

	tests := []struct {
		name      string
		lun       *LUN
		write     bool
		off       int64
		n         int
		wantErr   error
		wantLBA   int64
		wantCount int64
	}{
		{name: "read first block", lun: l, off: 0, n: 512},
		{name: "read whole", lun: l, off: 0, n: 16 * 512},
		{name: "read last byte", lun: l, off: 16*512 - 1, n: 1},
		{name: "read empty at end", lun: l, off: 16 * 512, n: 0},
		{name: "read past end", lun: l, off: 15 * 512, n: 1024, wantErr: ErrOutOfRange, wantLBA: 15, wantCount: 2},
		{name: "read at end", lun: l, off: 16 * 512, n: 1, wantErr: ErrOutOfRange, wantLBA: 16, wantCount: 1},
		{name: "read negative", lun: l, off: -512, n: 512, wantErr: ErrOutOfRange, wantLBA: -1, wantCount: 1},
		{name: "write unaligned", lun: l, write: true, off: 700, n: 1000},
		{name: "write last block", lun: l, write: true, off: 15 * 512, n: 512},
		{name: "write past end", lun: l, write: true, off: 15*512 + 1, n: 512, wantErr: ErrOutOfRange, wantLBA: 15, wantCount: 2},
		{name: "write far past end", lun: l, write: true, off: 1 << 40, n: 512, wantErr: ErrOutOfRange, wantLBA: 1 << 31, wantCount: 1},
		{name: "write read-only", lun: ro, write: true, off: 0, n: 512, wantErr: ErrReadOnly},
		{name: "read read-only", lun: ro, off: 0, n: 512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := bytes.Repeat([]byte{0xa5}, tc.n)
			var n int
			var err error
			if tc.write {
				n, err = tc.lun.WriteAt(p, tc.off)
			} else {
				n, err = tc.lun.ReadAt(p, tc.off)
			}
			if tc.wantErr == nil {
				if err != nil || n != tc.n {
					t.Fatalf("n=%d err=%v, want %d", n, err, tc.n)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || n != 0 {
				t.Fatalf("n=%d err=%v, want %v", n, err, tc.wantErr)
			}
			var re *RangeError
			if errors.As(err, &re) && (re.LBA != tc.wantLBA || re.Count != tc.wantCount || re.Blocks != 16) {
				t.Fatalf("RangeError %+v, want LBA %d count %d", re, tc.wantLBA, tc.wantCount)
			}
		})
	}
	fi, err := os.Stat(img)
	if err != nil || fi.Size() != 16*512 {
		t.Fatalf("image grew or vanished: %v %v", fi, err)
	}
}

func TestRoundTripAndFlush(t *testing.T) {
	img := filepath.Join(t.TempDir(), "img")
	if err := Create(img, 1<<20, 4096); err != nil {
		t.Fatal(err)
	}
	l, err := Open(img, Options{BlockSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("ferry!"), 1000)
	if _, err := l.WriteAt(want, 12345); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := l.ReadAt(got, 12345); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back: %v", err)
	}
	if l.File() == nil || l.Fd() == ^uintptr(0) {
		t.Fatal("no file descriptor")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTruncatedUnderneath covers a file shrunk by someone else: the read is
// in range but cannot be satisfied, which must be an error, not a short read.
func TestTruncatedUnderneath(t *testing.T) {
	img := filepath.Join(t.TempDir(), "img")
	if err := Create(img, 8192, 512); err != nil {
		t.Fatal(err)
	}
	l, err := Open(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Truncate(img, 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadAt(make([]byte, 512), 4096); err == nil {
		t.Fatal("read of a vanished block succeeded")
	}
}

// TestLoopDevice opens a real block device; it needs root and losetup.
func TestLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	img := filepath.Join(t.TempDir(), "img")
	if err := Create(img, 4<<20, 4096); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", "--sector-size", "4096", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup does not work here: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	l, err := Open(dev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.IsDevice() || l.BlockSize() != 4096 || l.Blocks() != 1024 {
		t.Fatalf("device: %v bs %d blocks %d", l.IsDevice(), l.BlockSize(), l.Blocks())
	}
	if _, err := l.WriteAt(make([]byte, 4096), 1023*4096); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WriteAt(make([]byte, 4096), 1024*4096); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("write past the device: %v", err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dev, Options{BlockSize: 512}); !errors.Is(err, ErrBlockSize) {
		t.Fatalf("512 on a 4Kn device: %v", err)
	}
}

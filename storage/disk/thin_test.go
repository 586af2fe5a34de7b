package disk

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// thinLUN creates and opens a LUN of blocks blocks of bs bytes, thin when
// asked, skipping the test where the file system cannot punch holes.
func thinLUN(t *testing.T, blocks int64, bs uint32, opt Options) *LUN {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lun")
	if err := Create(path, blocks*int64(bs), bs); err != nil {
		t.Fatal(err)
	}
	opt.BlockSize = bs
	l, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if opt.Thin && !opt.ReadOnly && !l.Thin() {
		t.Skipf("the test directory's file system cannot unmap: %s", l.Provisioning().Reason)
	}
	return l
}

func TestProvisioningProbe(t *testing.T) {
	l := thinLUN(t, 64, 512, Options{Thin: true})
	p := l.Provisioning()
	if !p.Thin || p.Reason != "" || p.Granularity < 512 {
		t.Fatalf("Provisioning = %+v, want thin with a granularity", p)
	}
	for _, opt := range []Options{{}, {Thin: true, ReadOnly: true}} {
		if p := thinLUN(t, 64, 512, opt).Provisioning(); p != (Provisioning{}) {
			t.Errorf("%+v: Provisioning = %+v, want none", opt, p)
		}
	}
	// The probe leaves nothing behind in the LUN's directory.
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(l.Path()), ".ferry-thin-probe-*"))
	if err != nil || len(matches) > 0 {
		t.Fatalf("probe files left: %v %v", matches, err)
	}
}

func TestUnmap(t *testing.T) {
	const bs, blocks = 512, 1024
	tests := []struct {
		name    string
		opt     Options
		off, n  int64
		wantErr error
	}{
		{name: "whole granules", opt: Options{Thin: true}, off: 8192, n: 16384},
		{name: "ragged ends zeroed", opt: Options{Thin: true}, off: 512 * 3, n: 512 * 21},
		{name: "one block", opt: Options{Thin: true}, off: 512 * 7, n: 512},
		{name: "nothing", opt: Options{Thin: true}, off: bs * blocks, n: 0},
		{name: "to the end", opt: Options{Thin: true}, off: 512 * 1000, n: 512 * 24},
		{name: "past the end", opt: Options{Thin: true}, off: 512 * 1000, n: 512 * 25, wantErr: ErrOutOfRange},
		{name: "negative", opt: Options{Thin: true}, off: -512, n: 512, wantErr: ErrOutOfRange},
		{name: "not thin", opt: Options{}, off: 0, n: 512, wantErr: ErrUnmapUnsupported},
		{name: "read-only", opt: Options{Thin: true, ReadOnly: true}, off: 0, n: 512, wantErr: ErrReadOnly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := thinLUN(t, blocks, bs, tc.opt)
			before := bytes.Repeat([]byte{0x5a}, bs*blocks)
			if !tc.opt.ReadOnly {
				if _, err := l.WriteAt(before, 0); err != nil {
					t.Fatal(err)
				}
			}
			err := l.Unmap(tc.off, tc.n)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Unmap(%d, %d) = %v, want %v", tc.off, tc.n, err, tc.wantErr)
			}
			if tc.opt.ReadOnly {
				return
			}
			want := bytes.Clone(before)
			if err == nil {
				clear(want[tc.off : tc.off+tc.n])
			}
			got := make([]byte, len(want))
			if _, err := l.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the LUN does not read back as written, with the unmapped range zeroed")
			}
		})
	}
}

// TestExtentAt unmaps ranges of a written LUN and checks what ExtentAt
// and Allocated report: whole file system blocks become holes, a block
// sharing one with data stays mapped.
func TestExtentAt(t *testing.T) {
	const bs, blocks = 512, 256
	l := thinLUN(t, blocks, bs, Options{Thin: true})
	if !l.Provisioning().ReportsHoles || l.Provisioning().Granularity != 4096 {
		t.Skipf("want a file system reporting holes of 4 KiB: %+v", l.Provisioning())
	}
	if _, err := l.WriteAt(bytes.Repeat([]byte{1}, bs*blocks), 0); err != nil {
		t.Fatal(err)
	}
	full, err := l.Allocated()
	if err != nil || full < bs*blocks {
		t.Fatalf("Allocated = %d, %v, want at least %d", full, err, bs*blocks)
	}
	// Blocks 8-31 (granules 1-3) and 40-43 (half of granule 5, which stays
	// allocated, zeroed).
	for _, r := range [][2]int64{{8, 24}, {40, 4}} {
		if err := l.Unmap(r[0]*bs, r[1]*bs); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		lba    uint64
		count  uint64
		mapped bool
	}{
		{0, 8, true},
		{5, 3, true},
		{8, 24, false},
		{20, 12, false},
		{32, blocks - 32, true},
		{41, blocks - 41, true},
		{blocks - 1, 1, true},
	}
	for _, tc := range tests {
		count, mapped, err := l.ExtentAt(tc.lba)
		if err != nil || count != tc.count || mapped != tc.mapped {
			t.Errorf("ExtentAt(%d) = %d, %v, %v, want %d, %v", tc.lba, count, mapped, err, tc.count, tc.mapped)
		}
	}
	if _, _, err := l.ExtentAt(blocks); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("ExtentAt(end) = %v, want ErrOutOfRange", err)
	}
	if _, _, err := l.ExtentAt(1 << 63); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("ExtentAt(2^63) = %v, want ErrOutOfRange", err)
	}
	now, err := l.Allocated()
	if err != nil || now != full-24*bs {
		t.Errorf("Allocated = %d, %v, want %d (three 4 KiB granules freed)", now, err, full-24*bs)
	}
	if n, err := AllocatedBytes(l.Path()); err != nil || n != now {
		t.Errorf("AllocatedBytes = %d, %v, want %d", n, err, now)
	}
	// Unmapping everything leaves one hole, reported to the end.
	if err := l.Unmap(0, bs*blocks); err != nil {
		t.Fatal(err)
	}
	if count, mapped, err := l.ExtentAt(3); err != nil || count != blocks-3 || mapped {
		t.Errorf("ExtentAt(3) after unmapping all = %d, %v, %v", count, mapped, err)
	}
}

// TestExtentAtNoHoles: a store that does not report holes has every block
// mapped.
func TestExtentAtNoHoles(t *testing.T) {
	l := thinLUN(t, 64, 512, Options{})
	if count, mapped, err := l.ExtentAt(10); err != nil || count != 54 || !mapped {
		t.Fatalf("ExtentAt = %d, %v, %v", count, mapped, err)
	}
}

// TestWriteStreamKeepsSparse: a copy's run of zeroes into a thin LUN is a
// hole, not allocated zeroes; anything else, or any other LUN, is written.
func TestWriteStreamKeepsSparse(t *testing.T) {
	const bs, blocks = 512, 1024
	tests := []struct {
		name      string
		opt       Options
		data      []byte
		allocated bool
	}{
		{"thin zeroes", Options{Thin: true}, make([]byte, 64<<10), false},
		{"thin data", Options{Thin: true}, append(make([]byte, 64<<10-1), 1), true},
		{"full zeroes", Options{}, make([]byte, 64<<10), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := thinLUN(t, blocks, bs, tc.opt)
			if _, err := l.WriteAt(bytes.Repeat([]byte{7}, bs*blocks), 0); err != nil {
				t.Fatal(err)
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if n, err := l.WriteStream(tc.data, 64<<10); err != nil || n != len(tc.data) {
				t.Fatalf("WriteStream = %d, %v", n, err)
			}
			got := make([]byte, len(tc.data))
			if _, err := l.ReadAt(got, 64<<10); err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("read back differs: %v", err)
			}
			alloc, err := l.Allocated()
			if err != nil {
				t.Fatal(err)
			}
			if full := alloc >= bs*blocks; full != tc.allocated {
				t.Fatalf("Allocated = %d of %d, want all allocated: %v", alloc, bs*blocks, tc.allocated)
			}
			if _, err := l.WriteStream(make([]byte, bs), bs*blocks); !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("WriteStream past the end = %v", err)
			}
		})
	}
}

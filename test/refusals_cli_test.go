package test

import (
	"crypto/sha256"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCopiesThatCannotBeRightAreRefused runs, through the ferry binary
// against a real node, the copies issue 9 found accepted (or found out only
// while they ran): each must exit non-zero with a message that says why,
// and leave every device file (disk images and cartridge images) exactly as
// it was.
func TestCopiesThatCannotBeRightAreRefused(t *testing.T) {
	c, node := startDataCluster(t)
	f := nodeCLI(t, c, node)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	f.ok("disk", "create", "--name", "d", "--size", "4MiB", "--path", path("d.img"), "--site", "east")
	fillRandom(t, path("d.img"), diskBytes)
	f.ok("disk", "create", "--name", "d4k", "--size", "4MiB", "--path", path("d4k.img"), "--block-size", "4096", "--site", "east")
	fillRandom(t, path("ro.img"), diskBytes)
	f.ok("disk", "add", "--name", "ro", "--path", path("ro.img"), "--read-only", "--site", "east")
	f.ok("library", "create", "--name", "libA", "--slots", "4", "--drives", "2", "--dir", path("libA"), "--site", "east", "--capacity", "64MiB")
	for i, b := range []string{"A00001L9", "B00001L9", "C00001L9", "P00001L9"} {
		f.ok("tape", "label", "--library", "libA", "--slot", string(rune('1'+i)), "--barcode", b)
	}
	// A00001L9 and C00001L9 hold one backup each; P00001L9 is protected.
	f.ok("copy", "disk:d", "tape:A00001L9")
	f.ok("copy", "disk:d@0+16", "tape:C00001L9")
	f.ok("tape", "protect", "P00001L9")

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"tape:A00001L9", "tape:A00001L9"}, []string{"one drive cannot read and write one cartridge"}},
		{[]string{"tape:A00001L9#1", "tape:A00001L9"}, []string{"cartridge A00001L9 is also the source"}},
		{[]string{"disk:d@0+1024", "disk:d@8"}, []string{"spec.destination.lba", "overlap"}},
		{[]string{"disk:d", "disk:d"}, []string{"overlap"}},
		{[]string{"disk:d@8190+100", "tape:B00001L9"}, []string{"spec.source.blocks", "past the end of disk d"}},
		{[]string{"disk:d@9000", "disk:d4k"}, []string{"spec.source.lba", "past the end"}},
		{[]string{"disk:d", "disk:d4k@1"}, []string{"do not fit in the destination range"}},
		{[]string{"disk:d@0+1", "disk:d4k"}, []string{"whole number of disk d4k's 4096-byte blocks"}},
		{[]string{"disk:d", "tape:P00001L9"}, []string{"cartridge P00001L9 is write-protected", "WRITE PROTECTED"}},
		{[]string{"disk:d", "disk:ro"}, []string{"disk ro is read-only"}},
		{[]string{"tape:A00001L9#2", "disk:d"}, []string{"tape file 2", "at end of data"}},
		{[]string{"tape:A00001L9#5", "disk:d"}, []string{"tape file 5", "past end of data"}},
		{[]string{"tape:B00001L9", "tape:C00001L9"}, []string{"nothing but its label"}},
		{[]string{"tape:A00001L9", "tape:C00001L9"}, []string{"would replace 1 file of cartridge C00001L9", "--overwrite"}},
		{[]string{"disk:d", "tape:C00001L9#1"}, []string{"would replace 1 file"}},
	} {
		before := deviceSums(t, dir)
		f.fails(1, tc.want, append([]string{"copy"}, tc.args...)...)
		if after := deviceSums(t, dir); !maps.Equal(before, after) {
			t.Errorf("ferry copy %s changed a device file", strings.Join(tc.args, " "))
		}
	}

	// --overwrite says the replacing is meant.
	f.ok("copy", "tape:A00001L9", "tape:C00001L9", "--overwrite")
	r := f.ok("verify", "tape:A00001L9", "tape:C00001L9")
	if strings.Count(r.stdout, "sha256 ") != 2 {
		t.Errorf("verify after the image copy:\n%s", r)
	}
}

// deviceSums hashes every disk and cartridge image under dir.
func deviceSums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".img" && filepath.Ext(p) != ".tap") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 7 {
		t.Fatalf("found %d device files under %s, want the 3 disks and 4 cartridges", len(out), dir)
	}
	return out
}

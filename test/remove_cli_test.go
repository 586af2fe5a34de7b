package test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEraseAndRemoveRefusedWhileInUse: through the ferry binary against a
// real node, tape erase and the remove commands are refused while a
// bandwidth-limited copy uses the device (a cartridge, its library, the
// source disk), changing nothing; after the copy they succeed, touching
// no other device file. The catalog shows where each copy landed.
func TestEraseAndRemoveRefusedWhileInUse(t *testing.T) {
	c, node := startDataCluster(t)
	f := nodeCLI(t, c, node)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	for _, d := range []string{"src", "d2", "d3", "d4"} {
		f.ok("disk", "create", "--name", d, "--size", "4MiB", "--path", path(d+".img"), "--site", "east")
	}
	data := fillRandom(t, path("src.img"), diskBytes)
	// A 16 MiB disk copied at 2 MiB/s runs for about 6 s (the first 4 MiB
	// chunk goes at once).
	f.ok("disk", "create", "--name", "big", "--size", "16MiB", "--path", path("big.img"), "--site", "east")
	fillRandom(t, path("big.img"), 16<<20)
	f.ok("library", "create", "--name", "libA", "--slots", "4", "--drives", "2", "--dir", path("libA"), "--site", "east", "--capacity", "64MiB")
	tapes := []string{"A00001L9", "B00001L9", "C00001L9", "D00001L9"}
	for i, b := range tapes {
		f.ok("tape", "label", "--library", "libA", "--slot", string(rune('1'+i)), "--barcode", b)
	}
	f.copied(sum(data), diskBytes, "disk:src", "tape:A00001L9")
	r := f.ok("tape", "files", "A00001L9")
	if !regexp.MustCompile(`(?m)^1 +complete +4\.0 MiB +16 +` + sum(data)[:12] + ` `).MatchString(r.stdout) {
		t.Errorf("tape files A00001L9 does not list the copy as file 1:\n%s", r)
	}

	r = f.ok("copy", "disk:big", "tape:B00001L9", "--detach", "--bwlimit", "2MiB/s")
	job := strings.TrimSpace(r.stdout)
	if job == "" {
		t.Fatalf("no job id:\n%s", r)
	}
	before := deviceSums(t, dir)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"tape", "erase", "B00001L9", "--yes"}, []string{"B00001L9", "job " + job}},
		{[]string{"tape", "remove", "B00001L9", "--delete-files"}, []string{"B00001L9", "job " + job}},
		{[]string{"disk", "remove", "big", "--delete-files"}, []string{"disk big", "job " + job}},
		{[]string{"library", "remove", "libA", "--delete-files"}, []string{"libA", "job " + job}},
	} {
		f.fails(1, tc.want, tc.args...)
	}
	after := deviceSums(t, dir)
	delete(before, path("libA/B00001L9.tap")) // the copy writes it meanwhile
	delete(after, path("libA/B00001L9.tap"))
	if !maps.Equal(before, after) {
		t.Error("a refused erase or removal changed a device file")
	}
	for _, p := range []string{path("big.img"), path("libA/B00001L9.tap"), path("libA")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a refused removal deleted %s: %v", p, err)
		}
	}

	f.ok("job", "watch", job)
	r = f.ok("job", "get", job)
	if !strings.Contains(r.stdout, "destination:      tape B00001L9 file 1") {
		t.Errorf("job get does not say where the copy landed:\n%s", r)
	}
	r = f.ok("tape", "list")
	if !regexp.MustCompile(`(?m)^B00001L9 .* 1 +enabled `).MatchString(r.stdout) {
		t.Errorf("tape list does not count B00001L9's file:\n%s", r)
	}

	// Now they go through, each touching its device alone.
	before = deviceSums(t, dir)
	f.fails(2, []string{"would discard its files: 1 (16.0 MiB of data)", "-yes"}, "tape", "erase", "B00001L9")
	f.ok("tape", "erase", "B00001L9", "--yes")
	if r := f.ok("tape", "files", "B00001L9"); !strings.Contains(r.stdout, "0 files") {
		t.Errorf("B00001L9 still lists files after the erase:\n%s", r)
	}
	f.ok("tape", "remove", "C00001L9")
	f.ok("disk", "remove", "d3", "--delete-files")
	after = deviceSums(t, dir)
	if _, err := os.Stat(path("d3.img")); !os.IsNotExist(err) {
		t.Errorf("disk remove --delete-files left d3.img: %v", err)
	}
	if _, err := os.Stat(path("libA/C00001L9.tap")); err != nil {
		t.Errorf("tape remove without --delete-files deleted the image: %v", err)
	}
	for p, s := range before {
		switch {
		case p == path("d3.img"):
		case p == path("libA/B00001L9.tap"):
			if after[p] == s {
				t.Error("tape erase left B00001L9's image as it was")
			}
		case after[p] != s:
			t.Errorf("%s changed", p)
		}
	}
	// The erased cartridge takes a backup again, as file 1.
	f.copied(sum(data), diskBytes, "disk:src", "tape:B00001L9")
	f.verified(sum(data), "disk:src", "tape:B00001L9#1")
}

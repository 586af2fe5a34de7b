package test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImportFromAnotherCluster: a cartridge outlives its cluster. Cluster 1
// writes a backup to a cartridge and is lost with its state; a fresh
// cluster 2 imports the image — refused at first, since the cartridge's
// fence is cluster 1's, then taken over — finds the backup in the catalog
// and restores it byte for byte.
func TestImportFromAnotherCluster(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	c1, n1 := startDataCluster(t)
	one := nodeCLI(t, c1, n1)
	one.ok("disk", "create", "--name", "db01", "--size", "4MiB", "--path", path("db01.img"), "--site", "east")
	db01 := fillRandom(t, path("db01.img"), diskBytes)
	one.ok("library", "create", "--name", "libA", "--slots", "4", "--drives", "1", "--dir", path("libA"), "--site", "east", "--capacity", "64MiB")
	one.ok("tape", "label", "--library", "libA", "--slot", "1", "--barcode", "A00001L9")
	one.copied(sum(db01), diskBytes, "disk:db01", "tape:A00001L9")
	clusterID := func(c cli) string {
		m := regexp.MustCompile(`(?m)^cluster id: +(\S+)$`).FindStringSubmatch(c.ok("raft", "status").stdout)
		if m == nil {
			t.Fatal("raft status shows no cluster id")
		}
		return m[1]
	}
	id1 := clusterID(one)

	// Cluster 1 is gone, and its state with it.
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c1.Stop(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(c1.DataDir("n1")); err != nil {
		t.Fatal(err)
	}

	c2, n2 := startDataCluster(t)
	two := nodeCLI(t, c2, n2)
	if id2 := clusterID(two); id2 == id1 {
		t.Fatalf("both clusters have id %s", id1)
	}
	two.ok("library", "create", "--name", "vault", "--slots", "4", "--drives", "1", "--dir", path("vault"), "--site", "east", "--capacity", "64MiB")
	two.ok("disk", "create", "--name", "d", "--size", "4MiB", "--path", path("d.img"), "--site", "east")
	image := path("libA/A00001L9.tap")
	before, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	two.fails(1, []string{"belongs to cluster " + id1, "--take-over"}, "tape", "import", "--library", "vault", "--slot", "2", "--path", image)
	if after, err := os.ReadFile(image); err != nil || string(after) != string(before) {
		t.Fatalf("the refused import changed the image (read error %v)", err)
	}
	r := two.ok("tape", "import", "--library", "vault", "--slot", "2", "--path", image, "--take-over")
	for _, want := range []string{"A00001L9", "slot 2", "files:     1 (4.0 MiB of data)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("tape import does not show %q:\n%s", want, r)
		}
	}
	// The catalog, as tape files -o json shows it (listings leave catalogs
	// out and count the files).
	var cart struct {
		Barcode string `json:"barcode"`
		Files   []struct {
			Number int    `json:"number"`
			Bytes  string `json:"bytes"`
			Sha256 string `json:"sha256"`
		} `json:"files"`
	}
	r = two.ok("tape", "files", "A00001L9", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &cart); err != nil {
		t.Fatalf("tape files -o json: %v\n%s", err, r)
	}
	if cart.Barcode != "A00001L9" || len(cart.Files) != 1 || cart.Files[0].Sha256 != sum(db01) {
		t.Fatalf("tape files does not show A00001L9 with file 1 holding the backup (%s):\n%s", sum(db01), r)
	}
	if r := two.ok("tape", "list"); !regexp.MustCompile(`(?m)^A00001L9 .* 1 +enabled `).MatchString(r.stdout) {
		t.Errorf("tape list does not count A00001L9's file:\n%s", r)
	}
	// tape files shows the first 12 hex digits of each file's SHA-256.
	if r := two.run("tape", "files", "A00001L9"); r.code != 0 || !strings.Contains(r.stdout, sum(db01)[:12]) {
		t.Errorf("tape files does not show the backup's SHA-256 (%s…):\n%s", sum(db01)[:12], r)
	}

	two.copied(sum(db01), diskBytes, "tape:A00001L9#1", "disk:d")
	if got, err := os.ReadFile(path("d.img")); err != nil || sum(got) != sum(db01) {
		t.Fatalf("the restored disk differs from the backup (read error %v)", err)
	}
	// The cartridge is cluster 2's now: it takes new backups.
	two.copied(sum(db01), diskBytes, "disk:d", "tape:A00001L9")
}

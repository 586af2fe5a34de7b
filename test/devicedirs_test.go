package test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/internal/localcluster"
)

// TestDeviceDirsOnEveryNode: the registry is the cluster's, so a disk
// registered through n1, whose -device-dirs allow it, is known to n2 too;
// n2, whose -device-dirs exclude it, refuses to open it: a copy placed on
// n2 fails naming the device, the node and its directories, with nothing
// written to the destination nor beside it (no fence), and verify through
// n2 is refused.
func TestDeviceDirsOnEveryNode(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	allowed1, allowed2 := filepath.Join(dir, "n1-san"), filepath.Join(dir, "n2-san")
	for _, d := range []string{allowed1, allowed2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// n1 runs no jobs (newCluster's default): every copy is n2's.
	n1, err := c.StartNode(ctx, localcluster.StartOptions{Name: "n1", ExtraArgs: []string{"-device-dirs", allowed1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	n2, err := c.StartNode(ctx, localcluster.StartOptions{Name: "n2", Join: []string{"n1"}, ExtraArgs: []string{"-run-jobs=true", "-device-dirs", allowed2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	one, two := nodeCLI(t, c, n1), nodeCLI(t, c, n2)
	src, dst := filepath.Join(allowed1, "src.img"), filepath.Join(allowed1, "dst.img")
	one.ok("disk", "create", "--name", "src", "--size", "1MiB", "--path", src)
	one.ok("disk", "create", "--name", "dst", "--size", "1MiB", "--path", dst)
	fillRandom(t, src, 1<<20)
	// Registered through n2, the same disk is refused at once.
	two.fails(1, []string{"outside this node's device directories", allowed2}, "disk", "add", "--name", "again", "--path", src)

	r := two.fails(1, []string{"disk:src", "node n2 will not open it", "outside this node's device directories", allowed2}, "copy", "disk:src", "disk:dst")
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, make([]byte, 1<<20)) {
		t.Errorf("the destination was written (read error %v):\n%s", err, r)
	}
	if _, err := os.Stat(dst + ".fence"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the destination's fence: %v, want none claimed", err)
	}
	r = two.fails(1, []string{"outside this node's device directories"}, "verify", "disk:src", "disk:dst")
	if strings.Contains(r.stdout, "sha256") {
		t.Errorf("n2 hashed a device outside its directories:\n%s", r)
	}
}

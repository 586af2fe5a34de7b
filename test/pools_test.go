package test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestPoolExhaustionCLI: a copy to a pool none of whose members is
// labelled waits with the pool's reason, and runs once a cartridge is
// labelled into the pool; a second copy is appended to the same cartridge
// (appendable before scratch), and ferry pool list counts both kinds.
func TestPoolExhaustionCLI(t *testing.T) {
	c, node := startDataCluster(t)
	m := &moverCluster{t: t, c: c}
	f := nodeCLI(t, c, node)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()

	f.ok("disk", "create", "--name", "db01", "--size", "4MiB", "--path", path("db01.img"), "--site", "east")
	data := fillRandom(t, path("db01.img"), diskBytes)
	f.ok("library", "create", "--name", "libA", "--slots", "6", "--drives", "1", "--dir", path("libA"), "--site", "east", "--capacity", "96MiB")
	r := f.ok("pool", "create", "--name", "east-daily", "--library", "libA", "--barcodes", "A00001L9-A00003L9")
	if !strings.Contains(r.stdout, "3 members") {
		t.Fatalf("pool create:\n%s", r)
	}
	f.fails(1, []string{"barcodes[0]", "first barcode is above the last"}, "pool", "create", "--name", "p2", "--library", "libA", "--barcodes", "A00009L9-A00005L9")
	f.fails(1, []string{"spec.destination.pool", "no pool named"}, "copy", "disk:db01", "tape:pool:nope")
	f.fails(1, []string{"pool", "no pool named"}, "tape", "label", "--library", "libA", "--slot", "4", "--barcode", "C00001L9", "--pool", "nope")

	id := strings.TrimSpace(f.ok("copy", "disk:db01", "tape:pool:east-daily", "--detach").stdout)
	m.waitJob(ctx, id, "the pool's reason", func(j *ferryv1.Job) (bool, string) {
		return strings.HasPrefix(j.GetStateReason(), "pool east-daily has no scratch cartridge"), j.GetStateReason()
	})
	f.ok("tape", "label", "--library", "libA", "--slot", "2", "--barcode", "A00002L9")
	j := m.waitSucceeded(ctx, id, sum(data), diskBytes)
	if got := j.GetSpec().GetDestination().GetDevice().GetName(); got != "A00002L9" {
		t.Errorf("the copy wrote %q, want A00002L9\n%s", got, history(j))
	}
	if len(events(j, "placed on ")) != 1 || !strings.Contains(events(j, "placed on ")[0].GetMessage(), "pool east-daily chose A00002L9") {
		t.Errorf("the placement does not say what the pool chose\n%s", history(j))
	}

	// A scratch cartridge beside the appendable one: the next copy is
	// appended to A00002L9, and ferry copy says where it went.
	f.ok("tape", "label", "--library", "libA", "--slot", "1", "--barcode", "A00001L9", "--pool", "east-daily")
	r = f.ok("copy", "disk:db01", "tape:pool:east-daily")
	if !strings.Contains(r.stdout, "tape A00002L9 file 2") || !strings.Contains(r.stdout, "chosen from pool east-daily") {
		t.Errorf("the second copy did not say it went to A00002L9 file 2 of the pool:\n%s", r)
	}
	f.verified(sum(data), "disk:db01", "tape:A00002L9#2")
	f.fails(1, []string{"endpoint.pool", "a pool cannot be read"}, "verify", "disk:db01", "tape:pool:east-daily")
	// A multi-stream copy to the pool: each stream is a copy of its own,
	// bound to its own cartridge.
	r = f.ok("copy", "disk:db01", "tape:pool:east-daily", "--streams", "2")
	t.Logf("two streams to the pool:\n%s", r.stdout)
	r = f.ok("pool", "list")
	row := regexp.MustCompile(`(?m)^east-daily\s+libA\s+3\s+1\s+1\s+0\s+0\s+1\s*$`)
	if !row.MatchString(r.stdout) {
		t.Errorf("pool list: want 3 members, 1 scratch, 1 appendable, 0 full, 0 offline, 1 unlabelled:\n%s", r)
	}
}
